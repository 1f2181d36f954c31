"""ogg (Vorbis) through libsndfile (bundled with soundfile), which wraps the reference libvorbis.

PyAV's FFmpeg has no libvorbis, only FFmpeg's own experimental Vorbis encoder; libsndfile
gives the reference encoder instead. Its price is latency: libsndfile lets libogg cut
pages by size (about 4 KiB), and offers no way to flush a page early for Vorbis, so
audio leaves in bursts roughly once a second for speech (the three header pages leave
with the first chunk). Clients that need low latency in Ogg should ask for `opus`.
"""

from __future__ import annotations

import numpy as np
import soundfile

from .encoder_base import StreamEncoder
from .samples import clean_float
from .sinks import AppendOnlySink


class VorbisEncoder(StreamEncoder):
    """Ogg Vorbis, mono, libvorbis's default VBR quality; opened on first use."""

    format = "ogg"

    def __init__(self, sample_rate: int) -> None:
        super().__init__(sample_rate)
        self._sink = AppendOnlySink()
        self._file: soundfile.SoundFile | None = None

    def _open(self) -> soundfile.SoundFile:
        if self._file is None:
            self._file = soundfile.SoundFile(
                self._sink, "w", samplerate=self.sample_rate, channels=1, format="OGG", subtype="VORBIS"
            )
        return self._file

    def _encode(self, samples: np.ndarray) -> bytes:
        file = self._open()
        if samples.size:
            file.write(clean_float(samples))
        return self._sink.take()

    def _finish(self) -> bytes:
        self._open().close()  # libvorbis's delay line, then the end-of-stream page
        return self._sink.take()
