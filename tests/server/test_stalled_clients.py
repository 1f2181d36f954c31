"""Clients that stop reading, squat without starting, or flood pings: none keeps a slot or grows the server.

Every client here is real: a websockets client on a socket with a tiny receive buffer
that never calls recv (its library stops reading TCP once one message waits), keyless
sockets that never send `session.start`, and a ping flood that never reads its pongs.
"""

from __future__ import annotations

import asyncio
import gc
import socket
import time
import tracemalloc

from websockets.exceptions import ConnectionClosed

from realtime.backend.backend import TTSBackend
from realtime.config import Limits
from realtime.server.run import BackgroundServer
from tests.conftest import run
from tests.support.counting_engine import CountingEngine, counting_backend
from tests.support.http_checks import scrape
from tests.support.stream_checks import small_buffer_socket
from tests.support.wire_checks import check_error, expect_fatal, speaks
from tests.wire import Wire

TEXT = " ".join(f"Sentence number {i} is here, and it carries ten words." for i in range(60))


async def _start_when_a_slot_frees(url: str, timeout: float = 60.0, **start: object) -> Wire:
    """Retry session.start while the server answers over_capacity; the first session.ready wins."""
    deadline = time.monotonic() + timeout
    while True:
        wire = await Wire.open(url)
        await wire.send({"type": "session.start", **start})
        reply = await wire.recv()
        if reply["type"] == "session.ready":
            return wire
        check_error(reply, 1013, fatal=True)
        assert time.monotonic() < deadline, "the slot of a client that reads nothing was never freed"
        await asyncio.sleep(0.1)


def test_a_client_that_stops_reading_is_dropped_with_4008_and_frees_its_slot(make_server) -> None:
    engine = CountingEngine(chunks_per_word=2, chunk_samples=4800)
    limits = dict(max_sessions=1, send_timeout_s=0.5)
    running = make_server(backend=TTSBackend([engine], limits=Limits(**limits)), limits=limits)

    async def body() -> None:
        stalled = await Wire.open(running.url, max_queue=1, sock=small_buffer_socket(running.port))
        ready = await stalled.start(model="counting")
        assert ready["limits"]["send_timeout_s"] == 0.5
        await stalled.send({"type": "text", "text": TEXT})
        await stalled.send({"type": "end"})
        # ... and never reads again. Meanwhile the only slot is its own:
        other = await _start_when_a_slot_frees(running.url, model="counting")
        await speaks(other)
        await other.close()
        assert scrape(running, "realtime_tts_errors_total", transport="websocket", code="4008", name="timeout") == 1
        produced = engine.counters.produced
        assert engine.counters.generators_started == engine.counters.generators_finished, "an engine ran on"
        assert produced < 2 * len(TEXT.split()), "the stalled session generated its whole text"
        stalled.abort()

    run(body(), timeout=120)


def test_a_client_reading_slowly_but_steadily_is_not_dropped(make_server) -> None:
    engine = CountingEngine(chunks_per_word=1, chunk_samples=2400)
    running = make_server(backend=counting_backend(engine), limits=dict(send_timeout_s=2.0))

    async def body() -> None:
        wire = await Wire.open(running.url, max_queue=1, sock=small_buffer_socket(running.port))
        await wire.start(model="counting")
        await wire.send({"type": "text", "text": TEXT[:600]})
        await wire.send({"type": "end"})
        done = None
        while done is None:
            message = await wire.recv(timeout=30)
            await asyncio.sleep(0.005)  # slower than the engine, never stalled for the send timeout
            if message["type"] == "done":
                done = message
        assert done["reason"] == "end"
        await wire.close()

    run(body(), timeout=120)


def test_keyless_squatters_cannot_lock_out_a_keyed_client(make_server) -> None:
    running = make_server(
        api_keys=("secret",),
        limits=dict(max_sessions=1, max_pending_connections=64, max_pending_per_client=4, start_timeout_s=30.0),
    )

    async def body() -> None:
        squatters = [await Wire.open(running.url) for _ in range(4)]  # connect, send nothing, hold on
        # The pool's share for this address is full: a fifth keyless socket is refused at once...
        fifth = await Wire.open(running.url)
        error = await expect_fatal(fifth, 1013)
        assert "waiting to start" in error["message"] and error["retry_after_ms"] > 0
        # ...but the session slot was never theirs: a keyed client gets in while they still wait.
        keyed = await Wire.open(running.url, additional_headers={"Authorization": "Bearer secret"})
        await keyed.start()
        await speaks(keyed)
        # Squatters that do start without the key are refused (4001) and free their place.
        await squatters[0].send({"type": "session.start"})
        await expect_fatal(squatters[0], 4001)
        await keyed.close()
        for wire in squatters[1:]:
            await wire.connection.close()

    run(body(), timeout=120)


def _small_send_buffers(running: BackgroundServer) -> None:
    """Accepted sockets inherit the listener's SO_SNDBUF: the kernel then hides little of a non-reader."""
    running._socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)


async def _flood_pings_without_reading(wire: Wire, count: int = 5000) -> None:
    t = "x" * 250  # 252 bytes packed: the largest kind of ping allowed
    try:
        for _ in range(count):  # over 1 MB of pongs asked for, none read
            await asyncio.wait_for(wire.send({"type": "ping", "t": t}), 3)
    except (ConnectionClosed, TimeoutError):
        pass  # dropped, or TCP pushes back: the server stopped reading a client that never reads


def test_a_ping_flood_that_never_reads_leaves_no_buffer_behind(make_server) -> None:
    running = make_server(limits=dict(send_timeout_s=0.5, max_queued_bytes=64 * 1024))
    _small_send_buffers(running)

    async def body() -> None:
        wire = await Wire.open(running.url, max_queue=1, sock=small_buffer_socket(running.port))
        ready = await wire.start()
        gc.collect()
        baseline = tracemalloc.get_traced_memory()[0]
        assert ready["limits"]["max_queued_bytes"] == 64 * 1024 and ready["limits"]["max_ping_bytes"] == 256
        await _flood_pings_without_reading(wire)
        deadline = time.monotonic() + 60
        while scrape(running, "realtime_tts_errors_total", transport="websocket", code="4008") < 1:
            assert time.monotonic() < deadline, "the ping flooder was never dropped"
            await asyncio.sleep(0.1)
        while scrape(running, "realtime_tts_queued_bytes") != 0:
            assert time.monotonic() < deadline, "queued bytes outlived the session"
            await asyncio.sleep(0.1)
        wire.abort()
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - baseline
        assert grown < 1024 * 1024, f"{grown} bytes of Python objects stayed after the flooder left"

    tracemalloc.start()
    try:
        run(body(), timeout=120)
    finally:
        tracemalloc.stop()


def test_queued_output_does_not_keep_a_non_reading_session_from_its_idle_timeout(make_server) -> None:
    running = make_server(limits=dict(send_timeout_s=600.0, idle_timeout_s=1.0))
    _small_send_buffers(running)

    async def body() -> None:
        wire = await Wire.open(running.url, max_queue=1, sock=small_buffer_socket(running.port))
        await wire.start()
        await _flood_pings_without_reading(wire, count=4000)  # pongs wait for it; no context generates
        deadline = time.monotonic() + 60
        while scrape(running, "realtime_tts_errors_total", transport="websocket", code="4008") < 1:
            assert time.monotonic() < deadline, "queued pongs kept an idle session alive"
            await asyncio.sleep(0.1)
        assert scrape(running, "realtime_tts_sessions_active", transport="websocket") == 0
        wire.abort()

    run(body(), timeout=120)


def test_an_oversized_ping_is_a_non_fatal_4100(server) -> None:
    async def body() -> None:
        wire = await Wire.open(server.url)
        await wire.start()
        await wire.send({"type": "ping", "t": "x" * 300})
        error = await wire.recv()
        check_error(error, 4100, fatal=False)
        assert "256" in error["message"]
        await wire.send({"type": "ping", "t": b"\x00" * 250})
        assert await wire.recv() == {"type": "pong", "t": b"\x00" * 250}
        await wire.close()

    run(body())


def test_a_dropped_client_that_reads_again_at_once_finds_the_4008_error_and_close(make_server) -> None:
    engine = CountingEngine(chunks_per_word=2, chunk_samples=4800)
    running = make_server(backend=counting_backend(engine), limits=dict(send_timeout_s=0.5))
    _small_send_buffers(running)

    async def body() -> None:
        stalled = await Wire.open(running.url, max_queue=1, sock=small_buffer_socket(running.port))
        await stalled.start(model="counting")
        await stalled.send({"type": "text", "text": TEXT})
        await stalled.send({"type": "end"})
        deadline = time.monotonic() + 60
        while scrape(running, "realtime_tts_errors_total", transport="websocket", code="4008") < 1:
            assert time.monotonic() < deadline, "the client that stopped reading was never dropped"
            await asyncio.sleep(0.05)
        # Within the grace period (ws_protocol.ABORT_GRACE_S) what was written is still there to read.
        messages, code = await stalled.closed_with()
        assert code == 4008, (code, messages[-3:])
        check_error(messages[-1], 4008, fatal=True)
        assert "read nothing" in messages[-1]["message"]

    run(body(), timeout=120)
