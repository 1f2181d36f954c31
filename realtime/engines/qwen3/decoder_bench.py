"""How fast the streaming decoder is, against the two ways it replaces.

Three ways to turn the same codec frames into audio, timed per frame on one model:
- full: the official whole-utterance decode (`Qwen3TTSTokenizerV2Model.decode`), the
  reference; it can only run once the utterance is complete.
- streaming: `StreamingDecoder.push` of a few frames at a time (state carried, exact).
- re-decode: each new chunk decoded again with up to 72 frames of left context and the
  context's samples thrown away (what a stateless streamer does; costly and not exact).

`python -m realtime.engines.qwen3.decoder_bench CHECKPOINT_DIR` runs it on a checkpoint's
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
        rows = [f"codec decode, {self.frames} frames ({self.frames / 12.5:.1f} s of audio): ms per frame, max |diff| vs full"]
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


def _redecode(tokenizer: Any, codes: torch.Tensor, chunk: int, context: int) -> np.ndarray:
    codec = resolve_codec_decoder(tokenizer)
    samples_per_frame = StreamingDecoder(tokenizer).samples_per_frame
    pieces = []
    with torch.inference_mode():
        for start in range(0, codes.shape[0], chunk):
            stop = min(start + chunk, codes.shape[0])
            first = max(0, start - context)
            wav = codec(codes[first:stop].transpose(0, 1).unsqueeze(0)).reshape(-1)
            pieces.append(wav[(start - first) * samples_per_frame :].to(torch.float32).cpu().numpy())
    return np.concatenate(pieces)


def _timed(run: Callable[[], np.ndarray], repeats: int) -> tuple[float, np.ndarray]:
    best = float("inf")
    audio = np.zeros(0, dtype=np.float32)
    for _ in range(repeats):
        began = time.perf_counter()
        audio = run()
        best = min(best, time.perf_counter() - began)
    return best, audio


def benchmark_decoder(
    tokenizer: Any,
    *,
    frames: int = 48,
    chunks: Sequence[int] = (1, 4),
    context: int = REDECODE_CONTEXT_FRAMES,
    repeats: int = 1,
    seed: int = 0,
) -> DecoderBenchResult:
    """Time full, streaming and re-decode on the same random codes (best of `repeats`)."""
    codec = resolve_codec_decoder(tokenizer)
    model = _tokenizer_model(tokenizer)
    config = codec.config
    generator = torch.Generator().manual_seed(seed)
    codes = torch.randint(0, int(config.codebook_size), (frames, int(config.num_quantizers)), generator=generator)
    codes = codes.to(next(codec.parameters()).device)

    seconds, reference = _timed(partial(_full_decode, model, codes), repeats)
    timings = [DecodeTiming("full (official decode)", seconds * 1000 / frames, 0.0)]
    for chunk in chunks:
        seconds, audio = _timed(partial(_streaming_decode, tokenizer, codes, chunk), repeats)
        timings.append(DecodeTiming(f"streaming, {chunk} frame(s)/push", seconds * 1000 / frames, _max_diff(audio, reference)))
    for chunk in chunks:
        seconds, audio = _timed(partial(_redecode, tokenizer, codes, chunk, context), repeats)
        timings.append(DecodeTiming(f"re-decode {context} ctx, {chunk} new", seconds * 1000 / frames, _max_diff(audio, reference)))
    return DecoderBenchResult(frames, tuple(timings))


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
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--chunks", type=int, nargs="+", default=[1, 4])
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
    result = benchmark_decoder(tokenizer, frames=args.frames, chunks=args.chunks, repeats=args.repeats)
    print(f"speech tokenizer: {directory} (threads {torch.get_num_threads()})")
    print("\n".join(result.lines()))


if __name__ == "__main__":
    main()
