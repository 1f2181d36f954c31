"""From a received WebSocket frame to a message map, with the protocol's errors. Pure."""

from __future__ import annotations

from typing import Any

from realtime.protocol import codec
from realtime.protocol.errors import ErrorCode, ProtocolError
from realtime.protocol.messages import message_type


def decode_frame(data: bytes | None, *, max_bytes: int, started: bool) -> dict[str, Any]:
    """The message in one frame (`data` None for a text frame), or the error PROTOCOL.md gives it.

    Before `session.ready` every malformed frame is fatal (4000). After it, only a frame
    that is not msgpack at all is; a msgpack value that is not a typed map is a 4100.
    """
    if data is None:
        raise ProtocolError(ErrorCode.TEXT_FRAME, "text frames are not accepted; send binary msgpack frames", fatal=True)
    if len(data) > max_bytes:
        raise ProtocolError(
            ErrorCode.MESSAGE_TOO_BIG, f"frame of {len(data)} bytes is over the limit of {max_bytes}", fatal=True
        )
    try:
        message = codec.unpack(data)
    except codec.FrameDecodeError as exc:
        raise ProtocolError(ErrorCode.BAD_MESSAGE, str(exc), fatal=True) from exc
    if message_type(message) is None:
        raise ProtocolError(
            ErrorCode.BAD_REQUEST if started else ErrorCode.BAD_MESSAGE,
            "a message must be a msgpack map with a string `type`",
            fatal=not started,
        )
    return message
