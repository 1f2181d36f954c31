"""One WebSocket session: message dispatch, contexts, writer and timeouts.

Three tasks run per session: the reader (client messages, in order), the writer (the
outbox, in order) and the idle watchdog. Whichever ends first decides how the session
ends: a clean close, a fatal protocol error, or the client going away. Every path
stops the engines and frees the session's slot. Admission and `session.start` live in
handshake.py.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from contextlib import suppress
from dataclasses import replace
from typing import Any

from realtime.auth import AccessPolicy
from realtime.backend.backend import TTSBackend
from realtime.config import Limits
from realtime.engines.base import VoiceRequest
from realtime.metrics import Metrics
from realtime.protocol import codec
from realtime.protocol.errors import ErrorCode, ProtocolError, combine_field_errors
from realtime.protocol.frames import decode_frame
from realtime.protocol.messages import ALL_CONTEXTS, parse_context_overrides, parse_ctx, parse_timestamps
from realtime.session.capacity import SessionSlots
from realtime.session.context import Context, ContextState
from realtime.session.handshake import (
    SessionSetup,
    accept_start,
    notice_messages,
    over_capacity,
    bind_voice,
    ready_message,
    refuse_connection,
    take_slot,
)
from realtime.session.outbox import Outbox, OutboxClosed
from realtime.session.pending import PendingConnections
from realtime.session.transport import Disconnected, SendTimedOut, Transport
from realtime.text.brief import brief
from realtime.voices.library import VoiceLibrary, VoiceLibraryError

logger = logging.getLogger(__name__)

_WRITER_DRAIN_TIMEOUT_S = 5.0
_MAX_FINISHED_BEFORE_END = 256


class _SessionClosed(Exception):
    """The session ended cleanly (session.end)."""


class Session:
    def __init__(
        self,
        transport: Transport,
        backend: TTSBackend,
        slots: SessionSlots,
        *,
        limits: Limits,
        admission: AccessPolicy | None = None,
        origin: str | None = None,
        header_token: str | None = None,
        metrics: Metrics | None = None,
        pending: PendingConnections | None = None,
        client: str = "unknown",
        voices: VoiceLibrary | None = None,
    ) -> None:
        self.id = secrets.token_hex(6)
        self._transport = transport
        self._backend = backend
        self._slots = slots
        self._limits = limits
        self._admission = admission or AccessPolicy()
        self._origin = origin
        self._header_token = header_token
        self._metrics = metrics
        self._pending = pending
        self._client = client  # the peer's address: its share of the pending pool
        self._holds_slot = False
        self._outbox = Outbox(
            max_bytes=limits.max_queued_bytes, on_bytes=metrics.queued_bytes.inc if metrics is not None else None
        )
        self._voices = voices
        self._contexts: dict[str, Context] = {}
        # Names whose context the server finished (failed or cancelled) before the client's `end`:
        # that `end` belongs to the stream `done` already closed, and must not open a new one.
        # An ordered set, capped: an `end` in flight arrives soon after the `done`.
        self._finished_before_end: dict[str, None] = {}
        self._setup: SessionSetup | None = None
        self._idle_since = time.monotonic()
        # Resolved (with an exception) when the session must stop for a reason outside the
        # reader: a context crashed (a bug), or session.end finished every context.
        self._stop: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._closing = False
        self._no_contexts = asyncio.Event()
        self._no_contexts.set()
        self._closer: asyncio.Task[None] | None = None

    # -- entry point ---------------------------------------------------------------------------
    async def run(self) -> None:
        refusal = refuse_connection(self._admission, self._origin)
        # A connection that shows a valid key already (header or subprotocol) waits outside the
        # pending pool: keyless squatters filling the pool cannot lock keyed clients out.
        keyed = self._admission.requires_token and self._admission.token_valid(self._header_token)
        if keyed or self._pending is None:
            self._pending = None
        elif refusal is None and not self._pending.try_enter(self._client):
            refusal = over_capacity(
                f"too many connections waiting to start (at most {self._pending.max_total}, "
                f"{self._pending.max_per_client} per client address)"
            )
        if refusal is not None:
            await self._fail(refusal)
            return
        writer: asyncio.Task[None] | None = None
        try:
            try:
                self._setup = await self._start()
            finally:
                if self._pending is not None:
                    self._pending.leave(self._client)
            take_slot(self._slots)  # only an accepted session.start holds a slot
            self._holds_slot = True
            if self._metrics is not None:
                self._metrics.session_opened("websocket")
            writer = asyncio.create_task(self._write_loop(), name=f"writer:{self.id}")
            await self._outbox.send(ready_message(self.id, self._setup, self._limits, self._slots.limit))
            for notice in notice_messages(self._setup.voice_request):
                await self._outbox.send(notice)
            await self._serve(writer)
        except ProtocolError as error:
            await self._fail(error, writer)
        except Disconnected:
            logger.info("session %s: client disconnected", self.id)
        except _SessionClosed:
            logger.info("session %s: ended by the client", self.id)
        except Exception:
            logger.exception("session %s: internal error", self.id)
            await self._fail(
                ProtocolError(ErrorCode.INTERNAL_ERROR, f"internal error (session {self.id})", fatal=True), writer
            )
        finally:
            await self._teardown(writer)

    async def _serve(self, writer: asyncio.Task[None]) -> None:
        reader = asyncio.create_task(self._read_loop(), name=f"reader:{self.id}")
        watchdog = asyncio.create_task(self._watch_idle(), name=f"idle:{self.id}")
        tasks = {reader, watchdog, writer, self._stop}
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in (self._stop, reader, watchdog, writer):
                if task in done and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
            if writer in done:
                raise Disconnected
        finally:
            for task in (reader, watchdog):
                task.cancel()
            await asyncio.gather(reader, watchdog, return_exceptions=True)

    # -- handshake -----------------------------------------------------------------------------
    async def _start(self) -> SessionSetup:
        try:  # (asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel landing as a frame arrives)
            async with asyncio.timeout(self._limits.start_timeout_s):
                frame = await self._transport.receive()
        except TimeoutError:
            raise ProtocolError(
                ErrorCode.TIMEOUT, f"no session.start within {self._limits.start_timeout_s:g} s", fatal=True
            ) from None
        message = decode_frame(frame.data, max_bytes=self._limits.max_frame_bytes, started=False)
        setup = await accept_start(
            message, self._backend, self._limits, self._admission, self._header_token, self._voices
        )
        spec = setup.voice_request.spec
        logger.info(
            "session %s started: mode=%s model=%s format=%s rate=%d seed=%d",
            self.id, spec.mode, setup.voice_request.model, setup.settings.format, setup.settings.sample_rate,
            setup.voice_request.seed,
        )
        return setup

    # -- frames ------------------------------------------------------------------------------
    async def _read_loop(self) -> None:
        while True:
            frame = await self._transport.receive()
            self._idle_since = time.monotonic()
            try:
                message = decode_frame(frame.data, max_bytes=self._limits.max_frame_bytes, started=True)
                await self._dispatch(message)
            except ProtocolError as error:
                if error.fatal:
                    raise
                await self._outbox.send(error.to_message())

    async def _dispatch(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if self._closing and kind != "ping":
            raise ProtocolError(ErrorCode.BAD_REQUEST, "the session is ending (session.end was received)")
        handler = _HANDLERS.get(kind)
        if handler is None:
            raise ProtocolError(
                ErrorCode.BAD_REQUEST,
                f"unknown message type {brief(kind)}; known: {', '.join(sorted(_HANDLERS))}",
            )
        await handler(self, message)

    # -- handlers ----------------------------------------------------------------------------
    async def _on_session_start(self, message: dict[str, Any]) -> None:
        raise ProtocolError(ErrorCode.BAD_REQUEST, "the session has already started")

    async def _on_context_start(self, message: dict[str, Any]) -> None:
        session_voice_request = self._session_voice_request()
        ctx = _ctx(message)
        self._check_can_open(ctx)
        spec, errors = parse_context_overrides(
            message, session_voice_request.spec, max_reference_bytes=self._limits.max_reference_bytes
        )
        assert self._setup is not None
        timestamps, timestamp_errors = parse_timestamps(message, self._setup.settings.timestamps)
        seed = spec.seed if spec.seed is not None else session_voice_request.seed
        voice_request = await bind_voice(
            self._backend, spec, seed, [*errors, *timestamp_errors], fatal=False, ctx=ctx, voices=self._voices,
            owner=self._owner,
        )
        self._check_can_open(ctx)  # again: another message may have opened it while the voice was bound
        self._open_context(ctx, voice_request, timestamps)
        for notice in notice_messages(voice_request, ctx):
            await self._outbox.send(notice)

    async def _on_text(self, message: dict[str, Any]) -> None:
        ctx = _ctx(message)
        text = message.get("text")
        if not isinstance(text, str):
            raise ProtocolError(ErrorCode.BAD_REQUEST, "text: must be a string", ctx=ctx)
        limit = min(self._limits.max_text_chars, self._limits.max_buffered_chars)
        if len(text) > limit:  # refused before any context is opened for it
            raise ProtocolError(
                ErrorCode.TEXT_TOO_LONG,
                f"text message of {len(text)} characters is over the limit of {limit}",
                ctx=ctx,
            )
        (await self._open_for_text(ctx)).add_text(text)

    async def _on_flush(self, message: dict[str, Any]) -> None:
        ctx = _ctx(message)
        context = self._contexts.get(ctx)
        if context is None:
            await self._outbox.send({"type": "flushed", "ctx": ctx})
            return
        self._require_open(context)
        context.flush()

    async def _on_end(self, message: dict[str, Any]) -> None:
        ctx = _ctx(message)
        if ctx not in self._contexts and ctx in self._finished_before_end:
            del self._finished_before_end[ctx]
            return
        (await self._open_for_text(ctx)).end()

    async def _on_cancel(self, message: dict[str, Any]) -> None:
        ctx, errors = parse_ctx(message, allow_all=True)
        if errors:
            raise combine_field_errors(errors, fatal=False, default_code=ErrorCode.BAD_REQUEST)
        targets = list(self._contexts.values()) if ctx == ALL_CONTEXTS else [
            c for c in (self._contexts.get(ctx),) if c is not None
        ]
        if not targets:
            await self._outbox.send({"type": "cancelled", "ctx": ctx})
            return
        for context in targets:
            await context.cancel()

    async def _on_ping(self, message: dict[str, Any]) -> None:
        t = message.get("t")
        size = len(codec.pack(t))
        if size > self._limits.max_ping_bytes:
            raise ProtocolError(
                ErrorCode.BAD_REQUEST, f"ping.t is {size} bytes packed; the limit is {self._limits.max_ping_bytes}"
            )
        await self._outbox.send({"type": "pong", "t": t})

    async def _on_session_end(self, message: dict[str, Any]) -> None:
        """Finish every context as `end` does, then close 1000; pings are still answered meanwhile."""
        self._closing = True
        for context in list(self._contexts.values()):
            if context.state is ContextState.OPEN:
                context.end()
        self._closer = asyncio.create_task(self._close_when_finished(), name=f"closer:{self.id}")

    async def _close_when_finished(self) -> None:
        await self._no_contexts.wait()
        self._stop_with(_SessionClosed())

    # -- contexts ----------------------------------------------------------------------------
    def _session_voice_request(self) -> VoiceRequest:
        assert self._setup is not None, "handlers run only after session.ready"
        return self._setup.voice_request

    def _check_can_open(self, ctx: str) -> None:
        if ctx in self._contexts:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"context {ctx!r} is already open", ctx=ctx)
        self._check_room(ctx)

    def _check_room(self, ctx: str) -> None:
        if len(self._contexts) >= self._limits.max_contexts:
            raise ProtocolError(
                ErrorCode.TOO_MANY_CONTEXTS,
                f"this session already has {len(self._contexts)} open contexts (the limit); "
                "end or cancel one first",
                ctx=ctx,
            )

    def _require_open(self, context: Context) -> None:
        if context.state is not ContextState.OPEN:
            raise ProtocolError(
                ErrorCode.BAD_REQUEST,
                f"context {context.name!r} is ending; wait for its done before reusing the name",
                ctx=context.name,
            )

    @property
    def _owner(self) -> str:
        return self._setup.owner if self._setup is not None else ""

    async def _open_for_text(self, ctx: str) -> Context:
        context = self._contexts.get(ctx)
        if context is None:
            self._check_room(ctx)
            voice_request = self._session_voice_request()
            await self._check_saved_voice_exists(voice_request, ctx)
            context = self._contexts.get(ctx)  # another message may have opened it meanwhile
            if context is None:
                self._check_room(ctx)
                return self._open_context(ctx, voice_request)
        self._require_open(context)
        return context

    async def _check_saved_voice_exists(self, voice_request: VoiceRequest, ctx: str) -> None:
        """A new context on a saved voice deleted since session.start is refused (open ones keep speaking).

        While the store is out of reach the voice is taken as still there: the session already holds its prompt.
        """
        if voice_request.voice_id is None or self._voices is None:
            return
        try:
            await self._voices.get(self._owner, voice_request.voice_id)
        except VoiceLibraryError as error:
            if error.kind == "unavailable":  # cannot tell: the session holds the voice's prompt, so it keeps speaking
                return
            raise ProtocolError(
                ErrorCode.UNKNOWN_VOICE,
                f"voice: saved voice {voice_request.voice_id!r} was deleted; contexts already open keep speaking it, "
                "new ones cannot",
                ctx=ctx,
                details={"fields": ["voice"]},
            ) from None

    def _open_context(self, ctx: str, voice_request: VoiceRequest, timestamps: str | None = None) -> Context:
        assert self._setup is not None
        settings = self._setup.settings
        if timestamps is not None and timestamps != settings.timestamps:
            settings = replace(settings, timestamps=timestamps)  # context.start chose its own
        context = Context(
            ctx, voice_request, settings, self._backend, self._outbox,
            on_finished=self._forget_context, on_crash=self._on_context_crash, session_id=self.id,
            metrics=self._metrics,
        )
        self._contexts[ctx] = context
        self._no_contexts.clear()
        self._finished_before_end.pop(ctx, None)
        return context

    def _forget_context(self, context: Context) -> None:
        if self._contexts.get(context.name) is context:
            del self._contexts[context.name]
            if not context.client_ended:
                self._finished_before_end[context.name] = None
                if len(self._finished_before_end) > _MAX_FINISHED_BEFORE_END:
                    del self._finished_before_end[next(iter(self._finished_before_end))]
        if not self._contexts:
            self._no_contexts.set()
        self._idle_since = time.monotonic()

    def _on_context_crash(self, exc: BaseException) -> None:
        self._stop_with(exc)

    def _stop_with(self, exc: BaseException) -> None:
        if not self._stop.done():
            self._stop.set_exception(exc)

    # -- writer and idle watchdog -------------------------------------------------------------
    async def _write_loop(self) -> None:
        try:
            while True:
                item = await self._outbox.get()
                message = item.message if item.message is not None else await item.render()  # type: ignore[misc]
                if message is not None:
                    await self._transport.send(codec.pack(message))
                    if self._metrics is not None:
                        self._metrics.observe_message(message)
        except OutboxClosed:
            return
        except SendTimedOut as stalled:
            raise ProtocolError(ErrorCode.TIMEOUT, str(stalled), fatal=True) from None

    async def _watch_idle(self) -> None:
        limit = self._limits.idle_timeout_s
        poll = max(0.01, min(1.0, limit / 5))
        while True:
            await asyncio.sleep(poll)
            now = time.monotonic()
            # Only generation holds the idle clock: output queued for a client that does not read
            # is not activity (the send timeout drops such a client).
            if any(context.busy for context in self._contexts.values()):
                self._idle_since = now
            elif now - self._idle_since >= limit:
                raise ProtocolError(
                    ErrorCode.TIMEOUT, f"idle for {limit:g} s with no context generating", fatal=True
                )

    # -- endings -------------------------------------------------------------------------------
    async def _fail(self, error: ProtocolError, writer: asyncio.Task[None] | None = None) -> None:
        """A fatal error: stop everything, send the error, close with its code."""
        if error.code is ErrorCode.INTERNAL_ERROR:
            logger.error("session %s: closing with internal error", self.id)
        else:
            logger.info("session %s: fatal %s: %s", self.id, error.code.wire_name, error.message)
        await self._abort_contexts()
        await self._outbox.close(drop=True)
        if writer is not None:
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)
        error.fatal = True
        if self._metrics is not None:
            self._metrics.observe_message(error.to_message())
        # Never waits on the client: one that reads nothing is dropped after a short grace.
        await self._transport.close(int(error.code), error.code.wire_name, last_frame=codec.pack(error.to_message()))

    async def _abort_contexts(self) -> None:
        contexts = list(self._contexts.values())
        await asyncio.gather(*(context.abort() for context in contexts), return_exceptions=True)

    async def _teardown(self, writer: asyncio.Task[None] | None) -> None:
        await self._abort_contexts()
        if writer is not None and not writer.done():
            await self._outbox.close()
            with suppress(Exception):  # let it drain; a client gone mid-send is a normal ending
                async with asyncio.timeout(_WRITER_DRAIN_TIMEOUT_S):  # on timeout the writer is cancelled
                    await writer
        await self._outbox.close(drop=True)  # whatever the writer did not send goes now
        # Every task's outcome is read here, so none is reported as "never retrieved".
        for task in (writer, self._stop, self._closer):
            if task is None:
                continue
            if not task.done():
                task.cancel()
            elif not task.cancelled():
                task.exception()
        if self._holds_slot:
            self._holds_slot = False
            self._slots.release()
            if self._metrics is not None:
                self._metrics.session_closed("websocket")
        await self._transport.close(1000)
        logger.info("session %s closed", self.id)


def _ctx(message: dict[str, Any]) -> str:
    ctx, errors = parse_ctx(message)
    if errors:
        raise combine_field_errors(errors, fatal=False, default_code=ErrorCode.BAD_REQUEST)
    return ctx


_HANDLERS = {
    "session.start": Session._on_session_start,
    "context.start": Session._on_context_start,
    "text": Session._on_text,
    "flush": Session._on_flush,
    "end": Session._on_end,
    "cancel": Session._on_cancel,
    "ping": Session._on_ping,
    "session.end": Session._on_session_end,
}
