"""Who may use the server: API keys and browser Origins, one policy for the socket and HTTP.

Pure: callers pass the headers or offered subprotocols they received. A token may
arrive three ways (PROTOCOL.md): the `Authorization: Bearer` header, the
`session.start` `token` field (socket only), or, for browsers that cannot set headers
on a WebSocket, an offered subprotocol `tts.token.<token>` that is never echoed back.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

TOKEN_SUBPROTOCOL_PREFIX = "tts.token."


@dataclass(frozen=True, slots=True)
class AccessPolicy:
    """Set by the operator: the accepted API keys (none: open) and allowed browser Origins (none: any)."""

    api_keys: tuple[str, ...] = ()
    allowed_origins: tuple[str, ...] = ()

    @property
    def requires_token(self) -> bool:
        return bool(self.api_keys)

    def origin_allowed(self, origin: str | None) -> bool:
        """Clients that send no Origin are not browsers and pass; browsers must be on the list when there is one."""
        return not self.allowed_origins or origin is None or origin in self.allowed_origins

    def token_valid(self, token: str | None) -> bool:
        """True when no key is required, or `token` is one of the keys (constant-time comparison)."""
        if not self.api_keys:
            return True
        if token is None:
            return False
        # Compared as bytes: compare_digest raises TypeError on str with non-ASCII characters.
        given = token.encode()
        return any(secrets.compare_digest(given, key.encode()) for key in self.api_keys)


def bearer_token(headers: Mapping[str, str]) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None."""
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


def subprotocol_token(offered: Iterable[str]) -> str | None:
    """The token a browser offered as subprotocol `tts.token.<token>`, or None."""
    for protocol in offered:
        if protocol.startswith(TOKEN_SUBPROTOCOL_PREFIX) and len(protocol) > len(TOKEN_SUBPROTOCOL_PREFIX):
            return protocol[len(TOKEN_SUBPROTOCOL_PREFIX):]
    return None
