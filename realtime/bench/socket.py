"""Benchmark: the engine's own time to first audio, the socket's, the server's overhead, and concurrency.

    realtime-tts bench [--runs 10] [--pairs 50] [--concurrency 1,4,16] [--text "..."] [--url ws://...]
                       [--format pcm] [--formats pcm,wav,...] [--format-runs 10] [--format-rate 24000]
                       [--json out.json]
    python -m realtime.bench.socket ...

It prints figures only; the targets (server overhead under 5 ms, no errors at the highest
concurrency) are shown as PASS/MISS for information, never as an exit status: a shared,
noisy machine decides too much of them.

1. Engine first chunk: a `TTSBackend` in this process, used directly (no socket). Per run
   the voice is prepared and opened untimed, then the clock runs from `backend.stream()`
   to its first `EngineChunk`.
2. Socket time to first audio: a session already open and ready (its context opened and
   its voice prepared, confirmed by a ping), then the clock runs from sending `text` +
   `flush` to the first `audio` frame, measured on the client with `time.perf_counter()`.
   Engine and socket runs alternate (`--pairs` of them, default max(--runs, 50)), with the
   same seed and the same first segment, so each pair synthesizes the same audio.
3. Server overhead: socket TTFA minus engine first chunk, pair by pair, and the
   difference of the medians.
4. Concurrency: K sessions at once, each speaking `--runs` lines in turn (text + flush,
   then wait for `flushed`).
5. Output formats (`--formats`, default all seven): each encoder's cost per second of
   audio, and per format over the socket the first audio message, the first bytes and
   the first audible audio (see realtime/bench/formats.py).
6. First audible sample (`--audible-runs`): over the socket and HTTP, the first byte beside
   the first sample over -50 dBFS, and when a player starting at the first byte plays it
   (see realtime/bench/audible.py); with the engine's own leading silence, which the
   server cuts to a short lead-in at the start of each stream.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from websockets.exceptions import WebSocketException

from realtime.audio.lead_in import LEAD_IN_MS
from realtime.audio.resample import OUTPUT_SAMPLE_RATES
from realtime.backend.backend import TTSBackend
from realtime.bench.audible import HEARD_TARGET_MS, audible_figures, describe_threshold, engine_leading_silence_ms
from realtime.bench.formats import ENCODE_REPEATS, encode_cost, engine_audio, socket_latency
from realtime.client import RealtimeClient, ServerError
from realtime.backend.served import served_backend
from realtime.config import ServerConfig, config_from_env
from realtime.engines.voice_spec import VoiceSpec
from realtime.segmenter import Segmenter, SegmenterPolicy

DEFAULT_TEXT = "The quick brown fox jumps over the lazy dog."
DEFAULT_RUNS = 10
DEFAULT_PAIRS = 50
DEFAULT_CONCURRENCY = (1, 4, 16)
BENCH_SEED = 12345  # one seed for every run: the engine and the socket make the same audio
OVERHEAD_TARGET_MS = 5.0
LINE_TIMEOUT_S = 60.0
FORMATS = ("pcm", "wav", "flac", "ogg", "opus", "mp3", "aac")
DEFAULT_FORMAT_RUNS = 10
DEFAULT_AUDIBLE_RUNS = 10


# -- figures -------------------------------------------------------------------------------------
def summarize(values: Sequence[float]) -> dict[str, float | int | None]:
    """p50, p95, mean, min and max of a list of milliseconds (None when empty)."""
    if not values:
        return {"n": 0, "p50": None, "p95": None, "mean": None, "min": None, "max": None}
    array = np.asarray(values, dtype=np.float64)
    return {
        "n": len(values),
        "p50": round(float(np.percentile(array, 50)), 3),
        "p95": round(float(np.percentile(array, 95)), 3),
        "mean": round(float(array.mean()), 3),
        "min": round(float(array.min()), 3),
        "max": round(float(array.max()), 3),
    }


def first_segment(text: str, max_chars: int) -> str:
    """The first segment the server cuts from `text` with `segmentation: auto` and a flush."""
    segmenter = Segmenter(SegmenterPolicy(mode="auto", max_chars=max_chars))
    segments = segmenter.feed(text) + segmenter.flush()
    if not segments:
        raise ValueError("the text has nothing to synthesize")
    return segments[0].text


@dataclass(slots=True)
class LevelResult:
    """One concurrency level's figures."""

    sessions: int
    lines_per_session: int
    lines_done: int = 0
    ttfa_ms: dict[str, Any] = field(default_factory=dict)
    audio_s: float = 0.0
    wall_s: float = 0.0
    rtf: float | None = None
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    rounds: int = 1
    round_speeds: list[float] = field(default_factory=list)  # audio s per wall s, one per round
    ttfa_samples: list[float] = field(default_factory=list)  # every line's TTFA (ms), for merging rounds

    @property
    def speed(self) -> float | None:
        """Audio seconds per wall second (x real time)."""
        return self.audio_s / self.wall_s if self.wall_s > 0 else None

    def settle(self) -> None:
        """The derived figures, once the lines are counted: rounding, TTFA summary, RTF, a few error samples."""
        self.audio_s, self.wall_s = round(self.audio_s, 3), round(self.wall_s, 3)
        self.ttfa_ms = summarize(self.ttfa_samples)
        self.rtf = round(self.wall_s / self.audio_s, 4) if self.audio_s > 0 else None
        self.error_samples = self.error_samples[:5]


def merge_rounds(runs: Sequence[LevelResult]) -> LevelResult:
    """One level's runs (rounds) as one result: lines, audio and wall time summed, TTFA over every line."""
    if not runs or len({run.sessions for run in runs}) != 1:
        raise ValueError("merge_rounds takes one or more runs of the same level")
    merged = LevelResult(sessions=runs[0].sessions, lines_per_session=runs[0].lines_per_session, rounds=len(runs))
    for run in runs:
        merged.lines_done += run.lines_done
        merged.audio_s += run.audio_s
        merged.wall_s += run.wall_s
        merged.errors += run.errors
        merged.error_samples.extend(run.error_samples)
        merged.ttfa_samples.extend(run.ttfa_samples)
        merged.round_speeds.extend(run.round_speeds)
    merged.settle()
    return merged


def throughput_gains(levels: Sequence[LevelResult]) -> list[dict[str, Any]]:
    """Each level's audio per wall second over the smallest level's: from the totals, and round by round
    (the levels ran in turn within each round, so drift on the machine touches a round's levels alike)."""
    if not levels:
        return []
    base = min(levels, key=lambda level: level.sessions)
    gains = []
    for level in levels:
        if level is base or level.speed is None or not base.speed:
            continue
        per_round = [round(mine / theirs, 3) for mine, theirs in zip(level.round_speeds, base.round_speeds) if theirs > 0]
        gains.append({"sessions": level.sessions, "over_sessions": base.sessions,
                      "gain": round(level.speed / base.speed, 3), "per_round": per_round})
    return gains


# -- 1. engine first chunk -----------------------------------------------------------------------
async def engine_first_chunk_ms(backend: TTSBackend, segment_text: str) -> float:
    """Prepare and open the voice (untimed), then time `stream()` to its first chunk.

    The segment opens its stream, as on the socket: the leading silence is cut the same way,
    so the paired difference is the server's overhead alone.
    """
    request, errors = await backend.bind_voice(VoiceSpec(seed=BENCH_SEED), BENCH_SEED)
    if request is None:
        raise RuntimeError("; ".join(e.describe() for e in errors))
    voice = await backend.open_voice(request)
    try:
        started = time.perf_counter()
        stream = backend.stream(voice, segment_text, first_segment_of=request)
        try:
            await stream.__anext__()
            elapsed = time.perf_counter() - started
        finally:
            await stream.aclose()
    finally:
        voice.close()
    return elapsed * 1000.0


# -- 2. socket time to first audio ---------------------------------------------------------------
async def _open_ready_session(url: str, session_fields: dict[str, Any]) -> RealtimeClient:
    """A session with its `main` context open and its voice prepared; nothing timed yet."""
    client = await RealtimeClient.connect(url, **session_fields)
    try:
        await client.send({"type": "context.start", "ctx": "main"})
        await client.send({"type": "ping", "t": 1})
        while True:  # the pong follows the context.start: the context is open once it arrives
            message = await asyncio.wait_for(client.recv(), LINE_TIMEOUT_S)
            if message.get("type") == "error":
                raise ServerError(message)
            if message.get("type") == "pong":
                break
        await asyncio.sleep(0.005)  # the context's voice opens on a worker thread right after
    except BaseException:
        await client.close()
        raise
    return client


@dataclass(slots=True)
class LineResult:
    ttfa_ms: float | None = None
    audio_ms: float = 0.0
    segment_text: str | None = None
    errors: list[str] = field(default_factory=list)


async def speak_line(client: RealtimeClient, text: str, timeout: float = LINE_TIMEOUT_S) -> LineResult:
    """Send text + flush, time the first `audio`, read until `flushed` (or the context's `done`)."""
    result = LineResult()
    deadline = time.monotonic() + timeout
    started = time.perf_counter()
    await client.text(text)
    await client.flush()
    while True:
        try:
            message = await asyncio.wait_for(client.recv(), max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            result.errors.append(f"timeout: no flushed after {timeout:.0f} s")
            return result
        kind = message.get("type")
        if kind == "audio":
            if result.ttfa_ms is None:
                result.ttfa_ms = (time.perf_counter() - started) * 1000.0
            result.audio_ms += float(message.get("duration_ms") or 0.0)
        elif kind == "segment" and result.segment_text is None:
            result.segment_text = message.get("text")
        elif kind == "error":
            result.errors.append(f"{message.get('code')} {message.get('name')}: {message.get('message')}")
            if message.get("fatal"):
                return result
        elif kind in ("flushed", "done"):
            return result


async def socket_ttfa(url: str, session_fields: dict[str, Any], text: str) -> LineResult:
    client = await _open_ready_session(url, session_fields)
    try:
        return await speak_line(client, text)
    finally:
        await client.close()


# -- 4. concurrency ------------------------------------------------------------------------------
class _StartLine:
    """Every session connects first; the clock starts once all are ready (or failed)."""

    def __init__(self, sessions: int) -> None:
        self._waiting = sessions
        self.all_connected = asyncio.Event()
        self.go = asyncio.Event()
        if sessions <= 0:
            self.all_connected.set()

    def arrived(self) -> None:
        self._waiting -= 1
        if self._waiting <= 0:
            self.all_connected.set()


async def _session_worker(
    url: str, session_fields: dict[str, Any], text: str, lines: int, start: _StartLine, level: LevelResult,
    ttfas: list[float],
) -> None:
    client: RealtimeClient | None = None
    try:
        client = await _open_ready_session(url, session_fields)
    except Exception as exc:
        level.errors += 1
        level.error_samples.append(f"connect: {type(exc).__name__}: {exc}")
    finally:
        start.arrived()
    if client is None:
        return
    try:
        await start.go.wait()
        for _ in range(lines):
            line = await speak_line(client, text)
            if line.ttfa_ms is not None:
                ttfas.append(line.ttfa_ms)
            level.audio_s += line.audio_ms / 1000.0
            if line.errors:
                level.errors += len(line.errors)
                level.error_samples.extend(line.errors)
                if any(e.startswith("timeout") for e in line.errors):
                    break
            else:
                level.lines_done += 1
    except Exception as exc:
        level.errors += 1
        level.error_samples.append(f"{type(exc).__name__}: {exc}")
    finally:
        await client.close()


async def run_level(url: str, session_fields: dict[str, Any], text: str, sessions: int, lines: int) -> LevelResult:
    """`sessions` sessions opened first (untimed), then all speak their lines at once."""
    level = LevelResult(sessions=sessions, lines_per_session=lines)
    ttfas: list[float] = []
    start = _StartLine(sessions)
    workers = [
        asyncio.create_task(_session_worker(url, session_fields, text, lines, start, level, ttfas))
        for _ in range(sessions)
    ]
    await start.all_connected.wait()
    started = time.perf_counter()
    start.go.set()
    await asyncio.gather(*workers)
    level.wall_s = time.perf_counter() - started
    level.ttfa_samples = ttfas
    level.settle()
    level.round_speeds = [round(level.speed, 4)] if level.speed is not None else []
    return level


# -- the whole run -------------------------------------------------------------------------------
async def run_bench(
    args: argparse.Namespace, url: str, server_label: str, config: ServerConfig | None = None
) -> dict[str, Any]:
    """`config`: the served configuration; the engine baseline runs the engines it serves (the
    environment's configuration for a server at --url, which this process cannot see)."""
    session_fields: dict[str, Any] = {"mode": "custom_voice", "seed": BENCH_SEED, "format": args.format}
    config = config or config_from_env()
    backend = served_backend(config)
    load_started = time.perf_counter()
    await backend.initialize()
    load_s = time.perf_counter() - load_started
    try:
        info = backend.models()[0]
        segment_text = first_segment(args.text, config.limits.max_segment_chars)

        probe = await RealtimeClient.connect(url, **session_fields)
        ready = probe.ready
        await probe.close()

        _header(args, url, server_label, info, ready, segment_text, load_s)

        # Warm-up: one untimed run of each.
        await engine_first_chunk_ms(backend, segment_text)
        warm = await socket_ttfa(url, session_fields, args.text)
        if warm.errors:
            raise RuntimeError(f"warm-up run failed: {warm.errors[0]}")
        if warm.segment_text is not None and warm.segment_text != segment_text:
            print(f"  note: the server's first segment is {warm.segment_text!r}; the engine baseline uses it")
            segment_text = warm.segment_text

        engine_ms: list[float] = []
        socket_ms: list[float] = []
        socket_errors: list[str] = []
        for _ in range(args.pairs):  # alternate, so drift on the machine touches both alike
            engine_ms.append(await engine_first_chunk_ms(backend, segment_text))
            line = await socket_ttfa(url, session_fields, args.text)
            if line.errors or line.ttfa_ms is None:
                socket_errors.extend(line.errors or ["no audio"])
                engine_ms.pop()
                continue
            socket_ms.append(line.ttfa_ms)
        diffs = [s - e for s, e in zip(socket_ms, engine_ms, strict=True)]
        engine_sum, socket_sum, diff_sum = summarize(engine_ms), summarize(socket_ms), summarize(diffs)
        median_diff = (
            round(socket_sum["p50"] - engine_sum["p50"], 3)  # type: ignore[operator]
            if engine_ms and socket_ms else None
        )
        latency = {
            "pairs": len(diffs),
            "engine_first_chunk_ms": engine_sum,
            "socket_ttfa_ms": socket_sum,
            "overhead_ms": diff_sum,
            "overhead_median_diff_ms": median_diff,
            "overhead_target_ms": OVERHEAD_TARGET_MS,
            "server_model": ready.get("model"),
            "baseline_model": info.name,
            "overhead_pass": overhead_verdict(median_diff, ready.get("model"), info.name),
            "errors": len(socket_errors),
            "error_samples": socket_errors[:5],
        }
        _print_latency(latency)

        _print_level_header(args.runs, args.rounds)
        runs: dict[int, list[LevelResult]] = {sessions: [] for sessions in args.concurrency}
        for round_index in range(args.rounds):  # the levels in turn, round after round
            for sessions in args.concurrency:
                run = await run_level(url, session_fields, args.text, sessions, args.runs)
                runs[sessions].append(run)
                if args.rounds > 1:
                    _print_level(run, f"round {round_index + 1}")
        levels = [merge_rounds(runs[sessions]) for sessions in runs]
        for level in levels:
            _print_level(level, "all" if args.rounds > 1 else "")
        gains = throughput_gains(levels)
        for gain in gains:
            rounds = " / ".join(f"{ratio:.2f}" for ratio in gain["per_round"])
            print(f"  throughput: {gain['sessions']} sessions give {gain['gain']:.2f}x the audio per second of "
                  f"{gain['over_sessions']}" + (f" (round by round: {rounds})" if args.rounds > 1 else ""))
        top = max(levels, key=lambda lv: lv.sessions) if levels else None
        concurrency_pass = top is not None and top.errors == 0
        if top is not None:
            print(f"  target: 0 session errors at {top.sessions} concurrent: "
                  f"{'PASS' if concurrency_pass else 'MISS'} ({top.errors} errors)")
        for level in levels:
            for sample in level.error_samples:
                print(f"  error at {level.sessions} sessions: {sample}")

        formats = await _format_section(args, url, session_fields, backend, info.sample_rate) if args.formats else []
        audible = await _audible_section(args, url, session_fields, backend, info.sample_rate)

        return {
            "machine": _machine(),
            "engine": {"model": info.name, "engine": info.engine, "sample_rate": info.sample_rate,
                       "engine_threads": config.engine_threads, "load_s": round(load_s, 3)},
            "server": {"url": url, "kind": server_label, "model": ready.get("model"),
                       "format": ready.get("format"), "sample_rate": ready.get("sample_rate")},
            "text": args.text,
            "segment_text": segment_text,
            "seed": BENCH_SEED,
            "latency": latency,
            "concurrency": [asdict(level) for level in levels],
            "concurrency_rounds": args.rounds,
            "throughput_gains": gains,
            "concurrency_target_sessions": top.sessions if top else None,
            "concurrency_pass": concurrency_pass,
            "formats": formats,
            "formats_sample_rate": args.format_rate,
            "audible": audible,
        }
    finally:
        await backend.shutdown()


async def _format_section(
    args: argparse.Namespace, url: str, session_fields: dict[str, Any], backend: TTSBackend, engine_rate: int
) -> list[dict[str, Any]]:
    """5. Encode cost per format, then first bytes / first audible audio per format over the socket."""
    print()
    print(f"5. Output formats at {args.format_rate} Hz: encoding cost, and the socket's first bytes per format "
          f"({args.format_runs} lines each, ms from text+flush)")
    audio = await engine_audio(backend, args.text, BENCH_SEED)
    rows = await asyncio.to_thread(encode_cost, args.formats, audio, engine_rate, args.format_rate)
    fields = {**session_fields, "sample_rate": args.format_rate}
    print(f"  {'format':>6} {'enc ms/s':>8} {'min':>6} {'kbps':>6} {'1st B':>6} {'audio p50':>9} "
          f"{'bytes p50':>9} {'bytes p95':>9} {'audible p50':>11} {'audible p95':>11} {'held ms':>7}")
    for row in rows:
        figures = await socket_latency(url, fields, row["format"], args.text, args.format_runs, _open_ready_session,
                                       LINE_TIMEOUT_S)
        row["socket_ms"] = {key: summarize(values) for key, values in figures.items()}
        socket_ms = row["socket_ms"]
        print(f"  {row['format']:>6} {row['encode_ms_per_audio_s']:>8.2f} {row['encode_ms_per_audio_s_min']:>6.2f} "
              f"{row['kbps']:>6.1f} {row['first_chunk_bytes']:>6} {_fmt(socket_ms['first_audio']['p50']):>9} "
              f"{_fmt(socket_ms['first_byte']['p50']):>9} {_fmt(socket_ms['first_byte']['p95']):>9} "
              f"{_fmt(socket_ms['first_audible']['p50']):>11} {_fmt(socket_ms['first_audible']['p95']):>11} "
              f"{_fmt(socket_ms['audio_before_audible']['p50'], 0):>7}", flush=True)
    print(f"  enc ms/s: encoding time per second of audio, median and best of {ENCODE_REPEATS} "
          f"({len(audio) / engine_rate:.2f} s of the line, engine-sized chunks); 1st B: bytes out for the 100 ms "
          "first chunk;")
    print("  audio/bytes/audible: first audio message, first message with data, first moment the bytes so far")
    print("  decode to real audio (priming excluded); held ms: audio the engine had made by then (p50)")
    return rows


async def _audible_section(
    args: argparse.Namespace, url: str, session_fields: dict[str, Any], backend: TTSBackend, engine_rate: int
) -> dict[str, Any]:
    """6. First byte and first audible sample, socket and HTTP, pcm at the engine's rate."""
    print()
    print(f"6. First audible sample (> {describe_threshold()}), pcm {engine_rate} Hz, {args.audible_runs} lines "
          "per transport (ms from sending the line)")
    engine_silence = engine_leading_silence_ms(await engine_audio(backend, args.text, BENCH_SEED), engine_rate)
    figures = await audible_figures(url, session_fields, args.text, BENCH_SEED, engine_rate, args.audible_runs,
                                    _open_ready_session, LINE_TIMEOUT_S)
    print(f"  {'':9} {'1st byte p50':>12} {'p95':>7} {'audible at p50':>14} {'heard p50':>9} {'p95':>7} "
          f"{'heard-1st byte p50':>18} {'p95':>7}")
    rows: dict[str, Any] = {"engine_leading_silence_ms": engine_silence, "target_ms": HEARD_TARGET_MS}
    for transport, timings in figures.items():
        row = {
            "lines": len(timings),
            "first_byte_ms": summarize([t.first_byte_ms for t in timings]),
            "audible_at_ms": summarize([t.audible_at_ms for t in timings]),
            "audible_arrival_ms": summarize([t.audible_arrival_ms for t in timings]),
            "heard_ms": summarize([t.heard_ms for t in timings]),
            "heard_after_first_byte_ms": summarize([t.heard_after_first_byte_ms for t in timings]),
        }
        rows[transport] = row
        print(f"  {transport:9} {_fmt(row['first_byte_ms']['p50']):>12} {_fmt(row['first_byte_ms']['p95']):>7} "
              f"{_fmt(row['audible_at_ms']['p50']):>14} {_fmt(row['heard_ms']['p50']):>9} "
              f"{_fmt(row['heard_ms']['p95']):>7} {_fmt(row['heard_after_first_byte_ms']['p50']):>18} "
              f"{_fmt(row['heard_after_first_byte_ms']['p95']):>7}", flush=True)
    worst = [rows[t]["heard_after_first_byte_ms"]["p95"] for t in figures if rows[t]["lines"]]
    rows["target_pass"] = bool(worst) and max(worst) <= HEARD_TARGET_MS
    print(f"  audible at: audio time of the first audible sample; heard: when a player starting at the first byte "
          "plays it")
    print(f"  the engine's own leading silence: {_fmt(engine_silence)} ms (the server keeps a "
          f"{LEAD_IN_MS:.0f} ms lead-in at the start of each stream)")
    print(f"  target: heard within {HEARD_TARGET_MS:.0f} ms of the first byte (p95, both transports): "
          f"{'PASS' if rows['target_pass'] else 'MISS'}")
    return rows


# -- output --------------------------------------------------------------------------------------
def _machine() -> dict[str, Any]:
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "cpu_count": os.cpu_count(),
        "cpus_usable": affinity,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "arch": platform.machine(),
    }


def _fmt(value: Any, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _header(args: argparse.Namespace, url: str, server_label: str, info: Any, ready: dict[str, Any],
            segment_text: str, load_s: float) -> None:
    machine = _machine()
    print("realtime-tts bench")
    print(f"  machine:  {machine['cpu_count']} CPUs ({machine['cpus_usable']} usable), {machine['arch']}, "
          f"{machine['platform']}; {machine['implementation']} {machine['python']}")
    print(f"  engine:   {info.name} ({info.engine}, {info.sample_rate} Hz), "
          f"baseline backend in this process, loaded in {load_s:.2f} s")
    print(f"  server:   {server_label} at {url}; model {ready.get('model')}, "
          f"format {ready.get('format')} {ready.get('sample_rate')} Hz")
    if server_label == "in-process":
        print("            the client, the server (its own thread and event loop) and both backends' engine")
        print("            threads share this process and its CPUs: the figures include that contention")
    print(f"  text:     {args.text!r}")
    if segment_text != args.text:
        print(f"  first segment (the engine baseline's text): {segment_text!r}")
    print(f"  seed {BENCH_SEED}; one untimed warm-up run of each first; times in ms, p50/p95 over the runs")
    print()


def overhead_verdict(median_diff_ms: float | None, server_model: str | None, baseline_model: str) -> bool | None:
    """Whether the socket's added time to first audio meets the target; None when it cannot be
    judged: no figure, or the server at --url speaks with another model than this process's
    baseline (its time to first audio then measures the model, not the server)."""
    if median_diff_ms is None or server_model != baseline_model:
        return None
    return median_diff_ms < OVERHEAD_TARGET_MS


def _print_latency(latency: dict[str, Any]) -> None:
    print(f"1-3. Time to first audio, {latency['pairs']} paired runs (engine run, then socket run)")
    print(f"  {'':34} {'p50':>8} {'p95':>8} {'mean':>8} {'min':>8} {'max':>8}")
    rows = (
        ("engine first chunk (in-process)", latency["engine_first_chunk_ms"]),
        ("socket TTFA (text+flush -> audio)", latency["socket_ttfa_ms"]),
        ("server overhead (paired diff)", latency["overhead_ms"]),
    )
    for label, figures in rows:
        print(f"  {label:34} " + " ".join(f"{_fmt(figures[k], 2):>8}" for k in ("p50", "p95", "mean", "min", "max")))
    if latency["server_model"] != latency["baseline_model"]:  # (then the verdict is None)
        print(f"  overhead = median(socket) - median(engine) = {_fmt(latency['overhead_median_diff_ms'], 2)} ms; "
              f"not judged: the server speaks with {latency['server_model']!r}, this process's baseline with "
              f"{latency['baseline_model']!r} (give this process the server's configuration, e.g. "
              "REALTIME_TTS_MODELS_DIR, to compare them)")
    else:
        verdict = "PASS" if latency["overhead_pass"] else "MISS"
        print(f"  overhead = median(socket) - median(engine) = {_fmt(latency['overhead_median_diff_ms'], 2)} ms; "
              f"target < {latency['overhead_target_ms']:.0f} ms: {verdict}")
    if latency["errors"]:
        print(f"  socket runs with errors: {latency['errors']} (e.g. {latency['error_samples'][0]})")
    print()


def _print_level_header(runs: int, rounds: int) -> None:
    print(f"4. Concurrency: each session speaks {runs} lines in turn (text + flush, wait for flushed)"
          + (f"; {rounds} rounds, the levels in turn in each" if rounds > 1 else ""))
    print(f"  {'':>9} {'sessions':>8} {'lines':>6} {'ttfa p50':>9} {'ttfa p95':>9} {'audio s':>8} {'wall s':>7} "
          f"{'RTF':>7} {'x real':>7} {'errors':>6}")


def _print_level(level: LevelResult, label: str = "") -> None:
    print(f"  {label:>9} {level.sessions:>8} {level.lines_done:>6} {_fmt(level.ttfa_ms.get('p50')):>9} "
          f"{_fmt(level.ttfa_ms.get('p95')):>9} {level.audio_s:>8.1f} {level.wall_s:>7.2f} "
          f"{_fmt(level.rtf, 4):>7} {_fmt(level.speed):>7} {level.errors:>6}", flush=True)


# -- command line --------------------------------------------------------------------------------
def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {number}")
    return number


def _levels(value: str) -> list[int]:
    try:
        levels = [int(part) for part in value.split(",") if part.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a comma-separated list of integers, got {value!r}") from exc
    if not levels or any(level < 1 for level in levels):
        raise argparse.ArgumentTypeError(f"concurrency levels must be >= 1, got {value!r}")
    return list(dict.fromkeys(levels))  # each level once (its rounds are merged by level)


def _format_list(value: str) -> list[str]:
    if value.strip().lower() == "none":
        return []
    formats = [part.strip() for part in value.split(",") if part.strip()]
    unknown = [fmt for fmt in formats if fmt not in FORMATS]
    if not formats or unknown:
        raise argparse.ArgumentTypeError(f"formats must be among {', '.join(FORMATS)} (or 'none'), got {value!r}")
    return formats


def build_parser(prog: str = "realtime-tts bench") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Measure the engine's and the socket's time to first audio, the server's overhead, "
        "and throughput under concurrent sessions. Prints figures; targets are shown for information.",
    )
    parser.add_argument("--runs", type=_positive_int, default=DEFAULT_RUNS,
                        help=f"lines per session in the concurrency runs (default {DEFAULT_RUNS})")
    parser.add_argument("--pairs", type=_positive_int, default=None,
                        help=f"paired engine/socket runs for the latency figures (default max(--runs, {DEFAULT_PAIRS}))")
    parser.add_argument("--concurrency", type=_levels, default=list(DEFAULT_CONCURRENCY),
                        help="comma-separated numbers of concurrent sessions (default 1,4,16)")
    parser.add_argument("--rounds", type=_positive_int, default=1,
                        help="run the concurrency levels this many times, in turn (1, 4, 1, 4, ...), and "
                        "report totals and each round's throughput gain: a noisy machine's drift then "
                        "touches every level alike (default 1)")
    parser.add_argument("--text", default=DEFAULT_TEXT, help="the line to speak (default: %(default)r)")
    parser.add_argument("--url", default=None,
                        help="an external server's WebSocket URL (ws://host:port/v1/realtime); "
                        "default: start one in this process. The engine baseline always runs locally")
    parser.add_argument("--format", default="pcm", choices=FORMATS, help="audio format (default pcm)")
    parser.add_argument("--formats", type=_format_list, default=list(FORMATS),
                        help="formats for section 5, comma-separated, or 'none' (default: all seven)")
    parser.add_argument("--format-runs", type=_positive_int, default=DEFAULT_FORMAT_RUNS,
                        help=f"socket lines per format in section 5 (default {DEFAULT_FORMAT_RUNS})")
    parser.add_argument("--format-rate", type=int, default=24000, choices=OUTPUT_SAMPLE_RATES,
                        help="sample rate for section 5 (default 24000)")
    parser.add_argument("--audible-runs", type=_positive_int, default=DEFAULT_AUDIBLE_RUNS,
                        help=f"lines per transport for section 6, the first audible sample (default {DEFAULT_AUDIBLE_RUNS})")
    parser.add_argument("--json", type=Path, default=None, metavar="PATH", help="also write the figures as JSON")
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, or a bad option (argparse has printed why)
        return exc.code if isinstance(exc.code, int) else 2
    if not args.text.strip():
        print("bench: --text must not be empty", file=sys.stderr)
        return 2
    if args.pairs is None:
        args.pairs = max(args.runs, DEFAULT_PAIRS)
    server = None
    config: ServerConfig | None = None
    try:
        if args.url:
            url, label = args.url, "external"
        else:
            from realtime.server.run import BackgroundServer

            config = ServerConfig(log_level="warning")
            server = BackgroundServer(config).start()
            url, label = server.url, "in-process"
        started = time.perf_counter()
        report = asyncio.run(run_bench(args, url, label, config))
        report["bench_wall_s"] = round(time.perf_counter() - started, 3)
    except (OSError, ServerError, RuntimeError, ValueError, WebSocketException) as exc:
        print(f"bench: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        if server is not None:
            server.stop()
    print(f"\ntotal bench time {report['bench_wall_s']:.1f} s")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
