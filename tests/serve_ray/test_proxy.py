"""The middleware Ray's proxy runs (realtime/serve_ray/proxy.py), around stand-ins for the proxy's relay,
under a real uvicorn with real WebSocket and HTTP clients: what a client sees when a replica goes away
or when Ray itself refuses, and what a replica is told when its client reads nothing."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator

import httpx
import msgpack
import pytest
import uvicorn
import websockets
from starlette.types import Receive, Scope, Send

from realtime.serve_ray.proxy import SERVICE_RESTART, STALLED_CLOSE_CODE, ReplicaFailureMiddleware
from tests.conftest import run
from tests.support.local import free_port
from tests.support.silent_client import SilentWebSocket
from tests.support.stream_checks import small_buffer_socket

SEND_TIMEOUT_S = 0.5  # the stand-in proxies' send timeout (the real one: the server's --send-timeout-s)
FRAME = b"\x00" * 16384
STEADY_FRAMES = 300  # what the streaming relay sends a client that keeps reading (~5 MB; path /steady)
ENDLESS_FRAMES = 100_000  # what it would send a stalled client if nobody stopped it (~1.6 GB)


async def relay_that_loses_its_replica(scope: Scope, receive: Receive, send: Send) -> None:
    """Ray's relay when the replica dies: the socket was accepted, a frame went out, then the relay just ends;
    an HTTP stream started, then ends without its last piece."""
    if scope["type"] == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.accept", "subprotocol": "tts.v1.msgpack"})
        await send({"type": "websocket.send", "bytes": msgpack.packb({"type": "session.ready"})})
        return
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"audio/pcm")]})
        await send({"type": "http.response.body", "body": b"\x00\x01" * 512, "more_body": True})
        return


class StreamingRelay:
    """A replica speaking a long line through the proxy: frames go out as fast as the client takes them,
    until `receive` says the client left (or STEADY_FRAMES were sent, on the path /steady).
    Records what it was told and how much it sent, as the replica's server would see it."""

    def __init__(self) -> None:
        self.told: dict[str, tuple[dict, int]] = {}
        self.told_event = threading.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await receive()  # websocket.connect
            await send({"type": "websocket.accept", "subprotocol": "tts.v1.msgpack"})
            await self._stream(scope, receive, send, {"type": "websocket.send", "bytes": FRAME})
        elif scope["type"] == "http":
            await receive()  # the request body
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"audio/pcm")]})
            await self._stream(scope, receive, send, {"type": "http.response.body", "body": FRAME, "more_body": True})

    async def _stream(self, scope: Scope, receive: Receive, send: Send, frame: dict) -> None:
        left = asyncio.ensure_future(receive())
        sent, frames = 0, STEADY_FRAMES if scope["path"] == "/steady" else ENDLESS_FRAMES
        while not left.done() and sent < frames:
            await send(frame)
            sent += 1
            await asyncio.sleep(0)
        if left.done():
            self.told[scope["type"]] = (left.result(), sent)
            self.told_event.set()
            return
        left.cancel()
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1000})
        else:
            await send({"type": "http.response.body", "body": b"", "more_body": False})


async def relay_that_refuses(scope: Scope, receive: Receive, send: Send) -> None:
    """Ray's own refusal (every replica at its limit, the queue full): plain text 503, to sockets too."""
    if scope["type"] not in ("http", "websocket"):
        return
    await send({"type": "http.response.start", "status": 503,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"retry-after", b"3")]})
    await send({"type": "http.response.body", "body": b"Request dropped due to backpressure", "more_body": False})


async def relay_that_finishes(scope: Scope, receive: Receive, send: Send) -> None:
    """A replica that closes its socket itself, and answers HTTP whole."""
    if scope["type"] == "websocket":
        await receive()
        await send({"type": "websocket.accept", "subprotocol": "tts.v1.msgpack"})
        await send({"type": "websocket.close", "code": 1000})
        return
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 503, "headers": [
            (b"content-type", b"application/json"), (b"x-request-id", b"req-1"), (b"X-Request-ID", b"req-1")]})
        await send({"type": "http.response.body", "body": b'{"error": {"code": "over_capacity"}}'})


STREAMING = StreamingRelay()


@pytest.fixture(scope="module")
def proxies() -> Iterator[dict[str, str]]:
    """One uvicorn per stand-in relay, each behind the middleware; yields their base URLs by name."""
    servers: list[tuple[uvicorn.Server, threading.Thread]] = []
    urls = {}
    for name, app in (("lost", relay_that_loses_its_replica), ("refused", relay_that_refuses),
                      ("finished", relay_that_finishes), ("streaming", STREAMING)):
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(ReplicaFailureMiddleware(app, send_timeout_s=SEND_TIMEOUT_S),
                                               host="127.0.0.1", port=port, log_level="error", lifespan="off"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        servers.append((server, thread))
        urls[name] = f"127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not all(server.started for server, _ in servers):
        assert time.monotonic() < deadline, "the stand-in proxies did not start"
        time.sleep(0.02)
    yield urls
    for server, thread in servers:
        server.should_exit = True
        thread.join(timeout=10)


def test_a_socket_whose_replica_goes_away_gets_a_fatal_error_and_close_1012(proxies: dict[str, str]) -> None:
    async def body() -> None:
        async with websockets.connect(f"ws://{proxies['lost']}/v1/realtime", subprotocols=["tts.v1.msgpack"]) as ws:
            assert msgpack.unpackb(await ws.recv())["type"] == "session.ready"
            error = msgpack.unpackb(await ws.recv())  # a fatal error first, as every fatal error comes
            assert (error["type"], error["code"], error["name"], error["fatal"]) == (
                "error", SERVICE_RESTART, "service_restart", True)
            assert "reconnect" in error["message"]
            with pytest.raises(websockets.ConnectionClosedError):
                await ws.recv()
            assert ws.close_code == SERVICE_RESTART
            assert "reconnect" in ws.close_reason

    run(body())


def test_an_http_stream_whose_replica_goes_away_ends_incomplete(proxies: dict[str, str]) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        with httpx.stream("POST", f"http://{proxies['lost']}/v1/audio/speech", timeout=30) as response:
            assert response.status_code == 200
            for _ in response.iter_bytes():
                pass


def test_ray_refusing_a_socket_is_the_protocols_over_capacity(proxies: dict[str, str]) -> None:
    async def body() -> None:
        async with websockets.connect(f"ws://{proxies['refused']}/v1/realtime", subprotocols=["tts.v1.msgpack"]) as ws:
            assert ws.subprotocol == "tts.v1.msgpack"
            error = msgpack.unpackb(await ws.recv())
            with pytest.raises(websockets.ConnectionClosedError):
                await ws.recv()
        assert error["type"] == "error" and error["code"] == 1013 and error["name"] == "over_capacity"
        assert error["fatal"] is True and error["retry_after_ms"] == 3000
        assert ws.close_code == 1013

    run(body())


def test_ray_refusing_an_api_request_answers_in_openai_shape(proxies: dict[str, str]) -> None:
    response = httpx.post(f"http://{proxies['refused']}/v1/audio/speech", json={}, timeout=30)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "3"
    assert response.json()["error"]["code"] == "over_capacity"
    assert response.json()["error"]["type"] == "server_error"


def test_a_refusal_outside_the_api_is_left_as_ray_wrote_it(proxies: dict[str, str]) -> None:
    response = httpx.get(f"http://{proxies['refused']}/health", timeout=30)
    assert response.status_code == 503 and response.text == "Request dropped due to backpressure"


def test_what_a_replica_answers_itself_passes_unchanged(proxies: dict[str, str]) -> None:
    async def body() -> None:
        async with websockets.connect(f"ws://{proxies['finished']}/v1/realtime", subprotocols=["tts.v1.msgpack"]) as ws:
            with pytest.raises(websockets.ConnectionClosedOK):
                await ws.recv()
            assert ws.close_code == 1000

    run(body())
    response = httpx.post(f"http://{proxies['finished']}/v1/audio/speech", json={}, timeout=30)
    assert response.status_code == 503 and json.loads(response.content) == {"error": {"code": "over_capacity"}}
    assert response.headers.get_list("x-request-id") == ["req-1"]  # Ray's second copy dropped


def _port(address: str) -> int:
    return int(address.rsplit(":", 1)[1])


def test_a_socket_client_that_reads_nothing_is_dropped_and_its_replica_told_it_left(proxies: dict[str, str]) -> None:
    STREAMING.told.pop("websocket", None)
    STREAMING.told_event.clear()

    client = SilentWebSocket("127.0.0.1", _port(proxies["streaming"]))  # ... that never reads
    try:
        assert STREAMING.told_event.wait(30), "the replica was never told that its client left"
        message, sent = STREAMING.told["websocket"]
        assert message == {"type": "websocket.disconnect", "code": STALLED_CLOSE_CODE}
        assert sent < ENDLESS_FRAMES, "the whole line was relayed to a client that read nothing"
        client.read_until_closed(30)  # the proxy closed (or dropped) the socket
    finally:
        client.close()


def test_an_http_client_that_reads_nothing_is_dropped_and_its_replica_told_it_left(proxies: dict[str, str]) -> None:
    STREAMING.told.pop("http", None)
    STREAMING.told_event.clear()
    sock = small_buffer_socket(_port(proxies["streaming"]))
    sock.setblocking(True)
    try:
        sock.sendall(b"POST /v1/audio/speech HTTP/1.1\r\nHost: proxy\r\nContent-Length: 0\r\n\r\n")  # never reads
        assert STREAMING.told_event.wait(30), "the replica was never told that its client left"
        message, sent = STREAMING.told["http"]
        assert message == {"type": "http.disconnect"} and sent < ENDLESS_FRAMES
    finally:
        sock.close()


def test_a_client_reading_slowly_but_steadily_gets_everything(proxies: dict[str, str]) -> None:
    async def body() -> None:
        sock = small_buffer_socket(_port(proxies["streaming"]))
        async with websockets.connect(f"ws://{proxies['streaming']}/steady", subprotocols=["tts.v1.msgpack"],
                                      sock=sock, max_queue=1) as ws:
            frames = 0
            with pytest.raises(websockets.ConnectionClosedOK):
                while True:
                    assert await asyncio.wait_for(ws.recv(), 30) == FRAME
                    frames += 1
                    await asyncio.sleep(0.002)  # slower than the relay, never still for the send timeout
        assert frames == STEADY_FRAMES and ws.close_code == 1000

    run(body(), 120)
