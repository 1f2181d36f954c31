"""What Ray's HTTP proxy does for the protocol: an ASGI middleware it wraps around itself.

Ray's proxy relays each request to a replica. Two of its behaviours would break the protocol,
and this middleware, installed into the proxy through `RAY_SERVE_HTTP_PROXY_CALLBACK_IMPORT_PATH`
(see `proxy_middlewares`), mends both at the edge:

- A replica that dies (killed, crashed, or stopped after its drain timeout) ends the relay of
  its open sockets with no close frame: the client would see 1006, or uvicorn's 1000, as if
  the session had ended well. Here a socket whose relay ends after `websocket.accept` without
  a close gets a fatal `error` (code 1012, name `service_restart`), then close 1012, as any
  fatal error comes: reconnect, and you are placed on a live replica. HTTP streams need
  nothing: an unfinished body is dropped by the server, so the client sees an incomplete
  stream, never a complete but short file.
- A client that reads nothing is invisible to the replica: its sends are handed to Ray, which
  never pushes back, so the server's send timeout never fires and the proxy buffers the audio
  without bound (measured: +4 MB/s for one 48 kHz session). Here one message that the client
  has not taken within the send timeout (`REALTIME_TTS_SEND_TIMEOUT_S`, the server's
  `--send-timeout-s`) marks it stalled: nothing more is relayed to it, the replica is told the
  client left (its session ends, its engines stop, its slot is freed), and the socket is closed
  4008, the HTTP stream left incomplete.
- When Ray itself refuses (every replica at `max_ongoing_requests` and the queue at
  `max_queued_requests`), it answers a plain-text 503, also to a WebSocket handshake. Here a
  refused socket is accepted and gets the protocol's `over_capacity` error, then close 1013;
  an HTTP refusal under /v1/ becomes OpenAI's error shape, with Retry-After.

It also drops the second `X-Request-ID` header Ray's proxy adds beside the replica's own.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from realtime.config import config_from_env
from realtime.protocol.codec import pack
from realtime.protocol.errors import ErrorCode, ProtocolError

logger = logging.getLogger(__name__)

SERVICE_RESTART = 1012  # RFC 6455 registry: the service is restarting; the client may reconnect
SERVICE_RESTART_NAME = "service_restart"  # not in PROTOCOL.md's table: only a Ray deployment closes with it
SERVICE_RESTART_REASON = "service restart: the replica serving this session went away; reconnect"
REFUSED_RETRY_AFTER_S = 1
STALLED_CLOSE_CODE = 4008  # the protocol's `timeout`: the client read nothing for the send timeout
STALLED_REASON = "timeout: the client read nothing for the send timeout"


def refusal_error(retry_after_s: int) -> ProtocolError:
    return ProtocolError(
        ErrorCode.OVER_CAPACITY,
        "every replica is at its capacity; retry later",
        fatal=True,
        retry_after_ms=retry_after_s * 1000,
    )


def service_restart_message() -> dict[str, Any]:
    """The fatal `error` sent before close 1012, in the shape of every other fatal error."""
    return {"type": "error", "code": SERVICE_RESTART, "name": SERVICE_RESTART_NAME,
            "message": SERVICE_RESTART_REASON, "fatal": True}


def _retry_after_s(headers: list[tuple[bytes, bytes]]) -> int:
    for name, value in headers:
        if name.lower() == b"retry-after":
            try:
                return max(1, int(value))
            except ValueError:
                break
    return REFUSED_RETRY_AFTER_S


class StallGuard:
    """One relayed connection's sends to its client, each bounded by the send timeout.

    A send not taken in time marks the client stalled: later sends are dropped, and `receive`
    answers the relay with a disconnect, so the replica ends the session as if the client left.
    """

    def __init__(self, timeout_s: float, disconnect: Message) -> None:
        self.timeout_s = timeout_s
        self._disconnect = disconnect
        self._stalled = asyncio.Event()

    @property
    def stalled(self) -> bool:
        return self._stalled.is_set()

    async def send(self, send: Send, message: Message) -> None:
        if self.stalled:
            return
        try:
            async with asyncio.timeout(self.timeout_s):
                await send(message)
        except TimeoutError:
            logger.warning("a client took nothing for %.1f s; dropping it (its replica is told it left)", self.timeout_s)
            self._stalled.set()

    def receive(self, receive: Receive) -> Receive:
        async def guarded() -> Message:
            if self.stalled:
                return self._disconnect
            message = asyncio.ensure_future(receive())
            stalled = asyncio.ensure_future(self._stalled.wait())
            try:
                await asyncio.wait({message, stalled}, return_when=asyncio.FIRST_COMPLETED)
            except asyncio.CancelledError:
                message.cancel()
                raise
            finally:
                stalled.cancel()
            if message.done():
                return message.result()
            message.cancel()
            return self._disconnect

        return guarded


class ReplicaFailureMiddleware:
    """Closes relayed sockets 1012 when their replica goes away, drops clients that read nothing, and
    answers Ray's refusals in the protocol's shape."""

    def __init__(self, app: ASGIApp, send_timeout_s: float | None = None) -> None:
        self.app = app
        self.send_timeout_s = send_timeout_s if send_timeout_s is not None else config_from_env().limits.send_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = {"accepted": False, "closed": False, "refused": None}
        guard = StallGuard(self.send_timeout_s, {"type": "websocket.disconnect", "code": STALLED_CLOSE_CODE})

        async def relay(message: Message) -> None:
            kind = message["type"]
            if kind == "websocket.http.response.start" or kind == "http.response.start":
                # The proxy's own refusal, before any replica accepted the socket.
                state["refused"] = _retry_after_s(list(message.get("headers") or []))
                return
            if kind in ("websocket.http.response.body", "http.response.body"):
                return
            if kind == "websocket.accept":
                state["accepted"] = True
            elif kind == "websocket.close":
                state["closed"] = True
            await guard.send(send, message)

        try:
            await self.app(scope, guard.receive(receive), relay)
        finally:
            await self._finish_websocket(scope, send, state, guard)

    async def _finish_websocket(self, scope: Scope, send: Send, state: dict[str, Any], guard: StallGuard) -> None:
        try:
            if guard.stalled:  # its buffers are full: the close frame gets the send timeout, then the socket is dropped
                async with asyncio.timeout(self.send_timeout_s):
                    await send({"type": "websocket.close", "code": STALLED_CLOSE_CODE, "reason": STALLED_REASON})
            elif state["refused"] is not None and not state["accepted"]:
                error = refusal_error(state["refused"])
                offered = scope.get("subprotocols") or []
                subprotocol = "tts.v1.msgpack" if "tts.v1.msgpack" in offered else None
                await send({"type": "websocket.accept", "subprotocol": subprotocol})
                await send({"type": "websocket.send", "bytes": pack(error.to_message())})
                await send({"type": "websocket.close", "code": int(error.code), "reason": "over_capacity"})
            elif state["accepted"] and not state["closed"]:
                logger.warning("a replica went away with a session open; closing its socket %d", SERVICE_RESTART)
                await send({"type": "websocket.send", "bytes": pack(service_restart_message())})
                await send({"type": "websocket.close", "code": SERVICE_RESTART, "reason": SERVICE_RESTART_REASON})
        except Exception:  # the client is gone too, or never took the close frame
            logger.debug("closing a relayed socket", exc_info=True)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        api = str(scope.get("path", "")).startswith("/v1/")
        held: dict[str, Any] = {}
        guard = StallGuard(self.send_timeout_s, {"type": "http.disconnect"})

        async def relay(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": _one_request_id(message.get("headers") or [])}
                if api and message.get("status") == 503 and _is_plain_text(message):
                    held["start"] = message  # Ray's refusal: answered in OpenAI's shape below
                    return
            if "start" in held:
                if message["type"] == "http.response.body" and not message.get("more_body", False):
                    await _send_openai_refusal(send, _retry_after_s(list(held["start"].get("headers") or [])))
                return
            await guard.send(send, message)  # a stalled reader's stream is left incomplete

        await self.app(scope, guard.receive(receive), relay)


def _one_request_id(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """Ray's proxy adds its own `X-Request-ID` beside the one the replica echoed: keep the first."""
    kept, seen = [], False
    for name, value in headers:
        if name.lower() == b"x-request-id":
            if seen:
                continue
            seen = True
        kept.append((name, value))
    return kept


def _is_plain_text(message: Message) -> bool:
    for name, value in message.get("headers") or []:
        if name.lower() == b"content-type":
            return value.startswith(b"text/plain")
    return False


async def _send_openai_refusal(send: Send, retry_after_s: int) -> None:
    body = json.dumps({
        "error": {
            "message": "every replica is at its capacity; retry later",
            "type": "server_error",
            "param": None,
            "code": "over_capacity",
            "fields": [],
        }
    }).encode()
    await send({
        "type": "http.response.start",
        "status": 503,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"retry-after", str(retry_after_s).encode()),
        ],
    })
    await send({"type": "http.response.body", "body": body, "more_body": False})


def proxy_middlewares() -> list[Any]:
    """The callback Ray's proxy calls (RAY_SERVE_HTTP_PROXY_CALLBACK_IMPORT_PATH=realtime.serve_ray.proxy:proxy_middlewares)."""
    from starlette.middleware import Middleware

    return [Middleware(ReplicaFailureMiddleware)]


PROXY_CALLBACK = "realtime.serve_ray.proxy:proxy_middlewares"
