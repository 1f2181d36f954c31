"""Small facts about this machine the tests need: a free loopback port, a side venv's interpreter."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def side_venv_python(venv: str, variable: str, made_by: str) -> Path:
    """The interpreter of a venv kept apart from .venv (`variable` overrides where it is); a clear
    failure, not a skip, when it was never made."""
    python = Path(os.environ.get(variable, ROOT / venv / "bin" / "python"))
    if not python.exists():
        pytest.fail(f"{python} is missing: run {made_by} (scripts/test does)")
    return python
