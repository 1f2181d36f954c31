"""The voice library: clone, design, blend, list, rename, delete, preview and use saved voices.

It turns validated requests (`requests.py`) into stored voices with the engines' help:
the heavy model work (speaker encoder, codec, the VoiceDesign model) runs in the
backend's engine threads, the store's work in the library's own threads, so the event
loop never blocks. Nothing is stored until everything a voice needs is computed, and the
store writes it in one transaction: a failure anywhere leaves the library as it was.

Every call is scoped to an owner (`owner_of`: a hash of the API key, never the key).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, Final

import numpy as np

from realtime.audio.reference import ReferenceAudioError, decode_reference_audio
from realtime.backend.backend import TTSBackend
from realtime.config import Limits
from realtime.engines.base import EngineChunk, GenerationError, VoiceFeatureError, VoicePrint
from realtime.protocol.errors import ErrorCode, FieldError
from realtime.engines.voice_spec import GenerationParams, VoiceSpec
from realtime.voices.requests import VOICE_ID_PREFIX, BlendBody, DesignBody
from realtime.voices.store import (
    Page,
    Quota,
    StoredVoice,
    VoiceNotFound,
    VoiceQuotaError,
    VoiceRecord,
    VoiceStore,
    VoiceStoreUnavailable,
)

PREVIEW_TEXT: Final = "This is how this voice sounds."
PREVIEW_MAX_FRAMES: Final = 75  # 6 s at 12.5 frames/s: a preview stays short even if the model never stops
PREVIEW_SEED: Final = 0  # the same preview every time
RECORD_OVERHEAD_BYTES: Final = 512  # a voice's row beside its tensors, counted against the store's limit
# What a client hears while the voice store is out of reach (the reason, with its host, goes to the log only).
STORE_UNAVAILABLE_MESSAGE: Final = "the saved-voice library is unreachable right now; try again shortly"

logger = logging.getLogger(__name__)


class VoiceLibraryError(Exception):
    """A voices request that cannot be done; `kind` says why (the HTTP door maps it to a status)."""

    KINDS: Final = ("invalid", "not_found", "model_not_found", "no_model", "bad_reference_audio",
                    "quota_voices", "quota_bytes", "failed", "unavailable")

    def __init__(self, kind: str, message: str, param: str | None = None) -> None:
        super().__init__(message)
        assert kind in self.KINDS, kind
        self.kind = kind
        self.message = message
        self.param = param


def owner_of(token: str | None) -> str:
    """Who owns what a request creates: "" with keys off, else a hash of the key (the key is never stored)."""
    if not token:
        return ""
    return "key:" + hashlib.sha256(token.encode()).hexdigest()


def new_voice_id() -> str:
    """Unguessable: 128 random bits."""
    return VOICE_ID_PREFIX + secrets.token_urlsafe(16)


def voice_tensors(voice: VoicePrint) -> dict[str, np.ndarray]:
    tensors = {"x_vector": np.asarray(voice.x_vector, dtype=np.float32)}
    if voice.in_context and voice.ref_codes is not None:
        tensors["ref_codes"] = np.asarray(voice.ref_codes, dtype=np.int64)
    return tensors


def voice_print(stored: StoredVoice) -> VoicePrint:
    """The engine's view of a stored voice."""
    record = stored.record
    codes = stored.tensors.get("ref_codes")
    if record.x_vector_only or codes is None:
        return VoicePrint(x_vector=stored.tensors["x_vector"])
    return VoicePrint(x_vector=stored.tensors["x_vector"], ref_codes=codes, ref_text=record.ref_text)


def blend_x_vectors(vectors: list[np.ndarray], weights: list[float]) -> np.ndarray:
    """The weighted mean of speaker embeddings (weights need not sum to 1). Pure."""
    stacked = np.stack([np.asarray(v, dtype=np.float64) for v in vectors])
    w = np.asarray(weights, dtype=np.float64)
    return (w[:, None] * stacked).sum(axis=0).astype(np.float32) / np.float32(w.sum())


def describe(record: VoiceRecord) -> dict[str, Any]:
    """A voice as the API shows it (PROTOCOL.md's fields first, then ours)."""
    return {
        "id": record.id,
        "object": "voice",
        "name": record.name,
        "model": record.model,
        "mode": "voice_clone",
        "created_at": int(record.created_at),
        "source": record.source,
        "x_vector_only": record.x_vector_only,
        "ref_text": record.ref_text,
        "language": record.language,
        "size_bytes": record.size_bytes,
        **({"details": record.details} if record.details else {}),
    }


@dataclass(frozen=True, slots=True)
class ResolvedVoice:
    """A saved voice bound for use: the spec with its model, and the stored prompt."""

    spec: VoiceSpec
    saved: VoicePrint


class VoiceLibrary:
    """Saved voices over a store, made and used through the backend's engines."""

    def __init__(self, store: VoiceStore, backend: TTSBackend, *, quota: Quota | None = None,
                 limits: Limits | None = None, store_threads: int = 2) -> None:
        self.store = store
        self.backend = backend
        self.quota = quota or Quota()
        self.limits = limits or backend.limits
        self._executor = ThreadPoolExecutor(max_workers=store_threads, thread_name_prefix="voices")

    async def _in_store(self, function: Any, *args: Any, **kwargs: Any) -> Any:
        """A store call off the loop; a store out of reach is VoiceLibraryError("unavailable") (details logged, not sent)."""
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, lambda: function(*args, **kwargs))
        except VoiceStoreUnavailable as exc:
            logger.warning("saved voices unavailable: %s", exc)
            raise VoiceLibraryError("unavailable", STORE_UNAVAILABLE_MESSAGE) from None

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        self.store.close()

    # -- models -------------------------------------------------------------------------------
    def _clone_model(self, model: str | None, param: str = "model") -> str:
        """A Base checkpoint: the named one, or the server's default for voice_clone."""
        if model is not None:
            engine = self.backend.engine(model)
            if engine is None:
                served = ", ".join(info.name for info in self.backend.models())
                raise VoiceLibraryError("model_not_found", f"unknown model {model!r}; this server serves: {served}", param)
            if "voice_clone" not in engine.info.modes:
                raise VoiceLibraryError(
                    "no_model", f"model {model} does not clone voices; saved voices need a Qwen3-TTS Base checkpoint", param
                )
            return model
        default = self.backend.default_model("voice_clone")
        if default is None:
            raise VoiceLibraryError(
                "no_model", "saving a voice needs a Qwen3-TTS Base checkpoint, and none is installed", param
            )
        return default

    def _base_of_family(self, family: str) -> str:
        for info in self.backend.models():
            if "voice_clone" in info.modes and info.family == family:
                return info.name
        raise VoiceLibraryError(
            "no_model", f"freezing a designed voice needs a Qwen3-TTS Base checkpoint of family {family}; none is installed",
            "design",
        )

    # -- creating -------------------------------------------------------------------------------
    async def _extract(self, model: str, samples: np.ndarray, ref_text: str | None, x_vector_only: bool) -> VoicePrint:
        engine = self.backend.engine(model)
        assert engine is not None
        try:
            return await self.backend.run_blocking(engine.extract_voice, samples, ref_text, x_vector_only)
        except VoiceFeatureError as exc:
            raise VoiceLibraryError("bad_reference_audio", str(exc), "ref_audio") from exc
        except Exception as exc:
            raise VoiceLibraryError("failed", f"computing the voice on {model} failed: {exc}") from exc

    async def _save(self, owner: str, name: str, model: str, source: str, voice: VoicePrint,
                    language: str = "auto", details: dict[str, Any] | None = None) -> VoiceRecord:
        tensors = voice_tensors(voice)
        engine = self.backend.engine(model)
        record = VoiceRecord(
            id=new_voice_id(), owner=owner, name=name, model=model,
            family=engine.info.family if engine is not None else "", source=source,
            x_vector_only=not voice.in_context, ref_text=voice.ref_text if voice.in_context else None,
            language=language, created_at=time.time(),
            size_bytes=sum(int(t.nbytes) for t in tensors.values()) + len(voice.ref_text or "") + RECORD_OVERHEAD_BYTES,
            details=details or {},
        )
        try:
            await self._in_store(self.store.create, StoredVoice(record, tensors), self.quota)
        except VoiceQuotaError as exc:
            kind = "quota_voices" if exc.limit == "voices_per_key" else "quota_bytes"
            raise VoiceLibraryError(kind, str(exc)) from exc
        return record

    async def create_clone(self, owner: str, name: str, audio: bytes, ref_text: str | None,
                           x_vector_only: bool, model: str | None) -> VoiceRecord:
        """A voice cloned from reference audio: its x-vector (and for in-context, its codes and text) stored."""
        bound = self._clone_model(model)
        sample_rate = self.backend.model_info(bound).sample_rate
        try:
            reference = await self.backend.run_blocking(
                lambda: decode_reference_audio(
                    audio, target_rate=sample_rate, min_seconds=self.limits.min_reference_seconds,
                    max_seconds=self.limits.max_reference_seconds, max_bytes=self.limits.max_reference_bytes,
                )
            )
        except ReferenceAudioError as exc:
            raise VoiceLibraryError("bad_reference_audio", str(exc), "ref_audio") from exc
        voice = await self._extract(bound, reference.samples, ref_text, x_vector_only)
        return await self._save(owner, name, bound, "clone", voice)

    async def create_design(self, owner: str, body: DesignBody) -> VoiceRecord:
        """The VoiceDesign model speaks the sample text; a Base model of its family freezes that audio as a clone."""
        design_model = body.model or self.backend.default_model("voice_design")
        engine = self.backend.engine(design_model) if design_model else None
        if engine is None or "voice_design" not in engine.info.modes:
            what = f"model {design_model!r} is not a VoiceDesign model" if body.model else "no VoiceDesign model is installed"
            raise VoiceLibraryError("no_model" if engine is not None or not body.model else "model_not_found",
                                    f"designing a voice needs a Qwen3-TTS VoiceDesign checkpoint: {what}", "design.model")
        base = self._base_of_family(engine.info.family)
        spec = VoiceSpec(mode="voice_design", model=design_model, instruct=body.instruct, language=body.language,
                         seed=body.seed)
        voice_request, errors = await self.backend.bind_voice(spec, body.seed)
        if errors or voice_request is None:
            raise VoiceLibraryError("invalid", "; ".join(e.describe() for e in errors), "design")
        samples = await self._speak(voice_request, body.text)
        seconds = samples.size / engine.info.sample_rate
        if seconds < self.limits.min_reference_seconds:
            raise VoiceLibraryError(
                "bad_reference_audio", f"the designed sample lasted {seconds:.2f} s, too short to freeze "
                f"(at least {self.limits.min_reference_seconds:g} s): use a longer design.text", "design.text",
            )
        voice = await self._extract(base, samples, body.text, False)
        details = {"instruct": body.instruct, "text": body.text, "seed": body.seed, "design_model": design_model}
        return await self._save(owner, body.name, base, "design", voice, body.language, details)

    async def create_blend(self, owner: str, body: BlendBody) -> VoiceRecord:
        """A weighted mean of saved voices' x-vectors (same model family), stored as an x-vector-only voice."""
        sources: list[StoredVoice] = []
        for index, part in enumerate(body.parts):
            try:
                sources.append(await self._in_store(self.store.get, owner, part.voice))
            except VoiceNotFound:
                raise VoiceLibraryError("not_found", f"no saved voice {part.voice!r}", f"blend[{index}].voice") from None
        families = {stored.record.family for stored in sources}
        shapes = {stored.tensors["x_vector"].shape for stored in sources}
        if len(families) != 1 or len(shapes) != 1:
            listed = ", ".join(f"{s.record.id} ({s.record.model}, {s.record.family})" for s in sources)
            raise VoiceLibraryError("invalid", f"blended voices must be of one model family; got {listed}", "blend")
        model = sources[0].record.model
        if self.backend.engine(model) is None:
            model = self._base_of_family(sources[0].record.family)
        mixed = blend_x_vectors([s.tensors["x_vector"] for s in sources], [p.weight for p in body.parts])
        details = {"blend": [{"voice": p.voice, "weight": p.weight} for p in body.parts]}
        return await self._save(owner, body.name, model, "blend", VoicePrint(x_vector=mixed), "auto", details)

    # -- reading and changing -------------------------------------------------------------------
    async def get(self, owner: str, voice_id: str) -> VoiceRecord:
        try:
            return await self._in_store(self.store.record, owner, voice_id)
        except VoiceNotFound:
            raise VoiceLibraryError("not_found", f"no saved voice {voice_id!r}", "voice_id") from None

    async def list(self, owner: str, limit: int, after: str | None) -> Page:
        try:
            return await self._in_store(self.store.list, owner, limit=limit, after=after)
        except VoiceNotFound:
            raise VoiceLibraryError("invalid", f"after: no saved voice {after!r} to page from", "after") from None

    async def rename(self, owner: str, voice_id: str, name: str) -> VoiceRecord:
        try:
            return await self._in_store(self.store.rename, owner, voice_id, name)
        except VoiceNotFound:
            raise VoiceLibraryError("not_found", f"no saved voice {voice_id!r}", "voice_id") from None

    async def delete(self, owner: str, voice_id: str) -> None:
        try:
            await self._in_store(self.store.delete, owner, voice_id)
        except VoiceNotFound:
            raise VoiceLibraryError("not_found", f"no saved voice {voice_id!r}", "voice_id") from None

    # -- using ----------------------------------------------------------------------------------
    async def resolve(self, spec: VoiceSpec, owner: str, param: str = "voice") -> tuple[ResolvedVoice | None, list[FieldError]]:
        """Bind `spec.voice` to its stored prompt and model, or say why not (unknown_voice).

        A store out of reach is not an answer about the voice: it raises VoiceLibraryError("unavailable").
        """
        assert spec.voice is not None
        try:
            stored: StoredVoice = await self._in_store(self.store.get, owner, spec.voice)
        except VoiceNotFound:
            return None, [FieldError(param, f"no saved voice {spec.voice!r} (deleted, or never made with this key)",
                                     ErrorCode.UNKNOWN_VOICE)]
        record = stored.record
        engine = self.backend.engine(record.model)
        if engine is None:
            return None, [FieldError(param, f"saved voice {record.id} belongs to model {record.model}, which this "
                                            "server no longer serves", ErrorCode.UNKNOWN_VOICE)]
        if spec.model is not None and spec.model != record.model:
            return None, [FieldError("model", f"saved voice {record.id} belongs to model {record.model}; "
                                              "leave model out or name that one", ErrorCode.BAD_MESSAGE)]
        return ResolvedVoice(replace(spec, mode="voice_clone", model=record.model), voice_print(stored)), []

    async def sample(self, owner: str, voice_id: str, format: str) -> bytes:
        """A short preview of the voice, as one audio file (the same every time: a fixed line and seed)."""
        record = await self.get(owner, voice_id)
        spec = VoiceSpec(voice=voice_id, language=record.language,
                         generation=GenerationParams(max_new_tokens=PREVIEW_MAX_FRAMES))
        resolved, errors = await self.resolve(spec, owner)
        if resolved is None:
            raise VoiceLibraryError("not_found", "; ".join(e.message for e in errors), "voice_id")
        voice_request, errors = await self.backend.bind_voice(resolved.spec, PREVIEW_SEED, saved=resolved.saved)
        if voice_request is None:
            raise VoiceLibraryError("failed", "; ".join(e.describe() for e in errors))
        samples = await self._speak(voice_request, str(record.details.get("text") or PREVIEW_TEXT))
        rate = self.backend.model_info(voice_request.model).sample_rate
        return await self.backend.run_blocking(self.backend.encode_audio, samples, rate, format)

    async def _speak(self, voice_request: Any, text: str) -> np.ndarray:
        pieces: list[np.ndarray] = []
        try:
            async for piece in self.backend.utterance(voice_request, text):
                chunk: EngineChunk = piece.chunk
                pieces.append(np.asarray(chunk.samples, dtype=np.float32))
        except GenerationError as exc:
            raise VoiceLibraryError("failed", f"generation failed on {voice_request.model}: {exc}") from exc
        return np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)
