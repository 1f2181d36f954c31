"""Test data built once per run and shared by every pytest-xdist worker of it (the tiny checkpoints).

Each worker is its own process with its own session fixtures; without this each would build
the same random checkpoints again (seconds of CPU each, with the torch stack busy on every core).
The first worker to ask builds under a file lock in the run's shared temporary directory; the
others wait on the lock and reuse what it built. Without xdist this is a plain build.
"""

from __future__ import annotations

import fcntl
import os
import pickle
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

T = TypeVar("T")


def built_once_per_run(tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], T]) -> T:
    """`build(directory)` run once per test run (across workers); its result, which must pickle, for every caller."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the workers' own base directories live side by side in the run's
    directory, result_file = root / name, root / f"{name}.result"
    with open(root / f"{name}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not result_file.exists():
            shutil.rmtree(directory, ignore_errors=True)  # what a worker that died while building left
            directory.mkdir()
            result_file.write_bytes(pickle.dumps(build(directory)))
        return pickle.loads(result_file.read_bytes())  # noqa: S301 (written just above, by this run)
