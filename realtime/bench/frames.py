"""Step-loop benchmark: our frame stream against the official `generate_custom_voice`.

Both run on the same loaded CustomVoice model, text, speaker and sampling settings, for the
same number of frames (the official call is given `max_new_tokens = frames + 1`). Figures:

- ours: time to the first frame (prompt building included) and the mean time per later
  frame;
- official: the wall time of the whole call, which is when its caller gets any audio
  (codes and the whole-utterance decode), and its own per-frame step time, read from a
  forward hook on the talker (that hook only records a timestamp).

Run: `python -m realtime.bench.frames MODEL_DIR [--frames 50] [--repeats 3]`.
Nothing here asserts a speed; callers print `FrameBench.describe()`.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass
from typing import Any

import torch

from realtime.engines.qwen3.frames import generate_frames
from realtime.engines.qwen3.prompts import custom_voice_prompt
from realtime.engines.qwen3.sampling import SamplingParams, make_generator


@dataclass(frozen=True, slots=True)
class FrameBench:
    """Medians over the repeats, in milliseconds."""

    frames: int
    repeats: int
    ours_first_frame_ms: float
    ours_ms_per_frame: float
    ours_total_ms: float
    official_call_ms: float
    official_ms_per_frame: float
    official_first_frame_inside_ms: float

    @property
    def first_audio_speedup(self) -> float:
        """How much sooner our first frame exists than the official call returns anything."""
        return self.official_call_ms / self.ours_first_frame_ms if self.ours_first_frame_ms else float("inf")

    def describe(self) -> str:
        return (
            f"{self.frames} frames ({self.frames / 12.5:.2f} s of audio), median of {self.repeats}:\n"
            f"  ours:     first frame {self.ours_first_frame_ms:8.1f} ms, {self.ours_ms_per_frame:7.1f} ms/frame, "
            f"all frames {self.ours_total_ms:8.1f} ms\n"
            f"  official: call returns {self.official_call_ms:8.1f} ms (its first audio), "
            f"{self.official_ms_per_frame:7.1f} ms/frame, first frame inside the call {self.official_first_frame_inside_ms:8.1f} ms\n"
            f"  first frame {self.first_audio_speedup:.1f}x sooner than the official first audio; "
            f"per-frame ratio ours/official {self.ours_ms_per_frame / self.official_ms_per_frame:.2f}"
        )


def _ours(tts: Any, text: str, speaker: str, language: str, params: SamplingParams, frames: int, seed: int) -> list[float]:
    """Timestamps (seconds from the start) at which each frame was in hand."""
    start = time.perf_counter()
    prompt = custom_voice_prompt(tts, text, speaker=speaker, language=language)
    stream = generate_frames(tts, prompt, params, make_generator(seed), lambda: False, max_frames=frames)
    return [time.perf_counter() - start for _ in stream]


def _official(tts: Any, text: str, speaker: str, language: str, params: SamplingParams, frames: int) -> tuple[float, list[float]]:
    """The call's wall time, and the timestamps at which its talker finished each frame."""
    stamps: list[float] = []
    start = time.perf_counter()

    def stamp(_module: Any, _args: Any, _kwargs: Any, output: Any) -> None:
        if output.hidden_states[1] is not None:
            stamps.append(time.perf_counter() - start)

    handle = tts.model.talker.register_forward_hook(stamp, with_kwargs=True)
    try:
        kwargs = params.official_kwargs() | {"max_new_tokens": frames + 1}
        tts.generate_custom_voice(text=text, speaker=speaker, language=language, **kwargs)
    finally:
        handle.remove()
    return time.perf_counter() - start, stamps


def _per_frame_ms(stamps: list[float]) -> float:
    if len(stamps) < 2:
        return float("nan")
    return (stamps[-1] - stamps[0]) / (len(stamps) - 1) * 1000


def bench_frames(
    tts: Any,
    text: str = "The quick brown fox jumps over the lazy dog, and then it runs away.",
    speaker: str | None = None,
    language: str = "English",
    frames: int = 50,
    repeats: int = 3,
    seed: int = 0,
) -> FrameBench:
    """Measure both paths `repeats` times (after one short warm-up of each) and return medians."""
    speaker = speaker or min(tts.get_supported_speakers() or ["ryan"])
    params = SamplingParams.from_config(tts.generate_defaults)
    _ours(tts, text, speaker, language, params, 2, seed)
    _official(tts, text, speaker, language, params, 2)
    ours_first, ours_step, ours_total, official_call, official_step, official_first = [], [], [], [], [], []
    counted = frames
    for _ in range(repeats):
        stamps = _ours(tts, text, speaker, language, params, frames, seed)
        ours_first.append(stamps[0] * 1000)
        ours_step.append(_per_frame_ms(stamps))
        ours_total.append(stamps[-1] * 1000)
        call, inside = _official(tts, text, speaker, language, params, frames)
        official_call.append(call * 1000)
        official_step.append(_per_frame_ms(inside))
        official_first.append(inside[0] * 1000 if inside else float("nan"))
        counted = min(counted, len(stamps), len(inside))
    return FrameBench(
        frames=counted,
        repeats=repeats,
        ours_first_frame_ms=statistics.median(ours_first),
        ours_ms_per_frame=statistics.median(ours_step),
        ours_total_ms=statistics.median(ours_total),
        official_call_ms=statistics.median(official_call),
        official_ms_per_frame=statistics.median(official_step),
        official_first_frame_inside_ms=statistics.median(official_first),
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="a CustomVoice checkpoint directory")
    parser.add_argument("--frames", type=int, default=50, help="frames per run (12.5 per second of audio)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args(argv)
    from pathlib import Path

    from realtime.engines.qwen3.runtime import LoadOptions, load_model

    if args.threads:
        torch.set_num_threads(args.threads)
    tts = load_model(Path(args.model), LoadOptions(device=args.device, dtype=args.dtype))
    print(bench_frames(tts, frames=args.frames, repeats=args.repeats).describe())


if __name__ == "__main__":
    main()
