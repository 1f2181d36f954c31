"""The SQLite voice store: a whole voice or none, scoped by owner, quotas inside the transaction,
paging, migrations, concurrent writers, and a process killed in the middle of a create."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from realtime.voices.sqlite import SCHEMA_VERSION, SchemaTooNew, SQLiteVoiceStore
from realtime.voices.store import Quota, StoredVoice, VoiceNotFound, VoiceQuotaError, VoiceRecord

ROOT = Path(__file__).resolve().parents[2]


def make_voice(voice_id: str, owner: str = "", name: str = "v", created_at: float | None = None,
               codes: bool = True) -> StoredVoice:
    tensors = {"x_vector": np.arange(8, dtype=np.float32) + len(voice_id)}
    if codes:
        tensors["ref_codes"] = np.arange(32, dtype=np.int64).reshape(2, 16)
    record = VoiceRecord(
        id=voice_id, owner=owner, name=name, model="tiny-base", family="qwen3-1b7", source="clone",
        x_vector_only=not codes, ref_text="hello" if codes else None, language="auto",
        created_at=time.time() if created_at is None else created_at, size_bytes=1000, details={"k": 1},
    )
    return StoredVoice(record, tensors)


@pytest.fixture
def store(tmp_path: Path):
    opened = SQLiteVoiceStore.in_directory(tmp_path)
    yield opened
    opened.close()


def test_a_created_voice_reads_back_whole_and_survives_reopening(tmp_path: Path) -> None:
    voice = make_voice("voice_a")
    first = SQLiteVoiceStore.in_directory(tmp_path)
    first.create(voice, Quota())
    first.close()
    again = SQLiteVoiceStore.in_directory(tmp_path)
    try:
        stored = again.get("", "voice_a")
        assert stored.record == voice.record
        assert set(stored.tensors) == {"x_vector", "ref_codes"}
        for name, array in voice.tensors.items():
            assert stored.tensors[name].dtype == array.dtype and np.array_equal(stored.tensors[name], array)
        assert again.schema_version() == SCHEMA_VERSION and again.integrity() == []
    finally:
        again.close()


def test_another_owner_never_sees_the_voice(store: SQLiteVoiceStore) -> None:
    store.create(make_voice("voice_a", owner="key:alice"), Quota())
    for call in (lambda: store.get("key:bob", "voice_a"), lambda: store.record("key:bob", "voice_a"),
                 lambda: store.rename("key:bob", "voice_a", "x"), lambda: store.delete("key:bob", "voice_a")):
        with pytest.raises(VoiceNotFound):
            call()
    assert store.list("key:bob", limit=10).records == []
    assert store.record("key:alice", "voice_a").name == "v"  # untouched by bob's attempts


def test_rename_and_delete(store: SQLiteVoiceStore) -> None:
    store.create(make_voice("voice_a"), Quota())
    assert store.rename("", "voice_a", "Renamed").name == "Renamed"
    store.delete("", "voice_a")
    with pytest.raises(VoiceNotFound):
        store.get("", "voice_a")
    with pytest.raises(VoiceNotFound):
        store.delete("", "voice_a")
    assert store.integrity() == []  # the tensors went with the voice


def test_listing_pages_oldest_first(store: SQLiteVoiceStore) -> None:
    for index in range(5):
        store.create(make_voice(f"voice_{index}", created_at=1000.0 + index // 2), Quota())  # ties on created_at
    seen, after = [], None
    while True:
        page = store.list("", limit=2, after=after)
        seen += [record.id for record in page.records]
        if not page.has_more:
            break
        after = page.records[-1].id
    assert seen == [f"voice_{index}" for index in range(5)]
    with pytest.raises(VoiceNotFound):
        store.list("", limit=2, after="voice_missing")


def test_quotas_refuse_and_leave_nothing_behind(store: SQLiteVoiceStore) -> None:
    quota = Quota(max_voices_per_owner=2, max_store_bytes=10_000)
    store.create(make_voice("voice_a", owner="o"), quota)
    store.create(make_voice("voice_b", owner="o"), quota)
    with pytest.raises(VoiceQuotaError) as count_error:
        store.create(make_voice("voice_c", owner="o"), quota)
    assert count_error.value.limit == "voices_per_key"
    store.create(make_voice("voice_d", owner="other"), quota)  # the count is per owner
    with pytest.raises(VoiceQuotaError) as bytes_error:
        store.create(make_voice("voice_e", owner="third"), Quota(max_store_bytes=3_500))
    assert bytes_error.value.limit == "store_bytes"
    assert {r.id for r in store.list("o", limit=10).records} == {"voice_a", "voice_b"}
    assert store.list("third", limit=10).records == [] and store.integrity() == []


def test_concurrent_creates_from_threads_respect_the_quota(tmp_path: Path) -> None:
    stores = [SQLiteVoiceStore.in_directory(tmp_path) for _ in range(2)]  # two handles: as two replicas would be
    quota = Quota(max_voices_per_owner=10)
    outcomes: list[str] = []
    lock = threading.Lock()

    def create(index: int) -> None:
        try:
            stores[index % 2].create(make_voice(f"voice_{index:02d}", owner="o"), quota)
            result = "ok"
        except VoiceQuotaError:
            result = "quota"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=create, args=(index,)) for index in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    try:
        assert outcomes.count("ok") == 10 and outcomes.count("quota") == 14
        assert len(stores[0].list("o", limit=100).records) == 10 and stores[1].integrity() == []
    finally:
        for opened in stores:
            opened.close()


def test_concurrent_deletes_of_one_voice_succeed_once_beside_creates(tmp_path: Path) -> None:
    stores = [SQLiteVoiceStore.in_directory(tmp_path) for _ in range(2)]
    for index in range(10):
        stores[0].create(make_voice(f"voice_old{index}"), Quota())
    outcomes: list[str] = []
    lock = threading.Lock()

    def delete(index: int) -> None:
        try:
            stores[index % 2].delete("", f"voice_old{index // 2}")
            result = "deleted"
        except VoiceNotFound:
            result = "gone"
        with lock:
            outcomes.append(result)

    def create(index: int) -> None:
        stores[index % 2].create(make_voice(f"voice_new{index}"), Quota())

    threads = [threading.Thread(target=delete, args=(index,)) for index in range(20)]
    threads += [threading.Thread(target=create, args=(index,)) for index in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    try:
        assert outcomes.count("deleted") == 10 and outcomes.count("gone") == 10
        assert sorted(r.id for r in stores[1].list("", limit=100).records) == sorted(f"voice_new{i}" for i in range(10))
        assert stores[0].integrity() == []
    finally:
        for opened in stores:
            opened.close()


def test_a_file_from_a_newer_server_is_refused(tmp_path: Path) -> None:
    opened = SQLiteVoiceStore.in_directory(tmp_path)
    opened._connection().execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    opened.close()
    with pytest.raises(SchemaTooNew):
        SQLiteVoiceStore.in_directory(tmp_path)


def test_an_old_file_is_migrated_at_open(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "voices.sqlite3"
    with sqlite3.connect(path) as db:  # a file made before any voice table existed: version 0
        db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        db.execute("INSERT INTO schema_version VALUES (0)")
    opened = SQLiteVoiceStore(path)
    try:
        assert opened.schema_version() == SCHEMA_VERSION
        opened.create(make_voice("voice_a"), Quota())
        assert opened.get("", "voice_a").record.id == "voice_a"
    finally:
        opened.close()


# A child process that writes one voice and stops for good after its first tensor is in,
# inside the open transaction; the test kills it there.
_CHILD = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {root!r})
    from tests.voices.test_sqlite_store import make_voice
    from realtime.voices.sqlite import SQLiteVoiceStore
    from realtime.voices.store import Quota

    store = SQLiteVoiceStore.in_directory({data!r})
    original = store._insert_tensor

    def insert_then_hang(*args):
        original(*args)
        print("mid-write", flush=True)
        time.sleep(600)

    store._insert_tensor = insert_then_hang
    store.create(make_voice("voice_half"), Quota())
    """
)


def test_a_process_killed_in_the_middle_of_a_create_leaves_the_library_as_it_was(tmp_path: Path) -> None:
    before = SQLiteVoiceStore.in_directory(tmp_path)
    before.create(make_voice("voice_kept"), Quota())
    before.close()
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD.format(root=str(ROOT), data=str(tmp_path))],
        stdout=subprocess.PIPE, text=True, cwd=ROOT,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "mid-write"
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    after = SQLiteVoiceStore.in_directory(tmp_path)
    try:
        assert [record.id for record in after.list("", limit=10).records] == ["voice_kept"]
        assert after.integrity() == []
        with pytest.raises(VoiceNotFound):
            after.get("", "voice_half")
        after.create(make_voice("voice_next"), Quota())  # and the file takes writes again
    finally:
        after.close()
