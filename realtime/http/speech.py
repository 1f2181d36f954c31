"""`POST /v1/audio/speech`: OpenAI's speech endpoint, streamed as it is generated.

The request is judged whole before anything is generated (every problem in one
error), takes a session slot like a socket does, and is generated through the same
backend, segmenter, resampler and encoders. The status line waits for the first
audio, so a failure before it is an ordinary HTTP error; after it, a raw stream is cut
(the client sees an incomplete body) and an SSE stream ends with an `error` event.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from realtime.audio.encoders import UnsupportedFormatError, create_encoder
from realtime.backend.backend import TTSBackend, draw_seed
from realtime.config import Limits
from realtime.engines.base import VoiceRequest
from realtime.http.access import check_access, request_owner
from realtime.http.bodies import MEDIA_TYPES, SSE_MEDIA_TYPE, raw_body, sse_events
from realtime.http.errors import ApiError, Problem, combine, problem_from_field
from realtime.http.protocol import SpeechRequest, parse_speech_request
from realtime.http.references import read_reference_file
from realtime.http.streaming import RacingStreamingResponse
from realtime.http.voice_errors import api_error
from realtime.http.voices import resolve_model, resolve_speaker, socket_voice_fields
from realtime.metrics import Metrics
from realtime.pipeline.speech import OutputPlan, SpeechPipeline
from realtime.problems import ProblemRank
from realtime.voices.library import VoiceLibraryError
from realtime.voices.requests import is_voice_id
from realtime.protocol.errors import ErrorCode, FieldError, field_errors_from
from realtime.protocol.messages import MODES, VoiceSpec, parse_voice

logger = logging.getLogger(__name__)

RETRY_AFTER_S = 1


def max_body_bytes(max_reference_bytes: int, max_input_chars: int) -> int:
    """The largest body worth reading: base64 reference audio (4/3 of its bytes), the text, and room for the rest."""
    return max_reference_bytes * 4 // 3 + max_input_chars * 4 + 64 * 1024


# Bodies larger than this (reference audio, mostly) are parsed and base64-decoded off the loop.
LARGE_BODY_BYTES = 256 * 1024


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"the request body is {declared} bytes; the limit is {limit}", "request_too_large")
    body = bytearray()
    try:
        async for piece in request.stream():
            body += piece
            if len(body) > limit:
                raise ApiError(413, f"the request body is over the limit of {limit} bytes", "request_too_large")
    except ClientDisconnect:
        raise ApiError(400, "the client left before sending the whole body", "client_disconnected") from None
    return bytes(body)


def parse_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(400, f"the request body is not valid JSON: {exc}", "invalid_json") from None
    except RecursionError:
        raise ApiError(400, "the request body is nested too deeply", "invalid_json") from None
    except ValueError as exc:  # an integer past Python's int-string limit, among others
        raise ApiError(400, f"the request body is not usable JSON: {exc}", "invalid_json") from None


def _parse_request(body: bytes, limits: Limits) -> tuple[SpeechRequest | None, list[Problem]]:
    return parse_speech_request(
        parse_json(body), max_input_chars=limits.max_text_chars, max_reference_bytes=limits.max_reference_bytes
    )


class _Lease:
    """A session slot and the metrics' active count, held from admission until the stream ends; released once."""

    def __init__(self, request: Request) -> None:
        state = request.app.state
        self._slots = state.slots
        self._metrics: Metrics = state.metrics
        if not self._slots.try_acquire():
            raise ApiError(
                503,
                f"the server is at its capacity of {self._slots.limit} sessions; retry later",
                "over_capacity",
                headers={"Retry-After": str(RETRY_AFTER_S)},
            )
        self._metrics.session_opened("http")
        self._held = True

    def release(self) -> None:
        if self._held:
            self._held = False
            self._slots.release()
            self._metrics.session_closed("http")


async def _voice_spec(request: Request, speech: SpeechRequest, problems: list[Problem]) -> VoiceSpec:
    """Map the request onto the socket's voice fields and validate them with the socket's own rules."""
    state = request.app.state
    backend: TTSBackend = state.backend
    served = [info.name for info in backend.models()]
    mode = speech.voice_fields.get("mode")
    mode = mode if mode in MODES else "custom_voice"
    model = resolve_model(speech.model, served) if speech.model else None
    bound = model if model in served else backend.default_model(mode)
    info = backend.model_info(bound) if bound in served else None
    saved_voice = speech.voice if is_voice_id(speech.voice) else None
    speaker = (
        resolve_speaker(speech.voice, info) if mode == "custom_voice" and speech.voice and not saved_voice else None
    )
    ref_audio = speech.ref_audio
    if speech.ref_audio_file is not None:
        try:
            ref_audio = await asyncio.to_thread(
                read_reference_file, state.config.ref_audio_dir, speech.ref_audio_file, state.config.limits.max_reference_bytes
            )
        except ApiError as exc:
            # A file that is not there is reference audio that cannot be used: it ranks as such (realtime/problems.py).
            rank = ProblemRank.BAD_REFERENCE_AUDIO if exc.status == 404 else None
            problems.append(Problem("ref_audio", exc.message, exc.status, exc.code, rank))
    if ref_audio is not None and mode != "voice_clone" and saved_voice is None:
        problems.append(Problem("ref_audio", "is only used in mode voice_clone; set mode to voice_clone"))
        ref_audio = None
    fields = socket_voice_fields(
        model=model, speaker=speaker, instructions=speech.instructions, ref_audio=ref_audio, passed=speech.voice_fields
    )
    if saved_voice is not None:
        fields["voice"] = saved_voice
    spec, field_errors = parse_voice(fields, max_reference_bytes=state.config.limits.max_reference_bytes)
    _add_new(problems, field_errors)
    if problems and spec.voice is None and not any(p.param == "mode" for p in problems):
        # Also what the model would say (cheap, no I/O), so one error names every problem.
        _add_new(problems, field_errors_from(backend.check_voice(spec)[1]))
    return spec


def _add_new(problems: list[Problem], errors: list[FieldError]) -> None:
    """Add the field errors about params not already reported (a refused ref_audio is not also 'missing')."""
    reported = {p.param for p in problems}
    problems.extend(p for p in map(problem_from_field, errors) if p.param not in reported)


async def _bind_voice(request: Request, spec: VoiceSpec) -> VoiceRequest:
    """Bind the voice to its model, decoding reference audio (or loading a saved voice) off the loop, as session.start does."""
    backend: TTSBackend = request.app.state.backend
    seed = spec.seed if spec.seed is not None else draw_seed()
    saved = None
    if spec.voice is not None:
        library = request.app.state.voices
        if library is None:
            raise ApiError(404, "voice: saved voices are off on this server (it has no --data-dir or --voice-store-url)",
                           "voice_not_found", param="voice")
        try:
            resolved, errors = await library.resolve(spec, request_owner(request.headers, request.app.state.access))
        except VoiceLibraryError as error:  # the store out of reach: 503, try again
            raise api_error(error) from None
        if resolved is None:
            raise combine([_saved_voice_problem(error) for error in errors])
        spec, saved = resolved.spec, resolved.saved
    voice_request, errors = await backend.bind_voice(spec, seed, saved)
    if errors or voice_request is None:
        raise combine([problem_from_field(error) for error in field_errors_from(errors)]
                      or [Problem(None, "the voice could not be prepared")])
    return voice_request


def _saved_voice_problem(error: FieldError) -> Problem:
    """A saved voice that is not there (deleted, another key's, its model gone) is a 404 naming `voice`."""
    if error.code is ErrorCode.UNKNOWN_VOICE:
        return Problem("voice", error.message, 404, "voice_not_found")
    return problem_from_field(error)


def _check_format(speech: SpeechRequest) -> list[Problem]:
    try:
        create_encoder(speech.response_format, speech.sample_rate)
    except UnsupportedFormatError as exc:
        return [Problem("response_format", str(exc), 400, "unsupported_format")]
    return []


async def create_speech(request: Request) -> Response:
    """Judge the request whole, take a slot, bind the voice, then stream (see RacingStreamingResponse)."""
    state = request.app.state
    metrics: Metrics = state.metrics
    check_access(request.headers, state.access)
    backend: TTSBackend = state.backend
    if not backend.ready:
        raise ApiError(503, "the server is still loading its models", "not_ready", headers={"Retry-After": "1"})
    limits = state.config.limits  # the same limits the socket applies
    body = await read_body(request, max_body_bytes(limits.max_reference_bytes, limits.max_text_chars))
    if len(body) > LARGE_BODY_BYTES:
        speech, problems = await asyncio.to_thread(_parse_request, body, limits)
    else:
        speech, problems = _parse_request(body, limits)
    if speech is None:
        raise combine(problems)
    problems.extend(_check_format(speech))
    spec = await _voice_spec(request, speech, problems)
    if problems:
        raise combine(problems)
    lease = _Lease(request)
    try:
        voice_request = await _bind_voice(request, spec)
    except BaseException:
        lease.release()
        raise
    logger.info(
        "speech request: mode=%s model=%s format=%s/%s rate=%d speed=%g seed=%d chars=%d",
        spec.mode, voice_request.model, speech.response_format, speech.stream_format, speech.sample_rate, speech.speed,
        voice_request.seed, len(speech.input),
    )
    plan = OutputPlan(
        speech.response_format, speech.sample_rate, speech.speed, limits.max_segment_chars, speech.timestamps
    )
    pipeline = SpeechPipeline(backend, voice_request, plan)
    pieces = pipeline.encoded(speech.input)
    if speech.stream_format == "sse":
        body_stream, media_type = sse_events(pieces, speech, voice_request, pipeline.meter), SSE_MEDIA_TYPE
    else:
        body_stream, media_type = raw_body(pieces), MEDIA_TYPES.get(speech.response_format, "application/octet-stream")
    headers = {"X-Seed": str(voice_request.seed), "X-Model": voice_request.model, "X-Sample-Rate": str(speech.sample_rate),
               "Cache-Control": "no-store"}
    if voice_request.spec.speaker:
        headers["X-Speaker"] = voice_request.spec.speaker
    if voice_request.voice_id:
        headers["X-Voice"] = voice_request.voice_id
    if voice_request.notices:  # e.g. an instruct this model ignores (the socket sends these as `notice` messages)
        headers["X-Notice"] = " | ".join(voice_request.notices)

    def finished() -> None:
        lease.release()
        pipeline.meter.report(metrics, "http")

    return RacingStreamingResponse(
        body_stream,
        media_type=media_type,
        headers=headers,
        on_close=finished,
        on_error=lambda error: metrics.error("http", error.status, error.code),
        send_timeout_s=limits.send_timeout_s,
    )
