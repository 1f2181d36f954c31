"""Sessions share one capacity across HTTP and the socket; /metrics moves with both."""

from __future__ import annotations

import threading
import time


from tests.conftest import run
from realtime.backend.backend import TTSBackend
from realtime.config import Limits
from tests.support.counting_engine import COUNTING_MODEL, CountingEngine
from tests.support.http_checks import HTTP, SPEECH, openai_error, post_speech, scrape
from tests.support.wire_checks import expect_fatal, fresh_session_speaks
from tests.wire import Wire

OK = {"model": "tts-1", "input": "Hello there.", "voice": "alloy", "response_format": "pcm"}


def test_over_capacity_is_503_with_retry_after_and_counts_sockets_too(make_server) -> None:
    engine = CountingEngine(step_s=0.02)
    srv = make_server(backend=TTSBackend([engine], limits=Limits(max_sessions=1)), limits=dict(max_sessions=1))
    # 400 steps of 20 ms, and more audio than socket buffers hold: the slot stays taken until the holder leaves.
    long_request = {"model": COUNTING_MODEL, "voice": "tick", "input": " ".join(["w"] * 200), "response_format": "pcm"}
    holding = threading.Event()
    release = threading.Event()

    def hold_the_only_slot() -> None:
        with HTTP.stream("POST", srv.http_url + SPEECH, json=long_request, timeout=30) as response:
            chunks = response.iter_raw()  # kept: a dropped iterator closes the response
            next(chunks)
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=hold_the_only_slot)
    holder.start()
    try:
        assert holding.wait(10)
        refused = post_speech(srv, {**long_request, "input": "one."})
        assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
        assert openai_error(refused)["code"] == "over_capacity"

        async def socket_refused() -> None:
            wire = await Wire.open(srv.url)
            await wire.send({"type": "session.start"})  # a slot is taken (or refused) only here
            await expect_fatal(wire, 1013)

        run(socket_refused())
    finally:
        release.set()
        holder.join(10)
    deadline = time.monotonic() + 10
    while scrape(srv, "realtime_tts_sessions_active", transport="http") != 0:  # the holder's leaving is seen
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert post_speech(srv, {**long_request, "input": "one."}).status_code == 200


def test_metrics_move_after_a_socket_session_and_an_http_request(make_server) -> None:
    srv = make_server(engine_threads=1)
    assert scrape(srv, "realtime_tts_model_loads_total", model="hibari", outcome="success") == 1
    assert scrape(srv, "realtime_tts_sessions_total", transport="websocket") == 0

    run(fresh_session_speaks(srv.url))
    assert scrape(srv, "realtime_tts_sessions_total", transport="websocket") == 1
    assert scrape(srv, "realtime_tts_sessions_active", transport="websocket") == 0
    assert scrape(srv, "realtime_tts_time_to_first_audio_seconds_count", transport="websocket") == 1
    assert scrape(srv, "realtime_tts_real_time_factor_count", transport="websocket") == 1
    assert scrape(srv, "realtime_tts_audio_seconds_total", transport="websocket") > 0.3

    async def unknown_speaker() -> None:
        wire = await Wire.open(srv.url)
        await wire.send({"type": "session.start", "speaker": "bob"})
        await expect_fatal(wire, 4104)

    run(unknown_speaker())
    assert scrape(srv, "realtime_tts_errors_total", transport="websocket", code="4104", name="unknown_voice") == 1

    assert post_speech(srv, OK).status_code == 200
    assert scrape(srv, "realtime_tts_sessions_total", transport="http") == 1
    assert scrape(srv, "realtime_tts_time_to_first_audio_seconds_count", transport="http") == 1
    assert scrape(srv, "realtime_tts_audio_seconds_total", transport="http") > 0.3
    assert scrape(srv, "realtime_tts_http_requests_total", route=SPEECH, method="POST", status="200") == 1

    assert post_speech(srv, {**OK, "voice": "bob"}).status_code == 400
    assert scrape(srv, "realtime_tts_errors_total", transport="http", code="400", name="unknown_voice") == 1
    assert scrape(srv, "realtime_tts_http_requests_total", route=SPEECH, method="POST", status="400") == 1
    assert scrape(srv, "realtime_tts_sessions_active", transport="http") == 0


def test_metrics_are_prometheus_text(server) -> None:
    response = HTTP.get(server.http_url + "/metrics")
    assert response.headers["content-type"].startswith("text/plain; version=")
    assert "# TYPE realtime_tts_time_to_first_audio_seconds histogram" in response.text
