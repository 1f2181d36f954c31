"""Row tiles: a row's linear-layer result is the same bits whatever the batch around it."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from realtime.engines.qwen3.tiles import RowTiles, probe_buckets

# (in, out): the tiny checkpoints' shapes, whose kernels differ between 2, 4 and 8 rows,
# and the full-size 0.6B's, where 2..8 rows agree.
SHAPES = [(64, 128), (128, 64), (64, 3072), (32, 64), (1024, 3072), (3072, 1024)]


def layer(inputs: int, outputs: int, bias: bool = False) -> nn.Linear:
    torch.manual_seed(inputs * 7 + outputs)
    return nn.Linear(inputs, outputs, bias=bias)


@pytest.mark.parametrize(("inputs", "outputs"), SHAPES)
def test_a_row_gets_the_same_bits_alone_and_beside_any_number_of_others(inputs: int, outputs: int) -> None:
    linear = layer(inputs, outputs, bias=True)
    tiles = probe_buckets([linear], tile_rows=8)
    rows = torch.randn(20, inputs, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        alone = torch.cat([tiles.linear(linear, rows[i : i + 1]) for i in range(20)])
        for batch in (2, 3, 4, 7, 8, 9, 16, 20):
            assert torch.equal(tiles.linear(linear, rows[:batch]), alone[:batch]), batch
        others = torch.randn(7, inputs, generator=torch.Generator().manual_seed(2))
        assert torch.equal(tiles.linear(linear, torch.cat([rows[:1], others]))[:1], alone[:1])


def test_the_probe_keeps_only_sizes_equal_to_the_full_tile() -> None:
    layers = [layer(i, o) for i, o in SHAPES]
    tiles = probe_buckets(layers, tile_rows=8)
    assert tiles.buckets[-1] == 8 and tiles.exact
    for linear in layers:
        x = torch.randn(8, linear.in_features)
        full = nn.functional.linear(x, linear.weight)
        for size in tiles.buckets:
            assert torch.equal(nn.functional.linear(x[:size], linear.weight), full[:size])


def test_a_lone_row_is_padded_to_the_smallest_proven_size() -> None:
    tiles = RowTiles(tile_rows=8, buckets=(2, 4, 8))
    assert [tiles.padded_rows(rows) for rows in (1, 2, 3, 5, 8)] == [2, 2, 4, 8, 8]
    with pytest.raises(ValueError):
        RowTiles(tile_rows=8, buckets=(2, 4))


def test_inexact_tiles_run_one_product_over_all_rows() -> None:
    linear = layer(1024, 1024)
    tiles = probe_buckets([linear], tile_rows=8, exact=False)
    rows = torch.randn(12, 1024)
    with torch.inference_mode():
        assert torch.equal(tiles.linear(linear, rows), nn.functional.linear(rows, linear.weight))


def test_other_modules_pass_through() -> None:
    tiles = RowTiles()
    rows = torch.randn(3, 5)
    assert torch.equal(tiles.linear(nn.Identity(), rows), rows)
