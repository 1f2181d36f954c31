"""`x-request-id`: on every HTTP response (errors, 404 and 405 included), echoed when sane, in the request's log lines."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.routing import Route
from starlette.testclient import TestClient

from realtime.http.request_id import RequestIdLogFilter, request_id_for
from realtime.server.app import RealtimeApp
from tests.support.http_checks import HTTP, SPEECH, post_speech

NEW_ID = re.compile(r"req_[0-9a-f]{32}")
SPEECH_BODY = {"model": "tts-1", "voice": "alloy", "input": "Hi.", "response_format": "pcm"}


@pytest.mark.parametrize("incoming", ["a", "abc-123", "req_01HZX.trace:span-9", "x" * 128, "A.b_C:d-E"])
def test_a_sane_incoming_id_is_echoed(incoming: str) -> None:
    assert request_id_for(incoming) == incoming


@pytest.mark.parametrize("incoming", [None, "", "x" * 129, "has space", "semi;colon", "slash/", "ünï", "a\tb", "new\nline"])
def test_anything_else_gets_a_new_unguessable_id(incoming: str | None) -> None:
    first, second = request_id_for(incoming), request_id_for(incoming)
    assert NEW_ID.fullmatch(first) and NEW_ID.fullmatch(second) and first != second


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("POST", SPEECH, 200),
        ("GET", "/v1/models", 200),
        ("GET", "/health", 200),
        ("GET", "/ready", 200),
        ("GET", "/metrics", 200),
        ("GET", "/", 200),
        ("GET", "/v1/nothing-here", 404),
        ("GET", "/nothing-here", 404),
        ("GET", SPEECH, 405),
        ("DELETE", "/v1/models", 405),
        ("GET", "/v1/models/no-such-model", 404),
    ],
)
def test_every_response_carries_one(server, method: str, path: str, status: int) -> None:
    body = SPEECH_BODY if method == "POST" else None
    fresh = HTTP.request(method, server.http_url + path, json=body, timeout=60)
    assert fresh.status_code == status, fresh.text
    assert NEW_ID.fullmatch(fresh.headers["x-request-id"])
    echoed = HTTP.request(method, server.http_url + path, json=body, headers={"x-request-id": "trace-42"}, timeout=60)
    assert echoed.status_code == status
    assert echoed.headers.get_list("x-request-id") == ["trace-42"]


def test_error_responses_carry_it_and_an_insane_incoming_id_is_replaced(server) -> None:
    bad = post_speech(server, {**SPEECH_BODY, "voice": "nobody"}, headers={"x-request-id": "bad id; drop table"})
    assert bad.status_code == 400
    assert NEW_ID.fullmatch(bad.headers["x-request-id"])
    assert "bad id" not in bad.text


def test_sse_streams_carry_it_too(server) -> None:
    with HTTP.stream("POST", server.http_url + SPEECH, json={**SPEECH_BODY, "stream_format": "sse"},
                      headers={"x-request-id": "sse-1"}, timeout=60) as response:
        assert response.status_code == 200 and response.headers["x-request-id"] == "sse-1"
        assert b"speech.audio.done" in response.read()


def test_a_crash_answered_500_carries_it() -> None:
    async def crash(request):  # type: ignore[no-untyped-def]
        raise RuntimeError("a bug")

    app = RealtimeApp(routes=[Route("/crash", crash)])
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/crash", headers={"x-request-id": "boom-1"})
    assert response.status_code == 500 and response.headers["x-request-id"] == "boom-1"


class _Lines(logging.Handler):
    """Formats every record the way `realtime-tts serve` does (the filter adds the request id)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []
        self.addFilter(RequestIdLogFilter())
        self.setFormatter(logging.Formatter("%(name)s: %(message)s%(request_tag)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def log_lines() -> Iterator[list[str]]:
    handler = _Lines()
    logger = logging.getLogger("realtime")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield handler.lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def test_the_requests_log_lines_carry_its_id(server, log_lines: list[str]) -> None:
    response = post_speech(server, SPEECH_BODY, headers={"x-request-id": "find-me-7"})
    assert response.status_code == 200
    mine = [line for line in log_lines if line.endswith(" request_id=find-me-7")]
    assert any("speech request:" in line for line in mine), log_lines


def test_lines_outside_a_request_carry_no_id() -> None:
    record = logging.LogRecord("realtime", logging.INFO, __file__, 1, "started", None, None)
    assert RequestIdLogFilter().filter(record) and record.request_tag == ""  # type: ignore[attr-defined]


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.text(max_size=200) | st.from_regex(r"[A-Za-z0-9._:-]{1,140}", fullmatch=True))
def test_any_incoming_value_is_echoed_only_when_sane(incoming: str) -> None:
    sane = re.fullmatch(r"[A-Za-z0-9._:-]{1,128}", incoming) is not None
    answer = request_id_for(incoming)
    assert (answer == incoming) if sane else NEW_ID.fullmatch(answer)


def _valid_field_value(raw: bytes) -> bool:
    """What HTTP lets a header value be (anything else is refused by the HTTP layer before the app sees it)."""
    return raw.strip(b" \t") == raw and all(byte >= 0x20 and byte != 0x7F or byte == 0x09 for byte in raw)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(st.binary(min_size=1, max_size=300).filter(_valid_field_value))
def test_hostile_header_bytes_get_a_sane_id_over_the_wire(server, raw: bytes) -> None:
    response = HTTP.get(server.http_url + "/health", headers=[(b"x-request-id", raw)], timeout=30)
    answer = response.headers["x-request-id"]
    assert re.fullmatch(r"[A-Za-z0-9._:-]{1,128}", answer)
    assert answer == raw.decode("latin-1") or NEW_ID.fullmatch(answer)
