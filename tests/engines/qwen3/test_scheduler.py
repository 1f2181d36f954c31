"""The batch scheduler on tiny checkpoints: a row's codes never depend on the batch (alone,
beside 1, 3 or 7 others, joining early or late, neighbours leaving), greedy equals the
official codes, mixed prompts in one batch, cancel, backpressure, per-row failure, and an
idle scheduler that lets go of the model."""

from __future__ import annotations

import gc
import threading
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from realtime.engines.base import CancelFlag, GenerationError
from realtime.engines.qwen3.engine import chunk_frames
from realtime.engines.qwen3.frames import generate_frames
from realtime.engines.qwen3.prompts import ClonePrompt, TalkerPrompt, custom_voice_prompt, voice_clone_prompt
from realtime.engines.qwen3.sampling import SamplingParams, make_generator
from realtime.engines.qwen3.scheduler import BatchScheduler, StreamRow
from tests.support.qwen_models import load_tiny, official_codes, qwen_models, reference_audio  # noqa: F401  (fixture)

FRAMES = 10
TEXTS = [
    "Hello world, this is a test.",
    "Short.",
    "A much longer sentence that keeps going, and going, on and on.",
    "Yes?",
    "Numbers: 1, 2, 3.",
    "Another line for the batch.",
    "Quiet now.",
    "The last of eight.",
]


class RecordingDecoder:
    """Stands in for the streaming decoder: keeps the frames, returns one sample per frame."""

    def __init__(self, fail_after: int | None = None) -> None:
        self.frames: list[torch.Tensor] = []
        self.fail_after = fail_after

    def push(self, frames: torch.Tensor) -> np.ndarray:
        self.frames.extend(frames.clone())
        if self.fail_after is not None and len(self.frames) > self.fail_after:
            raise RuntimeError("decoder broke")
        return np.zeros(frames.shape[0], dtype=np.float32)

    def finish(self) -> np.ndarray:
        return np.zeros(0, dtype=np.float32)

    def codes(self) -> torch.Tensor:
        return torch.stack(self.frames) if self.frames else torch.empty((0, 16), dtype=torch.long)


@dataclass
class Stream:
    row: StreamRow
    decoder: RecordingDecoder
    cancel: CancelFlag
    pieces: int = 0
    final: bool = False
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)

    def drain(self) -> Stream:
        try:
            while (output := self.row.next_output()) is not None:
                self.pieces += 1
                if output.final:
                    self.final = True
                    break
        except GenerationError as exc:
            self.error = exc
        finally:
            self.row.close()
            self.done.set()
        return self

    def codes(self) -> torch.Tensor:
        return self.decoder.codes()


@pytest.fixture(scope="module")
def tts(qwen_models: dict[str, Any]) -> Any:  # noqa: F811
    return qwen_models["custom_voice"]


@pytest.fixture(scope="module")
def sampled(tts: Any) -> SamplingParams:
    return SamplingParams.from_config(tts.generate_defaults)


@pytest.fixture(scope="module")
def greedy(tts: Any) -> SamplingParams:
    return SamplingParams.from_config(tts.generate_defaults, {"temperature": 0, "subtalker_do_sample": False})


def prompt_for(tts: Any, text: str, speaker: str = "ryan") -> TalkerPrompt:
    return custom_voice_prompt(tts, text, speaker=speaker, language="english")


def submit(
    scheduler: BatchScheduler, tts: Any, prompt: TalkerPrompt, params: SamplingParams, seed: int,
    frames: int = FRAMES, decoder: RecordingDecoder | None = None,
) -> Stream:
    """One row on `scheduler`, read later with `Stream.drain`."""
    decoder = decoder or RecordingDecoder()
    cancel = CancelFlag()
    row = scheduler.submit(tts, prompt, params, make_generator(seed), frames, cancel, decoder, chunk_frames)
    return Stream(row, decoder, cancel)


def run_together(
    tts: Any, prompts: list[TalkerPrompt], params: SamplingParams, seeds: list[int], frames: int = FRAMES,
    **options: Any,
) -> list[torch.Tensor]:
    """All rows submitted at once, read concurrently (one consumer thread each, as the engine does)."""
    scheduler = BatchScheduler(8, **options)
    streams = [submit(scheduler, tts, prompt, params, seed, frames=frames) for prompt, seed in zip(prompts, seeds)]
    threads = [threading.Thread(target=stream.drain) for stream in streams]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert all(stream.final for stream in streams)
    assert scheduler.wait_idle(30)
    return [stream.codes() for stream in streams]


def alone(tts: Any, prompt: TalkerPrompt, params: SamplingParams, seed: int, frames: int = FRAMES) -> torch.Tensor:
    return run_together(tts, [prompt], params, [seed], frames)[0]


@pytest.mark.parametrize("mode", ["sampled", "greedy"])
def test_a_row_gives_the_same_codes_alone_and_beside_1_3_and_7_others(tts: Any, mode: str, request: pytest.FixtureRequest) -> None:
    params = request.getfixturevalue(mode)
    prompts = [prompt_for(tts, text) for text in TEXTS]
    solo = [alone(tts, prompt, params, seed) for seed, prompt in enumerate(prompts)]
    assert all(codes.shape == (FRAMES, 16) for codes in solo)
    for batch in (2, 4, 8):
        together = run_together(tts, prompts[:batch], params, list(range(batch)))
        for seed in range(batch):
            assert torch.equal(together[seed], solo[seed]), (batch, seed)


def test_greedy_rows_in_a_batch_equal_the_official_codes(tts: Any, greedy: SamplingParams) -> None:
    texts = TEXTS[:3]
    speakers = ["ryan", "vivian", "eric"]
    official = [
        official_codes(tts, "generate_custom_voice", FRAMES, greedy, text=text, speaker=speaker, language="english")
        for text, speaker in zip(texts, speakers)
    ]
    together = run_together(tts, [prompt_for(tts, t, s) for t, s in zip(texts, speakers)], greedy, [5, 6, 7])
    for mine, theirs in zip(together, official):
        assert torch.equal(mine, theirs)


def test_a_sampled_row_equals_the_per_stream_loop(tts: Any, sampled: SamplingParams) -> None:
    prompt = prompt_for(tts, TEXTS[0])
    per_stream = torch.stack(list(generate_frames(tts, prompt, sampled, make_generator(3), lambda: False, FRAMES)))
    assert torch.equal(alone(tts, prompt, sampled, 3), per_stream)


def test_rows_joining_late_and_neighbours_leaving_mid_stream_change_nothing(tts: Any, sampled: SamplingParams) -> None:
    prompts = [prompt_for(tts, text) for text in TEXTS[:4]]
    long_frames = 24
    solo_first = alone(tts, prompts[0], sampled, 40)
    scheduler = BatchScheduler(8)
    first = submit(scheduler, tts, prompts[0], sampled, 40)
    first_thread = threading.Thread(target=first.drain)
    first_thread.start()
    # a neighbour that leaves after a few frames, and two that join once the first is well under way
    leaver = submit(scheduler, tts, prompts[1], sampled, 41, frames=long_frames)
    with scheduler.condition:
        assert scheduler.condition.wait_for(lambda: len(first.decoder.frames) >= 3, 60)
    late = [submit(scheduler, tts, prompt, sampled, seed) for prompt, seed in ((prompts[2], 42), (prompts[3], 43))]
    assert leaver.row.next_output() is not None
    leaver.row.close()
    late_threads = [threading.Thread(target=stream.drain) for stream in late]
    for thread in late_threads:
        thread.start()
    for thread in [first_thread, *late_threads]:
        thread.join(timeout=120)
    assert torch.equal(first.codes(), solo_first)
    for stream, prompt, seed in zip(late, prompts[2:], (42, 43)):
        assert torch.equal(stream.codes(), alone(tts, prompt, sampled, seed))
    assert scheduler.wait_idle(30)
    assert len(leaver.decoder.frames) < long_frames


def test_clone_rows_with_and_without_reference_text_share_a_batch(qwen_models: dict[str, Any], sampled: SamplingParams) -> None:  # noqa: F811
    base = qwen_models["base"]
    params = SamplingParams.from_config(base.generate_defaults)
    samples = reference_audio(1.5)
    x_vector = ClonePrompt.from_audio(base, samples, x_vector_only=True)
    icl = ClonePrompt.from_audio(base, samples, ref_text="A short reference.")
    prompts = [
        voice_clone_prompt(base, "Cloned speech.", x_vector, language="english"),
        voice_clone_prompt(base, "Cloned speech, in context.", icl, language="english"),
    ]
    assert prompts[0].length != prompts[1].length  # ragged rows
    solo = [alone(base, prompt, params, seed) for seed, prompt in enumerate(prompts)]
    assert [torch.equal(a, b) for a, b in zip(run_together(base, prompts, params, [0, 1]), solo)] == [True, True]


def test_a_long_prompt_is_prefilled_in_pieces_while_the_others_keep_speaking(
    qwen_models: dict[str, Any],  # noqa: F811
) -> None:
    design = qwen_models["voice_design"]
    params = SamplingParams.from_config(design.generate_defaults)
    instruct = "A warm, slow, deep voice with a slight rasp, speaking close to the microphone in a quiet room."
    from realtime.engines.qwen3.prompts import voice_design_prompt

    long_prompt = voice_design_prompt(design, "Hello there.", instruct=instruct, language="english")
    short_prompt = voice_design_prompt(design, "Hi.", instruct="Calm.", language="english")
    chunk = 4
    pieces = -(-long_prompt.length // chunk)
    assert pieces >= 4
    # the worker alone, one piece per iteration (no lane, no inline budget); the speaker never pauses
    scheduler = BatchScheduler(8, prefill_chunk=chunk, prefill_lanes=0, prefill_steps=0, max_queued_chunks=10_000)
    speaker = submit(scheduler, design, short_prompt, params, 1, frames=60)
    with scheduler.condition:
        assert scheduler.condition.wait_for(lambda: len(speaker.decoder.frames) >= 2, 60)
        frames_at_join = speaker.row.state.frames  # frames made (the decoder gets them a chunk at a time)
    newcomer = submit(scheduler, design, long_prompt, params, 2)
    assert newcomer.row.next_output() is not None
    with scheduler.condition:
        frames_meanwhile = speaker.row.state.frames - frames_at_join
    assert frames_meanwhile >= pieces - 1  # a step for the speaker with every piece of the newcomer's prefill
    for stream in (newcomer, speaker):
        stream.drain()
    # pieces depend on the prompt alone: the same codes alone, whole or in pieces beside others
    solo = BatchScheduler(8, prefill_chunk=chunk)
    alone_stream = submit(solo, design, long_prompt, params, 2)
    alone_stream.drain()
    assert torch.equal(newcomer.codes(), alone_stream.codes())
    assert solo.wait_idle(30) and scheduler.wait_idle(30)


def test_cancel_inside_a_batch_ends_that_row_within_a_step_and_spares_the_others(tts: Any, sampled: SamplingParams) -> None:
    prompts = [prompt_for(tts, text) for text in TEXTS[:3]]
    solo = [alone(tts, prompt, sampled, seed) for seed, prompt in enumerate(prompts)]
    scheduler = BatchScheduler(8)
    streams = [submit(scheduler, tts, prompt, sampled, seed, frames=FRAMES if seed else 60) for seed, prompt in enumerate(prompts)]
    victim = streams[0]
    assert victim.row.next_output() is not None
    victim.cancel.set()
    frames_at_cancel = len(victim.decoder.frames)
    others = [threading.Thread(target=stream.drain) for stream in streams[1:]]
    for thread in others:
        thread.start()
    for thread in others:
        thread.join(timeout=120)
    assert victim.row.next_output() is None
    assert victim.row.wait_released(30)
    assert victim.row.state.outcome is not None and victim.row.state.outcome.reason == "stopped"
    assert len(victim.decoder.frames) <= frames_at_cancel + 1
    for stream, codes in zip(streams[1:], solo[1:]):
        assert torch.equal(stream.codes(), codes)
    assert scheduler.wait_idle(30)


class BlockingDecoder(RecordingDecoder):
    """Holds the worker inside its decode stage until released."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()

    def push(self, frames: torch.Tensor) -> np.ndarray:
        self.entered.set()
        assert self.release.wait(60)
        return super().push(frames)


def test_closing_a_row_never_waits_for_the_worker_and_the_next_row_does(tts: Any, sampled: SamplingParams) -> None:
    scheduler = BatchScheduler(8)
    decoder = BlockingDecoder()
    held = submit(scheduler, tts, prompt_for(tts, TEXTS[0]), sampled, 1, decoder=decoder)
    assert decoder.entered.wait(60)  # the worker is inside this row's stage now
    closer = threading.Thread(target=held.row.close)
    closer.start()
    closer.join(timeout=10)
    assert not closer.is_alive()  # close returned although the worker still holds the row
    assert not held.row.wait_released(0.05)
    decoder.release.set()
    assert held.row.wait_released(30)
    assert held.row.state.outcome is not None and held.row.state.outcome.reason == "stopped"
    assert scheduler.wait_idle(30)


def test_a_slow_reader_pauses_its_row_without_stalling_the_others(tts: Any, sampled: SamplingParams) -> None:
    scheduler = BatchScheduler(8, max_queued_chunks=2)
    slow = submit(scheduler, tts, prompt_for(tts, TEXTS[0]), sampled, 1, frames=40)
    fast = submit(scheduler, tts, prompt_for(tts, TEXTS[1]), sampled, 2, frames=40)
    fast.drain()
    assert fast.final
    # the slow row produced its two queued chunks (1 + 2 frames) and maybe one more frame, then waited
    assert len(slow.decoder.frames) <= 4
    assert slow.row.state.outcome is None
    slow.drain()
    assert slow.final and torch.equal(slow.codes(), alone(tts, prompt_for(tts, TEXTS[0]), sampled, 1, frames=40))
    assert scheduler.wait_idle(30)


def test_a_row_whose_decoder_fails_fails_alone(tts: Any, sampled: SamplingParams) -> None:
    scheduler = BatchScheduler(8)
    broken = submit(scheduler, tts, prompt_for(tts, TEXTS[0]), sampled, 1, decoder=RecordingDecoder(fail_after=2))
    healthy = submit(scheduler, tts, prompt_for(tts, TEXTS[1]), sampled, 2)
    threads = [threading.Thread(target=stream.drain) for stream in (broken, healthy)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert isinstance(broken.error, GenerationError) and "decoder broke" in str(broken.error)
    assert healthy.final and healthy.error is None
    assert torch.equal(healthy.codes(), alone(tts, prompt_for(tts, TEXTS[1]), sampled, 2))


def test_the_frame_bound_is_per_row(tts: Any, sampled: SamplingParams) -> None:
    scheduler = BatchScheduler(8)
    short = submit(scheduler, tts, prompt_for(tts, TEXTS[0]), sampled, 1, frames=3)
    long = submit(scheduler, tts, prompt_for(tts, TEXTS[0]), sampled, 1, frames=12)
    for stream in (short, long):
        stream.drain()
    assert short.row.state.outcome is not None and short.row.state.outcome.hit_limit and len(short.decoder.frames) == 3
    assert long.row.state.outcome is not None and len(long.decoder.frames) == 12
    assert torch.equal(long.codes()[:3], short.codes())


def test_rows_beyond_max_batch_wait_their_turn(tts: Any, sampled: SamplingParams) -> None:
    scheduler = BatchScheduler(2)
    streams = [submit(scheduler, tts, prompt_for(tts, text), sampled, seed) for seed, text in enumerate(TEXTS[:4])]
    threads = [threading.Thread(target=stream.drain) for stream in streams]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert scheduler.largest_batch == 2
    for seed, stream in enumerate(streams):
        assert torch.equal(stream.codes(), alone(tts, prompt_for(tts, TEXTS[seed]), sampled, seed))


def test_without_determinism_rows_still_stream_their_frames(tts: Any, sampled: SamplingParams) -> None:
    scheduler = BatchScheduler(4, exact=False)
    streams = [submit(scheduler, tts, prompt_for(tts, text), sampled, seed) for seed, text in enumerate(TEXTS[:3])]
    threads = [threading.Thread(target=stream.drain) for stream in streams]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for stream in streams:
        codes = stream.codes()
        assert stream.final and codes.shape == (FRAMES, 16) and int(codes.min()) >= 0 and int(codes.max()) < 2048
    assert scheduler.wait_idle(30)


def test_shutdown_fails_waiting_and_running_rows(tts: Any, sampled: SamplingParams) -> None:
    scheduler = BatchScheduler(1)
    running = submit(scheduler, tts, prompt_for(tts, TEXTS[0]), sampled, 1, frames=200)
    waiting = submit(scheduler, tts, prompt_for(tts, TEXTS[1]), sampled, 2)
    assert running.row.next_output() is not None
    scheduler.shutdown()
    for stream in (running, waiting):
        stream.drain()
        assert isinstance(stream.error, GenerationError) and "shutting down" in str(stream.error)
    with pytest.raises(GenerationError):
        submit(scheduler, tts, prompt_for(tts, TEXTS[1]), sampled, 2)


def test_an_idle_scheduler_lets_go_of_the_model_and_the_row_caches(tiny_checkpoints: dict[str, Path]) -> None:
    model = load_tiny(tiny_checkpoints["custom_voice"])
    params = SamplingParams.from_config(model.generate_defaults)
    scheduler = BatchScheduler(8)
    stream = submit(scheduler, model, prompt_for(model, TEXTS[0]), params, 1)
    stream.drain()
    assert stream.final and scheduler.wait_idle(30) and not scheduler.running
    assert stream.row.state.cache is None  # the row's talker cache went with the row
    assert scheduler.peak_cache_bytes > 0
    gone = weakref.ref(model)
    del model, stream
    gc.collect()
    assert gone() is None


class FirstFrameDecoder(RecordingDecoder):
    """Records the scheduler iteration in which its row's first frame was made."""

    def __init__(self, scheduler: BatchScheduler) -> None:
        super().__init__()
        self.scheduler = scheduler
        self.first_iteration: int | None = None

    def push(self, frames: torch.Tensor) -> np.ndarray:
        if self.first_iteration is None:
            self.first_iteration = self.scheduler.iterations  # counted at the end of each iteration
        return super().push(frames)


def test_streams_arriving_together_while_none_speaks_all_start_in_the_first_iteration(
    tts: Any, sampled: SamplingParams
) -> None:
    scheduler = BatchScheduler(8, max_queued_chunks=10_000)
    with scheduler.condition:  # the worker sees all four at once
        streams = [
            submit(scheduler, tts, prompt_for(tts, text), sampled, seed, decoder=FirstFrameDecoder(scheduler))
            for seed, text in enumerate(["Hi.", "Hello there.", "Good morning to you.", "Yes."])
        ]
    for stream in streams:
        stream.drain()
    assert [stream.decoder.first_iteration for stream in streams] == [0, 0, 0, 0]  # type: ignore[attr-defined]
    assert scheduler.wait_idle(30)


def wait_until(predicate: Any, timeout_s: float = 60) -> bool:
    """Poll `predicate` (state the worker changes outside the lock) until true or the timeout."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.001)
    return True


@pytest.mark.parametrize("lanes", [0, 2])
def test_a_rows_codes_do_not_depend_on_who_prefills_it(tts: Any, sampled: SamplingParams, lanes: int) -> None:
    prompts = [prompt_for(tts, text) for text in TEXTS[:4]]
    solo = [alone(tts, prompt, sampled, seed) for seed, prompt in enumerate(prompts)]  # the default: one lane
    together = run_together(tts, prompts, sampled, list(range(4)), prefill_lanes=lanes)
    for seed in range(4):
        assert torch.equal(together[seed], solo[seed]), seed


def long_design_prompts(design: Any) -> tuple[TalkerPrompt, TalkerPrompt]:
    from realtime.engines.qwen3.prompts import voice_design_prompt

    instruct = "A warm, slow, deep voice with a slight rasp, speaking close to the microphone in a quiet room."
    return (
        voice_design_prompt(design, "Hello there.", instruct=instruct, language="english"),
        voice_design_prompt(design, "Hi.", instruct="Calm.", language="english"),
    )


def test_a_prefill_lane_prefills_a_newcomer_while_the_others_keep_speaking(qwen_models: dict[str, Any]) -> None:  # noqa: F811
    design = qwen_models["voice_design"]
    params = SamplingParams.from_config(design.generate_defaults)
    long_prompt, short_prompt = long_design_prompts(design)
    chunk = 4
    pieces = -(-long_prompt.length // chunk)
    # the worker allows itself one piece per iteration at most: the lane does the rest
    scheduler = BatchScheduler(8, prefill_chunk=chunk, prefill_lanes=1, prefill_steps=0, max_queued_chunks=10_000)
    speaker = submit(scheduler, design, short_prompt, params, 1, frames=200)
    with scheduler.condition:
        assert scheduler.condition.wait_for(lambda: speaker.row.heard, 60)
        iterations_at_join = scheduler.iterations
    newcomer = submit(scheduler, design, long_prompt, params, 2)
    assert newcomer.row.next_output() is not None
    with scheduler.condition:
        iterations_meanwhile = scheduler.iterations - iterations_at_join
    assert iterations_meanwhile < pieces  # not a piece per iteration: the lane prefilled beside the steps
    speaker.cancel.set()
    newcomer.drain()
    assert newcomer.final
    solo = BatchScheduler(8, prefill_chunk=chunk, prefill_lanes=0)
    alone_stream = submit(solo, design, long_prompt, params, 2)
    alone_stream.drain()
    assert torch.equal(newcomer.codes(), alone_stream.codes())
    assert solo.wait_idle(30) and scheduler.wait_idle(30)


def test_a_row_cancelled_during_its_prefill_on_a_lane_stops_there_and_spares_the_others(
    qwen_models: dict[str, Any],  # noqa: F811
) -> None:
    design = qwen_models["voice_design"]
    params = SamplingParams.from_config(design.generate_defaults)
    long_prompt, short_prompt = long_design_prompts(design)
    scheduler = BatchScheduler(8, prefill_chunk=1, prefill_lanes=1, prefill_steps=0)
    speaker = submit(scheduler, design, short_prompt, params, 1)
    assert speaker.row.next_output() is not None  # heard: the newcomer goes to the lane
    victim = submit(scheduler, design, long_prompt, params, 2)
    assert wait_until(lambda: victim.row.state.prefilled > 0)
    victim.cancel.set()
    assert victim.row.next_output() is None
    assert victim.row.wait_released(30)
    assert victim.row.state.outcome is not None and victim.row.state.outcome.reason == "stopped"
    assert victim.row.state.prefilled < long_prompt.length and victim.row.state.cache is None
    speaker.drain()
    assert speaker.final and torch.equal(speaker.codes(), alone(design, short_prompt, params, 1))
    assert scheduler.wait_idle(30)


def test_shutdown_fails_a_row_whose_prefill_is_under_way(qwen_models: dict[str, Any]) -> None:  # noqa: F811
    design = qwen_models["voice_design"]
    params = SamplingParams.from_config(design.generate_defaults)
    long_prompt, _ = long_design_prompts(design)
    scheduler = BatchScheduler(8, prefill_chunk=1, prefill_lanes=1)
    stream = submit(scheduler, design, long_prompt, params, 2)
    assert wait_until(lambda: stream.row.state.prefilled > 0)
    scheduler.shutdown()
    stream.drain()
    assert isinstance(stream.error, GenerationError) and "shutting down" in str(stream.error)
    assert stream.row.wait_released(30) and scheduler.wait_idle(30) and not scheduler.running


class ThreadDecoder(RecordingDecoder):
    """Records which thread ran each decoder call; `cost_s` of CPU burnt per call, and with a
    `barrier` each call waits for a call of another row to run at the same time."""

    def __init__(self, cost_s: float = 0.0, barrier: threading.Barrier | None = None) -> None:
        super().__init__()
        self.cost_s = cost_s
        self.barrier = barrier
        self.threads: list[str] = []

    def push(self, frames: torch.Tensor) -> np.ndarray:
        self.threads.append(threading.current_thread().name)
        began = time.thread_time()
        while time.thread_time() - began < self.cost_s:
            pass
        if self.barrier is not None:
            self.barrier.wait(timeout=60)  # broken (the row fails) if no other thread decodes meanwhile
        return super().push(frames)


def test_cheap_decoder_calls_stay_on_the_worker(tts: Any, sampled: SamplingParams) -> None:
    scheduler = BatchScheduler(8, prefill_lanes=1, share_decode_min_s=0.05, max_queued_chunks=10_000)
    streams = [
        submit(scheduler, tts, prompt_for(tts, text), sampled, seed, frames=20, decoder=ThreadDecoder())
        for seed, text in enumerate(TEXTS[:4])
    ]
    for stream in streams:
        stream.drain()
    assert scheduler.decode_cost_s is not None and scheduler.decode_cost_s < 0.05
    for stream in streams:
        later = stream.decoder.threads[1:]  # type: ignore[attr-defined]  (the first calls: cost not known yet)
        assert later and all(name == "batch-qwen3" for name in later), stream.decoder.threads  # type: ignore[attr-defined]
    assert scheduler.wait_idle(30)


def test_costly_decoder_calls_are_shared_with_a_free_lane(tts: Any, greedy: SamplingParams) -> None:
    scheduler = BatchScheduler(8, prefill_lanes=1, share_decode_min_s=0.005, max_queued_chunks=10_000)
    barrier = threading.Barrier(2)
    prompt = prompt_for(tts, TEXTS[0])  # two identical greedy rows: their chunks are always due together
    with scheduler.condition:
        streams = [
            submit(scheduler, tts, prompt, greedy, 1, frames=12, decoder=ThreadDecoder(cost_s=0.01, barrier=barrier))
            for _ in range(2)
        ]
    threads = [threading.Thread(target=stream.drain) for stream in streams]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert all(stream.final and stream.error is None for stream in streams)
    assert scheduler.decode_cost_s is not None and scheduler.decode_cost_s >= 0.005
    names = [name for stream in streams for name in stream.decoder.threads]  # type: ignore[attr-defined]
    assert len(names) >= 8 and any("prefill" in name for name in names) and "batch-qwen3" in names
    assert torch.equal(streams[0].codes(), streams[1].codes())
    assert scheduler.wait_idle(30)
