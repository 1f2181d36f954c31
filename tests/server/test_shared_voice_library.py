"""Two servers on one PostgreSQL voice store, as two replicas: a voice made through one is listed by and
speaks through the other (HTTP and socket), changes show on both, their creates share one quota, nothing
of a voice lands on a replica's disk, the library outlives every server, and while the database is out of
reach clients hear "try again" (503, 1013) and open sessions keep speaking. Real uvicorn servers on tiny
random Qwen3 checkpoints (saving a voice needs a Base checkpoint), a throw-away PostgreSQL."""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from realtime.config import ServerConfig
from realtime.server.run import BackgroundServer
from realtime.voices import postgres as postgres_store
from tests.conftest import run
from tests.support.http_checks import openai_error
from tests.support.postgres import TestPostgres
from tests.support.saved_voices import GENERATION, clone_body, create, speech, voices_call, wav_base64
from tests.support.stream_checks import audio_bytes, synthesize
from tests.support.wire_checks import expect_error, expect_fatal, speaks
from tests.wire import Wire, audio_of

TIMEOUT = 240.0
# Two servers on tiny Qwen3 checkpoints start per test: on a shared CPU that may pass the suite's 120 s default.
pytestmark = pytest.mark.timeout(400)
ACQUIRE_TIMEOUT_S = 1.5  # the outage test waits out the store's acquire timeout five times (5 s by default)


@pytest.fixture(autouse=True)
def _quick_store_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(postgres_store, "DEFAULT_ACQUIRE_TIMEOUT_S", ACQUIRE_TIMEOUT_S)


def _replica(models_dir: Path, voice_store_url: str, data_dir: Path, **options: object) -> BackgroundServer:
    config = ServerConfig(models_dir=models_dir, device="cpu", log_level="warning", engine_threads=1,
                          data_dir=data_dir, voice_store_url=voice_store_url, **options)  # type: ignore[arg-type]
    return BackgroundServer(config)


@pytest.fixture
def replicas(tiny_checkpoints: dict[str, Path], postgres_url: str,
             tmp_path: Path) -> Iterator[tuple[BackgroundServer, BackgroundServer]]:
    models = tiny_checkpoints["base"].parent
    with _replica(models, postgres_url, tmp_path / "a") as first, _replica(models, postgres_url, tmp_path / "b") as second:
        yield first, second


def test_a_voice_made_through_one_replica_is_listed_by_and_speaks_through_the_other(
    replicas: tuple[BackgroundServer, BackgroundServer], tmp_path: Path
) -> None:
    first, second = replicas
    voice = create(first, clone_body("Shared"))
    assert voices_call(second, "GET", f"/{voice['id']}").json() == voice
    assert voice["id"] in [listed["id"] for listed in voices_call(second, "GET").json()["data"]]
    here, there = speech(first, voice=voice["id"]), speech(second, voice=voice["id"])
    assert here.status_code == there.status_code == 200, there.text
    assert there.headers["x-voice"] == voice["id"] and there.content == here.content and here.content

    common = {"voice": voice["id"], "seed": 5, "generation": GENERATION, "language": "english"}
    ready, on_second = run(synthesize(second.url, "Hello there.", **common), TIMEOUT)
    _, on_first = run(synthesize(first.url, "Hello there.", **common), TIMEOUT)
    assert ready["voice"] == voice["id"] and audio_bytes(on_second) == audio_bytes(on_first) and audio_bytes(on_first)

    renamed = voices_call(second, "PATCH", f"/{voice['id']}", json={"name": "Renamed there"})
    assert renamed.status_code == 200
    assert voices_call(first, "GET", f"/{voice['id']}").json()["name"] == "Renamed there"
    assert voices_call(first, "DELETE", f"/{voice['id']}").status_code == 200
    gone = speech(second, voice=voice["id"])
    assert gone.status_code == 404 and openai_error(gone)["code"] == "voice_not_found"
    hostile = create(first, clone_body("Odd \u00e9\U0001f600", ref_text="A line\u0000 with a NUL, \u202e and \U0001f600."))
    assert voices_call(second, "GET", f"/{hostile['id']}").json() == hostile  # kept as sent: NUL too
    assert hostile["ref_text"] == "A line\u0000 with a NUL, \u202e and \U0001f600."
    for replica_dir in (tmp_path / "a", tmp_path / "b"):  # everything a voice needs is in the database
        assert not replica_dir.exists() or not any(replica_dir.iterdir())


def test_creates_through_both_replicas_share_one_quota(tiny_checkpoints: dict[str, Path], postgres_url: str,
                                                       tmp_path: Path) -> None:
    models = tiny_checkpoints["base"].parent
    body = {"name": "V", "ref_audio": wav_base64(), "x_vector_only": True}
    with _replica(models, postgres_url, tmp_path / "a", max_voices_per_key=3) as first, \
            _replica(models, postgres_url, tmp_path / "b", max_voices_per_key=3) as second:
        with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
            answers = list(pool.map(lambda index: voices_call((first, second)[index % 2], "POST", json=body),
                                    range(6)))
        statuses = sorted(response.status_code for response in answers)
        assert statuses == [201, 201, 201, 409, 409, 409], [response.text for response in answers]
        assert {openai_error(r)["code"] for r in answers if r.status_code == 409} == {"voice_limit_reached"}
        assert len(voices_call(first, "GET").json()["data"]) == len(voices_call(second, "GET").json()["data"]) == 3


def test_the_library_outlives_every_replica(tiny_checkpoints: dict[str, Path], postgres_url: str,
                                            tmp_path: Path) -> None:
    models = tiny_checkpoints["base"].parent
    with _replica(models, postgres_url, tmp_path / "a") as first:
        voice = create(first, clone_body("Kept"))
        before = speech(first, voice=voice["id"]).content
    with _replica(models, postgres_url, tmp_path / "fresh") as restarted:  # a new replica, a new disk
        assert voices_call(restarted, "GET", f"/{voice['id']}").json() == voice
        assert speech(restarted, voice=voice["id"]).content == before and before


def test_while_the_database_is_out_of_reach_clients_hear_try_again_and_open_sessions_keep_speaking(
    replicas: tuple[BackgroundServer, BackgroundServer], postgres_server: TestPostgres, postgres_url: str
) -> None:
    first, second = replicas
    voice = create(first, clone_body("Steady"))
    other = create(first, {"name": "Other", "ref_audio": wav_base64(), "x_vector_only": True})
    common = {"seed": 5, "generation": GENERATION, "language": "english"}

    async def outage() -> None:
        open_session = await Wire.open(second.url)
        try:
            await open_session.start(voice=voice["id"], **common)
            postgres_server.take_offline(postgres_url)
            try:
                for response in (voices_call(first, "GET"), speech(second, voice=voice["id"]),
                                 voices_call(second, "GET", "/../audio/voices")):
                    assert response.status_code == 503 and response.headers["retry-after"] == "2", response.text
                    error = openai_error(response)
                    assert error["code"] == "voice_store_unavailable" and "postgresql" not in error["message"]
                refused = await Wire.open(first.url)
                try:
                    await refused.send({"type": "session.start", "voice": voice["id"], **common})
                    fatal = await expect_fatal(refused, 1013, timeout=TIMEOUT)
                    assert fatal["retry_after_ms"] == 2000 and fatal["fields"] == ["voice"]
                finally:
                    await refused.close()
                await open_session.send({"type": "context.start", "ctx": "blend", "voice": other["id"]})
                error = await expect_error(open_session, 1013, ctx="blend", timeout=TIMEOUT)
                assert error["retry_after_ms"] == 2000
                assert audio_of(await speaks(open_session, "later"), "later")  # its own voice: still spoken
            finally:
                postgres_server.bring_online(postgres_url)
        finally:
            await open_session.close()

    run(outage(), TIMEOUT)
    for replica in (first, second):  # the pools reconnect by themselves, within seconds
        deadline = time.monotonic() + 90
        while (answer := voices_call(replica, "GET")).status_code == 503 and time.monotonic() < deadline:
            pass  # each refused call already waited the store's acquire timeout
        assert answer.status_code == 200, answer.text
    assert speech(second, voice=voice["id"]).status_code == 200
