"""A speech request whose client stops reading is aborted after the send timeout and frees its slot."""

from __future__ import annotations

import json
import time

from realtime.backend.backend import TTSBackend
from realtime.config import Limits
from tests.support.counting_engine import COUNTING_MODEL, CountingEngine
from tests.support.http_checks import SPEECH, post_speech, scrape
from tests.support.stream_checks import small_buffer_socket


def test_a_speech_client_that_stops_reading_loses_its_slot(make_server) -> None:
    engine = CountingEngine(chunks_per_word=2, chunk_samples=4800)
    limits = dict(max_sessions=1, send_timeout_s=0.5)
    srv = make_server(backend=TTSBackend([engine], limits=Limits(**limits)), limits=limits)
    body = json.dumps(
        {"model": COUNTING_MODEL, "voice": "tick", "input": " ".join(["word"] * 800), "response_format": "pcm"}
    ).encode()
    stalled = small_buffer_socket(srv.port)
    stalled.setblocking(True)
    stalled.sendall(
        f"POST {SPEECH} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    try:  # ...and never reads. A second request gets the only slot once the first is aborted.
        deadline = time.monotonic() + 60
        while scrape(srv, "realtime_tts_sessions_active", transport="http") != 1:  # the stalled request holds it
            assert time.monotonic() < deadline
            time.sleep(0.02)
        short = {"model": COUNTING_MODEL, "voice": "tick", "input": "one.", "response_format": "pcm"}
        while (response := post_speech(srv, short)).status_code == 503:
            assert time.monotonic() < deadline, "the slot of a client that reads nothing was never freed"
            time.sleep(0.1)
        assert response.status_code == 200 and response.content
        assert engine.counters.produced < 2 * 800, "the stalled request was generated to its end"
        while engine.counters.generators_started != engine.counters.generators_finished:
            assert time.monotonic() < deadline, "the stalled request's engine ran on"
            time.sleep(0.05)
        assert scrape(srv, "realtime_tts_sessions_active", transport="http") == 0
    finally:
        stalled.close()
