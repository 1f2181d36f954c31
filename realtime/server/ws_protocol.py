"""uvicorn's WebSocket protocol, plus a way to drop a client that reads nothing.

ASGI cannot abort a connection: every `websocket.send`, `websocket.close` included, first
waits until the client has read enough of what went before, and uvicorn's keep-alive
timeout calls `transport.close()`, which waits for the same buffer to drain. A client
that never reads therefore kept its connection, its buffered bytes and (through a send
that never returned) its session slot for good.

This subclass advertises the scope extension `realtime.abort` and takes one more ASGI
message, `{"type": "realtime.abort", "bytes": last frame or None, "code", "reason"}`: the
last frame and a close frame are written at once, without waiting, and the TCP
connection is dropped if the client has not completed the closing handshake within
`ABORT_GRACE_S` (a client that resumes reading in time still sees why it was closed).
Keep-alive timeouts drop a connection whose buffer is stuck the same way.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

ABORT_EXTENSION = "realtime.abort"
ABORT_MESSAGE = "realtime.abort"
ABORT_GRACE_S = 5.0


class AbortableWebSocketProtocol(WebSocketsSansIOProtocol):
    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)
        if scope is not None:  # the app task is created but has not run yet: it sees the extension
            scope["extensions"][ABORT_EXTENSION] = {}

    async def send(self, message: Any) -> None:
        if message["type"] == ABORT_MESSAGE:
            self._abort(message.get("bytes"), int(message.get("code", 1000)), str(message.get("reason", "")))
            return
        await super().send(message)

    def _abort(self, last_frame: bytes | None, code: int, reason: str) -> None:
        if self.disconnected or self.close_sent or self.transport.is_closing() or not self.handshake_complete:
            return
        if last_frame:
            self.conn.send_binary(last_frame)
        self.conn.send_close(code, reason)
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.close_sent = True
        self.stop_keepalive()
        self.queue.put_nowait({"type": "websocket.disconnect", "code": code, "reason": reason})
        if self.read_paused:  # read on, so the client's closing reply is seen
            self.read_paused = False
            self.transport.resume_reading()
        self.close_timer = self.loop.call_later(ABORT_GRACE_S, self.transport.abort)

    def keepalive_timeout(self) -> None:
        super().keepalive_timeout()
        if self.transport.get_write_buffer_size():  # close() would wait for a client that reads nothing
            self.transport.abort()
