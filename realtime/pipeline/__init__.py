"""The synthesis pipeline both doors share: a voice plus text in, encoded, timestamped chunks out.

- `output.AudioOutput`: engine-rate audio to one encoded stream (resample, tempo, encoder, timeline).
- `meter.StreamMeter`: time to first audio, real-time factor and audio time of one stream, reported once.
- `segments`: speaking one segment through the backend and the rule for segments the engine fails on.
- `speech.SpeechPipeline`: one whole text, segment after segment, as encoded chunks (HTTP's body).

The socket's context (realtime/session/context.py) drives the same parts, but encodes when
the writer sends a chunk, so audio a cancel drops never reaches the encoder.
"""
