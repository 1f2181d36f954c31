"""A real server process killed (SIGKILL) while voices are being created: after a restart every
acknowledged voice is there, whole and usable, and nothing half-written is.

Where exactly the kill lands varies from run to run (decoding, the speaker encoder, the
store's transaction); tests/voices/test_sqlite_store.py kills a writer at a fixed point
inside the transaction.
"""

from __future__ import annotations

import concurrent.futures
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from realtime.config import ServerConfig
from realtime.server.run import BackgroundServer
from realtime.voices.sqlite import SQLiteVoiceStore
from tests.support.local import free_port
from tests.support.saved_voices import GENERATION, wav_base64

ROOT = Path(__file__).resolve().parents[2]
CREATES_IN_FLIGHT = 8


@contextmanager
def server_process(models_dir: Path, data_dir: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "realtime", "serve", "--host", "127.0.0.1", "--port", str(port),
         "--models-dir", str(models_dir), "--data-dir", str(data_dir), "--device", "cpu",
         "--engine-threads", "1", "--log-level", "warning"],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert process.poll() is None, "the server process exited during start-up"
            try:
                if httpx.get(url + "/ready", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the server did not become ready"
            time.sleep(0.2)
        yield process, url
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=30)


def _create(url: str, index: int) -> str | None:
    """The new voice's id when the server acknowledged it (201), else None (the server died first)."""
    try:
        response = httpx.post(url + "/v1/voices", timeout=120,
                              json={"name": f"v{index}", "ref_audio": wav_base64(1.0 + index / 10), "x_vector_only": True})
    except httpx.HTTPError:
        return None
    assert response.status_code == 201, response.text
    return response.json()["id"]


@pytest.mark.timeout(600)  # a server process starts, on a shared CPU
def test_killing_the_server_during_creates_loses_nothing_acknowledged_and_keeps_nothing_half_made(
    tiny_checkpoints: dict[str, Path], tmp_path: Path
) -> None:
    models_dir = tiny_checkpoints["base"].parent
    with server_process(models_dir, tmp_path) as (process, url):
        kept = _create(url, 0)
        assert kept is not None
        with concurrent.futures.ThreadPoolExecutor(max_workers=CREATES_IN_FLIGHT) as pool:
            pending = [pool.submit(_create, url, index) for index in range(1, CREATES_IN_FLIGHT + 1)]
            first = next(concurrent.futures.as_completed(pending, timeout=120))  # creates are under way
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
            acknowledged = {kept, first.result()} | {f.result(timeout=120) for f in pending}
        acknowledged.discard(None)
    assert len(acknowledged) < CREATES_IN_FLIGHT + 1, "every create finished before the kill: nothing was tested"

    store = SQLiteVoiceStore.in_directory(tmp_path)
    try:
        assert store.integrity() == []
        listed = {record.id for record in store.list("", limit=100).records}
        for voice_id in listed:
            assert store.get("", voice_id).tensors["x_vector"].size > 0
    finally:
        store.close()
    assert acknowledged <= listed  # nothing the server said it saved is lost

    # The restart: a server of this process on the same data directory (one process start is enough to kill).
    config = ServerConfig(models_dir=models_dir, data_dir=tmp_path, device="cpu", engine_threads=1, log_level="warning")
    with BackgroundServer(config) as restarted:
        url = restarted.http_url
        page = httpx.get(url + "/v1/voices", params={"limit": 100}, timeout=30).json()
        assert {voice["id"] for voice in page["data"]} == listed
        for voice_id in listed:
            spoken = httpx.post(url + "/v1/audio/speech", timeout=120, json={
                "model": "tts-1", "voice": voice_id, "input": "Still here.", "response_format": "pcm",
                "generation": GENERATION})
            assert spoken.status_code == 200 and spoken.content, spoken.text
        assert httpx.post(url + "/v1/voices", timeout=120, json={
            "name": "after", "ref_audio": wav_base64(), "x_vector_only": True}).status_code == 201
