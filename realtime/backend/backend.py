"""The backend facade: the models this server has, their voices, and streaming synthesis.

The WebSocket session and the one-call facade methods (`custom_voice`, `voice_clone`,
`voice_design`) share one path: validate and bind a voice to a model, prepare it once,
then stream segment after segment through the engine's worker threads.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import aclosing
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from realtime.audio.encoders import encode_audio as _encode_audio
from realtime.audio.lead_in import LeadingSilenceTrimmer
from realtime.audio.reference import ReferenceAudioError, decode_reference_audio
from realtime.backend.threaded import ThreadedStream
from realtime.config import Limits
from realtime.engines.base import (
    CancelFlag,
    Engine,
    EngineChunk,
    GenerationError,
    ModelInfo,
    Voice,
    VoicePrint,
    VoiceRequest,
)
from realtime.engines.hibari_engine import HibariEngine
from realtime.engines.problems import ProblemKind, VoiceProblem
from realtime.engines.voice_spec import VoiceSpec
from realtime.protocol.messages import parse_voice
from realtime.segmenter import Segmenter, SegmenterPolicy
from realtime.text.normalize import speakable
from realtime.timeline import Timeline
from realtime.words.aligner import WordTimer

logger = logging.getLogger(__name__)

# Segments the engine fails on are skipped (the text was at fault); this many in a row means
# the engine is failing, not the text, and the utterance or context fails (4105 / HTTP 500).
MAX_CONSECUTIVE_SEGMENT_FAILURES = 3


class SegmentFailures:
    """The rule for segments the engine fails on, the same for a socket context and an HTTP utterance."""

    __slots__ = ("_in_a_row", "_any_spoken")

    def __init__(self) -> None:
        self._in_a_row = 0
        self._any_spoken = False

    def spoken(self) -> None:
        self._in_a_row = 0
        self._any_spoken = True

    def failed(self, *, last_of_text: bool = False) -> bool:
        """Count one failed segment; True when the stream must fail rather than skip it.

        `last_of_text`: the segment ends a whole text (HTTP): a text none of whose segments
        could be spoken fails too, rather than answering an empty file.
        """
        self._in_a_row += 1
        return self._in_a_row >= MAX_CONSECUTIVE_SEGMENT_FAILURES or (last_of_text and not self._any_spoken)


@dataclass(frozen=True, slots=True)
class AudioChunk:
    """A piece of generated audio (float32 samples, or bytes once encoded)."""

    data: np.ndarray | bytes
    sample_rate: int
    is_last: bool
    format: str = "pcm"
    timestamp_ms: float = 0.0


@dataclass(frozen=True, slots=True)
class UtterancePiece:
    """One engine chunk of a whole-text utterance, with the segment it belongs to."""

    segment: int
    segments: int
    chunk: EngineChunk


@dataclass(frozen=True, slots=True)
class SegmentSkipped:
    """The engine failed on this segment and the failure rule says skip it: it ends here, the stream goes on."""

    error: GenerationError


def _trimmed(chunks: Iterator[EngineChunk], trimmer: LeadingSilenceTrimmer) -> Iterator[EngineChunk]:
    """The engine's chunks with the leading silence cut (runs in the worker thread, step by step with the engine).

    Chunks that hold only silence are kept back until sound starts; a notice on one of them
    rides on the next chunk that goes out. Closing this generator closes the engine's.
    """
    notices: list[str] = []
    try:
        for chunk in chunks:
            if chunk.notice:
                notices.append(chunk.notice)
            pieces = trimmer.push(chunk.samples)
            if chunk.final:
                pieces += trimmer.finish()
                pieces = pieces or [chunk.samples[:0]]  # the segment's end goes out even with no samples
            for index, samples in enumerate(pieces):
                last = index == len(pieces) - 1
                notice = "; ".join(notices) if last and notices else None
                yield EngineChunk(samples, final=chunk.final and last, notice=notice)
            if pieces:
                notices = []
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


def draw_seed() -> int:
    """A fresh session seed, 0..2^32-1, from the OS (never from a shared global RNG)."""
    return secrets.randbits(32)


class TTSBackend:
    """Owns the engines and the worker threads that run them."""

    def __init__(
        self,
        engines: Sequence[Engine] | None = None,
        *,
        engine_threads: int = 2,
        limits: Limits | None = None,
        word_timer: WordTimer | None = None,
        trim_leading_silence: bool = True,
    ) -> None:
        self._engine_threads = max(1, engine_threads)
        # Cut the engine's silence before speech at the start of a stream (see realtime/audio/lead_in.py).
        self.trim_leading_silence = trim_leading_silence
        self._engines: dict[str, Engine] = {
            engine.info.name: engine for engine in (engines or [HibariEngine(threads=self._engine_threads)])
        }
        self.limits = limits or Limits()
        self.word_timer = word_timer or WordTimer()  # word timestamps for contexts and requests that ask for them
        self._executor: ThreadPoolExecutor | None = None
        self._ready = False

    # -- lifecycle ---------------------------------------------------------------------------
    async def initialize(self) -> None:
        """Start the worker threads and load every engine (off the event loop)."""
        if self._ready:
            return
        waiting = sum(engine.waiting_streams for engine in self._engines.values())
        self._executor = ThreadPoolExecutor(max_workers=self._engine_threads + waiting, thread_name_prefix="engine")
        loop = asyncio.get_running_loop()
        for engine in self._engines.values():
            try:
                await loop.run_in_executor(self._executor, engine.load)
            except Exception as exc:
                raise RuntimeError(f"loading model {engine.info.name} failed: {exc}") from exc
        self._ready = True

    async def shutdown(self) -> None:
        """Stop the worker threads (queued steps are dropped, running ones end), then free the engines."""
        self._ready = False
        if self._executor is not None:
            executor, self._executor = self._executor, None
            await asyncio.get_running_loop().run_in_executor(
                None, lambda: executor.shutdown(wait=True, cancel_futures=True)
            )
        for engine in self._engines.values():
            engine.shutdown()
        self.word_timer.shutdown()

    @property
    def ready(self) -> bool:
        return self._ready

    # -- catalogue ---------------------------------------------------------------------------
    def engines(self) -> list[Engine]:
        return list(self._engines.values())

    def models(self) -> list[ModelInfo]:
        return [engine.info for engine in self._engines.values()]

    @property
    def capacity(self) -> int:
        """Sessions this server takes at once: the configured limit, capped by the engines."""
        return min([self.limits.max_sessions, *(e.info.capacity for e in self._engines.values())])

    def engine(self, name: str) -> Engine | None:
        return self._engines.get(name)

    async def run_blocking(self, function: Any, *args: Any) -> Any:
        """Run heavy model work (a saved voice's extraction) in the engine threads, off the event loop."""
        return await asyncio.get_running_loop().run_in_executor(self._require_executor(), function, *args)

    def default_model(self, mode: str) -> str | None:
        return next((e.info.name for e in self._engines.values() if mode in e.info.modes), None)

    def _served(self) -> str:
        return "; ".join(info.describe() for info in self.models())

    def check_voice(self, spec: VoiceSpec) -> tuple[str | None, list[VoiceProblem]]:
        """Bind the voice to a model and let that model judge it; cheap, no I/O."""
        if spec.model is not None:
            engine = self._engines.get(spec.model)
            if engine is None:
                return None, [
                    VoiceProblem(
                        "model",
                        f"unknown model {spec.model!r}; this server serves: {self._served()}",
                        ProblemKind.UNKNOWN_MODEL,
                    )
                ]
            if spec.mode not in engine.info.modes:
                return None, [
                    VoiceProblem(
                        "mode",
                        f"model {spec.model} cannot serve mode {spec.mode}; it serves: {', '.join(engine.info.modes)}",
                        ProblemKind.MODE_NOT_SERVED,
                    )
                ]
        else:
            default = self.default_model(spec.mode)
            if default is None:
                needs = {"voice_clone": "a Qwen3-TTS Base model", "voice_design": "a Qwen3-TTS VoiceDesign model"}
                return None, [
                    VoiceProblem(
                        "mode",
                        f"mode {spec.mode} needs {needs.get(spec.mode, 'a model')}, and none is installed; "
                        f"this server serves: {self._served()}",
                        ProblemKind.MODE_NOT_SERVED,
                    )
                ]
            engine = self._engines[default]
        return engine.info.name, engine.check(spec)

    async def bind_voice(
        self, spec: VoiceSpec, seed: int, saved: VoicePrint | None = None
    ) -> tuple[VoiceRequest | None, list[VoiceProblem]]:
        """Everything `session.start` or `context.start` must judge at once, decoding reference audio off the loop.

        `saved` is a saved voice's stored prompt (`spec.voice` names it): no reference audio to decode.
        """
        model, errors = self.check_voice(spec)
        reference = None
        if spec.mode == "voice_clone" and spec.ref_audio is not None:
            sample_rate = self._engines[model].info.sample_rate if model else 24000
            try:
                reference = await asyncio.get_running_loop().run_in_executor(
                    self._executor,
                    lambda: decode_reference_audio(
                        spec.ref_audio or b"",
                        target_rate=sample_rate,
                        min_seconds=self.limits.min_reference_seconds,
                        max_seconds=self.limits.max_reference_seconds,
                        max_bytes=self.limits.max_reference_bytes,
                    ),
                )
            except ReferenceAudioError as exc:
                errors = [VoiceProblem("ref_audio", str(exc), ProblemKind.BAD_REFERENCE_AUDIO), *errors]
        if errors or model is None:
            return None, errors
        engine = self._engines[model]
        if spec.mode == "custom_voice" and spec.speaker is None and engine.info.speakers:
            spec = replace(spec, speaker=engine.info.speakers[0])  # PROTOCOL: the model's first listed speaker
        return VoiceRequest(
            spec=spec, model=model, seed=seed, reference=reference, notices=engine.notices(spec),
            saved=saved, voice_id=spec.voice if saved is not None else None,
        ), []

    def model_info(self, name: str) -> ModelInfo:
        return self._engines[name].info

    # -- streaming ---------------------------------------------------------------------------
    def _require_executor(self) -> ThreadPoolExecutor:
        if self._executor is None:
            raise RuntimeError("the backend is not initialized")
        return self._executor

    async def open_voice(self, voice_request: VoiceRequest) -> Voice:
        engine = self._engines[voice_request.model]
        try:
            return await asyncio.get_running_loop().run_in_executor(
                self._require_executor(), engine.open_voice, voice_request
            )
        except GenerationError:
            raise
        except Exception as exc:
            raise GenerationError(f"preparing the voice on {voice_request.model} failed: {exc}") from exc

    @staticmethod
    def speakable(text: str) -> str:
        """What an engine is given for `text` (realtime/text/normalize.py): the one place every path passes."""
        return speakable(text)

    def stream(
        self, voice: Voice, text: str, cancel: CancelFlag | None = None, *, first_segment_of: VoiceRequest | None = None
    ) -> ThreadedStream[EngineChunk]:
        """One segment's audio as it is made, from its normalized text; close the stream to stop the engine.

        `first_segment_of`: the request whose stream this segment opens (a context's or an HTTP
        request's first segment). There the engine's silence before speech only delays the
        answer, so it is cut to a short lead-in; later segments keep their pauses, which are
        part of the speech's rhythm.
        """
        cancel = cancel or CancelFlag()
        spoken = speakable(text)
        chunks = voice.synthesize(spoken, cancel) if spoken else _silence()
        if first_segment_of is not None and self.trim_leading_silence:
            rate = self.model_info(first_segment_of.model).sample_rate
            chunks = _trimmed(chunks, LeadingSilenceTrimmer(rate))
        return ThreadedStream(chunks, self._require_executor(), cancel)

    # -- the facade of the seed document --------------------------------------------------------
    async def _generate(self, text: str, fields: dict[str, Any]) -> AsyncIterator[AudioChunk]:
        """One utterance through the socket's own path: validate, segment, stream, release."""
        if not isinstance(text, str) or not text.strip():
            raise ValueError("text must be a non-empty string")
        spec, errors = parse_voice(
            {name: value for name, value in fields.items() if value is not None},
            max_reference_bytes=self.limits.max_reference_bytes,
        )
        seed = spec.seed if spec.seed is not None else draw_seed()
        voice_request, problems = (None, []) if errors else await self.bind_voice(spec, seed)
        if errors or problems or voice_request is None:
            raise ValueError("; ".join(error.describe() for error in [*errors, *problems]))
        sample_rate = self.model_info(voice_request.model).sample_rate
        timeline = Timeline(sample_rate)
        try:
            async for piece in self.utterance(voice_request, text):
                is_last = piece.chunk.final and piece.segment == piece.segments - 1
                span = timeline.advance(len(piece.chunk.samples))
                yield AudioChunk(piece.chunk.samples, sample_rate, is_last, "pcm", span.start_ms)
        except GenerationError as exc:
            raise RuntimeError(f"{spec.mode} generation failed: {exc}") from exc

    async def speak_segment(
        self,
        voice: Voice,
        text: str,
        failures: SegmentFailures,
        cancel: CancelFlag | None = None,
        *,
        first_segment_of: VoiceRequest | None = None,
        last_of_text: bool = False,
    ) -> AsyncGenerator[EngineChunk | SegmentSkipped, None]:
        """One segment's chunks under the failure rule, for every path that speaks (the pipeline, the facade).

        A segment the engine fails on ends with `SegmentSkipped` (the segment is closed where it
        stopped) unless `failures` says the engine, not the text, is failing: then GenerationError
        is raised. Closing the generator stops the engine within one step.
        """
        stream = self.stream(voice, text, cancel, first_segment_of=first_segment_of)
        try:
            async for chunk in stream:
                yield chunk
            failures.spoken()
        except GenerationError as exc:
            if failures.failed(last_of_text=last_of_text):
                raise
            yield SegmentSkipped(exc)
        finally:
            await stream.aclose()

    async def utterance(
        self, voice_request: VoiceRequest, text: str, max_segment_chars: int | None = None
    ) -> AsyncGenerator[UtterancePiece, None]:
        """One whole text's engine audio, auto-segmented, segment after segment through one voice.

        For the Python facade and a saved voice's preview, which want the engine's samples
        (the doors go through realtime/pipeline/, which shapes and encodes them); closing the
        generator stops the engine within one step.
        """
        policy = SegmenterPolicy(mode="auto", max_chars=max_segment_chars or self.limits.max_segment_chars)
        segmenter = Segmenter(policy)
        segments = segmenter.feed(text) + segmenter.flush()
        voice = await self.open_voice(voice_request)
        failures = SegmentFailures()
        try:
            for index, segment in enumerate(segments):
                chunks = self.speak_segment(
                    voice, segment.text, failures, first_segment_of=voice_request if index == 0 else None,
                    last_of_text=index == len(segments) - 1,
                )
                async with aclosing(chunks):
                    async for chunk in chunks:
                        if isinstance(chunk, SegmentSkipped):
                            logger.warning("segment %d of %d could not be spoken, skipped: %s", index, len(segments),
                                           chunk.error)
                            # Closed where it stopped, so every segment (the last included) ends final.
                            chunk = EngineChunk(_EMPTY, final=True)
                        yield UtterancePiece(index, len(segments), chunk)
        finally:
            voice.close()

    def custom_voice(
        self,
        text: str,
        speaker: str | None = None,
        language: str = "auto",
        instruct: str | None = None,
        seed: int | None = None,
        model: str | None = None,
        **generation: Any,
    ) -> AsyncIterator[AudioChunk]:
        fields = {"mode": "custom_voice", "model": model, "speaker": speaker, "instruct": instruct,
                  "language": language, "seed": seed, "generation": generation or None}
        return self._generate(text, fields)

    def voice_clone(
        self,
        text: str,
        ref_audio: bytes,
        ref_text: str | None = None,
        language: str = "auto",
        x_vector_only: bool = False,
        seed: int | None = None,
        model: str | None = None,
        **generation: Any,
    ) -> AsyncIterator[AudioChunk]:
        fields = {"mode": "voice_clone", "model": model, "ref_audio": ref_audio, "ref_text": ref_text,
                  "x_vector_only": x_vector_only, "language": language, "seed": seed,
                  "generation": generation or None}
        return self._generate(text, fields)

    def voice_design(
        self,
        text: str,
        instruct: str,
        language: str = "auto",
        seed: int | None = None,
        model: str | None = None,
        **generation: Any,
    ) -> AsyncIterator[AudioChunk]:
        fields = {"mode": "voice_design", "model": model, "instruct": instruct, "language": language,
                  "seed": seed, "generation": generation or None}
        return self._generate(text, fields)

    @staticmethod
    def encode_audio(pcm: np.ndarray, sample_rate: int, format: str) -> bytes:
        """A whole buffer in one of the streamed formats, through the same encoders as the socket."""
        return _encode_audio(pcm, sample_rate, format)


_EMPTY = np.zeros(0, dtype=np.float32)


def _silence() -> Iterator[EngineChunk]:
    """A segment with nothing left to say once normalized: it closes at once, the engine is not asked."""
    yield EngineChunk(_EMPTY, final=True)
