"""A Ray Serve deployment of the server for tests: `realtime-tts serve-ray` from .venv-ray, in a subprocess.

Ray lives in its own venv (scripts/setup-ray; scripts/test makes it), so the tests never import it:
they start the deployment as an operator would, wait for its ready line, and talk to it as clients.
Each replica prints its id and pid when it starts (Ray relays it to this log), so a test can kill one.
"""

from __future__ import annotations

import fcntl
import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import TextIO

from tests.support.local import ROOT, free_port, side_venv_python

READY_LINE = re.compile(r"realtime-tts on Ray Serve: (ws://\S+) .*; Ray at (\S+)\)")
REPLICA_LINE = re.compile(r"realtime-tts replica (\w+) starting \(pid (\d+)\)")
START_TIMEOUT_S = 240.0
# One local Ray cluster at a time on this machine (test workers run modules in parallel; a cluster
# takes every core while it starts, and its replicas are sized for the machine).
CLUSTER_LOCK = Path("/tmp/realtime-tts-ray-tests.lock")
STOP_TIMEOUT_S = 60.0


def ray_python() -> Path:
    """The interpreter of .venv-ray (Ray Serve)."""
    return side_venv_python(".venv-ray", "REALTIME_TTS_RAY_PYTHON", "scripts/setup ray")


class RayDeployment:
    """`serve-ray` with these arguments on a free port; `url`, `http_url`, `replica_pids` once started."""

    def __init__(self, *arguments: str, log_path: Path, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.arguments = ["serve-ray", "--port", str(self.port), "--log-level", "warning", *arguments]
        self.log_path = log_path
        self.env = {**os.environ, **(env or {}), "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
        self.lines: list[str] = []
        self.url = ""
        self.ray_address = ""  # this deployment's own Ray (never `auto`: another Ray may run on the machine)
        self._changed = threading.Condition()
        self._process: subprocess.Popen[str] | None = None
        self._lock: TextIO | None = None

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def replica_pids(self) -> dict[str, int]:
        with self._changed:
            return {rid: int(pid) for line in self.lines for rid, pid in REPLICA_LINE.findall(line)}

    def start(self) -> RayDeployment:
        self._lock = open(CLUSTER_LOCK, "a")  # noqa: SIM115 (held until stop)
        fcntl.flock(self._lock, fcntl.LOCK_EX)
        self._process = subprocess.Popen(
            [str(ray_python()), "-m", "realtime", *self.arguments], cwd=ROOT, env=self.env, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
        )
        threading.Thread(target=self._read, daemon=True).start()
        if not self.wait_for(lambda: any(READY_LINE.search(line) for line in self.lines), START_TIMEOUT_S):
            tail = "".join(self.lines[-40:])
            self.stop()
            raise RuntimeError(f"serve-ray did not come up in {START_TIMEOUT_S:g} s:\n{tail}")
        self.url, self.ray_address = next(
            READY_LINE.search(line).groups() for line in self.lines if READY_LINE.search(line)  # type: ignore[union-attr]
        )
        return self

    def redeploy(self, *changes: str) -> subprocess.Popen[str]:
        """`serve-ray --ray-address <its Ray>` with the same options but `changes` (e.g. --replicas 1), started in
        the background: Serve updates the running deployment (a new replica count adds or drains replicas)."""
        arguments = [*self.arguments, *changes, "--ray-address", self.ray_address]
        return subprocess.Popen([str(ray_python()), "-m", "realtime", *arguments], cwd=ROOT, env=self.env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def count(self, text: str) -> int:
        """Log lines containing `text` so far (e.g. Serve's "Adding 1 replica")."""
        with self._changed:
            return sum(text in line for line in self.lines)

    def _read(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        with open(self.log_path, "w") as log:
            for line in self._process.stdout:
                log.write(line)
                log.flush()
                with self._changed:
                    self.lines.append(line)
                    self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def wait_for(self, condition, timeout: float) -> bool:  # type: ignore[no-untyped-def]
        """Wait (on each new log line) until `condition()` holds or the process ends; whether it holds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not condition():
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (self._process is not None and self._process.poll() is not None):
                    return condition()
                self._changed.wait(min(remaining, 1.0))
            return True

    def stop(self) -> None:
        """SIGINT, as an operator's Ctrl-C: serve-ray shuts Serve and Ray down; the group is killed if it hangs."""
        try:
            self._stop()
        finally:
            if self._lock is not None:
                self._lock.close()  # releases the cluster lock
                self._lock = None

    def _stop(self) -> None:
        if self._process is None or self._process.poll() is not None:
            return
        self._process.send_signal(signal.SIGINT)
        try:
            self._process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait(10)
