"""AudioOutput: engine audio to one valid encoded stream, on a gapless timeline, with or without tempo."""

from __future__ import annotations

import numpy as np
import pytest

from realtime.pipeline.output import AudioOutput
from tests.support.codecs import decode_at


def _tone(seconds: float, rate: int = 24000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


@pytest.mark.parametrize("fmt", ["pcm", "wav", "flac", "mp3"])
def test_chunks_encode_to_one_stream_of_the_resampled_length(fmt: str) -> None:
    output = AudioOutput(fmt, 24000, 16000)
    data = b""
    spans = []
    for index, chunk in enumerate(np.array_split(_tone(1.0), 4)):
        encoded, span = output.encode(output.shape(chunk, segment_end=index == 3), is_last=index == 3)
        data += encoded
        spans.append(span)
    assert output.closed and output.samples == 16000 and output.elapsed_ms == 1000.0
    assert [s.start_sample for s in spans] == [0, *np.cumsum([s.samples for s in spans])[:-1].tolist()]
    audio = decode_at(data, fmt, 16000)
    if fmt == "mp3":
        assert 16000 <= len(audio) <= 16000 + 3 * 1152  # mp3 pads with whole frames and its encoder delay
    else:
        assert len(audio) == 16000  # lossless: every sample, none added


def test_tempo_shortens_the_stream_and_its_tail_is_flushed_at_the_end() -> None:
    output = AudioOutput("pcm", 24000, 24000, speed=2.0)
    assert output.blocking  # tempo is worth a worker thread even for pcm
    data = b""
    for index, chunk in enumerate(np.array_split(_tone(1.0), 4)):
        encoded, _ = output.encode(output.shape(chunk, segment_end=index == 3), is_last=False)
        data += encoded
    encoded, _ = output.encode(output.shape(np.zeros(0, dtype=np.float32), False), is_last=True)
    data += encoded
    assert len(data) == output.samples * 2  # s16le: every shaped sample, the tail included, was encoded
    assert abs(output.samples - 12000) <= 600
