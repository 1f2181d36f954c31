"""Qwen3 benchmark: our streaming engine against the official `generate_custom_voice`, same weights, same line.

Both run in one process on one loaded CustomVoice model, for the same number of codec
frames (random weights rarely say EOS, so both are bounded: the official call with
`max_new_tokens = frames + 1`, ours with the protocol's `max_new_tokens`, which our
loop treats the same way). Figures, medians over the repeats:

- time to first audio: ours is the first decoded chunk out of `Voice.synthesize`; the
  official call returns all its audio at once, so its first audio is the whole call;
- real-time factor: compute time / audio time (below 1 is faster than real time);
- compute per frame: total time / frames (codes and decoding together).

Run: `realtime-tts bench-qwen MODEL_DIR [--frames 50] [--repeats 2] [--device cpu]`.
With `--concurrency 1,2,4,8` it runs the concurrency benchmark instead (realtime/bench/qwen_batch.py):
the batch scheduler against `--max-batch 1`, with the linear-layer ceiling.
Targets (issue 4): first audio at least 10x sooner than the official call for a 4-second
line (50 frames), and per-frame compute no slower than the official path.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from realtime.engines.base import CancelFlag, VoiceRequest
from realtime.engines.qwen3.checkpoints import read_checkpoint
from realtime.engines.qwen3.engine import Qwen3Engine
from realtime.engines.qwen3.manager import ModelManager
from realtime.engines.qwen3.runtime import LoadOptions, load_model
from realtime.engines.voice_spec import GenerationParams, VoiceSpec

FRAMES_PER_SECOND = 12.5
DEFAULT_TEXT = "The quick brown fox jumps over the lazy dog, then it turns around and runs all the way home."
FIRST_AUDIO_TARGET = 10.0  # x sooner than the official call


@dataclass(frozen=True, slots=True)
class PathTiming:
    """One path's medians over the repeats."""

    first_audio_ms: float
    total_ms: float
    audio_s: float

    @property
    def rtf(self) -> float:
        return self.total_ms / 1000 / self.audio_s if self.audio_s else float("nan")


@dataclass(frozen=True, slots=True)
class EngineBench:
    model: str
    device: str
    frames: int
    repeats: int
    ours: PathTiming
    official: PathTiming

    @property
    def first_audio_speedup(self) -> float:
        return self.official.first_audio_ms / self.ours.first_audio_ms

    @property
    def per_frame_ratio(self) -> float:
        """Our compute per frame over the official one's (1.0 is parity, below is faster)."""
        return (self.ours.total_ms / self.ours.audio_s) / (self.official.total_ms / self.official.audio_s)

    def lines(self) -> list[str]:
        per_frame = lambda timing: timing.total_ms / (timing.audio_s * FRAMES_PER_SECOND)  # noqa: E731
        verdict = lambda ok: "PASS" if ok else "FAIL"  # noqa: E731
        return [
            f"Qwen3 {self.model} on {self.device}: {self.frames} frames ({self.frames / FRAMES_PER_SECOND:.1f} s of audio), "
            f"median of {self.repeats}",
            f"{'path':<10} {'first audio':>12} {'total':>10} {'RTF':>6} {'ms/frame':>9}",
            *(
                f"{name:<10} {t.first_audio_ms:>9.0f} ms {t.total_ms:>7.0f} ms {t.rtf:>6.2f} {per_frame(t):>9.1f}"
                for name, t in (("ours", self.ours), ("official", self.official))
            ),
            f"first audio {self.first_audio_speedup:.1f}x sooner (target >= {FIRST_AUDIO_TARGET:.0f}x): "
            f"{verdict(self.first_audio_speedup >= FIRST_AUDIO_TARGET)}",
            f"compute per frame ours/official {self.per_frame_ratio:.2f} (target <= 1.00): "
            f"{verdict(self.per_frame_ratio <= 1.0)}",
        ]


def _ours(engine: Qwen3Engine, text: str, speaker: str, frames: int, seed: int) -> tuple[float, float, float]:
    spec = VoiceSpec(
        mode="custom_voice", speaker=speaker, language="english", generation=GenerationParams(max_new_tokens=frames + 1)
    )
    start = time.perf_counter()
    voice = engine.open_voice(VoiceRequest(spec=spec, model=engine.info.name, seed=seed))
    first, samples = None, 0
    try:
        for chunk in voice.synthesize(text, CancelFlag()):
            if first is None and len(chunk.samples):
                first = time.perf_counter() - start
            samples += len(chunk.samples)
    finally:
        voice.close()
    total = time.perf_counter() - start
    return (first or total) * 1000, total * 1000, samples / 24000


def _official(tts: Any, text: str, speaker: str, frames: int) -> tuple[float, float, float]:
    start = time.perf_counter()
    wavs, sample_rate = tts.generate_custom_voice(
        text=text, speaker=speaker, language="English", max_new_tokens=frames + 1
    )
    total = (time.perf_counter() - start) * 1000
    return total, total, len(wavs[0]) / sample_rate


def _median(runs: list[tuple[float, float, float]]) -> PathTiming:
    return PathTiming(*(statistics.median(run[i] for run in runs) for i in range(3)))


def bench_engine(model_dir: Path, *, frames: int = 50, repeats: int = 2, text: str = DEFAULT_TEXT,
                 options: LoadOptions | None = None, seed: int = 0) -> EngineBench:
    """Load the checkpoint once, warm both paths up, then time them alternately."""
    checkpoint = read_checkpoint(model_dir)
    if checkpoint.model_type != "custom_voice":
        raise ValueError(f"{model_dir} is a {checkpoint.model_type} checkpoint; the comparison needs a CustomVoice one")
    options = options or LoadOptions()
    tts = load_model(model_dir, options)
    manager = ModelManager(lambda _checkpoint: tts, idle_timeout_s=None)
    engine = Qwen3Engine(checkpoint, manager)
    speaker = checkpoint.speakers[0]
    _ours(engine, text, speaker, 2, seed)
    _official(tts, text, speaker, 2)
    ours, official = [], []
    for _ in range(repeats):
        ours.append(_ours(engine, text, speaker, frames, seed))
        official.append(_official(tts, text, speaker, frames))
    manager.shutdown()
    return EngineBench(checkpoint.name, options.resolved_device(), frames, repeats, _median(ours), _median(official))


def _counts(value: str) -> list[int]:
    try:
        counts = [int(part) for part in value.split(",") if part.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{value!r} is not a comma-separated list of stream counts") from exc
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError("stream counts must be >= 1")
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="realtime-tts bench-qwen", description=__doc__.split("\n\n")[0])
    parser.add_argument("model", type=Path, help="a Qwen3-TTS CustomVoice checkpoint directory")
    parser.add_argument("--frames", type=int, default=50, help="frames per line (12.5 per second; 50 is 4 s)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--text", default=DEFAULT_TEXT)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--concurrency", type=_counts, help="e.g. 1,2,4,8: streams at once, batched vs --max-batch 1")
    parser.add_argument("--max-batch", type=int, default=8, help="the batched engine's --max-batch (with --concurrency)")
    parser.add_argument("--engine-threads", type=int, default=2, help="engine worker threads (with --concurrency)")
    parser.add_argument("--prefill-lanes", type=int, default=1,
                        help="the batched engine's prefill lanes (with --concurrency; 0: none)")
    parser.add_argument("--torch-threads", type=int, help="torch intra-op threads (default: torch's own choice)")
    args = parser.parse_args(argv)
    if args.torch_threads:
        import torch

        torch.set_num_threads(args.torch_threads)
    if args.concurrency:
        from realtime.bench.qwen_batch import bench_batch

        batch = bench_batch(
            args.model, concurrency=args.concurrency, frames=args.frames if args.frames != 50 else 25,
            max_batch=args.max_batch, engine_threads=args.engine_threads, prefill_lanes=args.prefill_lanes,
            options=LoadOptions(device=args.device, dtype=args.dtype),
        )
        print("\n".join(batch.lines()))
        if args.json:
            args.json.write_text(json.dumps(asdict(batch), indent=2, default=str) + "\n")
        return 0
    result = bench_engine(
        args.model, frames=args.frames, repeats=args.repeats, text=args.text,
        options=LoadOptions(device=args.device, dtype=args.dtype),
    )
    print("\n".join(result.lines()))
    if args.json:
        figures = asdict(result) | {"first_audio_speedup": result.first_audio_speedup, "per_frame_ratio": result.per_frame_ratio}
        args.json.write_text(json.dumps(figures, indent=2, default=str) + "\n")
    return 0
