"""Qwen3Engine on tiny random checkpoints: validation, streaming shape, exact decoding, seeds, cancel, cloning."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from realtime.audio.reference import ReferenceAudio
from realtime.engines.base import CancelFlag, EngineChunk, VoiceRequest
from realtime.engines.qwen3.checkpoints import read_checkpoint
from realtime.engines.qwen3.engine import CHUNK_SCHEDULE, Qwen3Engine, chunk_frames
from realtime.engines.qwen3.manager import ModelManager, official_loader
from realtime.engines.qwen3.runtime import LoadOptions
from realtime.engines.problems import ProblemKind
from realtime.engines.voice_spec import GenerationParams, VoiceSpec
from tests.support.qwen_models import reference_audio

SAMPLES_PER_FRAME = 1920
FRAMES = 9  # bounded with max_new_tokens (FRAMES + 1: the last token never becomes a frame); random weights rarely say EOS


@pytest.fixture(scope="module")
def engines(tiny_checkpoints: dict[str, Path]) -> Iterator[dict[str, Qwen3Engine]]:
    import torch

    torch.set_num_threads(1)
    manager = ModelManager(official_loader(LoadOptions(device="cpu")), idle_timeout_s=None)
    yield {kind: Qwen3Engine(read_checkpoint(path), manager) for kind, path in tiny_checkpoints.items()}
    manager.shutdown()


def _spec(mode: str = "custom_voice", frames: int = FRAMES, **fields: Any) -> VoiceSpec:
    defaults: dict[str, Any] = {"custom_voice": {"speaker": "ryan"}, "voice_design": {"instruct": "a calm low voice"}}
    return VoiceSpec(
        mode=mode,
        language=fields.pop("language", "english"),
        generation=GenerationParams(max_new_tokens=frames + 1),
        **{**defaults.get(mode, {}), **fields},
    )


def _speak(engine: Qwen3Engine, spec: VoiceSpec, seed: int, texts: list[str], reference: ReferenceAudio | None = None) -> list[list[EngineChunk]]:
    voice = engine.open_voice(VoiceRequest(spec=spec, model=engine.info.name, seed=seed, reference=reference))
    try:
        return [list(voice.synthesize(text, CancelFlag())) for text in texts]
    finally:
        voice.close()


def _audio(chunks: list[EngineChunk]) -> np.ndarray:
    return np.concatenate([chunk.samples for chunk in chunks])


def test_model_info_comes_from_the_checkpoint(engines: dict[str, Qwen3Engine]) -> None:
    custom = engines["custom_voice"].info
    assert custom.modes == ("custom_voice",) and custom.engine == "qwen3" and "ryan" in custom.speakers
    assert engines["base"].info.modes == ("voice_clone",) and engines["base"].info.speakers == ()
    assert engines["voice_design"].info.modes == ("voice_design",) and engines["voice_design"].info.accepts_instruct
    assert "english" in custom.languages and custom.sample_rate == 24000


def test_check_names_unknown_speaker_instruct_on_base_and_unknown_language(engines: dict[str, Qwen3Engine]) -> None:
    [speaker] = engines["custom_voice"].check(_spec(speaker="nobody"))
    assert speaker.field == "speaker" and speaker.kind is ProblemKind.UNKNOWN_SPEAKER and "ryan" in speaker.message
    instructed = _spec("voice_clone", instruct="sound happy", x_vector_only=True)
    assert engines["base"].check(instructed) == []  # ignored with a notice since issue 15, not refused
    assert "ignored" in " ".join(engines["base"].notices(instructed))
    [language] = engines["voice_design"].check(_spec("voice_design", language="klingon"))
    assert language.field == "language" and language.kind is ProblemKind.UNKNOWN_LANGUAGE and "english" in language.message
    assert engines["custom_voice"].check(_spec(speaker="Ryan")) == []  # speakers are matched case-insensitively


def test_a_0b6_custom_voice_accepts_instruct_with_a_notice(tiny_checkpoints: dict[str, Path], tmp_path: Path) -> None:
    small = tmp_path / "small-custom-voice"
    small.mkdir()
    config = json.loads((tiny_checkpoints["custom_voice"] / "config.json").read_text())
    (small / "config.json").write_text(json.dumps({**config, "tts_model_size": "0b6"}))
    engine = Qwen3Engine(read_checkpoint(small), ModelManager(lambda checkpoint: None, idle_timeout_s=None))
    with_instruct = _spec(instruct="whisper")
    assert engine.check(with_instruct) == []
    [notice] = engine.notices(with_instruct)
    assert "ignores" in notice and "instruct" in notice
    assert engine.notices(_spec()) == ()
    shutil.rmtree(small)


def test_chunk_schedule_starts_small_and_grows() -> None:
    assert chunk_frames(0) == 1
    assert [chunk_frames(i) for i in range(6)] == sorted(chunk_frames(i) for i in range(6))
    assert chunk_frames(100) == CHUNK_SCHEDULE[-1]


def test_audio_streams_in_a_small_first_chunk_then_larger_ones(engines: dict[str, Qwen3Engine]) -> None:
    [chunks] = _speak(engines["custom_voice"], _spec(), seed=1, texts=["Hello there, streaming world."])
    sizes = [len(chunk.samples) // SAMPLES_PER_FRAME for chunk in chunks]
    assert sizes == [1, 2, 4, 2]  # the schedule, then what is left of the FRAMES when the bound stops it
    assert sum(len(chunk.samples) for chunk in chunks) == FRAMES * SAMPLES_PER_FRAME
    assert [chunk.final for chunk in chunks] == [False] * (len(chunks) - 1) + [True]
    assert chunks[-1].notice is not None and f"{FRAMES} frames" in chunks[-1].notice  # no EOS: the cut is reported
    assert all(chunk.notice is None for chunk in chunks[:-1])


def test_streamed_audio_equals_the_whole_utterance_decode_of_the_same_codes(engines: dict[str, Qwen3Engine]) -> None:
    import torch

    from realtime.engines.qwen3 import prompts
    from realtime.engines.qwen3.frames import generate_frames
    from realtime.engines.qwen3.sampling import SamplingParams, make_generator

    engine, text, seed = engines["custom_voice"], "Exactness matters here.", 5
    [chunks] = _speak(engine, _spec(), seed=seed, texts=[text])
    with engine.manager.acquire(engine.checkpoint) as lease:  # the same codes, generated apart
        tts = lease.model
        params = SamplingParams.from_config(tts.generate_defaults, {"max_new_tokens": FRAMES + 1})
        prompt = prompts.custom_voice_prompt(tts, text, speaker="ryan", language="english")
        codes = torch.stack(list(generate_frames(tts, prompt, params, make_generator(seed), lambda: False, FRAMES)))
        wavs, _ = tts.model.speech_tokenizer.decode([{"audio_codes": codes}])
    whole = np.asarray(wavs[0], dtype=np.float32)
    streamed = _audio(chunks)
    assert streamed.shape == whole.shape
    assert np.max(np.abs(streamed - whole)) <= 1e-5


def test_same_seed_same_audio_across_segments_and_other_seed_differs(engines: dict[str, Qwen3Engine]) -> None:
    texts = ["First line.", "Second line."]
    first = _speak(engines["voice_design"], _spec("voice_design"), seed=11, texts=texts)
    again = _speak(engines["voice_design"], _spec("voice_design"), seed=11, texts=texts)
    other = _speak(engines["voice_design"], _spec("voice_design"), seed=12, texts=texts)
    for a, b in zip(first, again):
        assert np.array_equal(_audio(a), _audio(b))
    assert not np.array_equal(_audio(first[0]), _audio(other[0]))
    assert not np.array_equal(_audio(first[0]), _audio(first[1]))  # the generator moves on between segments


def test_concurrent_voices_on_one_model_each_sound_as_alone(engines: dict[str, Qwen3Engine]) -> None:
    engine = engines["custom_voice"]
    alone = {seed: _audio(_speak(engine, _spec(), seed, ["Together now."])[0]) for seed in (21, 22)}
    together: dict[int, np.ndarray] = {}

    def run(seed: int) -> None:
        together[seed] = _audio(_speak(engine, _spec(), seed, ["Together now."])[0])

    threads = [threading.Thread(target=run, args=(seed,)) for seed in (21, 22)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for seed in (21, 22):
        assert np.array_equal(together[seed], alone[seed])


def test_cancel_stops_generation_within_a_chunk(engines: dict[str, Qwen3Engine]) -> None:
    engine = engines["custom_voice"]
    spec = _spec(frames=60)
    voice = engine.open_voice(VoiceRequest(spec=spec, model=engine.info.name, seed=3))
    cancel = CancelFlag()
    stream = voice.synthesize("A long line that will be interrupted.", cancel)
    first = next(stream)
    cancel.set()
    rest = list(stream)
    voice.close()
    assert len(first.samples) == chunk_frames(0) * SAMPLES_PER_FRAME
    assert sum(len(chunk.samples) for chunk in rest) <= chunk_frames(1) * SAMPLES_PER_FRAME  # at most the chunk in progress
    assert not any(chunk.final for chunk in rest)


@pytest.mark.parametrize("x_vector_only", [True, False], ids=["x-vector", "in-context"])
def test_voice_clone_speaks_from_reference_audio(engines: dict[str, Qwen3Engine], x_vector_only: bool) -> None:
    reference = ReferenceAudio(reference_audio(1.5), 24000)
    spec = _spec("voice_clone", x_vector_only=x_vector_only, ref_text=None if x_vector_only else "A short reference.")
    first = _speak(engines["base"], spec, seed=9, texts=["Cloned speech."], reference=reference)
    again = _speak(engines["base"], spec, seed=9, texts=["Cloned speech."], reference=reference)
    audio = _audio(first[0])
    assert audio.size == FRAMES * SAMPLES_PER_FRAME and np.isfinite(audio).all() and np.abs(audio).max() > 0
    assert np.array_equal(audio, _audio(again[0]))


def test_the_lease_is_released_when_the_voice_closes(engines: dict[str, Qwen3Engine]) -> None:
    engine = engines["voice_design"]
    before = engine.manager.stats().leases
    voice = engine.open_voice(VoiceRequest(spec=_spec("voice_design"), model=engine.info.name, seed=1))
    assert engine.manager.stats().leases == before + 1
    voice.close()
    assert engine.manager.stats().leases == before


def test_audio_is_byte_identical_alone_and_beside_three_others_joining_late(engines: dict[str, Qwen3Engine]) -> None:
    engine = engines["custom_voice"]
    assert engine.scheduler is not None  # batched by default
    texts = {31: "Together now.", 32: "A second voice.", 33: "Third.", 34: "And a fourth, longer one."}
    alone = {seed: _audio(_speak(engine, _spec(), seed, [text])[0]) for seed, text in texts.items()}
    together: dict[int, np.ndarray] = {}
    started = threading.Event()

    def run(seed: int) -> None:
        voice = engine.open_voice(VoiceRequest(spec=_spec(), model=engine.info.name, seed=seed))
        try:
            chunks = []
            for chunk in voice.synthesize(texts[seed], CancelFlag()):
                chunks.append(chunk)
                started.set()
            together[seed] = _audio(chunks)
        finally:
            voice.close()

    first = threading.Thread(target=run, args=(31,))
    first.start()
    assert started.wait(60)  # the others join once the first is speaking
    late = [threading.Thread(target=run, args=(seed,)) for seed in (32, 33, 34)]
    for thread in late:
        thread.start()
    for thread in [first, *late]:
        thread.join(timeout=120)
    for seed in texts:
        assert together[seed].tobytes() == alone[seed].tobytes()


def test_max_batch_one_keeps_the_per_stream_loop(tiny_checkpoints: dict[str, Path]) -> None:
    manager = ModelManager(official_loader(LoadOptions(device="cpu")), idle_timeout_s=None)
    try:
        engine = Qwen3Engine(read_checkpoint(tiny_checkpoints["custom_voice"]), manager, max_batch=1)
        assert engine.scheduler is None and engine.waiting_streams == 0
        audio = _audio(_speak(engine, _spec(), 5, ["Alone."])[0])
        assert audio.size == FRAMES * SAMPLES_PER_FRAME and np.isfinite(audio).all()
    finally:
        manager.shutdown()


def test_an_idle_model_unloads_only_after_its_batch_drains(tiny_checkpoints: dict[str, Path]) -> None:
    now = [0.0]
    manager = ModelManager(
        official_loader(LoadOptions(device="cpu")), idle_timeout_s=1.0, clock=lambda: now[0], background_sweep=False
    )
    engine = Qwen3Engine(read_checkpoint(tiny_checkpoints["custom_voice"]), manager)
    try:
        voice = engine.open_voice(VoiceRequest(spec=_spec(frames=30), model=engine.info.name, seed=1))
        stream = voice.synthesize("Still speaking while the sweeper looks.", CancelFlag())
        next(stream)
        now[0] += 10
        assert manager.sweep() == [] and engine.scheduler is not None and engine.scheduler.running
        rest = list(stream)
        voice.close()
        assert rest[-1].final
        assert engine.scheduler.wait_idle(30)
        now[0] += 10
        assert manager.sweep() == [engine.info.name]
    finally:
        engine.shutdown()


def test_the_server_options_reach_each_qwen3_engine(tiny_checkpoints: dict[str, Path]) -> None:
    from realtime.config import ServerConfig
    from realtime.engines.catalog import qwen3_engines

    checkpoint = read_checkpoint(tiny_checkpoints["custom_voice"])
    [batched] = qwen3_engines([checkpoint], ServerConfig(max_batch=4, deterministic=False))
    assert batched.scheduler is not None and batched.scheduler.max_batch == 4 and not batched.scheduler.exact
    assert batched.waiting_streams == 4
    [alone] = qwen3_engines([checkpoint], ServerConfig(max_batch=1))
    assert alone.scheduler is None
