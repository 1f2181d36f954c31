"""The Qwen3-TTS engine: one checkpoint directory behind the engine contract.

A voice holds a lease on the shared model (loaded on first use by the ModelManager), its
own seeded generator and, for voice cloning, the clone prompt computed once for the
context. Each segment is generated frame by frame by our step loop (`frames.py`) and
decoded by a stateful decoder (`decoder.py`) as the frames come: a one-frame first chunk so
audio leaves after the first step, then larger ones (`CHUNK_SCHEDULE`). Nothing here runs on the event
loop; `Voice.close` only drops the lease.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from realtime.audio.reference import ReferenceAudio
from realtime.engines.base import (
    CancelFlag,
    Engine,
    EngineChunk,
    GenerationError,
    ModelInfo,
    Voice,
    VoiceFeatureError,
    VoicePrint,
    VoiceRequest,
)
from realtime.engines.qwen3.checkpoints import SAMPLE_RATE, Checkpoint
from realtime.engines.qwen3.manager import Lease, ModelManager
from realtime.engines.problems import ProblemKind, VoiceProblem
from realtime.engines.voice_spec import GENERATION_RANGES, GenerationParams, VoiceSpec

if TYPE_CHECKING:  # torch is imported only once a Qwen3 model is used
    from realtime.engines.qwen3.scheduler import BatchScheduler, StreamRow

logger = logging.getLogger(__name__)

ENGINE_NAME = "qwen3"
# Frames per audio chunk, chunk after chunk (the last size repeats): the first chunk (80 ms)
# leaves after one generation step; then each chunk doubles, so the audio sent stays ahead
# of playback while decoder calls become fewer and larger.
CHUNK_SCHEDULE = (1, 2, 4, 8)


def chunk_frames(index: int) -> int:
    """Frames in a segment's chunk number `index` (0, 1, ...)."""
    return CHUNK_SCHEDULE[min(index, len(CHUNK_SCHEDULE) - 1)]

PRIMED_DECODERS_PER_MODEL = 32  # saved in-context voices whose primed decoder is kept, per loaded model

# Per loaded model (weakly: they go when the model is unloaded), the decoders primed with a saved
# voice's reference codes, by voice id: a saved voice's reference is decoded once, not per context.
_primed_decoders: weakref.WeakKeyDictionary[Any, OrderedDict[str, Any]] = weakref.WeakKeyDictionary()
_primed_lock = threading.Lock()


def primed_decoder(tts: Any, voice_id: str, make: Callable[[], Any]) -> Any:
    """The decoder primed for saved voice `voice_id` on this model (made by `make` the first time); fork it."""
    with _primed_lock:
        cache = _primed_decoders.setdefault(tts, OrderedDict())
        decoder = cache.get(voice_id)
        if decoder is not None:
            cache.move_to_end(voice_id)
            return decoder
    decoder = make()  # outside the lock: priming decodes the reference (a few ms to a second)
    with _primed_lock:
        cache = _primed_decoders.setdefault(tts, OrderedDict())
        cache[voice_id] = decoder
        while len(cache) > PRIMED_DECODERS_PER_MODEL:
            cache.popitem(last=False)
    return decoder


DEFAULT_CAPACITY = 32  # sessions one Qwen3 model takes at once (up to --max-batch streams step together)
DEFAULT_MAX_BATCH = 8  # streams of one model stepped together (continuous batching)
WARM_UP_FRAMES = 3


def model_info(checkpoint: Checkpoint, capacity: int = DEFAULT_CAPACITY) -> ModelInfo:
    """What a checkpoint serves, read from its config.json: listed to clients before any load."""
    return ModelInfo(
        name=checkpoint.name,
        engine=ENGINE_NAME,
        modes=(checkpoint.mode,),
        speakers=checkpoint.speakers,
        languages=checkpoint.languages,
        accepts_instruct=checkpoint.accepts_instruct,
        generation_settings=tuple(GENERATION_RANGES),
        sample_rate=SAMPLE_RATE,
        capacity=capacity,
        family=f"qwen3-{checkpoint.size or 'unknown'}",
    )


class Qwen3Engine(Engine):
    """One checkpoint; the model itself lives in the shared ModelManager and loads on first use."""

    reports_own_loads = True  # the manager reports every load to /metrics, preloads included

    def __init__(
        self,
        checkpoint: Checkpoint,
        manager: ModelManager,
        *,
        capacity: int = DEFAULT_CAPACITY,
        preload: bool = False,
        max_batch: int = DEFAULT_MAX_BATCH,
        deterministic: bool = True,
        prefill_lanes: int = 1,
    ) -> None:
        """`max_batch` > 1 steps up to that many streams of this model together on one worker
        thread (`scheduler.py`), with `prefill_lanes` threads prefilling newcomers beside it;
        1 runs each stream alone in the engine threads (`frames.py`)."""
        from realtime.engines.qwen3.scheduler import BatchScheduler

        self.checkpoint = checkpoint
        self.info = model_info(checkpoint, capacity)
        self.manager = manager
        self.preload = preload
        self.max_batch = max_batch
        self.scheduler: BatchScheduler | None = (
            BatchScheduler(max_batch, exact=deterministic, prefill_lanes=prefill_lanes, name=checkpoint.name)
            if max_batch > 1
            else None
        )
        self.waiting_streams = max_batch if max_batch > 1 else 0

    def load(self) -> None:
        """Import the Qwen3 stack now (seconds), so a missing package fails at start-up, not mid-session.

        The weights load lazily, on the first voice that needs them, unless `preload` asks to
        load them now and warm them up with a short utterance (then /ready means ready to speak).
        """
        from realtime.engines.qwen3.runtime import import_qwen_tts

        import_qwen_tts()
        if self.preload:
            self.warm_up()

    def warm_up(self) -> None:
        """Load the model and speak a few frames in this checkpoint's mode, so the first client pays neither."""
        spec = VoiceSpec(
            mode=self.checkpoint.mode,
            speaker=self.info.speakers[0] if self.info.speakers else None,
            instruct="A calm, clear voice." if self.checkpoint.mode == "voice_design" else None,
            x_vector_only=True,
            generation=GenerationParams(max_new_tokens=WARM_UP_FRAMES + 1),
        )
        reference = None
        if self.checkpoint.mode == "voice_clone":  # a second of quiet noise is enough for the speaker encoder
            noise = np.random.default_rng(0).standard_normal(SAMPLE_RATE).astype(np.float32) * 0.05
            reference = ReferenceAudio(noise, SAMPLE_RATE)
        voice = self.open_voice(VoiceRequest(spec=spec, model=self.info.name, seed=0, reference=reference))
        try:
            for _ in voice.synthesize("Hello.", CancelFlag()):
                pass
        finally:
            voice.close()
        logger.info("%s loaded and warmed up", self.info.name)

    def check(self, spec: VoiceSpec) -> list[VoiceProblem]:
        name = self.info.name
        errors: list[VoiceProblem] = []
        if spec.speaker is not None:
            if not self.info.speakers:
                errors.append(
                    VoiceProblem("speaker", f"model {name} ({spec.mode}) has no predefined speakers; leave speaker out")
                )
            elif spec.speaker.lower() not in self.info.speakers:
                errors.append(
                    VoiceProblem(
                        "speaker",
                        f"{spec.speaker!r} is not a speaker of model {name}; valid: {', '.join(self.info.speakers)}",
                        ProblemKind.UNKNOWN_SPEAKER,
                    )
                )
        if spec.language.lower() not in self.info.languages:
            errors.append(
                VoiceProblem(
                    "language",
                    f"model {name} does not speak {spec.language!r}; use one of: {', '.join(self.info.languages)}",
                    ProblemKind.UNKNOWN_LANGUAGE,
                )
            )
        return errors

    def notices(self, spec: VoiceSpec) -> tuple[str, ...]:
        """An instruct this model cannot follow is ignored with a notice, never refused."""
        if spec.instruct is None or self.info.accepts_instruct:
            return ()
        if self.checkpoint.notice:
            return (self.checkpoint.notice,)
        return (
            f"model {self.info.name} clones a voice from reference audio; it takes no instruct: "
            "`instruct` (`instructions` over HTTP) is ignored",
        )

    def open_voice(self, voice_request: VoiceRequest) -> Voice:
        lease = self.manager.acquire(self.checkpoint)
        try:
            return Qwen3Voice(lease, voice_request, self.scheduler)
        except BaseException:
            lease.release()
            raise

    def extract_voice(self, samples: np.ndarray, ref_text: str | None, x_vector_only: bool) -> VoicePrint:
        """The clone prompt of a Base checkpoint, as arrays to store (the speaker encoder and codec run once, here)."""
        from realtime.engines.qwen3.prompts import ClonePrompt, PromptError

        if self.checkpoint.model_type != "base":
            raise VoiceFeatureError(
                f"model {self.info.name} is a {self.checkpoint.model_type} checkpoint; cloning needs a Base checkpoint"
            )
        lease = self.manager.acquire(self.checkpoint)
        try:
            clone = ClonePrompt.from_audio(lease.model, samples, ref_text=ref_text, x_vector_only=x_vector_only)
        except PromptError as exc:
            raise VoiceFeatureError(f"the reference audio cannot be used: {exc}") from exc
        finally:
            lease.release()
        x_vector, codes, text = clone.to_arrays()
        return VoicePrint(x_vector=x_vector, ref_codes=codes, ref_text=text)

    def shutdown(self) -> None:
        if self.scheduler is not None:
            self.scheduler.shutdown()
        self.manager.shutdown()


class Qwen3Voice(Voice):
    """One context's voice: the model lease, the seeded generator, the clone prompt if any."""

    def __init__(self, lease: Lease, voice_request: VoiceRequest, scheduler: BatchScheduler | None = None) -> None:
        from realtime.engines.qwen3.prompts import ClonePrompt, PromptError
        from realtime.engines.qwen3.sampling import SamplingParams, make_generator

        self._lease = lease
        self._scheduler = scheduler
        self._last_row: StreamRow | None = None  # the last segment's row in the batch scheduler
        self._tts: Any = lease.model
        self._spec = voice_request.spec
        self._model_name = voice_request.model
        try:
            self._params = SamplingParams.from_config(self._tts.generate_defaults, voice_request.spec.generation.given())
        except ValueError as exc:
            raise GenerationError(f"generation settings rejected by {voice_request.model}: {exc}") from exc
        self._device = self._tts.model.talker.device
        self._generator = make_generator(voice_request.seed, self._device)
        self._clone: ClonePrompt | None = None
        self._primed: Any = None  # the decoder primed with the reference codes, forked per segment (ICL)
        self._voice_id = voice_request.voice_id
        if voice_request.saved is not None:  # a saved voice: its stored tensors are the clone prompt
            saved = voice_request.saved
            self._clone = ClonePrompt.from_stored(saved.x_vector, saved.ref_codes, saved.ref_text, self._device)
        elif voice_request.spec.mode == "voice_clone":
            if voice_request.reference is None:
                raise GenerationError("voice_clone needs reference audio")
            try:  # computed once for the context: every segment reuses the x-vector and reference codes
                self._clone = ClonePrompt.from_audio(
                    self._tts,
                    voice_request.reference.samples,
                    ref_text=voice_request.spec.ref_text,
                    x_vector_only=voice_request.spec.x_vector_only,
                )
            except PromptError as exc:
                raise GenerationError(f"the reference audio cannot be used: {exc}") from exc

    def _prompt(self, text: str) -> Any:
        from realtime.engines.qwen3 import prompts

        spec = self._spec
        if spec.mode == "custom_voice":
            return prompts.custom_voice_prompt(
                self._tts, text, speaker=(spec.speaker or "").lower(), language=spec.language, instruct=spec.instruct
            )
        if spec.mode == "voice_design":
            return prompts.voice_design_prompt(self._tts, text, instruct=spec.instruct or "", language=spec.language)
        assert self._clone is not None
        return prompts.voice_clone_prompt(self._tts, text, self._clone, language=spec.language)

    def synthesize(self, text: str, cancel: CancelFlag) -> Iterator[EngineChunk]:
        import torch

        from realtime.engines.qwen3.decoder import StreamingDecoder
        from realtime.engines.qwen3.frames import generate_frames, max_frames_for
        from realtime.engines.qwen3.prompts import PromptError

        try:
            prompt = self._prompt(text)
        except PromptError as exc:
            raise GenerationError(f"{self._model_name} cannot take this segment: {exc}") from exc
        max_frames = max_frames_for(text, self._spec.language, self._params.max_new_tokens)
        decoder = self._decoder(StreamingDecoder)
        if self._scheduler is not None:
            yield from self._synthesize_batched(prompt, max_frames, decoder, text, cancel)
            return
        frames = generate_frames(
            self._tts, prompt, self._params, self._generator, lambda: cancel.is_set, max_frames
        )
        try:
            pending: list[torch.Tensor] = []
            chunks = 0
            for frame in frames:
                pending.append(frame)
                if len(pending) >= chunk_frames(chunks):
                    yield EngineChunk(decoder.push(torch.stack(pending)), final=False)
                    pending, chunks = [], chunks + 1
            if cancel.is_set:
                return
            tail = decoder.push(torch.stack(pending)) if pending else np.zeros(0, dtype=np.float32)
            yield EngineChunk(np.concatenate([tail, decoder.finish()]), final=True, notice=self._cut_short(frames.outcome, text))
        finally:
            frames.close()

    def _decoder(self, make: Any) -> Any:
        """A fresh streaming decoder for one segment; for in-context cloning, primed with the reference codes
        (as the official path decodes the reference in front). The priming is done once per voice and forked."""
        if self._clone is None or not self._clone.icl or self._clone.ref_codes is None:
            return make(self._tts.model.speech_tokenizer.model)
        if self._primed is None:
            clone = self._clone

            def primed() -> Any:
                decoder = make(self._tts.model.speech_tokenizer.model)
                decoder.prime(clone.ref_codes)
                return decoder

            # A saved voice's priming is shared by every context on this model; an inline reference is its own.
            self._primed = primed_decoder(self._tts, self._voice_id, primed) if self._voice_id else primed()
        return self._primed.fork()

    def _synthesize_batched(
        self, prompt: Any, max_frames: int, decoder: Any, text: str, cancel: CancelFlag
    ) -> Iterator[EngineChunk]:
        """The segment as one row of the model's batch scheduler: this thread only waits for its chunks."""
        assert self._scheduler is not None
        if self._last_row is not None:  # a cancelled segment's row may finish its stage: never two draw at once
            self._last_row.wait_released()
        row = self._last_row = self._scheduler.submit(
            self._tts, prompt, self._params, self._generator, max_frames, cancel, decoder, chunk_frames
        )
        try:
            while (output := row.next_output()) is not None:
                if output.final:
                    yield EngineChunk(output.samples, final=True, notice=self._cut_short(row.state.outcome, text))
                    return
                yield EngineChunk(output.samples, final=False)
        finally:
            row.close()

    def _cut_short(self, outcome: Any, text: str) -> str | None:
        """The notice for a segment that hit the frame bound (the model never said it was done)."""
        if outcome is None or not outcome.hit_limit:
            return None
        logger.warning(
            "%s: no end of speech within the bound of %d frames (%d characters of text); segment cut there",
            self._model_name, outcome.max_frames, len(text),
        )
        return (
            f"the model did not end this segment within its bound of {outcome.max_frames} frames "
            f"({outcome.max_frames / 12.5:.1f} s, set by the text length and max_new_tokens); its audio was cut there"
        )

    def close(self) -> None:
        self._lease.release()
