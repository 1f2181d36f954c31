"""Runs a voice-agent framework's OpenAI TTS client against a server and prints what it got, as JSON.

Runs in .venv-agents (scripts/setup-agents), never in the project's venv: the frameworks'
pins fight ours. The tests (tests/agents/test_frameworks.py) start a real server and run
this script in a subprocess:

    .venv-agents/bin/python tests/agents/framework_client.py pipecat|livekit BASE_URL JSON_LIST_OF_OPTIONS

Runs the framework once per options object, one after another (one interpreter: importing a
framework takes seconds), and prints a JSON list with one object per run: sample_rate, samples (total, mono), frames, first_audible_ms (audio
time of the first sample over -50 dBFS), errors (error frames or exceptions) and warnings
(every WARNING-or-worse line the framework logged), request_ids where the framework saw them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from typing import Any

import numpy as np

AUDIBLE_LEVEL = 10 ** (-50 / 20)


def first_audible_ms(pcm: bytes, sample_rate: int) -> float | None:
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
    loud = np.flatnonzero(np.abs(samples) > AUDIBLE_LEVEL)
    return float(loud[0]) * 1000.0 / sample_rate if len(loud) else None


async def run_pipecat(base_url: str, options: dict[str, Any]) -> dict[str, Any]:
    from loguru import logger
    from pipecat.frames.frames import ErrorFrame, TTSAudioRawFrame, TTSSpeakFrame
    from pipecat.services.openai.tts import OpenAITTSService
    from pipecat.tests.utils import run_test

    warnings: list[str] = []
    logger.remove()
    logger.add(lambda message: warnings.append(str(message).strip()), level="WARNING")
    settings: dict[str, Any] = {}
    for name in ("model", "voice", "instructions", "speed"):
        if name in options:
            settings[name] = options[name]
    tts = OpenAITTSService(
        api_key="unused", base_url=base_url, sample_rate=24000, settings=OpenAITTSService.Settings(**settings)
    )
    down, up = await run_test(tts, frames_to_send=[TTSSpeakFrame(options["text"])], start_timeout=30.0)
    audio = [frame for frame in down if isinstance(frame, TTSAudioRawFrame)]
    errors = [frame.error for frame in [*down, *up] if isinstance(frame, ErrorFrame)]
    pcm = b"".join(frame.audio for frame in audio)
    rates = sorted({frame.sample_rate for frame in audio})
    return {
        "sample_rate": rates[0] if len(rates) == 1 else rates,
        "channels": sorted({frame.num_channels for frame in audio}),
        "samples": len(pcm) // 2,
        "frames": len(audio),
        "first_audible_ms": first_audible_ms(pcm, 24000),
        "errors": errors,
        "warnings": warnings,
    }


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.name}: {record.getMessage()}")


async def run_livekit(base_url: str, options: dict[str, Any]) -> dict[str, Any]:
    from livekit.plugins import openai

    collect = _Collect()
    logging.getLogger().addHandler(collect)
    logging.getLogger().setLevel(logging.INFO)
    kwargs: dict[str, Any] = {"base_url": base_url, "api_key": "unused"}
    for name in ("model", "voice", "instructions", "speed", "response_format"):
        if name in options:
            kwargs[name] = options[name]
    tts = openai.TTS(**kwargs)
    errors: list[str] = []
    pcm = bytearray()
    rates: set[int] = set()
    channels: set[int] = set()
    request_ids: set[str] = set()
    frames = 0
    started = time.perf_counter()
    try:
        async with tts.synthesize(options["text"]) as stream:
            async for event in stream:
                frames += 1
                rates.add(event.frame.sample_rate)
                channels.add(event.frame.num_channels)
                request_ids.add(event.request_id)
                pcm += bytes(event.frame.data)
    except Exception as exc:  # the framework's own error: reported, the test fails on it
        errors.append(f"{type(exc).__name__}: {exc}")
    finally:
        await tts.aclose()
    return {
        "sample_rate": next(iter(rates)) if len(rates) == 1 else sorted(rates),
        "channels": sorted(channels),
        "samples": len(pcm) // 2,
        "frames": frames,
        "first_audible_ms": first_audible_ms(bytes(pcm), 24000),
        "errors": errors,
        "warnings": collect.lines,
        "request_ids": sorted(request_ids),
        "seconds": time.perf_counter() - started,
    }


def main() -> None:
    framework, base_url, raw = sys.argv[1], sys.argv[2], sys.argv[3]
    runner = {"pipecat": run_pipecat, "livekit": run_livekit}[framework]
    print(json.dumps([asyncio.run(runner(base_url, options)) for options in json.loads(raw)]))


if __name__ == "__main__":
    main()
