"""The synthesis pipeline both doors use: a voice request plus text in, encoded, timestamped chunks out.

- `speech.SpeechPipeline`: one stream (a socket context, an HTTP request), segment after segment,
  as events (segment started, shaped audio, notices) the door delivers when it chooses; `encoded`
  is a whole text as one file, delivered as made (HTTP's body).
- `output.AudioOutput`: engine-rate audio to one encoded stream (resample, tempo, encoder, timeline, delivery).
- `words.WordStamps`: a stream's word timestamps, timed off the loop after each segment, handed to the door.
- `meter.StreamMeter`: time to first audio, real-time factor and audio time of one stream, reported once.

The socket's context (realtime/session/context.py) delivers audio when its writer sends a
chunk, so audio a cancel drops never reaches the encoder.
"""
