"""The one catalogue of output formats and sample rates, for every door (socket, HTTP, CLI, benchmarks)."""

from __future__ import annotations

from typing import Final

# Every format a client may ask for; each is built (realtime/audio/encoders.py).
FORMATS: Final[tuple[str, ...]] = ("pcm", "wav", "flac", "ogg", "opus", "mp3", "aac")
# Every output rate a client may ask for; the engine's audio is resampled to it.
SAMPLE_RATES: Final[tuple[int, ...]] = (8000, 16000, 22050, 24000, 44100, 48000)
