"""The canonical 44-byte RIFF/WAVE header for s16 mono PCM (pure bytes, no I/O)."""

from __future__ import annotations

import struct

from .samples import S16_BYTES

# Streams do not know their length when the header goes out; 0xFFFFFFFF is the
# de-facto "unknown size" that ffmpeg, libsndfile and browsers accept.
UNKNOWN_SIZE = 0xFFFFFFFF
WAV_HEADER_BYTES = 44
_MAX_DATA_BYTES = UNKNOWN_SIZE - (WAV_HEADER_BYTES - 8) - 1


def wav_header(sample_rate: int, num_frames: int | None = None) -> bytes:
    """Header for s16 mono at `sample_rate`: real sizes given `num_frames`, else unknown."""
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    if num_frames is None:
        riff_size = data_size = UNKNOWN_SIZE
    else:
        if num_frames < 0:
            raise ValueError(f"num_frames must be >= 0, got {num_frames}")
        data_size = num_frames * S16_BYTES
        if data_size > _MAX_DATA_BYTES:
            raise ValueError(f"{num_frames} frames do not fit in a RIFF/WAVE file (4 GiB limit)")
        riff_size = WAV_HEADER_BYTES - 8 + data_size
    channels = 1
    block_align = channels * S16_BYTES
    fmt_chunk = struct.pack(
        "<4sIHHIIHH",
        b"fmt ",
        16,  # fmt chunk size for plain PCM
        1,  # WAVE_FORMAT_PCM
        channels,
        sample_rate,
        sample_rate * block_align,  # byte rate
        block_align,
        S16_BYTES * 8,  # bits per sample
    )
    return (
        struct.pack("<4sI4s", b"RIFF", riff_size, b"WAVE")
        + fmt_chunk
        + struct.pack("<4sI", b"data", data_size)
    )
