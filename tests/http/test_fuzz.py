"""No input can make the HTTP API fail from inside: property-based bodies, headers and file names.

Every answer is audio (200) or an OpenAI-shaped error with a client-side status; never a
500. Budgets are fixed and derandomized (tests/support/fuzz.py), so the suite stays fast
and every run tries the same examples.
"""

from __future__ import annotations

import json
import socket
import tempfile
from pathlib import Path

import httpx
from hypothesis import given
from hypothesis import strategies as st

from tests.support.fuzz import VALID_SPEECH, fuzz_settings, header_values, raw_bodies, speech_bodies
from tests.support.http_checks import SPEECH, openai_error, post_speech
from tests.support.servers import server_fixture

CLIENT_STATUSES = {400, 404, 413, 422}
REFERENCE_DIR = Path(tempfile.mkdtemp(prefix="ref-audio-"))
file_server = server_fixture(ref_audio_dir=REFERENCE_DIR)


def _audio_or_client_error(response: httpx.Response, sent: object) -> None:
    if response.status_code == 200:
        assert response.content, sent
    else:
        assert response.status_code in CLIENT_STATUSES, (sent, response.status_code, response.text)
        openai_error(response)


@fuzz_settings(max_examples=60)
@given(body=speech_bodies())
def test_any_json_body_gets_audio_or_a_client_error(server, body) -> None:
    _audio_or_client_error(post_speech(server, json.dumps(body), headers={"content-type": "application/json"}), body)


@fuzz_settings(max_examples=40)
@given(body=raw_bodies)
def test_any_raw_body_gets_a_client_error(server, body: bytes) -> None:
    response = post_speech(server, body, headers={"content-type": "application/json"})
    assert response.status_code in CLIENT_STATUSES, (body[:200], response.status_code, response.text)
    openai_error(response)


def test_an_integer_past_the_int_string_limit_is_a_400(server) -> None:
    body = b'{"model": "tts-1", "input": "Hi.", "voice": "alloy", "seed": ' + b"9" * 5000 + b"}"
    response = post_speech(server, body, headers={"content-type": "application/json"})
    assert response.status_code == 400 and openai_error(response)["code"] == "invalid_json"


def _raw_post(port: int, headers: list[tuple[str, str]], body: bytes) -> tuple[int, bytes]:
    """A request written byte by byte (no client library to tidy it up): the status and the whole answer."""
    head = "".join(f"{name}: {value}\r\n" for name, value in headers)
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(f"POST {SPEECH} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{head}\r\n".encode("latin-1") + body)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return int(answer.split(b"\r\n", 1)[0].split()[1]), answer


@fuzz_settings(max_examples=40)
@given(headers=st.dictionaries(
    st.sampled_from(("Authorization", "Content-Type", "Origin", "Accept", "Content-Encoding", "Transfer-Encoding",
                     "X-Anything")),
    header_values, max_size=4,
))
def test_any_header_values_get_audio_or_a_client_error(server, headers: dict[str, str]) -> None:
    body = json.dumps(VALID_SPEECH).encode()
    status, answer = _raw_post(server.port, [*headers.items(), ("Content-Length", str(len(body)))], body)
    assert status == 200 or status in CLIENT_STATUSES, (headers, answer[:300])


def test_odd_content_lengths_are_client_errors(server) -> None:
    for declared in ("\u00b2", "9" * 5000, "-1", "1 2", "0x10"):
        status, answer = _raw_post(server.port, [("Content-Length", declared)], b"{}")
        assert 400 <= status < 500, (declared, answer[:300])


@fuzz_settings(max_examples=50)
@given(name=st.one_of(
    st.text(max_size=40),
    st.text(alphabet="a\x00/.", max_size=20),
    st.integers(200, 5000).map(lambda n: "a" * n),
    st.integers(2, 80).map(lambda n: "a/" * n),
))
def test_any_reference_file_name_gets_a_client_error(file_server, name: str) -> None:
    body = {**VALID_SPEECH, "mode": "voice_clone", "ref_audio": "file:" + name, "ref_text": "Hello.", "model": None}
    body.pop("model")
    body.pop("voice")
    response = post_speech(file_server, body)
    assert response.status_code in CLIENT_STATUSES, (name, response.status_code, response.text)
    openai_error(response)
