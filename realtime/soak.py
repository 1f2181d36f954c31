"""Soak: N clients for M minutes doing what real (and careless) clients do, watching the server's memory.

    realtime-tts soak [--clients 8] [--minutes 3] [--url ws://host:port/v1/realtime --pid PID]
                      [--sample-s 10] [--seed 1] [--json out.json]

Each client loops over random episodes: a normal line (text, end, read to `done`), a
barge-in (`cancel` after the first audio), a disconnect mid-stream (the socket dropped
without a close), a slow reader (pauses between reads), a client that stops reading for
a while, and an HTTP speech request (sometimes dropped mid-body), in every output format
and several sample rates. It prints sessions, errors by code, stuck episodes (no `done`
or answer within the deadline) and the server's RSS over time; with no `--url` the
server runs in this process (its RSS then includes the clients, which keep no audio).

It starts the clients once the server says it is ready (`/ready`), and counts a request or
socket the server never answered (refused, reset before a response) apart from the drops the
episodes make on purpose: a server that stops answering must not pass as a quiet one.

The target (README): RSS after warm-up within 10 % to the end, no stuck episode, no
unexpected error code, no unanswered connection. Figures only; the exit status is 1 only for
stuck episodes, unexpected codes or unanswered connections (2: the server never became ready).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import websockets

from realtime.audio.formats import FORMATS
from realtime.protocol import codec

SAMPLE_RATES = (16000, 24000, 48000)  # a few of the catalogue's: low, the engine's, high
EPISODES = ("normal", "normal", "cancel", "disconnect", "slow", "stall", "http", "http_drop")
TEXTS = (
    "Hello there. This is a soak test of the streaming server.",
    "The quick brown fox jumps over the lazy dog. It does so again and again, for minutes.",
    "Call 1234567890123456789012345678901234567890 now! \U0001f642 Prices start at $5.50.",
    "Short.",
    "One line.\nAnother line.\nAnd a third, a little longer than the others.",
)
EPISODE_DEADLINE_S = 90.0
READY_TIMEOUT_S = 120.0  # how long a server at --url may take to load its models before the clients start
# Codes a soak's clients can legitimately earn: none (they only send valid messages). A
# server at capacity (1013) is reported apart: it is the operator's sizing, not a bug.
EXPECTED_CODES: frozenset[int] = frozenset()


@dataclass
class SoakReport:
    clients: int
    duration_s: float
    episodes: Counter[str] = field(default_factory=Counter)
    sessions: int = 0
    http_requests: int = 0
    errors: Counter[int] = field(default_factory=Counter)
    http_statuses: Counter[int] = field(default_factory=Counter)
    unanswered: Counter[str] = field(default_factory=Counter)  # connections the server never answered, by error
    stuck: int = 0
    rss_mib: list[tuple[float, float]] = field(default_factory=list)  # (seconds since start, MiB)
    slots_left: int | None = None  # in-process only: sessions still holding a slot at the end
    queued_bytes_left: float | None = None

    @property
    def unexpected_codes(self) -> dict[int, int]:
        return {code: n for code, n in self.errors.items() if code not in EXPECTED_CODES and code != 1013}

    def growth_after_warmup(self) -> float | None:
        """RSS at the end over RSS after the first fifth of the run (warm-up), as a fraction (0.1 = +10 %)."""
        if len(self.rss_mib) < 3:
            return None
        warm_at = self.duration_s / 5
        warm = next((mib for t, mib in self.rss_mib if t >= warm_at), self.rss_mib[1][1])
        return self.rss_mib[-1][1] / warm - 1.0

    def summary(self) -> dict[str, Any]:
        data = asdict(self)
        data["episodes"] = dict(self.episodes)
        data["errors"] = {str(k): v for k, v in self.errors.items()}
        data["http_statuses"] = {str(k): v for k, v in self.http_statuses.items()}
        data["unanswered"] = dict(self.unanswered)
        data["unexpected_codes"] = {str(k): v for k, v in self.unexpected_codes.items()}
        data["growth_after_warmup"] = self.growth_after_warmup()
        return data


class _Stuck(Exception):
    pass


class ServerNotReady(RuntimeError):
    """The server at --url did not say it was ready in time (not running, or still loading)."""


async def wait_until_ready(http_url: str, timeout_s: float = READY_TIMEOUT_S) -> None:
    """Poll `/ready` until it answers 200, so the clients do not spin on a server still starting."""
    deadline = time.monotonic() + timeout_s
    last = "no answer"
    async with httpx.AsyncClient(timeout=5.0) as http:
        while True:
            try:
                response = await http.get(http_url + "/ready")
                if response.status_code == 200:
                    return
                last = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}: {exc}"
            if time.monotonic() >= deadline:
                raise ServerNotReady(f"the server at {http_url} was not ready within {timeout_s:.0f} s ({last})")
            await asyncio.sleep(0.2)


def _unanswered_key(transport: str, exc: BaseException) -> str:
    return f"{transport} {type(exc).__name__}: {exc}"[:160]


async def _recv(connection: Any, timeout: float = EPISODE_DEADLINE_S) -> dict[str, Any]:
    try:
        return codec.unpack(await asyncio.wait_for(connection.recv(), timeout))
    except TimeoutError:
        raise _Stuck from None


class _Client:
    def __init__(self, url: str, http_url: str, rng: random.Random, report: SoakReport) -> None:
        self.url = url
        self.http_url = http_url
        self.rng = rng
        self.report = report

    async def run(self, until: float) -> None:
        async with httpx.AsyncClient(timeout=EPISODE_DEADLINE_S) as http:
            while time.monotonic() < until:
                episode = self.rng.choice(EPISODES)
                self.report.episodes[episode] += 1
                try:
                    if episode.startswith("http"):
                        await self._http(http, drop=episode == "http_drop")
                    else:
                        await self._socket(episode)
                except _Stuck:
                    self.report.stuck += 1
                except (OSError, websockets.WebSocketException, httpx.HTTPError):
                    pass  # a connection the episode dropped on purpose, or the server shutting down

    async def _socket(self, episode: str) -> None:
        start = {
            "type": "session.start", "format": self.rng.choice(FORMATS), "sample_rate": self.rng.choice(SAMPLE_RATES),
            "seed": self.rng.randrange(2**32),
        }
        try:
            connection = await websockets.connect(self.url, subprotocols=["tts.v1.msgpack"], max_size=None)
        except (OSError, websockets.WebSocketException) as exc:  # refused, or no handshake: not on purpose
            self.report.unanswered[_unanswered_key("socket", exc)] += 1
            raise
        async with connection:
            await connection.send(codec.pack(start))
            ready = await _recv(connection)
            if ready.get("type") == "error":
                self.report.errors[int(ready["code"])] += 1
                return
            self.report.sessions += 1
            await connection.send(codec.pack({"type": "text", "text": " ".join(self.rng.sample(TEXTS, 2))}))
            await connection.send(codec.pack({"type": "end"}))
            seen_audio = False
            while True:
                message = await _recv(connection)
                kind = message.get("type")
                if kind == "error":
                    self.report.errors[int(message["code"])] += 1
                if kind == "done":
                    break
                if kind != "audio":
                    continue
                if not seen_audio:
                    seen_audio = True
                    if episode == "cancel":
                        await connection.send(codec.pack({"type": "cancel"}))
                    elif episode == "disconnect":
                        connection.transport.abort()  # gone without a close
                        return
                    elif episode == "stall":
                        await asyncio.sleep(self.rng.uniform(0.5, 3.0))  # reads nothing for a while
                if episode == "slow":
                    await asyncio.sleep(self.rng.uniform(0.01, 0.1))
            await connection.send(codec.pack({"type": "session.end"}))
            try:
                while True:
                    await _recv(connection, timeout=10)
            except websockets.ConnectionClosed:
                pass

    async def _http(self, http: httpx.AsyncClient, drop: bool) -> None:
        body = {"model": "tts-1", "voice": "alloy", "input": self.rng.choice(TEXTS),
                "response_format": self.rng.choice(("pcm", "wav", "flac", "mp3", "opus", "aac")),
                "stream_format": self.rng.choice(("audio", "sse"))}
        self.report.http_requests += 1
        answered = False
        try:
            async with http.stream("POST", self.http_url + "/v1/audio/speech", json=body) as response:
                answered = True
                self.report.http_statuses[response.status_code] += 1
                async for _ in response.aiter_raw():
                    if drop:
                        return  # leaves mid-body: the response is closed under the server
        except httpx.HTTPError as exc:
            if not answered:  # no response at all: nothing the client did on purpose
                self.report.unanswered[_unanswered_key("http", exc)] += 1
            raise


async def soak(
    url: str, http_url: str, clients: int, duration_s: float, *, pid: int | None, sample_s: float, seed: int,
    printer: Any = print, ready_timeout_s: float = READY_TIMEOUT_S,
) -> SoakReport:
    await wait_until_ready(http_url, ready_timeout_s)
    report = SoakReport(clients=clients, duration_s=duration_s)
    process = psutil.Process(pid) if pid is not None else None
    started = time.monotonic()
    until = started + duration_s

    def sample() -> None:
        if process is None:
            return
        elapsed = time.monotonic() - started
        mib = process.memory_info().rss / 2**20
        report.rss_mib.append((round(elapsed, 1), round(mib, 1)))
        printer(f"[{elapsed:6.0f} s] rss {mib:7.1f} MiB  sessions {report.sessions}  http {report.http_requests}  "
                f"errors {dict(report.errors)}  stuck {report.stuck}")

    async def sampler() -> None:
        while time.monotonic() < until:
            sample()
            await asyncio.sleep(min(sample_s, max(0.05, until - time.monotonic())))

    tasks = [asyncio.create_task(_Client(url, http_url, random.Random(seed * 1000 + i), report).run(until))
             for i in range(clients)]
    watcher = asyncio.create_task(sampler())
    await asyncio.gather(*tasks)
    await watcher
    sample()
    return report


def _print_report(report: SoakReport, printer: Any = print) -> None:
    growth = report.growth_after_warmup()
    printer(f"episodes {dict(report.episodes)}")
    printer(f"sessions {report.sessions}, http requests {report.http_requests} {dict(report.http_statuses)}")
    if report.unanswered:
        printer(f"connections the server never answered: {dict(report.unanswered)}")
    printer(f"errors by code {dict(report.errors)}; unexpected {report.unexpected_codes}; stuck {report.stuck}")
    if report.slots_left is not None:
        printer(f"slots still held at the end {report.slots_left}; bytes still queued {report.queued_bytes_left}")
    if report.rss_mib:
        first, last = report.rss_mib[0][1], report.rss_mib[-1][1]
        growth_text = f"{growth * 100:+.1f} % after warm-up" if growth is not None else "n/a"
        printer(f"rss {first:.1f} -> {last:.1f} MiB ({growth_text})")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="realtime-tts soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--url", help="a running server's WebSocket URL (default: a server in this process)")
    parser.add_argument("--pid", type=int, help="with --url: the server's process id, for its RSS")
    parser.add_argument("--sample-s", type=float, default=10.0, help="seconds between RSS samples")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="write the report here too")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        report = run_soak(args.clients, args.minutes * 60.0, url=args.url, pid=args.pid, sample_s=args.sample_s,
                          seed=args.seed)
    except ServerNotReady as exc:
        print(f"realtime-tts soak: {exc}", file=sys.stderr)
        return 2
    _print_report(report)
    if args.json:
        args.json.write_text(json.dumps(report.summary(), indent=2))
    return 1 if report.stuck or report.unexpected_codes or report.unanswered else 0


def run_soak(
    clients: int, duration_s: float, *, url: str | None = None, pid: int | None = None, sample_s: float = 10.0,
    seed: int = 1, printer: Any = print, ready_timeout_s: float = READY_TIMEOUT_S,
) -> SoakReport:
    """Soak a server at `url`, or one started in this process (then its slots are checked at the end)."""
    if url is not None:
        http_url = url.replace("ws://", "http://").replace("wss://", "https://").split("/v1/")[0]
        return asyncio.run(soak(url, http_url, clients, duration_s, pid=pid, sample_s=sample_s, seed=seed,
                                printer=printer, ready_timeout_s=ready_timeout_s))
    from realtime.config import ServerConfig
    from realtime.server.run import BackgroundServer

    with BackgroundServer(ServerConfig(log_level="error", engine_threads=2)) as running:
        report = asyncio.run(soak(running.url, running.http_url, clients, duration_s, pid=psutil.Process().pid,
                                  sample_s=sample_s, seed=seed, printer=printer))
        deadline = time.monotonic() + 30
        state = running.app.state
        while state.slots.active and time.monotonic() < deadline:  # a dropped client's teardown may still run
            time.sleep(0.05)
        report.slots_left = state.slots.active
        report.queued_bytes_left = state.metrics.registry.get_sample_value("realtime_tts_queued_bytes")
    return report


if __name__ == "__main__":
    sys.exit(main())
