"""A small blocking client for `/v1/voices` (the CLI's `realtime-tts voices ...` uses it).

Standard library only (urllib), so the client side needs nothing beyond the package.
Errors come back as `VoicesApiError` with the server's status, code and message.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

DEFAULT_SERVER = "http://127.0.0.1:8000"


class VoicesApiError(Exception):
    """An error answered by the server (OpenAI's error shape), or the server could not be reached (status 0)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}" if status else message)
        self.status = status
        self.code = code
        self.message = message


class VoicesClient:
    """Create, list, rename, delete and preview saved voices on a running server."""

    def __init__(self, server: str = DEFAULT_SERVER, token: str | None = None, timeout: float = 300.0) -> None:
        self.server = server.rstrip("/")
        self.token = token
        self.timeout = timeout

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None,
              query: dict[str, Any] | None = None) -> tuple[bytes, str]:
        url = f"{self.server}/v1/voices{path}"
        if query:
            url += "?" + urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.read(), response.headers.get("content-type", "")
        except urllib.error.HTTPError as exc:
            try:
                error = json.loads(exc.read())["error"]
                raise VoicesApiError(exc.code, str(error.get("code")), str(error.get("message"))) from None
            except (ValueError, KeyError, TypeError):
                raise VoicesApiError(exc.code, "http_error", str(exc)) from None
        except (urllib.error.URLError, OSError) as exc:
            raise VoicesApiError(0, "unreachable", f"cannot reach {self.server}: {exc}") from None

    def _json(self, method: str, path: str, body: dict[str, Any] | None = None, **query: Any) -> dict[str, Any]:
        data, _ = self._call(method, path, body, query or None)
        return json.loads(data)

    def create_clone(self, name: str, audio: bytes, ref_text: str | None = None, *, x_vector_only: bool = False,
                     model: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"name": name, "ref_audio": base64.b64encode(audio).decode(), "x_vector_only": x_vector_only}
        if ref_text is not None and not x_vector_only:
            body["ref_text"] = ref_text
        if model is not None:
            body["model"] = model
        return self._json("POST", "", body)

    def create_design(self, name: str, instruct: str, text: str, *, language: str | None = None,
                      seed: int | None = None) -> dict[str, Any]:
        design = {"instruct": instruct, "text": text, "language": language, "seed": seed}
        return self._json("POST", "", {"name": name, "design": {k: v for k, v in design.items() if v is not None}})

    def create_blend(self, name: str, parts: list[tuple[str, float]]) -> dict[str, Any]:
        return self._json("POST", "", {"name": name, "blend": [{"voice": v, "weight": w} for v, w in parts]})

    def list(self, page_size: int = 100) -> Iterator[dict[str, Any]]:
        """Every voice of this key, oldest first, page after page."""
        after = None
        while True:
            page = self._json("GET", "", limit=page_size, after=after)
            yield from page["data"]
            if not page.get("has_more"):
                return
            after = page["last_id"]

    def get(self, voice_id: str) -> dict[str, Any]:
        return self._json("GET", "/" + urllib.parse.quote(voice_id))

    def rename(self, voice_id: str, name: str) -> dict[str, Any]:
        return self._json("PATCH", "/" + urllib.parse.quote(voice_id), {"name": name})

    def delete(self, voice_id: str) -> None:
        self._json("DELETE", "/" + urllib.parse.quote(voice_id))

    def sample(self, voice_id: str, format: str = "wav") -> bytes:
        data, _ = self._call("GET", f"/{urllib.parse.quote(voice_id)}/sample", query={"format": format})
        return data
