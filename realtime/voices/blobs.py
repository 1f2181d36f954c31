"""Tensors as database blobs: raw little-endian bytes beside their dtype and shape. Pure.

Only the dtypes a voice holds are accepted (float32 speaker embeddings, int64 codec
frames, and float16/bfloat16-free numpy kinds), so a stored blob always decodes to the
array that went in, bit for bit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

DTYPES = ("float32", "float64", "int64", "int32", "int16")


class BlobError(ValueError):
    """A stored tensor that does not decode (wrong size for its shape, unknown dtype)."""


@dataclass(frozen=True, slots=True)
class TensorBlob:
    """One array as the store keeps it."""

    dtype: str
    shape: tuple[int, ...]
    data: bytes

    @property
    def shape_text(self) -> str:
        return json.dumps(list(self.shape))


def to_blob(array: np.ndarray) -> TensorBlob:
    array = np.asarray(array)
    dtype = array.dtype.name
    if dtype not in DTYPES:
        raise BlobError(f"dtype {dtype} cannot be stored; use one of {', '.join(DTYPES)}")
    little = array.astype(array.dtype.newbyteorder("<"), copy=False)
    return TensorBlob(dtype, tuple(int(n) for n in array.shape), np.ascontiguousarray(little).tobytes())


def check_blob_size(dtype: str, shape: str | tuple[int, ...], size: int) -> tuple[int, ...]:
    """The array's dimensions, if `size` bytes hold a `dtype` array of `shape`; else BlobError.

    Apart from decoding so a store can check its tensors without reading their bytes.
    """
    if dtype not in DTYPES:
        raise BlobError(f"unknown stored dtype {dtype!r}")
    dims = tuple(json.loads(shape)) if isinstance(shape, str) else tuple(shape)
    expected = int(np.prod(dims, dtype=np.int64)) * np.dtype(dtype).itemsize
    if size != expected:
        raise BlobError(f"blob of {size} bytes does not hold a {dtype} array of shape {dims}")
    return dims


def from_blob(dtype: str, shape: str | tuple[int, ...], data: bytes) -> np.ndarray:
    dims = check_blob_size(dtype, shape, len(data))
    return np.frombuffer(data, dtype=np.dtype(dtype).newbyteorder("<")).astype(dtype).reshape(dims)
