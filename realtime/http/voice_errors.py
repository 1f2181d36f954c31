"""How the voice library's errors are answered over HTTP: a status and an OpenAI-style code per kind. Pure.

Apart from the routes so that both doors that touch saved voices (`/v1/voices` and the
speech route's `voice`) answer a library error the same way.
"""

from __future__ import annotations

from typing import Final

from realtime.http.errors import ApiError
from realtime.voices.library import VoiceLibraryError

# How each library error is answered: (status, OpenAI-style code).
STATUS_OF_KIND: Final[dict[str, tuple[int, str]]] = {
    "invalid": (400, "invalid_value"),
    "not_found": (404, "voice_not_found"),
    "model_not_found": (404, "model_not_found"),
    "no_model": (409, "model_unavailable"),
    "bad_reference_audio": (422, "bad_reference_audio"),
    "quota_voices": (409, "voice_limit_reached"),
    "quota_bytes": (507, "voice_store_full"),
    "failed": (500, "voice_creation_failed"),
    "unavailable": (503, "voice_store_unavailable"),
}
STORE_RETRY_AFTER_S: Final = 2  # the voice store out of reach: a database restart or failover takes seconds


def api_error(error: VoiceLibraryError) -> ApiError:
    status, code = STATUS_OF_KIND[error.kind]
    headers = {"Retry-After": str(STORE_RETRY_AFTER_S)} if error.kind == "unavailable" else {}
    return ApiError(status, error.message, code, param=error.param, headers=headers)
