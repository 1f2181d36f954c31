"""Linear layers over a batch of rows in fixed tiles, so a row's numbers never depend on its neighbours.

A matrix product's kernel (its blocking, its reduction order) is picked by the shapes: on
torch 2.13's CPU `linear` a row of a 1-row product differs in its last bits from the same
row inside a 2-row product, and for small layers even 2, 4 and 8 rows differ from each
other. Batched streams must still give the audio each would give alone, so every linear
layer of the batched step runs its rows in tiles of one fixed size (`tile_rows`), padded
with zeros: the kernel, and hence each row's result, is the same whatever else is in the
batch. Smaller tiles are used too, but only the sizes `probe_buckets` has checked to give
bit-identical rows to the full tile for every weight shape of the model (on the full-size
0.6B geometry 2..8 rows all agree, so a lone stream pays for 2 rows, not 8).

`exact=False` skips all this (one product over all rows, no padding): a little faster, and
a row's last bits then depend on the batch (the GPU note in the README).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

DEFAULT_TILE_ROWS = 8
_CANDIDATES = (2, 4)


@dataclass(frozen=True, slots=True)
class RowTiles:
    """How linear layers split and pad their rows: the full tile and the smaller sizes proven equal to it."""

    tile_rows: int = DEFAULT_TILE_ROWS
    buckets: tuple[int, ...] = (DEFAULT_TILE_ROWS,)
    exact: bool = True

    def __post_init__(self) -> None:
        if self.tile_rows < 1:
            raise ValueError(f"tile_rows must be >= 1, got {self.tile_rows}")
        if not self.buckets or max(self.buckets) != self.tile_rows or min(self.buckets) < 1:
            raise ValueError(f"buckets {self.buckets} must end at the tile size {self.tile_rows}")

    def padded_rows(self, rows: int) -> int:
        """Rows one product of `rows` (<= tile) runs with: the smallest bucket that holds them."""
        return next(bucket for bucket in sorted(self.buckets) if bucket >= rows)

    def linear(self, layer: nn.Module, hidden: torch.Tensor) -> torch.Tensor:
        """`layer(hidden)` for an nn.Linear (or Identity), over all leading dimensions, tile by tile."""
        if not isinstance(layer, nn.Linear):
            return layer(hidden)
        return self.apply(hidden, layer.weight, layer.bias)

    def apply(self, hidden: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
        leading = hidden.shape[:-1]
        flat = hidden.reshape(-1, hidden.shape[-1])
        if not self.exact:
            return F.linear(flat, weight, bias).view(*leading, weight.shape[0])
        pieces = []
        for start in range(0, flat.shape[0], self.tile_rows):
            tile = flat[start : start + self.tile_rows]
            rows = tile.shape[0]
            padded = self.padded_rows(rows)
            if padded != rows:
                tile = torch.cat([tile, tile.new_zeros(padded - rows, tile.shape[1])])
            pieces.append(F.linear(tile, weight, bias)[:rows])
        out = pieces[0] if len(pieces) == 1 else torch.cat(pieces)
        return out.view(*leading, weight.shape[0])


def probe_buckets(layers: Iterable[nn.Linear], tile_rows: int = DEFAULT_TILE_ROWS, exact: bool = True) -> RowTiles:
    """The tiling for these layers: the full tile plus every smaller size whose rows come out
    bit-identical to the full tile's, checked once per distinct weight shape (milliseconds).

    The kernel is chosen by shapes and dtype only, never by values, so one random input per
    shape tells which sizes share the full tile's arithmetic.
    """
    if not exact:
        return RowTiles(tile_rows=tile_rows, buckets=(tile_rows,), exact=False)
    accepted = {size for size in _CANDIDATES if size < tile_rows}
    seen: set[tuple[int, int, torch.dtype, str, bool]] = set()
    generator = torch.Generator().manual_seed(0)
    with torch.inference_mode():
        for layer in layers:
            weight = layer.weight
            key = (weight.shape[0], weight.shape[1], weight.dtype, str(weight.device), layer.bias is not None)
            if key in seen or not accepted:
                continue
            seen.add(key)
            sample = torch.randn((tile_rows, weight.shape[1]), generator=generator).to(weight.device, weight.dtype)
            full = F.linear(sample, weight, layer.bias)
            for size in sorted(accepted):
                if not torch.equal(F.linear(sample[:size], weight, layer.bias), full[:size]):
                    accepted.discard(size)
    return RowTiles(tile_rows=tile_rows, buckets=(*sorted(accepted), tile_rows), exact=True)
