"""The server's own life: health, readiness, the page, and a clean stop while sessions generate."""

from __future__ import annotations

import asyncio
import threading
import time
import urllib.request

from realtime.server.run import BackgroundServer
from tests.conftest import run
from tests.wire import Wire


def get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read()


def test_health_ready_and_the_page_answer(server) -> None:
    assert get(server.http_url + "/health") == (200, b'{"status":"ok"}')
    status, body = get(server.http_url + "/ready")
    assert status == 200 and b'"hibari"' in body
    status, page = get(server.http_url + "/")
    assert status == 200 and b"/v1/realtime" in page


def test_stopping_the_server_mid_generation_closes_sessions_and_finishes_promptly() -> None:
    running = BackgroundServer().start()
    long_text = " ".join(f"Sentence {n} is long enough to keep it busy." for n in range(200))

    async def body() -> None:
        wire = await Wire.open(running.url)
        await wire.start()
        await wire.send({"type": "text", "text": long_text})
        await wire.send({"type": "end"})
        await wire.until(lambda m: m["type"] == "audio")
        started = time.monotonic()
        stopper = threading.Thread(target=running.stop)
        stopper.start()
        _, code = await wire.closed_with()
        assert code == 1012  # uvicorn's "service restart" on shutdown
        await asyncio.to_thread(stopper.join, 15)
        assert not stopper.is_alive() and time.monotonic() - started < 10

    run(body())
