"""`x-request-id` on every HTTP response, and in every log line written while serving that request.

OpenAI answers every request with an id, and clients built for it read it (LiveKit Agents
logs a warning for each response without one). A sane incoming `x-request-id` is echoed,
so a caller's own id follows its request through our logs; anything else gets a fresh
unguessable id. The middleware wraps the whole application, so errors, 404s and 405s
carry the header too.
"""

from __future__ import annotations

import logging
import re
import secrets
from contextvars import ContextVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "x-request-id"
_SANE = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_HEADER_BYTES = REQUEST_ID_HEADER.encode("latin-1")

current_request_id: ContextVar[str | None] = ContextVar("current_request_id", default=None)
"""The id of the HTTP request being served in this task (None outside one)."""


def new_request_id() -> str:
    """128 random bits: unguessable, so one caller cannot name another's request."""
    return "req_" + secrets.token_hex(16)


def request_id_for(incoming: str | None) -> str:
    """The incoming id when it is 1-128 characters of [A-Za-z0-9._:-]; otherwise a new one."""
    if incoming is not None and _SANE.fullmatch(incoming):
        return incoming
    return new_request_id()


def _incoming(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name.lower() == _HEADER_BYTES:
            return value.decode("latin-1")
    return None


class RequestIdMiddleware:
    """Gives each HTTP request its id: in the response headers and in `current_request_id` for the logs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_for(_incoming(scope))
        header = (_HEADER_BYTES, request_id.encode("latin-1"))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() != _HEADER_BYTES]
                message = {**message, "headers": [*headers, header]}
            await send(message)

        token = current_request_id.set(request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            current_request_id.reset(token)


class RequestIdLogFilter(logging.Filter):
    """Stamps each record with `request_tag`: ` request_id=<id>` while serving an HTTP request, else empty.

    Attached to a handler, it reaches every record that handler writes (uvicorn's access
    line included), so an operator can grep one request's lines by its id.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        request_id = current_request_id.get()
        record.request_tag = f" request_id={request_id}" if request_id else ""
        return True
