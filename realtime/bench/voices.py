"""Saved voices against predefined speakers: time to first audio over the socket.

    realtime-tts bench-voices MODELS_DIR [--runs 8] [--json PATH]

MODELS_DIR must hold a Qwen3-TTS Base checkpoint and a CustomVoice one (tiny random ones do:
`realtime-tts make-checkpoints --out DIR --size tiny`). An in-process server on a temporary
data directory saves a voice from a reference signal (in-context and x-vector only), then,
interleaved run after run, each condition is timed two ways:

- new session: from sending `session.start` (with the line and a flush right behind it) to
  the first `audio`: what a client that opens a session per line waits, voice preparation
  included (decoding and encoding the reference, for the inline clone);
- open session: from sending a line on a session whose context is ready to its first `audio`.

Conditions: a predefined speaker (CustomVoice), the saved voices, and the same reference sent
inline each time (`mode: voice_clone` with `ref_audio`), which is what a saved voice spares.
Segments are bounded to a few frames (random weights never end a segment).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import urllib.request

import numpy as np
import soundfile
import websockets

from realtime.bench.socket import _open_ready_session, speak_line, summarize
from realtime.config import ServerConfig
from realtime.protocol import codec
from realtime.voices.client import VoicesApiError, VoicesClient

TEXT = "Hello there."
FRAMES = 8
TIMEOUT_S = 120.0
TOLERANCE = 1.10  # "no slower" within 10 %: figures from a shared CPU are noisy


def reference_wav(seconds: float = 3.0) -> bytes:
    """A voiced-sounding test signal (a 180 Hz tone with tremolo) as a WAV file."""
    t = np.arange(int(seconds * 24000)) / 24000
    samples = (0.3 * np.sin(2 * np.pi * 180 * t) * (1 + 0.3 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, 24000, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


async def new_session_first_audio_ms(url: str, fields: dict[str, Any]) -> float:
    """session.start, the line and a flush sent at once; milliseconds to the first audio."""
    async with websockets.connect(url, subprotocols=["tts.v1.msgpack"], max_size=None) as connection:
        started = time.perf_counter()
        for message in ({"type": "session.start", **fields}, {"type": "text", "text": TEXT}, {"type": "flush"}):
            await connection.send(codec.pack(message))
        while True:
            message = codec.unpack(await asyncio.wait_for(connection.recv(), TIMEOUT_S))
            if message["type"] == "audio":
                return (time.perf_counter() - started) * 1000.0
            if message["type"] == "error":
                raise RuntimeError(f"{message['name']}: {message['message']}")


async def open_session_first_audio_ms(url: str, fields: dict[str, Any]) -> float:
    client = await _open_ready_session(url, fields)
    try:
        result = await speak_line(client, TEXT, TIMEOUT_S)
    finally:
        await client.close()
    if result.errors or result.ttfa_ms is None:
        raise RuntimeError("; ".join(result.errors) or "no audio")
    return result.ttfa_ms


def _conditions(http_url: str, models: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    base = next((m["id"] for m in models if "voice_clone" in m["modes"]), None)
    custom = next((m for m in models if "custom_voice" in m["modes"] and m["engine"] == "qwen3"), None)
    if base is None or custom is None:
        raise RuntimeError("the models directory needs a Qwen3-TTS Base and a CustomVoice checkpoint")
    audio = reference_wav()
    client = VoicesClient(http_url, timeout=TIMEOUT_S)
    try:
        icl = client.create_clone("bench in-context", audio, "A reference line for the benchmark.", model=base)
        xvec = client.create_clone("bench x-vector", audio, x_vector_only=True, model=base)
    except VoicesApiError as exc:
        raise RuntimeError(f"creating a voice failed: {exc}") from exc
    common = {"seed": 1, "language": "english", "generation": {"max_new_tokens": FRAMES}}
    return {
        "predefined speaker": {"mode": "custom_voice", "model": custom["id"], "speaker": custom["speakers"][0], **common},
        "saved voice (in-context)": {"voice": icl["id"], **common},
        "saved voice (x-vector)": {"voice": xvec["id"], **common},
        "inline reference (in-context)": {"mode": "voice_clone", "model": base, "ref_audio": audio,
                                          "ref_text": "A reference line for the benchmark.", **common},
    }


async def run(url: str, http_url: str, runs: int) -> dict[str, Any]:
    with urllib.request.urlopen(http_url + "/v1/models", timeout=30) as response:
        models = json.loads(response.read())["data"]
    conditions = _conditions(http_url, models)
    for fields in conditions.values():  # warm-up: every model loaded, every path taken once
        await new_session_first_audio_ms(url, fields)
    figures: dict[str, dict[str, list[float]]] = {name: {"new": [], "open": []} for name in conditions}
    for _ in range(runs):  # interleaved, so drifts of a shared machine hit every condition alike
        for name, fields in conditions.items():
            figures[name]["new"].append(await new_session_first_audio_ms(url, fields))
            figures[name]["open"].append(await open_session_first_audio_ms(url, fields))
    return {name: {"new_session_ms": summarize(times["new"]), "open_session_ms": summarize(times["open"])}
            for name, times in figures.items()}


def verdict(results: dict[str, Any]) -> dict[str, Any]:
    """Saved voices' p50 against the predefined speaker's, each way."""
    reference = results["predefined speaker"]
    out: dict[str, Any] = {}
    for name in ("saved voice (in-context)", "saved voice (x-vector)"):
        for way in ("new_session_ms", "open_session_ms"):
            ratio = results[name][way]["p50"] / reference[way]["p50"]
            out[f"{name} / {way}"] = {"ratio": round(ratio, 3), "pass": ratio <= TOLERANCE}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="realtime-tts bench-voices", description=__doc__.split("\n\n")[0])
    parser.add_argument("models_dir", type=Path, help="a directory with a Base and a CustomVoice checkpoint")
    parser.add_argument("--runs", type=int, default=8, help="runs per condition and way (default 8)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    args = parser.parse_args(argv)
    from realtime.server.run import BackgroundServer

    with tempfile.TemporaryDirectory(prefix="bench-voices-") as data_dir:
        config = ServerConfig(models_dir=args.models_dir, device=args.device, log_level="error",
                              data_dir=Path(data_dir))
        try:
            with BackgroundServer(config) as server:
                results = asyncio.run(run(server.url, server.http_url, args.runs))
        except (RuntimeError, OSError) as exc:
            print(f"bench-voices: {exc}", file=sys.stderr)
            return 1
    report = {"runs": args.runs, "text": TEXT, "frames": FRAMES, "results": results, "verdict": verdict(results)}
    print(f"First audio, p50 / p95 ms over {args.runs} runs ({args.models_dir}, {args.device}):")
    print(f"{'condition':32} {'new session':>20} {'open session':>20}")
    for name, figures in results.items():
        new, opened = figures["new_session_ms"], figures["open_session_ms"]
        print(f"{name:32} {new['p50']:>9.1f} / {new['p95']:<8.1f} {opened['p50']:>9.1f} / {opened['p95']:<8.1f}")
    for name, outcome in report["verdict"].items():
        print(f"{name}: {outcome['ratio']:.2f}x the predefined speaker: {'PASS' if outcome['pass'] else 'FAIL'}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
