"""The malloc arena cap: applied on glibc, left to MALLOC_ARENA_MAX when the operator set it."""

from __future__ import annotations

import os
import subprocess
import sys


def _run(code: str, env: dict[str, str]) -> str:
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout.strip()


def test_arenas_are_capped_unless_the_environment_says_otherwise() -> None:
    code = "from realtime.server.memory import limit_malloc_arenas; print(limit_malloc_arenas())"
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    env["PYTHONPATH"] = os.pathsep.join(sys.path)
    assert _run(code, env) == "True"  # this is a glibc system
    assert _run(code, {**env, "MALLOC_ARENA_MAX": "4"}) == "False"
