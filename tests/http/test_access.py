"""API keys and the Origin allowlist, one policy for HTTP and the socket, on real servers."""

from __future__ import annotations

import openai
import pytest

from tests.conftest import run
from tests.support.http_checks import HTTP, SPEECH, openai_error, post_speech, sdk
from tests.support.servers import server_fixture
from tests.support.wire_checks import expect_fatal, speaks
from tests.wire import SUBPROTOCOL, Wire

KEY = "s3cret-key"
OK = {"model": "tts-1", "input": "Hello there.", "voice": "alloy", "response_format": "pcm"}
keyed_server = server_fixture(api_keys=("other", KEY))
origin_server = server_fixture(allowed_origins=("http://good.example",))


# -- HTTP with keys ----------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {KEY}"}],
                         ids=["none", "wrong", "not_bearer"])
@pytest.mark.parametrize(("method", "path"), [("POST", SPEECH), ("GET", "/v1/models"), ("GET", "/v1/audio/voices"),
                                              ("GET", "/metrics")])
def test_missing_or_wrong_key_is_401(keyed_server, headers: dict[str, str], method: str, path: str) -> None:
    response = HTTP.request(method, keyed_server.http_url + path, json=OK if method == "POST" else None,
                             headers=headers, timeout=30)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    error = openai_error(response)
    assert error["type"] == "authentication_error" and error["code"] == "invalid_api_key"


def test_right_key_through_the_sdk(keyed_server) -> None:
    audio = sdk(keyed_server, api_key=KEY).audio.speech.create(**OK).read()
    assert len(audio) > 0
    assert [m.id for m in sdk(keyed_server, api_key=KEY).models.list()] == ["hibari"]
    with pytest.raises(openai.AuthenticationError):
        sdk(keyed_server, api_key="wrong").models.list()


def test_probes_stay_open_with_keys(keyed_server) -> None:
    assert HTTP.get(keyed_server.http_url + "/health").status_code == 200
    assert HTTP.get(keyed_server.http_url + "/ready").status_code == 200


def test_no_keys_means_no_key_needed(server) -> None:
    assert post_speech(server, OK).status_code == 200
    assert "access-control-allow-origin" not in post_speech(server, OK, headers={"Origin": "http://x.example"}).headers


# -- the socket with keys: header, token field, subprotocol -------------------------------------


@pytest.mark.parametrize(
    ("connect", "start"),
    [
        ({"additional_headers": {"Authorization": f"Bearer {KEY}"}}, {}),
        ({}, {"token": KEY}),
        ({"subprotocols": [SUBPROTOCOL, f"tts.token.{KEY}"]}, {}),
    ],
    ids=["header", "token_field", "subprotocol"],
)
def test_socket_takes_the_key_three_ways(keyed_server, connect: dict, start: dict) -> None:
    async def body() -> None:
        wire = await Wire.open(keyed_server.url, **connect)
        # The token subprotocol is never echoed: the server picks the protocol's own.
        assert wire.connection.subprotocol == SUBPROTOCOL
        await wire.start(**start)
        await speaks(wire)
        await wire.close()

    run(body())


@pytest.mark.parametrize(
    "connect",
    [{}, {"subprotocols": [SUBPROTOCOL, "tts.token.wrong"]}, {"additional_headers": {"Authorization": "Bearer wrong"}}],
    ids=["none", "wrong_subprotocol", "wrong_header"],
)
def test_socket_without_the_right_key_closes_4001(keyed_server, connect: dict) -> None:
    async def body() -> None:
        wire = await Wire.open(keyed_server.url, **connect)
        await wire.send({"type": "session.start"})
        error = await expect_fatal(wire, 4001)
        assert "tts.token" in error["message"]

    run(body())


# -- Origins -----------------------------------------------------------------------------------


def test_http_from_a_forbidden_origin_is_403(origin_server) -> None:
    response = post_speech(origin_server, OK, headers={"Origin": "http://evil.example"})
    assert response.status_code == 403
    error = openai_error(response)
    assert error["type"] == "permission_error" and error["code"] == "forbidden_origin"
    assert "access-control-allow-origin" not in response.headers


def test_http_from_an_allowed_origin_gets_cors_headers(origin_server) -> None:
    response = post_speech(origin_server, OK, headers={"Origin": "http://good.example"})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "http://good.example"
    assert "x-seed" in response.headers["access-control-expose-headers"].lower()
    assert post_speech(origin_server, OK).status_code == 200  # no Origin: not a browser


def test_cors_preflight_for_an_allowed_origin(origin_server) -> None:
    headers = {
        "Origin": "http://good.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    }
    response = HTTP.options(origin_server.http_url + SPEECH, headers=headers)
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "http://good.example"
    assert "POST" in response.headers["access-control-allow-methods"]
    refused = HTTP.options(origin_server.http_url + SPEECH, headers={**headers, "Origin": "http://evil.example"})
    assert refused.status_code == 400


def test_socket_from_a_forbidden_origin_closes_4003(origin_server) -> None:
    async def body() -> None:
        wire = await Wire.open(origin_server.url, origin="http://evil.example")
        await expect_fatal(wire, 4003)

    run(body())
