"""How fast the streaming decoder is, against the two ways it replaces.

Three ways to turn the same codec frames into audio, timed per frame on one model:
- full: the official whole-utterance decode (`Qwen3TTSTokenizerV2Model.decode`), the
  reference; it can only run once the utterance is complete.
- streaming: `StreamingDecoder.push` of a few frames at a time (state carried, exact).
- re-decode: each new chunk decoded again with up to 72 frames of left context and the
  context's samples thrown away (what a stateless streamer does; costly and not exact).

`python -m realtime.bench.decoder CHECKPOINT_DIR` runs it on a checkpoint's
speech tokenizer (a full-size random one gives the real geometry).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from realtime.engines.qwen3.decoder import StreamingDecoder, resolve_codec_decoder

REDECODE_CONTEXT_FRAMES = 72


@dataclass(frozen=True)
class DecodeTiming:
    """One way of decoding: mean milliseconds per frame, and its worst error against the full decode."""

    name: str
    ms_per_frame: float
    max_abs_diff: float


@dataclass(frozen=True)
class DecoderBenchResult:
    frames: int
    timings: tuple[DecodeTiming, ...]

    def lines(self) -> list[str]:
        header = (
            f"codec decode of {self.frames} frames ({self.frames / 12.5:.1f} s of audio): "
            "ms per frame (re-decode: steady state), max |diff| vs full"
        )
        rows = [header]
        for timing in self.timings:
            rows.append(f"  {timing.name:<28} {timing.ms_per_frame:9.2f} ms   {timing.max_abs_diff:.2e}")
        return rows


def _full_decode(model: Any, codes: torch.Tensor) -> np.ndarray:
    with torch.inference_mode():
        audio = model.decode(codes.unsqueeze(0), return_dict=True).audio_values[0]
    return audio.to(torch.float32).cpu().numpy()


def _streaming_decode(tokenizer: Any, codes: torch.Tensor, chunk: int) -> np.ndarray:
    decoder = StreamingDecoder(tokenizer)
    pieces = [decoder.push(codes[start : start + chunk]) for start in range(0, codes.shape[0], chunk)]
    pieces.append(decoder.finish())
    return np.concatenate(pieces)


def _redecode(codec: Any, codes: torch.Tensor, first: int, chunk: int, context: int) -> np.ndarray:
    """Frames from `first` on, each chunk decoded afresh with `context` frames before it."""
    samples_per_frame = codec.total_upsample
    pieces = []
    with torch.inference_mode():
        for start in range(first, codes.shape[0], chunk):
            stop = min(start + chunk, codes.shape[0])
            begin = max(0, start - context)
            wav = codec(codes[begin:stop].transpose(0, 1).unsqueeze(0)).reshape(-1)
            pieces.append(wav[(start - begin) * samples_per_frame :].to(torch.float32).cpu().numpy())
    return np.concatenate(pieces)


def benchmark_decoder(
    tokenizer: Any,
    *,
    frames: int = 48,
    chunks: Sequence[int] = (1, 4),
    redecode_chunks: Sequence[int] | None = None,
    redecode_frames: int | None = None,
    context: int = REDECODE_CONTEXT_FRAMES,
    repeats: int = 1,
    seed: int = 0,
) -> DecoderBenchResult:
    """Time full, streaming and re-decode on the same random codes.

    The utterance is `context + frames` frames long. Full decode and streaming decode all of
    it; re-decode is timed in its steady state only: the last `redecode_frames` frames, each
    chunk with the whole `context` before it. Methods are interleaved within each repeat
    (the machine may be shared) and the best time of each is kept.
    """
    codec = resolve_codec_decoder(tokenizer)
    model = _tokenizer_model(tokenizer)
    config = codec.config
    total = context + frames
    redecoded = min(redecode_frames or frames, frames)
    generator = torch.Generator().manual_seed(seed)
    codes = torch.randint(0, int(config.codebook_size), (total, int(config.num_quantizers)), generator=generator)
    codes = codes.to(next(codec.parameters()).device)

    # (name, frames timed, run, first frame it returns)
    runs: list[tuple[str, int, Callable[[], np.ndarray], int]] = [
        ("full (official decode)", total, partial(_full_decode, model, codes), 0)
    ]
    for chunk in chunks:
        run = partial(_streaming_decode, tokenizer, codes, chunk)
        runs.append((f"streaming, {chunk} frame(s)/push", total, run, 0))
    first = total - redecoded
    for chunk in redecode_chunks if redecode_chunks is not None else chunks:
        run = partial(_redecode, codec, codes, first, chunk, context)
        runs.append((f"re-decode {context} ctx, {chunk} new", redecoded, run, first))

    best = [float("inf")] * len(runs)
    outputs: list[np.ndarray] = [np.zeros(0, dtype=np.float32)] * len(runs)
    for _ in range(max(1, repeats)):
        for index, (_name, _count, decode, _first) in enumerate(runs):
            began = time.perf_counter()
            outputs[index] = decode()
            best[index] = min(best[index], time.perf_counter() - began)
    reference = outputs[0]
    samples_per_frame = int(codec.total_upsample)
    timings = tuple(
        DecodeTiming(name, best[index] * 1000 / count, _max_diff(outputs[index], reference[start * samples_per_frame :]))
        for index, (name, count, _run, start) in enumerate(runs)
    )
    return DecoderBenchResult(total, timings)


def _tokenizer_model(tokenizer: Any) -> Any:
    """The `Qwen3TTSTokenizerV2Model` (whose `decode` is the official one) inside what we were given."""
    candidate = tokenizer
    for _ in range(2):
        if hasattr(candidate, "decode") and hasattr(candidate, "decoder"):
            return candidate
        candidate = getattr(candidate, "model", candidate)
    raise TypeError(f"{type(tokenizer).__name__} has no official 12 Hz decode")


def _max_diff(audio: np.ndarray, reference: np.ndarray) -> float:
    if audio.shape != reference.shape:
        return float("inf")
    return float(np.abs(audio - reference).max()) if audio.size else 0.0


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path, help="a Qwen3-TTS checkpoint dir (or its speech_tokenizer/ dir)")
    parser.add_argument("--frames", type=int, default=48, help="frames after the first 72 (context)")
    parser.add_argument("--chunks", type=int, nargs="+", default=[1, 4], help="frames per push")
    parser.add_argument("--redecode-chunks", type=int, nargs="*", default=None, help="default: --chunks")
    parser.add_argument(
        "--redecode-frames", type=int, default=None, help="steady-state frames re-decoded (default: --frames)"
    )
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: leave torch's default)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    from realtime.engines.qwen3.runtime import import_qwen_tts

    qwen_tts = import_qwen_tts()
    directory = args.checkpoint
    if (directory / "speech_tokenizer").is_dir():
        directory = directory / "speech_tokenizer"
    tokenizer = qwen_tts.Qwen3TTSTokenizer.from_pretrained(str(directory), device_map="cpu", dtype=torch.float32)
    result = benchmark_decoder(
        tokenizer,
        frames=args.frames,
        chunks=args.chunks,
        redecode_chunks=args.redecode_chunks,
        redecode_frames=args.redecode_frames,
        repeats=args.repeats,
    )
    print(f"speech tokenizer: {directory} (threads {torch.get_num_threads()})")
    print("\n".join(result.lines()))


if __name__ == "__main__":
    main()
