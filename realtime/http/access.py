"""The operator's access policy applied to an HTTP request (the socket applies the same policy)."""

from __future__ import annotations

from collections.abc import Mapping

from realtime.auth import AccessPolicy, bearer_token
from realtime.http.errors import ApiError
from realtime.voices.library import owner_of


def check_access(headers: Mapping[str, str], policy: AccessPolicy) -> None:
    """Refuse a browser from an Origin not on the list (403), then a missing or wrong key (401)."""
    origin = headers.get("origin")
    if not policy.origin_allowed(origin):
        raise ApiError(403, f"origin {origin!r} is not allowed", "forbidden_origin")
    if not policy.token_valid(bearer_token(headers)):
        raise ApiError(
            401,
            "a valid API key is required: send it as the header Authorization: Bearer <key>",
            "invalid_api_key",
            headers={"WWW-Authenticate": "Bearer"},
        )


def request_owner(headers: Mapping[str, str], policy: AccessPolicy) -> str:
    """Whose saved voices a request (already admitted) acts on: its API key's hash, or "" with keys off."""
    return owner_of(bearer_token(headers)) if policy.requires_token else ""
