"""msgpack framing: one binary frame holds one map."""

from __future__ import annotations

from typing import Any

import msgpack

# Nesting and sizes bounded so a hostile frame cannot make the unpacker allocate without end.
_MAX_ITEMS = 4096


class FrameDecodeError(ValueError):
    """The frame is not one msgpack value."""


def pack(message: dict[str, Any]) -> bytes:
    return msgpack.packb(message, use_bin_type=True)


def unpack(frame: bytes) -> Any:
    """Decode one frame; raises FrameDecodeError for anything that is not exactly one msgpack value."""
    try:
        return msgpack.unpackb(
            frame,
            raw=False,
            strict_map_key=False,
            max_array_len=_MAX_ITEMS,
            max_map_len=_MAX_ITEMS,
            max_ext_len=0,
        )
    except (ValueError, msgpack.UnpackException, msgpack.ExtraData, TypeError, RecursionError) as exc:
        raise FrameDecodeError(f"frame is not a msgpack message ({type(exc).__name__}: {exc})") from exc
