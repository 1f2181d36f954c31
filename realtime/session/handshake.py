"""Admitting a session: origin, capacity, token, and the all-at-once check of `session.start`.

Also the voice preparation `context.start` shares with `session.start`: every field
problem is collected, then reported in one error naming them all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from realtime.audio.encoders import UnsupportedFormatError, create_encoder
from realtime.auth import AccessPolicy
from realtime.backend.backend import TTSBackend, draw_seed
from realtime.config import Limits
from realtime.engines.base import VoiceRequest
from realtime.protocol.errors import ErrorCode, FieldError, ProtocolError, combine_field_errors, field_errors_from
from realtime.protocol.messages import PROTOCOL_VERSION, SessionStart, VoiceSpec, message_type, parse_session_start
from realtime.session.capacity import SessionSlots
from realtime.session.context import StreamSettings
from realtime.voices.library import VoiceLibraryError, owner_of

if TYPE_CHECKING:
    from realtime.voices.library import VoiceLibrary

OVER_CAPACITY_RETRY_MS = 1000
# The saved-voice store out of reach (a database restart or failover): 1013 "try again later" too.
STORE_RETRY_AFTER_MS = 2000


@dataclass(frozen=True, slots=True)
class SessionSetup:
    """What an accepted `session.start` settles for the whole session."""

    voice_request: VoiceRequest  # the session's default voice, bound to a model, with the session seed
    settings: StreamSettings
    owner: str = ""  # whose saved voices this session may use (a hash of its API key; "" with keys off)


def refuse_connection(admission: AccessPolicy, origin: str | None) -> ProtocolError | None:
    """The error that refuses a new connection before it may speak (its Origin), or None.

    The token is judged with `session.start` (it may travel in it), still before any
    session slot is taken: a connection holds a slot only once its start is accepted.
    """
    if not admission.origin_allowed(origin):
        return ProtocolError(ErrorCode.FORBIDDEN_ORIGIN, f"origin {origin!r} is not allowed", fatal=True)
    return None


def over_capacity(what: str) -> ProtocolError:
    return ProtocolError(
        ErrorCode.OVER_CAPACITY, f"{what}; retry later", fatal=True, retry_after_ms=OVER_CAPACITY_RETRY_MS
    )


def take_slot(slots: SessionSlots) -> None:
    """Take a session slot for an accepted `session.start`, or raise over_capacity."""
    if not slots.try_acquire():
        raise over_capacity(f"the server is at its capacity of {slots.limit} sessions")


def unauthorized() -> ProtocolError:
    return ProtocolError(
        ErrorCode.UNAUTHORIZED,
        "a valid token is required (Authorization: Bearer header, tts.token.<token> subprotocol "
        "or session.start token)",
        fatal=True,
    )


def check_token(admission: AccessPolicy, header_token: str | None, start: SessionStart) -> None:
    if not admission.token_valid(header_token or start.token):
        raise unauthorized()


async def bind_voice(
    backend: TTSBackend, spec: VoiceSpec, seed: int, errors: list[FieldError], *, fatal: bool, ctx: str | None = None,
    voices: VoiceLibrary | None = None, owner: str = "",
) -> VoiceRequest:
    """Bind `spec` to a model (decoding reference audio, or loading a saved voice, off the loop),
    or raise one error naming every problem."""
    voice_request = None
    if not any(error.field == "mode" for error in errors):
        saved = None
        if spec.voice is not None:
            if voices is None:
                voice_errors = [FieldError("voice", "saved voices are off on this server "
                                                    "(it has no --data-dir or --voice-store-url)",
                                           ErrorCode.UNKNOWN_VOICE)]
            else:
                try:
                    resolved, voice_errors = await voices.resolve(spec, owner)
                except VoiceLibraryError as error:  # the store out of reach: "try again later", not "no such voice"
                    raise ProtocolError(ErrorCode.OVER_CAPACITY, f"voice: {error.message}", fatal=fatal, ctx=ctx,
                                        retry_after_ms=STORE_RETRY_AFTER_MS, details={"fields": ["voice"]}) from None
                if resolved is not None:
                    spec, saved = resolved.spec, resolved.saved
            errors = [*errors, *voice_errors]
        if spec.voice is None or saved is not None:
            prepared = backend.bind_voice(spec, seed, saved=saved) if saved else backend.bind_voice(spec, seed)
            voice_request, problems = await prepared
            errors = [*errors, *field_errors_from(problems)]
    if errors or voice_request is None:
        default = ErrorCode.BAD_MESSAGE if fatal else ErrorCode.BAD_REQUEST
        raise combine_field_errors(errors, fatal=fatal, ctx=ctx, default_code=default)
    return voice_request


async def accept_start(
    message: dict[str, Any], backend: TTSBackend, limits: Limits, admission: AccessPolicy, header_token: str | None,
    voices: VoiceLibrary | None = None,
) -> SessionSetup:
    """Validate the first message as `session.start`, all at once; any problem is fatal."""
    kind = message_type(message)
    if kind != "session.start":
        raise ProtocolError(
            ErrorCode.BAD_MESSAGE,
            "the first message must be a map with type session.start" + (f", got {kind!r}" if kind else ""),
            fatal=True,
        )
    start, errors = parse_session_start(message, max_reference_bytes=limits.max_reference_bytes)
    check_token(admission, header_token, start)  # before anything is said about the voice
    if not any(error.field == "format" for error in errors):
        try:
            create_encoder(start.format, start.sample_rate)
        except UnsupportedFormatError as exc:
            errors.append(FieldError("format", str(exc)))
    seed = start.voice.seed if start.voice.seed is not None else draw_seed()
    owner = owner_of(header_token or start.token) if admission.requires_token else ""
    voice_request = await bind_voice(backend, start.voice, seed, errors, fatal=True, voices=voices, owner=owner)
    settings = StreamSettings(
        format=start.format,
        sample_rate=start.sample_rate,
        segmentation=start.segmentation,
        timestamps=start.timestamps,
        max_segment_chars=limits.max_segment_chars,
        max_buffered_chars=limits.max_buffered_chars,
    )
    return SessionSetup(voice_request=voice_request, settings=settings, owner=owner)


def notice_messages(voice_request: VoiceRequest, ctx: str | None = None) -> list[dict[str, Any]]:
    """`notice` messages (an extension of PROTOCOL.md): what the client should know about its accepted voice."""
    where = {"ctx": ctx} if ctx is not None else {}
    return [{"type": "notice", "message": text, **where} for text in voice_request.notices]


def ready_message(session_id: str, setup: SessionSetup, limits: Limits, max_sessions: int) -> dict[str, Any]:
    """`session.ready`: the effective settings, the seed and every limit."""
    spec = setup.voice_request.spec
    saved = {"voice": setup.voice_request.voice_id} if setup.voice_request.voice_id else {}
    return {
        "type": "session.ready",
        "session_id": session_id,
        "protocol": PROTOCOL_VERSION,
        "seed": setup.voice_request.seed,
        "mode": spec.mode,
        "model": setup.voice_request.model,
        "speaker": spec.speaker,
        "language": spec.language,
        "format": setup.settings.format,
        "sample_rate": setup.settings.sample_rate,
        "segmentation": setup.settings.segmentation,
        "timestamps": setup.settings.timestamps,
        "limits": {**limits.to_wire(), "max_sessions": max_sessions},
        **saved,
    }
