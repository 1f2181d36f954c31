"""The `/v1/realtime` WebSocket route: accept, adapt Starlette's socket, run a Session."""

from __future__ import annotations

import logging

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from realtime.auth import bearer_token, subprotocol_token
from realtime.session.session import Session
from realtime.session.transport import Disconnected, Frame

logger = logging.getLogger(__name__)

SUBPROTOCOL = "tts.v1.msgpack"


class StarletteTransport:
    """The session's Transport over a Starlette WebSocket."""

    def __init__(self, websocket: WebSocket) -> None:
        self._websocket = websocket

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
        if self._websocket.application_state is not WebSocketState.CONNECTED:
            raise Disconnected
        try:
            await self._websocket.send_bytes(data)
        except Exception as exc:  # uvicorn raises several types once the peer is gone
            raise Disconnected from exc

    async def close(self, code: int, reason: str = "") -> None:
        if self._websocket.application_state is WebSocketState.DISCONNECTED:
            return
        try:
            await self._websocket.close(code, reason)
        except Exception:  # already closed by the peer
            logger.debug("close after the peer left", exc_info=True)


async def realtime_endpoint(websocket: WebSocket) -> None:
    state = websocket.app.state
    offered = websocket.scope.get("subprotocols") or []
    await websocket.accept(subprotocol=SUBPROTOCOL if SUBPROTOCOL in offered else None)
    session = Session(
        StarletteTransport(websocket),
        state.backend,
        state.slots,
        limits=state.config.limits,
        admission=state.access,
        origin=websocket.headers.get("origin"),
        header_token=bearer_token(websocket.headers) or subprotocol_token(offered),
        metrics=state.metrics,
        voices=state.voices,
    )
    await session.run()
