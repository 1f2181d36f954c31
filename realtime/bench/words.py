"""Benchmark of word timestamps: boundary accuracy, aligner cost, and first audio with them on.

    realtime-tts bench-words [--runs 12] [--json out.json]
    python -m realtime.bench.words ...

1. Accuracy against a reference with known boundaries. Each of 20 English lines is spoken
   word by word by the embedded voice; each word's audio is trimmed to where it is voiced
   (10 ms frames over 2 % of the word's peak level), and the words are joined with 120 ms
   of silence. Where each word starts and ends in that line is known to the sample. The
   line's text is then timed on the joined audio by pocketsphinx and by the character
   estimate, and every word boundary (start and end) is compared with the reference:
   median, p90 and share within 50 ms.
2. Aligner cost: pocketsphinx's compute per second of audio, on the lines spoken whole
   (natural speech, the server's case), after one warm-up.
3. First audio: a real server in this process; sessions with `timestamps` "none" and
   "word" alternate, each sending one line and timing the first `audio` frame. Words are
   timed after a segment's audio, so the first audio should not move.

Figures only, never an exit status: the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from realtime.words.aligner import WordTimer
from realtime.words.splitter import split_words
from realtime.words.timing import SegmentAudio, estimate

RATE = 24000
JOIN_SECONDS = 0.12
FRAME = RATE // 100
VOICED_FRACTION = 0.02
SEED = 11

LINES = (
    "The quick brown fox jumps over the lazy dog.",
    "Please call Stella and ask her to bring these things with her from the store.",
    "She sells sea shells by the sea shore every summer morning.",
    "Our meeting starts at 9 and should end before noon.",
    "The museum opened in 1984 with only twelve paintings.",
    "Turn left at the second light, then keep going for two miles.",
    "Can you hear the music playing in the garden tonight?",
    "A cold wind blew across the empty parking lot.",
    "He bought 42 apples, three melons and a bag of rice.",
    "Nobody expected the small team to win the final match.",
    "The train to the airport leaves every fifteen minutes.",
    "Remember to water the plants while I am away.",
    "Every good story needs a beginning, a middle and an end.",
    "The doctor said I should rest for at least a week.",
    "We walked along the river until the sun went down.",
    "Her brother fixed the old bicycle in less than an hour.",
    "Bright yellow flowers covered the hills in early spring.",
    "The library will be closed on Monday for repairs.",
    "I think the answer is hidden somewhere in this letter.",
    "Thank you for waiting, your table is ready now.",
)


def voiced_span(audio: np.ndarray) -> tuple[int, int]:
    """Where a lone word is voiced: the first and last 10 ms frame over 2 % of its peak."""
    frames = len(audio) // FRAME
    if frames == 0:
        return 0, len(audio)
    levels = np.abs(audio[: frames * FRAME]).reshape(frames, FRAME).max(axis=1)
    loud = np.flatnonzero(levels > VOICED_FRACTION * float(levels.max() or 1.0))
    return int(loud[0]) * FRAME, int(loud[-1] + 1) * FRAME


def reference_line(speak: Callable[[str], np.ndarray], line: str) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """The line spoken word by word, joined with silence; each word's (start, end) sample."""
    gap = np.zeros(int(JOIN_SECONDS * RATE), dtype=np.float32)
    pieces: list[np.ndarray] = [gap]
    bounds: list[tuple[int, int]] = []
    position = len(gap)
    for word in split_words(line):
        audio = speak(word.text)
        start, end = voiced_span(audio)
        voiced = audio[start:end]
        bounds.append((position, position + len(voiced)))
        pieces += [voiced, gap]
        position += len(voiced) + len(gap)
    return np.concatenate(pieces), bounds


def boundary_errors_ms(found: Sequence[tuple[int, int]], reference: Sequence[tuple[int, int]]) -> list[float]:
    return [abs(a - b) * 1000.0 / RATE for f, r in zip(found, reference) for a, b in zip(f, r)]


def summary(errors: Sequence[float]) -> dict[str, float]:
    ordered = sorted(errors)
    return {
        "median_ms": round(statistics.median(ordered), 1),
        "p90_ms": round(ordered[int(0.9 * (len(ordered) - 1))], 1),
        "within_50ms": round(sum(e <= 50.0 for e in ordered) / len(ordered), 3),
        "boundaries": len(ordered),
    }


def accuracy(speak: Callable[[str], np.ndarray], timer: WordTimer) -> dict[str, Any]:
    aligned: list[float] = []
    estimated: list[float] = []
    fallbacks = 0
    for line in LINES:
        audio, reference = reference_line(speak, line)
        span = SegmentAudio(0, len(audio), RATE)
        timed = timer.time_words(line, audio, RATE, span, "english")
        fallbacks += timed.source != "pocketsphinx"
        aligned += boundary_errors_ms([(w.start_sample, w.end_sample) for w in timed.words], reference)
        guess = estimate(split_words(line), span)
        estimated += boundary_errors_ms([(w.start_sample, w.end_sample) for w in guess], reference)
    return {"pocketsphinx": summary(aligned), "estimated": summary(estimated), "fallbacks": fallbacks}


def cost(speak: Callable[[str], np.ndarray], timer: WordTimer) -> dict[str, Any]:
    spoken = [(line, speak(line)) for line in LINES]
    timer.time_words(spoken[0][0], spoken[0][1], RATE, SegmentAudio(0, len(spoken[0][1]), RATE), "english")  # warm
    seconds = 0.0
    started = time.perf_counter()
    for line, audio in spoken:
        timer.time_words(line, audio, RATE, SegmentAudio(0, len(audio), RATE), "english")
        seconds += len(audio) / RATE
    compute = time.perf_counter() - started
    return {"audio_s": round(seconds, 2), "compute_s": round(compute, 3), "ms_per_audio_s": round(compute / seconds * 1000.0, 1)}


async def _first_audio_ms(url: str, line: str, timestamps: str) -> float:
    from realtime.client import RealtimeClient

    async with await RealtimeClient.connect(url, timestamps=timestamps, seed=SEED) as client:
        await client.send({"type": "ping", "t": 1})
        while (await client.recv()).get("type") != "pong":
            pass
        started = time.perf_counter()
        await client.text(line)
        await client.end()
        first = None
        while True:
            message = await client.recv()
            if message["type"] == "audio" and first is None and message["data"]:
                first = (time.perf_counter() - started) * 1000.0
            if message["type"] == "done":
                assert first is not None
                return first


def first_audio(runs: int) -> dict[str, Any]:
    from realtime.config import ServerConfig
    from realtime.server.run import BackgroundServer

    times: dict[str, list[float]] = {"none": [], "word": []}
    with BackgroundServer(ServerConfig(log_level="warning")) as server:
        asyncio.run(_first_audio_ms(server.url, LINES[0], "word"))  # warm both paths
        for run in range(runs):
            line = LINES[run % len(LINES)]
            for timestamps in ("none", "word") if run % 2 == 0 else ("word", "none"):
                times[timestamps].append(asyncio.run(_first_audio_ms(server.url, line, timestamps)))
    return {
        key: {"median_ms": round(statistics.median(values), 1), "p90_ms": round(sorted(values)[int(0.9 * (len(values) - 1))], 1)}
        for key, values in times.items()
    } | {"runs": runs}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="realtime-tts bench-words", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=12, help="first-audio runs per setting")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)

    from hibari import Hibari

    voice = Hibari(threads=1)

    def speak(text: str) -> np.ndarray:
        return np.asarray(voice(text, seed=SEED), dtype=np.float32).ravel()

    timer = WordTimer(threads=1)
    results = {"accuracy": accuracy(speak, timer), "cost": cost(speak, timer), "first_audio": first_audio(args.runs)}
    timer.shutdown()
    acc, spend, first = results["accuracy"], results["cost"], results["first_audio"]
    print(f"1. boundary error vs word-by-word reference ({acc['pocketsphinx']['boundaries']} boundaries, 20 lines):")
    for name in ("pocketsphinx", "estimated"):
        row = acc[name]
        print(f"   {name:13s} median {row['median_ms']:6.1f} ms  p90 {row['p90_ms']:6.1f} ms  within 50 ms {row['within_50ms']:.0%}")
    print(f"   segments that fell back to estimates: {acc['fallbacks']}")
    print(f"2. pocketsphinx compute: {spend['ms_per_audio_s']} ms per second of audio ({spend['compute_s']} s for {spend['audio_s']} s)")
    print(
        f"3. first audio over the socket, {first['runs']} runs each: timestamps none median {first['none']['median_ms']} ms "
        f"(p90 {first['none']['p90_ms']}), word median {first['word']['median_ms']} ms (p90 {first['word']['p90_ms']})"
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
