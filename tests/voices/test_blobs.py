"""Tensors survive the trip into a blob and back, bit for bit; a blob that lies about its shape is refused."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from realtime.voices.blobs import BlobError, from_blob, to_blob

ARRAYS = st.one_of(
    hnp.arrays(np.float32, hnp.array_shapes(min_dims=1, max_dims=2, max_side=16), elements=st.floats(width=32, allow_nan=False)),
    hnp.arrays(np.int64, hnp.array_shapes(min_dims=1, max_dims=2, max_side=16)),
)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(ARRAYS)
def test_an_array_round_trips_exactly(array: np.ndarray) -> None:
    blob = to_blob(array)
    back = from_blob(blob.dtype, blob.shape_text, blob.data)
    assert back.dtype == array.dtype and back.shape == array.shape
    assert back.tobytes() == array.astype(array.dtype.newbyteorder("<")).tobytes()


def test_a_big_endian_array_is_stored_little_endian_and_reads_back_equal() -> None:
    array = np.arange(6, dtype=">i8").reshape(2, 3)
    blob = to_blob(array)
    assert np.array_equal(from_blob(blob.dtype, blob.shape_text, blob.data), array)


def test_a_blob_of_the_wrong_size_or_dtype_is_refused() -> None:
    blob = to_blob(np.zeros(4, dtype=np.float32))
    with pytest.raises(BlobError):
        from_blob(blob.dtype, "[5]", blob.data)
    with pytest.raises(BlobError):
        from_blob("object", blob.shape_text, blob.data)
    with pytest.raises(BlobError):
        to_blob(np.zeros(2, dtype=np.complex64))
