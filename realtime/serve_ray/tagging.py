"""Which replica answered: an `x-replica` header on every response and socket handshake, and a
`replica` label on every sample of its `/metrics`.

Pure ASGI (no Ray import): the replica (replica.py) installs it with its own id.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

REPLICA_HEADER = "x-replica"
METRICS_PATH = "/metrics"
_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?(\s.*)$")


def label_samples(exposition: str, replica: str) -> str:
    """Prometheus text with `replica="<id>"` added to every sample (comments and blank lines kept)."""
    label = 'replica="' + replica.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    lines = []
    for line in exposition.split("\n"):
        match = _SAMPLE.match(line) if line and not line.startswith("#") else None
        if match is None:
            lines.append(line)
            continue
        name, labels, rest = match.groups()
        inner = labels[1:-1] if labels else ""
        lines.append(f"{name}{{{label}{',' + inner if inner else ''}}}{rest}")
    return "\n".join(lines)


class ReplicaTagMiddleware:
    def __init__(self, app: ASGIApp, replica: str) -> None:
        self.app = app
        self.replica = replica
        self._header = (REPLICA_HEADER.encode(), replica.encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self.app(scope, receive, self._tag_accept(send))
        elif scope["type"] == "http" and scope.get("path") == METRICS_PATH:
            await self.app(scope, receive, self._labelled_metrics(send))
        elif scope["type"] == "http":
            await self.app(scope, receive, self._tag_response(send))
        else:
            await self.app(scope, receive, send)

    def _tag_accept(self, send: Send) -> Send:
        async def tagged(message: Message) -> None:
            if message["type"] == "websocket.accept":
                message = {**message, "headers": [*(message.get("headers") or []), self._header]}
            await send(message)

        return tagged

    def _tag_response(self, send: Send) -> Send:
        async def tagged(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*(message.get("headers") or []), self._header]}
            await send(message)

        return tagged

    def _labelled_metrics(self, send: Send) -> Send:
        """/metrics is small and sent whole: hold it, label it, send it with its new length."""
        held: dict = {"body": b""}

        async def labelled(message: Message) -> None:
            if message["type"] == "http.response.start":
                held["start"] = message
                return
            if message["type"] != "http.response.body":
                await send(message)
                return
            held["body"] += message.get("body", b"")
            if message.get("more_body", False):
                return
            start = held["start"]
            body = held["body"]
            if start.get("status") == 200:
                body = label_samples(body.decode(), self.replica).encode()
            headers = [(k, v) for k, v in start.get("headers") or [] if k.lower() != b"content-length"]
            headers += [(b"content-length", str(len(body)).encode()), self._header]
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body, "more_body": False})

        return labelled
