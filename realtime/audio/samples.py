"""Checks and conversions for the float32 mono buffers the audio layer passes around."""

from __future__ import annotations

import numpy as np

# Full-scale for s16: symmetric, so +1.0 and -1.0 map to +/-32767 and 0.0 stays exactly 0.
S16_SCALE = 32767.0
S16_BYTES = 2


def as_float32_mono(samples: np.ndarray, *, name: str = "samples") -> np.ndarray:
    """Return `samples` as 1-D float32 without copying when it already is; reject anything else.

    Wider floats are narrowed (engines may hand float64); integer PCM is refused
    because its scale is ambiguous and silently guessing would be wrong.
    """
    if not isinstance(samples, np.ndarray):
        raise ValueError(f"{name} must be a numpy array, got {type(samples).__name__}")
    if samples.ndim != 1:
        raise ValueError(f"{name} must be 1-D mono, got shape {samples.shape}")
    if samples.dtype == np.float32:
        return samples
    if samples.dtype.kind != "f":
        raise ValueError(f"{name} must be float32 in [-1, 1], got dtype {samples.dtype}")
    return samples.astype(np.float32)


def clean_float(samples: np.ndarray) -> np.ndarray:
    """NaN -> 0 and everything clipped to [-1, 1]: what pcm does, for codecs that take floats."""
    if np.isfinite(samples).all() and (samples.size == 0 or float(np.abs(samples).max()) <= 1.0):
        return samples
    return np.clip(np.nan_to_num(samples, nan=0.0, posinf=1.0, neginf=-1.0), -1.0, 1.0).astype(np.float32)


def float_to_s16le(samples: np.ndarray) -> bytes:
    """Little-endian s16 PCM of float samples: NaN -> 0, clipped to [-1, 1], rounded to nearest.

    NaN is zeroed because casting it to an integer is undefined and would be a full-scale click.
    """
    clean = np.nan_to_num(samples, nan=0.0, posinf=1.0, neginf=-1.0)
    scaled = np.rint(np.clip(clean, -1.0, 1.0) * S16_SCALE)
    return scaled.astype("<i2").tobytes()
