"""The embedded engine: hibari-tts, a small neural English voice shipped inside its wheel.

It lets the server speak on a fresh machine with nothing to download. It synthesizes a
segment's phoneme groups one at a time (one onnxruntime run each), so cancel is
checked between runs, and hands the audio on in small pieces so the first piece
leaves quickly.
"""

from __future__ import annotations

import logging
import queue
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import numpy as np

from realtime.engines.base import (
    CancelFlag,
    Engine,
    EngineChunk,
    GenerationError,
    ModelInfo,
    Voice,
    VoiceRequest,
)
from realtime.engines.problems import ProblemKind, VoiceProblem
from realtime.engines.voice_spec import VoiceSpec

if TYPE_CHECKING:
    from hibari import Hibari

logger = logging.getLogger(__name__)

HIBARI_MODEL_NAME = "hibari"
HIBARI_SPEAKER = "heart"
HIBARI_SAMPLE_RATE = 24000
FIRST_PIECE_SAMPLES = 2400  # 100 ms: the first piece is small so playback starts at once
PIECE_SAMPLES = 4800  # 200 ms afterwards
HIBARI_INFO = ModelInfo(
    name=HIBARI_MODEL_NAME,
    engine="hibari",
    modes=("custom_voice",),
    speakers=(HIBARI_SPEAKER,),
    languages=("auto", "english"),
    accepts_instruct=False,
    generation_settings=(),
    sample_rate=HIBARI_SAMPLE_RATE,
    capacity=64,
)


def split_pieces(audio: np.ndarray, first: bool) -> list[np.ndarray]:
    """Cut one run's audio into wire-sized pieces; the utterance's first piece is shorter."""
    pieces: list[np.ndarray] = []
    start = 0
    size = FIRST_PIECE_SAMPLES if first else PIECE_SAMPLES
    while start < len(audio):
        pieces.append(audio[start : start + size])
        start += size
        size = PIECE_SAMPLES
    return pieces


class HibariVoice(Voice):
    """Per-context state: the seeded noise generator, consumed segment after segment."""

    def __init__(self, engine: HibariEngine, seed: int) -> None:
        self._engine = engine
        self._rng = np.random.default_rng(seed)

    def synthesize(self, text: str, cancel: CancelFlag) -> Iterator[EngineChunk]:
        with self._engine.instance() as tts:
            try:
                groups = tts.phonemize(text)
            except Exception as exc:  # the G2P is third-party code: report, do not crash the session
                raise GenerationError(f"hibari could not phonemize the text: {exc}") from exc
        runs = [group for group in groups if group]
        closed = False
        for index, phonemes in enumerate(runs):
            if cancel.is_set:
                return
            with self._engine.instance() as tts:
                try:
                    audio = tts.from_ids(tts.ids(phonemes), 1.0, self._rng)
                except Exception as exc:
                    raise GenerationError(f"hibari failed on a segment: {exc}") from exc
            pieces = split_pieces(np.asarray(audio, dtype=np.float32), first=index == 0)
            last_run = index == len(runs) - 1
            for position, piece in enumerate(pieces):
                if cancel.is_set:
                    return
                closed = last_run and position == len(pieces) - 1
                yield EngineChunk(piece, final=closed)
        if not closed:
            # No audio at the end (e.g. text hibari cannot read): the segment still closes.
            yield EngineChunk(np.zeros(0, dtype=np.float32), final=True)


class HibariEngine(Engine):
    """A small pool of hibari instances, one per worker thread that may run at once."""

    info = HIBARI_INFO

    def __init__(self, threads: int = 2) -> None:
        self._threads = max(1, threads)
        self._pool: queue.Queue[Hibari] = queue.Queue()
        self._loaded = False

    def load(self) -> None:
        if self._loaded:
            return
        from hibari import Hibari  # imported here: the server starts fast and imports only what it uses

        for _ in range(self._threads):
            tts = Hibari(threads=1)
            _without_memory_arena(tts)
            tts(".", seed=0)  # warm-up: loads the G2P lexicons and runs the model once
            self._pool.put(tts)
        self._loaded = True
        logger.info("hibari engine loaded (%d instances)", self._threads)

    @contextmanager
    def instance(self) -> Iterator[Hibari]:
        if not self._loaded:
            raise GenerationError("hibari engine is not loaded")
        tts = self._pool.get()
        try:
            yield tts
        finally:
            self._pool.put(tts)

    def check(self, spec: VoiceSpec) -> list[VoiceProblem]:
        errors: list[VoiceProblem] = []
        if spec.speaker is not None and spec.speaker.lower() != HIBARI_SPEAKER:
            errors.append(
                VoiceProblem(
                    "speaker",
                    f"{spec.speaker!r} is not a speaker of model {HIBARI_MODEL_NAME}; valid: {HIBARI_SPEAKER}",
                    ProblemKind.UNKNOWN_SPEAKER,
                )
            )
        if spec.language not in self.info.languages:
            errors.append(
                VoiceProblem(
                    "language",
                    f"model {HIBARI_MODEL_NAME} speaks English only; use one of: {', '.join(self.info.languages)}",
                    ProblemKind.UNKNOWN_LANGUAGE,
                )
            )
        return errors

    def notices(self, spec: VoiceSpec) -> tuple[str, ...]:
        """Settings this model cannot use are ignored, not refused: a client written for another model still gets audio."""
        notices: list[str] = []
        if spec.instruct is not None:
            notices.append(
                f"model {HIBARI_MODEL_NAME} takes no style instruct: `instruct` (`instructions` over HTTP) is ignored"
            )
        given = list(spec.generation.given())
        if given:
            notices.append(
                f"model {HIBARI_MODEL_NAME} does not sample: generation settings are ignored ({', '.join(given)})"
            )
        return tuple(notices)

    def open_voice(self, voice_request: VoiceRequest) -> Voice:
        return HibariVoice(self, voice_request.seed)

    def shutdown(self) -> None:
        while not self._pool.empty():
            self._pool.get_nowait()
        self._loaded = False


def _without_memory_arena(tts: Hibari) -> None:
    """Reopen hibari's onnxruntime session with the CPU memory arena off.

    The arena keeps, per instance, as much memory as the longest phoneme run it has ever
    seen needed (long spelled-out numbers make long runs), and never gives it back: a soak
    showed the server's RSS rising in steps. Without it, one instance's RSS stayed 17 MiB
    lower after the same 60 runs, and the runs were no slower (measured here, noisy).
    Hibari 0.2.1 builds the session in its constructor; the same options are kept.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    options.log_severity_level = 3
    options.enable_cpu_mem_arena = False
    tts.sess = ort.InferenceSession(tts.model_path, options, providers=["CPUExecutionProvider"])
