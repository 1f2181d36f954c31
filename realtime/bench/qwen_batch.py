"""Qwen3 concurrency benchmark: the batch scheduler against one stream per engine thread (`--max-batch 1`).

For each concurrency N, N streams start together on one loaded CustomVoice model, each
speaking a bounded number of frames, driven as the server drives them: every `next()` of
a stream is a job on a pool of `engine_threads` worker threads (plus one waiting thread
per batch row when batching, as the backend adds). Per concurrency and mode it prints:

- audio seconds per wall second (all streams together; its ratio to N=1 is the gain),
- time to first audio p50 / p95 over the streams (from the common start),
- chunk gap p95 (time between a stream's consecutive chunks),

and beside them the ceiling: the model's own linear layers (talker and code predictor)
timed at N rows against 1 row, as rows per second gained. Figures on a shared machine
are noisy; run it on a quiet one for numbers to compare.

Run: `realtime-tts bench-qwen MODEL_DIR --concurrency 1,2,4,8 [--frames 25] [--device cpu]`.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from realtime.engines.base import CancelFlag, VoiceRequest
from realtime.engines.qwen3.checkpoints import read_checkpoint
from realtime.engines.qwen3.engine import Qwen3Engine
from realtime.engines.qwen3.manager import ModelManager
from realtime.engines.qwen3.runtime import LoadOptions, load_model
from realtime.engines.voice_spec import GenerationParams, VoiceSpec

SAMPLE_RATE = 24_000
TEXTS = (
    "The quick brown fox jumps over the lazy dog, then it turns around and runs all the way home.",
    "Every stream in this batch speaks a line of its own, at its own pace.",
    "Short lines and long lines share the same steps.",
    "One more voice joins the others.",
)


@dataclass(frozen=True, slots=True)
class RunFigures:
    """One mode at one concurrency."""

    streams: int
    max_batch: int
    audio_per_wall: float
    ttfa_p50_ms: float
    ttfa_p95_ms: float
    gap_p95_ms: float


@dataclass(frozen=True, slots=True)
class BatchBench:
    model: str
    device: str
    frames: int
    max_batch: int
    prefill_lanes: int
    runs: tuple[RunFigures, ...]
    ceiling: dict[int, float]

    def lines(self) -> list[str]:
        header = (
            f"Qwen3 {self.model} on {self.device}: {self.frames} frames per stream "
            f"({self.frames / 12.5:.1f} s of audio); batched = --max-batch {self.max_batch} "
            f"--prefill-lanes {self.prefill_lanes}, baseline = --max-batch 1"
        )
        columns = (
            f"{'streams':>7} {'mode':<8} {'audio s/wall s':>14} {'gain':>6} {'ceiling':>8} "
            f"{'TTFA p50':>9} {'TTFA p95':>9} {'gap p95':>8}"
        )
        lines = [header, columns]
        base: dict[int, float] = {}
        for run in self.runs:
            if run.streams == 1:
                base[run.max_batch] = run.audio_per_wall
        for run in self.runs:
            mode = "batched" if run.max_batch > 1 else "1/thread"
            gain = run.audio_per_wall / base[run.max_batch] if base.get(run.max_batch) else float("nan")
            lines.append(
                f"{run.streams:>7} {mode:<8} {run.audio_per_wall:>14.2f} {gain:>5.2f}x {self.ceiling.get(run.streams, float('nan')):>7.2f}x "
                f"{run.ttfa_p50_ms:>6.0f} ms {run.ttfa_p95_ms:>6.0f} ms {run.gap_p95_ms:>5.0f} ms"
            )
        return lines


def _percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _stream(engine: Qwen3Engine, pool: ThreadPoolExecutor, index: int, frames: int, start: float,
            out: dict[int, tuple[float, list[float], int]]) -> None:
    """One stream driven step by step on the pool, as the backend's ThreadedStream does."""
    spec = VoiceSpec(
        mode="custom_voice", speaker=engine.info.speakers[index % len(engine.info.speakers)], language="english",
        generation=GenerationParams(max_new_tokens=frames + 1),
    )
    voice = pool.submit(engine.open_voice, VoiceRequest(spec=spec, model=engine.info.name, seed=index)).result()
    stamps: list[float] = []
    samples = 0
    try:
        chunks = voice.synthesize(TEXTS[index % len(TEXTS)], CancelFlag())
        while (chunk := pool.submit(next, chunks, None).result()) is not None:
            if len(chunk.samples):
                stamps.append(time.perf_counter() - start)
                samples += len(chunk.samples)
    finally:
        voice.close()
    first = stamps[0] if stamps else time.perf_counter() - start
    out[index] = (first, [b - a for a, b in zip(stamps, stamps[1:])], samples)


def _run(engine: Qwen3Engine, streams: int, frames: int, engine_threads: int) -> RunFigures:
    results: dict[int, tuple[float, list[float], int]] = {}
    with ThreadPoolExecutor(max_workers=engine_threads + engine.waiting_streams) as pool:
        start = time.perf_counter()
        threads = [threading.Thread(target=_stream, args=(engine, pool, i, frames, start, results)) for i in range(streams)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - start
    audio_s = sum(samples for _, _, samples in results.values()) / SAMPLE_RATE
    firsts = [first * 1000 for first, _, _ in results.values()]
    gaps = [gap * 1000 for _, stream_gaps, _ in results.values() for gap in stream_gaps]
    return RunFigures(streams, engine.max_batch, audio_s / wall, _percentile(firsts, 0.5), _percentile(firsts, 0.95),
                      _percentile(gaps, 0.95))


def linear_ceiling(tts: Any, rows: list[int], repeats: int = 5) -> dict[int, float]:
    """Rows per second gained by running the model's linear layers at B rows instead of 1."""
    import torch
    from torch.nn import functional as F

    talker = tts.model.talker
    layers = [m for m in talker.modules() if isinstance(m, torch.nn.Linear)]
    device = layers[0].weight.device
    dtype = layers[0].weight.dtype

    def timed(count: int) -> float:
        inputs = [torch.randn(count, layer.in_features, device=device, dtype=dtype) for layer in layers]
        best = float("inf")
        with torch.inference_mode():
            for _ in range(repeats):
                began = time.perf_counter()
                for layer, x in zip(layers, inputs):
                    F.linear(x, layer.weight, layer.bias)
                if device.type == "cuda":
                    torch.cuda.synchronize()
                best = min(best, time.perf_counter() - began)
        return best

    times = {count: timed(count) for count in sorted({1, *rows})}
    return {count: count * times[1] / times[count] for count in rows}


def bench_batch(model_dir: Path, *, concurrency: list[int], frames: int = 25, max_batch: int = 8,
                engine_threads: int = 2, prefill_lanes: int = 1, options: LoadOptions | None = None) -> BatchBench:
    """Load once; for each concurrency, time the batched engine and the one-stream-per-thread engine."""
    checkpoint = read_checkpoint(model_dir)
    if checkpoint.model_type != "custom_voice":
        raise ValueError(f"{model_dir} is a {checkpoint.model_type} checkpoint; the benchmark needs a CustomVoice one")
    options = options or LoadOptions()
    tts = load_model(model_dir, options)
    manager = ModelManager(lambda _checkpoint: tts, idle_timeout_s=None)
    engines = {
        size: Qwen3Engine(checkpoint, manager, max_batch=size, prefill_lanes=prefill_lanes) for size in (max_batch, 1)
    }
    runs: list[RunFigures] = []
    try:
        for engine in engines.values():
            _run(engine, 1, 2, engine_threads)  # warm up
        for streams in concurrency:
            for size in (max_batch, 1):
                runs.append(_run(engines[size], streams, frames, engine_threads))
        ceiling = linear_ceiling(tts, sorted(set(concurrency)))
    finally:
        for engine in engines.values():
            engine.shutdown()
    return BatchBench(checkpoint.name, options.resolved_device(), frames, max_batch, prefill_lanes, tuple(runs), ceiling)
