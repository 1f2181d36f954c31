"""The access policy shared by the socket and HTTP: keys, Origins, where a token may come from."""

from __future__ import annotations

import pytest

from realtime.auth import AccessPolicy, bearer_token, subprotocol_token


def test_open_policy_takes_any_token_and_origin() -> None:
    policy = AccessPolicy()
    assert not policy.requires_token
    assert policy.token_valid(None) and policy.token_valid("anything")
    assert policy.origin_allowed("http://anywhere.example") and policy.origin_allowed(None)


@pytest.mark.parametrize(
    ("token", "valid"),
    [("secret", True), ("other", True), (None, False), ("", False), ("secre", False), ("secret ", False), ("sécret", False)],
)
def test_token_must_be_one_of_the_keys(token: str | None, valid: bool) -> None:
    assert AccessPolicy(api_keys=("other", "secret")).token_valid(token) is valid


def test_origin_list_admits_listed_browsers_and_clients_without_origin() -> None:
    policy = AccessPolicy(allowed_origins=("http://good.example",))
    assert policy.origin_allowed("http://good.example")
    assert policy.origin_allowed(None)  # not a browser
    assert not policy.origin_allowed("http://evil.example")
    assert not policy.origin_allowed("http://good.example.evil.example")


@pytest.mark.parametrize(
    ("header", "token"),
    [("Bearer abc", "abc"), ("bearer  abc ", "abc"), ("Basic abc", None), ("Bearer", None), ("", None)],
)
def test_bearer_token_is_read_from_the_authorization_header(header: str, token: str | None) -> None:
    assert bearer_token({"authorization": header} if header else {}) == token


def test_subprotocol_token_is_found_among_offered_protocols() -> None:
    assert subprotocol_token(["tts.v1.msgpack", "tts.token.k3y"]) == "k3y"
    assert subprotocol_token(["tts.v1.msgpack"]) is None
    assert subprotocol_token(["tts.token."]) is None
