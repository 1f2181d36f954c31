"""Voice-agent frameworks, unchanged, against a real server: Pipecat's OpenAITTSService and LiveKit's openai.TTS.

The frameworks live in .venv-agents (scripts/setup-agents; scripts/test makes it): their pins
fight ours (installing them here would downgrade soundfile, soxr and protobuf), so each
runs in a subprocess (tests/agents/framework_client.py) against a server of this process: one
subprocess per framework runs all of that framework's cases, one after another.
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from realtime.audio.lead_in import AUDIBLE_LEVEL, LEAD_IN_MS
from realtime.server.run import BackgroundServer
from tests.agents import framework_client
from tests.support.http_checks import post_speech
from tests.support.local import side_venv_python

ROOT = Path(__file__).resolve().parents[2]
CLIENT = Path(__file__).with_name("framework_client.py")
TEXT = "Hello there. How are you today?"
RUN_TIMEOUT_S = 180


def agents_python() -> Path:
    """The interpreter of the frameworks' venv (Pipecat and LiveKit)."""
    return side_venv_python(".venv-agents", "REALTIME_TTS_AGENTS_PYTHON", "scripts/setup-agents")


class _Warnings(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.name}: {record.getMessage()}")


@contextmanager
def server_warnings() -> Iterator[list[str]]:
    """Every WARNING-or-worse line our server logs meanwhile (ours and uvicorn's)."""
    handler = _Warnings()
    loggers = [logging.getLogger(name) for name in ("realtime", "uvicorn")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield handler.lines
    finally:
        for logger in loggers:
            logger.removeHandler(handler)


@pytest.fixture(scope="module")
def reference_samples(server: BackgroundServer) -> int:
    """How long the line is when we speak it ourselves (pcm over HTTP)."""
    response = post_speech(server, {"model": "tts-1", "voice": "alloy", "input": TEXT, "response_format": "pcm"})
    assert response.status_code == 200
    return len(response.content) // 2


@dataclass(frozen=True)
class FrameworkRuns:
    """What each run of one framework got (by name), and what our server logged as warnings meanwhile."""

    results: dict[str, dict[str, Any]]
    server_warnings: list[str]


def run_framework(framework: str, server: BackgroundServer, runs: dict[str, dict[str, Any]]) -> FrameworkRuns:
    """The framework's client once per named options, in one subprocess of .venv-agents."""
    with server_warnings() as logged:
        completed = subprocess.run(
            [str(agents_python()), str(CLIENT), framework, server.http_url + "/v1",
             json.dumps([{"text": TEXT, **options} for options in runs.values()])],
            capture_output=True, text=True, timeout=RUN_TIMEOUT_S, cwd=ROOT,
        )
    assert completed.returncode == 0, completed.stderr[-4000:]
    results = json.loads(completed.stdout.strip().splitlines()[-1])
    return FrameworkRuns(dict(zip(runs, results, strict=True)), logged)


def check_audio(result: dict[str, Any], reference_samples: int, *, compressed: bool) -> None:
    assert result["errors"] == [], result
    assert result["warnings"] == [], result  # e.g. LiveKit warns about a response without x-request-id
    assert result["sample_rate"] == 24000 and result["channels"] == [1], result
    # mp3 decodes with the codec's priming in front and padding at the end; pcm is exact up to the seed's effect.
    assert abs(result["samples"] - reference_samples) <= reference_samples * 0.1, result
    if not compressed:
        assert result["first_audible_ms"] <= LEAD_IN_MS + 0.5, result  # the leading silence was cut


PIPECAT_RUNS = {
    # Pipecat's defaults: gpt-4o-mini-tts, voice alloy, pcm at 24 kHz; `instructions` as a user would set it.
    "instructions": {"instructions": "Speak calmly."},
    "speed": {"speed": 2.0},
}
LIVEKIT_RUNS = {
    "pcm": {"model": "tts-1", "response_format": "pcm"},  # raw bytes
    "mp3": {"model": "tts-1", "response_format": "mp3"},
    "sse-mp3-instructions": {"instructions": "Cheerful."},  # LiveKit's defaults: gpt-4o-mini-tts, so SSE, mp3 in it
    "sse-pcm": {"model": "gpt-4o-mini-tts", "response_format": "pcm"},  # SSE carrying pcm
}
COMPRESSED = {"mp3", "sse-mp3-instructions"}


@pytest.fixture(scope="module")
def pipecat(server: BackgroundServer) -> FrameworkRuns:
    return run_framework("pipecat", server, PIPECAT_RUNS)


@pytest.fixture(scope="module")
def livekit(server: BackgroundServer) -> FrameworkRuns:
    return run_framework("livekit", server, LIVEKIT_RUNS)


def test_pipecat_openai_tts_service_speaks_with_instructions(pipecat: FrameworkRuns, reference_samples: int) -> None:
    result = pipecat.results["instructions"]
    check_audio(result, reference_samples, compressed=False)
    assert result["frames"] >= 1
    assert pipecat.server_warnings == []


def test_pipecat_with_speed_gets_a_real_tempo_change(pipecat: FrameworkRuns, reference_samples: int) -> None:
    result = pipecat.results["speed"]
    assert result["errors"] == [] and result["warnings"] == [], result
    assert reference_samples * 0.4 <= result["samples"] <= reference_samples * 0.6, result
    assert pipecat.server_warnings == []


@pytest.mark.parametrize("run", LIVEKIT_RUNS)
def test_livekit_openai_tts_synthesize(livekit: FrameworkRuns, reference_samples: int, run: str) -> None:
    result = livekit.results[run]
    check_audio(result, reference_samples, compressed=run in COMPRESSED)
    assert len(result["request_ids"]) == 1 and re.fullmatch(r"req_[0-9a-f]{32}", result["request_ids"][0]), result
    assert livekit.server_warnings == []


def test_the_client_script_measures_what_it_claims() -> None:
    """The subprocess's audible-sample finder agrees with the server's own (one threshold, two copies)."""
    samples = np.zeros(480, dtype="<i2")
    samples[240] = 200  # 200/32768 is -44 dBFS
    samples[100] = 100  # -50.3 dBFS: not audible
    assert framework_client.first_audible_ms(samples.tobytes(), 24000) == 10.0
    assert framework_client.AUDIBLE_LEVEL == pytest.approx(AUDIBLE_LEVEL)
