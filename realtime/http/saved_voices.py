"""`/v1/voices`: create (clone, design, blend), list, get, rename, delete and preview saved voices.

JSON in, JSON out, errors in OpenAI's shape. Reference audio comes as base64, a base64
data URI, or `file:<name>` under the operator's `--ref-audio-dir` (as on the speech
route). A voice belongs to the API key that made it: another key gets 404, as for a
voice that never existed. The routes only translate: the work is the library's.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from realtime.http.access import check_access, request_owner
from realtime.http.bodies import MEDIA_TYPES
from realtime.http.errors import ApiError, Problem, combine
from realtime.http.protocol import decode_reference
from realtime.http.references import read_reference_file
from realtime.http.speech import LARGE_BODY_BYTES, max_body_bytes, parse_json, read_body
from realtime.audio.formats import FORMATS
from realtime.http.voice_errors import api_error
from realtime.voices.library import VoiceLibrary, VoiceLibraryError, describe
from realtime.voices.requests import BlendBody, CloneBody, DesignBody, Issue, parse_create, parse_page, parse_rename

SAMPLE_DEFAULT_FORMAT = "wav"


def _problems(issues: list[Issue]) -> ApiError:
    return combine([Problem(issue.param, issue.message) for issue in issues])


def _library(request: Request) -> VoiceLibrary:
    check_access(request.headers, request.app.state.access)
    library: VoiceLibrary | None = request.app.state.voices
    if library is None:
        raise ApiError(404, "saved voices are off on this server: start it with --data-dir DIR or --voice-store-url URL",
                       "voices_disabled")
    if not request.app.state.backend.ready:
        raise ApiError(503, "the server is still loading its models", "not_ready", headers={"Retry-After": "1"})
    return library


def _owner(request: Request) -> str:
    return request_owner(request.headers, request.app.state.access)


async def _reference(request: Request, value: str) -> bytes:
    limits = request.app.state.config.limits
    audio, file_name, problem = decode_reference(value, limits.max_reference_bytes)
    if problem is not None:
        raise combine([problem])
    if file_name is not None:
        return await asyncio.to_thread(
            read_reference_file, request.app.state.config.ref_audio_dir, file_name, limits.max_reference_bytes
        )
    assert audio is not None
    return audio


async def _json_body(request: Request) -> Any:
    limits = request.app.state.config.limits
    body = await read_body(request, max_body_bytes(limits.max_reference_bytes, 4096))
    if len(body) > LARGE_BODY_BYTES:
        return await asyncio.to_thread(parse_json, body)
    return parse_json(body)


MULTIPART = "multipart/form-data"
MULTIPART_FIELDS = ("name", "ref_text", "x_vector_only", "model")


async def _multipart_body(request: Request) -> tuple[dict[str, Any], bytes | None]:
    """A clone as a form: `ref_audio` a file, `name`, `ref_text`, `x_vector_only` (true/false), `model`."""
    limits = request.app.state.config.limits
    limit = max_body_bytes(limits.max_reference_bytes, 4096)
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"the request body is {declared} bytes; the limit is {limit}", "request_too_large")
    try:
        form = await request.form(max_files=1, max_fields=len(MULTIPART_FIELDS) + 1, max_part_size=64 * 1024)
    except Exception as exc:  # Starlette raises MultiPartException or HTTPException for a bad form
        raise ApiError(400, f"the multipart body cannot be read: {getattr(exc, 'message', None) or exc}",
                       "invalid_multipart") from None
    try:
        body: dict[str, Any] = {}
        for name in MULTIPART_FIELDS:
            value = form.get(name)
            if isinstance(value, str) and value != "":
                body[name] = value
        if "x_vector_only" in body:
            flag = body["x_vector_only"].strip().lower()
            body["x_vector_only"] = True if flag in ("true", "1", "yes", "on") else False if flag in (
                "false", "0", "no", "off") else body["x_vector_only"]
        upload = form.get("ref_audio")
        if upload is None or isinstance(upload, str):
            return body, None
        audio = await upload.read(limits.max_reference_bytes + 1)
        if len(audio) > limits.max_reference_bytes:
            raise ApiError(413, f"ref_audio is over the limit of {limits.max_reference_bytes} bytes",
                           "reference_audio_too_large", param="ref_audio")
        body["ref_audio"] = "uploaded"  # a placeholder for validation: the bytes travel beside it
        return body, audio
    finally:
        await form.close()


async def create_voice(request: Request) -> Response:
    library = _library(request)
    uploaded: bytes | None = None
    if request.headers.get("content-type", "").lower().startswith(MULTIPART):
        raw, uploaded = await _multipart_body(request)
    else:
        raw = await _json_body(request)
    parsed, issues = parse_create(raw)
    if issues or parsed is None:
        raise _problems(issues)
    owner = _owner(request)
    try:
        if isinstance(parsed, CloneBody):
            audio = uploaded if uploaded is not None else await _reference(request, parsed.ref_audio)
            record = await library.create_clone(
                owner, parsed.name, audio, parsed.ref_text, parsed.x_vector_only, parsed.model
            )
        elif isinstance(parsed, DesignBody):
            record = await library.create_design(owner, parsed)
        else:
            assert isinstance(parsed, BlendBody)
            record = await library.create_blend(owner, parsed)
    except VoiceLibraryError as error:
        raise api_error(error) from error
    return JSONResponse(describe(record), status_code=201)


async def list_saved_voices(request: Request) -> Response:
    library = _library(request)
    limit, after, issues = parse_page(request.query_params.get("limit"), request.query_params.get("after"))
    if issues:
        raise _problems(issues)
    try:
        page = await library.list(_owner(request), limit, after)
    except VoiceLibraryError as error:
        raise api_error(error) from error
    data = [describe(record) for record in page.records]
    return JSONResponse({
        "object": "list", "data": data, "has_more": page.has_more,
        "first_id": data[0]["id"] if data else None, "last_id": data[-1]["id"] if data else None,
    })


async def voices_collection(request: Request) -> Response:
    return await (create_voice(request) if request.method == "POST" else list_saved_voices(request))


async def voice_item(request: Request) -> Response:
    library = _library(request)
    voice_id = request.path_params["voice_id"]
    owner = _owner(request)
    try:
        if request.method == "DELETE":
            await library.delete(owner, voice_id)
            return JSONResponse({"id": voice_id, "object": "voice.deleted", "deleted": True})
        if request.method == "PATCH":
            name, issues = parse_rename(await _json_body(request))
            if issues:
                raise _problems(issues)
            return JSONResponse(describe(await library.rename(owner, voice_id, name)))
        return JSONResponse(describe(await library.get(owner, voice_id)))
    except VoiceLibraryError as error:
        raise api_error(error) from error


async def voice_sample(request: Request) -> Response:
    library = _library(request)
    format = request.query_params.get("format", SAMPLE_DEFAULT_FORMAT)
    if format not in FORMATS:
        raise ApiError(400, f"format: {format[:32]!r} is not one of: {', '.join(FORMATS)}", "invalid_value", "format")
    try:
        audio = await library.sample(_owner(request), request.path_params["voice_id"], format)
    except VoiceLibraryError as error:
        raise api_error(error) from error
    return Response(audio, media_type=MEDIA_TYPES.get(format, "application/octet-stream"),
                    headers={"Cache-Control": "no-store"})


async def saved_voice_entries(request: Request, limit: int = 100) -> list[dict[str, Any]]:
    """The caller's saved voices (first `limit`), for GET /v1/audio/voices; [] when voices are off."""
    library: VoiceLibrary | None = request.app.state.voices
    if library is None:
        return []
    try:
        page = await library.list(_owner(request), limit, None)
    except VoiceLibraryError as error:  # the store out of reach: the whole answer is a 503, not a silent []
        raise api_error(error) from None
    return [describe(record) for record in page.records]
