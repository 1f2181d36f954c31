"""Every voice store (SQLite, PostgreSQL) keeps the same contract: a whole voice or none, scoped by
owner, quotas inside the transaction, paging, migrations, concurrent writers from threads and from
two handles (two replicas), and a process killed in the middle of a create."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from realtime.voices.postgres import SCHEMA_VERSION as POSTGRES_SCHEMA_VERSION
from realtime.protocol.messages import LANGUAGES
from realtime.voices.sqlite import SCHEMA_VERSION as SQLITE_SCHEMA_VERSION
from realtime.voices.store import (
    Quota,
    SchemaTooNew,
    StoredVoice,
    VoiceNotFound,
    VoiceQuotaError,
    VoiceRecord,
    VoiceStore,
)
from tests.support.voice_stores import STORE_KINDS, PostgresBacking, SQLiteBacking, StoreBacking, make_voice

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_VERSIONS = {"sqlite": SQLITE_SCHEMA_VERSION, "postgres": POSTGRES_SCHEMA_VERSION}


@pytest.fixture(params=STORE_KINDS)
def backing(request: pytest.FixtureRequest, tmp_path: Path) -> StoreBacking:
    if request.param == "sqlite":
        return SQLiteBacking(tmp_path / "data")
    return PostgresBacking(request.getfixturevalue("postgres_url"))


@pytest.fixture
def store(backing: StoreBacking):
    opened = backing.open()
    yield opened
    opened.close()


def test_a_created_voice_reads_back_whole_and_survives_reopening(backing: StoreBacking) -> None:
    voice = make_voice("voice_a")
    first = backing.open()
    first.create(voice, Quota())
    first.close()
    again = backing.open()
    try:
        stored = again.get("", "voice_a")
        assert stored.record == voice.record
        assert set(stored.tensors) == {"x_vector", "ref_codes"}
        for name, array in voice.tensors.items():
            assert stored.tensors[name].dtype == array.dtype and np.array_equal(stored.tensors[name], array)
        assert again.schema_version() == SCHEMA_VERSIONS[backing.kind] and again.integrity() == []
    finally:
        again.close()


def test_another_owner_never_sees_the_voice(store: VoiceStore) -> None:
    store.create(make_voice("voice_a", owner="key:alice"), Quota())
    for call in (lambda: store.get("key:bob", "voice_a"), lambda: store.record("key:bob", "voice_a"),
                 lambda: store.rename("key:bob", "voice_a", "x"), lambda: store.delete("key:bob", "voice_a")):
        with pytest.raises(VoiceNotFound):
            call()
    assert store.list("key:bob", limit=10).records == []
    assert store.record("key:alice", "voice_a").name == "v"  # untouched by bob's attempts


def test_rename_and_delete(store: VoiceStore) -> None:
    store.create(make_voice("voice_a"), Quota())
    assert store.rename("", "voice_a", "Renamed").name == "Renamed"
    store.delete("", "voice_a")
    with pytest.raises(VoiceNotFound):
        store.get("", "voice_a")
    with pytest.raises(VoiceNotFound):
        store.delete("", "voice_a")
    assert store.integrity() == []  # the tensors went with the voice


def test_listing_pages_oldest_first(store: VoiceStore) -> None:
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


def test_quotas_refuse_and_leave_nothing_behind(store: VoiceStore) -> None:
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


def test_concurrent_creates_from_threads_and_two_handles_respect_the_quota(backing: StoreBacking) -> None:
    stores = [backing.open() for _ in range(2)]  # two handles: as two replicas would be
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


# A replica in a process of its own: opens the store, waits for "go", creates its voices, reports.
_CREATOR = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    sys.path.insert(0, {root!r})
    from tests.support.voice_stores import make_voice
    from realtime.voices.opening import open_voice_store
    from realtime.voices.store import Quota, VoiceQuotaError

    url, data_dir, tag = {url!r}, {data!r}, sys.argv[1]
    store = open_voice_store(url, Path(data_dir) if data_dir else None)
    print("ready", flush=True)
    sys.stdin.readline()
    made = 0
    for index in range(12):
        try:
            store.create(make_voice(f"voice_{{tag}}{{index:02d}}", owner="o"), Quota(max_voices_per_owner=10))
            made += 1
        except VoiceQuotaError:
            pass
    print(made, flush=True)
    store.close()
    """
)


def test_concurrent_creates_from_four_processes_respect_the_quota(backing: StoreBacking) -> None:
    script = _CREATOR.format(root=str(ROOT), url=backing.voice_store_url,
                             data=str(backing.data_dir) if backing.data_dir else None)
    children = [subprocess.Popen([sys.executable, "-c", script, tag], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 text=True, cwd=ROOT) for tag in ("a", "b", "c", "d")]
    try:
        for child in children:
            assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        for child in children:  # all start creating at once
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()
        made = [int(child.communicate(timeout=120)[0].strip()) for child in children]
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
    assert sum(made) == 10, made
    check = backing.open()
    try:
        assert len(check.list("o", limit=100).records) == 10 and check.integrity() == []
    finally:
        check.close()


def test_concurrent_deletes_of_one_voice_succeed_once_beside_creates(backing: StoreBacking) -> None:
    stores = [backing.open() for _ in range(2)]
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


def test_a_read_racing_a_delete_gets_the_whole_voice_or_none(backing: StoreBacking) -> None:
    stores = [backing.open() for _ in range(2)]  # the reader and the deleter as two replicas
    ids = [f"voice_race{index}" for index in range(20)]
    for voice_id in ids:
        stores[0].create(make_voice(voice_id), Quota())
    seen: list[str] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            for voice_id in ids:
                try:
                    stored = stores[0].get("", voice_id)
                except VoiceNotFound:
                    seen.append("gone")
                    continue
                seen.append("whole" if set(stored.tensors) == {"x_vector", "ref_codes"} else f"partial {voice_id}")

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for voice_id in ids:
            stores[1].delete("", voice_id)
    finally:
        done.set()
        reader.join(timeout=60)
        for opened in stores:
            opened.close()
    assert seen and not [outcome for outcome in seen if outcome.startswith("partial")]


def test_a_database_from_a_newer_server_is_refused(backing: StoreBacking) -> None:
    backing.open().close()
    backing.set_schema_version(SCHEMA_VERSIONS[backing.kind] + 1)
    with pytest.raises(SchemaTooNew):
        backing.open()


def test_an_old_database_is_migrated_at_open(backing: StoreBacking) -> None:
    backing.leave_at_version_zero()  # made before any voice table existed
    opened = backing.open()
    try:
        assert opened.schema_version() == SCHEMA_VERSIONS[backing.kind]
        opened.create(make_voice("voice_a"), Quota())
        assert opened.get("", "voice_a").record.id == "voice_a"
    finally:
        opened.close()


# A child process that writes one voice and stops for good after its first tensor is in,
# inside the open transaction; the test kills it there.
_CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    sys.path.insert(0, {root!r})
    from tests.support.voice_stores import make_voice
    from realtime.voices.opening import open_voice_store
    from realtime.voices.store import Quota

    url, data_dir = {url!r}, {data!r}
    store = open_voice_store(url, Path(data_dir) if data_dir else None)
    original = store._insert_tensor

    def insert_then_hang(*args):
        original(*args)
        print("mid-write", flush=True)
        time.sleep(600)

    store._insert_tensor = insert_then_hang
    store.create(make_voice("voice_half"), Quota())
    """
)


def test_a_process_killed_in_the_middle_of_a_create_leaves_the_library_as_it_was(backing: StoreBacking) -> None:
    before = backing.open()
    before.create(make_voice("voice_kept"), Quota())
    before.close()
    script = _CHILD.format(root=str(ROOT), url=backing.voice_store_url,
                           data=str(backing.data_dir) if backing.data_dir else None)
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "mid-write"
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    after = backing.open()
    try:
        assert [record.id for record in after.list("", limit=10).records] == ["voice_kept"]
        assert after.integrity() == []
        with pytest.raises(VoiceNotFound):
            after.get("", "voice_half")
        after.create(make_voice("voice_next"), Quota())  # and the store takes writes again (no lock left held)
    finally:
        after.close()


# Free text a record may carry, as clients can send it: transcripts with any character (NUL
# included), names and languages as the API validates them, details as JSON, any finite timestamp.
_names = st.text(st.characters(blacklist_categories=("C",)), min_size=1, max_size=64).filter(str.strip)
_free_text = st.text(max_size=200)
_example_ids = itertools.count()


@settings(max_examples=30, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=_names, ref_text=st.none() | _free_text | st.just("a NUL\x00 inside"), language=st.sampled_from(LANGUAGES),
       details=st.dictionaries(_free_text, _free_text | st.integers() | st.booleans(), max_size=4),
       created_at=st.floats(min_value=0, max_value=4e9, allow_nan=False),
       x_vector=st.lists(st.floats(width=32, allow_nan=False), min_size=1, max_size=16))
def test_any_record_reads_back_exactly(store: VoiceStore, name: str, ref_text: str | None, language: str,
                                       details: dict, created_at: float, x_vector: list[float]) -> None:
    voice_id = f"voice_{next(_example_ids)}"
    tensors = {"x_vector": np.asarray(x_vector, dtype=np.float32)}
    record = VoiceRecord(id=voice_id, owner="h", name=name, model="tiny-base", family="f", source="clone",
                         x_vector_only=ref_text is None, ref_text=ref_text, language=language,
                         created_at=created_at, size_bytes=1, details=details)
    store.create(StoredVoice(record, tensors), Quota(max_voices_per_owner=10_000))
    stored = store.get("h", voice_id)
    assert stored.record == record and store.record("h", voice_id) == record
    assert np.array_equal(stored.tensors["x_vector"], tensors["x_vector"])
    assert store.rename("h", voice_id, name + "!").name == name + "!"
