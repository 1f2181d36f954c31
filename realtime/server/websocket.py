"""The `/v1/realtime` WebSocket route: accept, adapt Starlette's socket, run a Session.

The route is a plain ASGI app rather than a Starlette endpoint function: it keeps the
server's raw `send`, through which a connection whose client reads nothing is dropped
(the `realtime.abort` extension of ws_protocol.py) instead of waiting on it for good.
"""

from __future__ import annotations

import asyncio
import logging

from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from realtime.auth import bearer_token, subprotocol_token
from realtime.server.ws_protocol import ABORT_EXTENSION, ABORT_MESSAGE
from realtime.session.session import Session
from realtime.session.transport import Disconnected, Frame, SendTimedOut

logger = logging.getLogger(__name__)

SUBPROTOCOL = "tts.v1.msgpack"


class StarletteTransport:
    """The session's Transport over a Starlette WebSocket, with a deadline on every send."""

    def __init__(self, websocket: WebSocket, send_timeout_s: float, abort: Send | None = None) -> None:
        self._websocket = websocket
        self._send_timeout_s = send_timeout_s
        self._abort = abort  # the server's raw send, when it understands `realtime.abort`
        self._closed = False

    async def receive(self) -> Frame:
        try:
            message = await self._websocket.receive()
        except (WebSocketDisconnect, RuntimeError) as exc:
            raise Disconnected from exc
        if message["type"] == "websocket.disconnect":
            raise Disconnected
        if message.get("bytes") is not None:
            return Frame(data=message["bytes"])
        return Frame(text=message.get("text") or "")

    async def send(self, data: bytes) -> None:
        if self._closed or self._websocket.application_state is not WebSocketState.CONNECTED:
            raise Disconnected
        try:
            # The server's send waits while its buffer is over the high-water mark, i.e. while the
            # client is not reading; cancelling that wait writes nothing, so no frame is cut. asyncio.timeout,
            # not wait_for: on Python 3.11 wait_for swallows a cancel that lands as the send completes.
            async with asyncio.timeout(self._send_timeout_s):
                await self._websocket.send_bytes(data)
        except TimeoutError:
            raise SendTimedOut(self._send_timeout_s) from None
        except Exception as exc:  # uvicorn raises several types once the peer is gone
            raise Disconnected from exc

    async def close(self, code: int, reason: str = "", last_frame: bytes | None = None) -> None:
        if self._closed or self._websocket.application_state is WebSocketState.DISCONNECTED:
            return
        self._closed = True
        if self._abort is not None:
            await self._abort({"type": ABORT_MESSAGE, "bytes": last_frame, "code": code, "reason": reason})
            return
        try:  # another server: bounded waits, then the connection is left to it
            async with asyncio.timeout(self._send_timeout_s * (2 if last_frame is not None else 1)):
                if last_frame is not None:
                    await self._websocket.send_bytes(last_frame)
                await self._websocket.close(code, reason)
        except Exception:  # already closed by the peer, or a client that reads nothing
            logger.debug("close after the peer left", exc_info=True)


class RealtimeEndpoint:
    """The ASGI app of the route (a class, so Starlette hands it the raw scope, receive and send)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await realtime_session(WebSocket(scope, receive, send), scope, send)


async def realtime_session(websocket: WebSocket, scope: Scope, send: Send) -> None:
    state = websocket.app.state
    offered = websocket.scope.get("subprotocols") or []
    await websocket.accept(subprotocol=SUBPROTOCOL if SUBPROTOCOL in offered else None)
    abort = send if ABORT_EXTENSION in (scope.get("extensions") or {}) else None
    session = Session(
        StarletteTransport(websocket, state.config.limits.send_timeout_s, abort),
        state.backend,
        state.slots,
        limits=state.config.limits,
        admission=state.access,
        origin=websocket.headers.get("origin"),
        header_token=bearer_token(websocket.headers) or subprotocol_token(offered),
        metrics=state.metrics,
        pending=state.pending,
        client=(scope.get("client") or ("unknown", 0))[0],
        voices=state.voices,
    )
    await session.run()
