"""What only the PostgreSQL store has to get right: opening (clear errors, no password in them), replicas
migrating one database at once, transcripts PostgreSQL's text type cannot hold, connections the database
dropped. The shared contract is pinned for both stores in test_store.py."""

from __future__ import annotations

import threading
from dataclasses import replace

import numpy as np
import psycopg
import pytest

from realtime.voices.postgres import SCHEMA_VERSION, PostgresVoiceStore, describe_url
from realtime.voices.store import Quota, StoredVoice, VoiceStoreUnavailable
from tests.support.postgres import TestPostgres
from tests.support.voice_stores import make_voice


def test_an_unreachable_database_is_a_clear_error_without_the_password(postgres_server: TestPostgres) -> None:
    missing_database = f"postgresql://someone:hunter2@127.0.0.1:{postgres_server.port}/no_such_database"
    with pytest.raises(VoiceStoreUnavailable) as missing:
        PostgresVoiceStore(missing_database, connect_timeout_s=2)
    message = str(missing.value)
    assert "no_such_database" in message and "hunter2" not in message
    assert message.startswith(f"cannot reach the voice store at postgresql://someone@127.0.0.1:{postgres_server.port}/")
    with pytest.raises(VoiceStoreUnavailable, match='invalid integer value "notaport"'):
        PostgresVoiceStore("postgresql://x@127.0.0.1:notaport/db")


def test_describe_url_never_shows_a_password() -> None:
    assert describe_url("postgresql://u:secret@db.example:6543/voices") == "postgresql://u@db.example:6543/voices"
    assert describe_url("postgresql:///voices?host=/run/pg&password=secret") == "postgresql:///run/pg/voices"
    assert "secret" not in describe_url("postgresql://u:secret@[")


def test_replicas_starting_together_migrate_the_database_once(postgres_url: str) -> None:
    opened: list[PostgresVoiceStore] = []
    failures: list[BaseException] = []
    lock = threading.Lock()

    def start() -> None:
        try:
            store = PostgresVoiceStore(postgres_url, max_connections=2)
        except BaseException as exc:  # noqa: BLE001 (reported below)
            with lock:
                failures.append(exc)
            return
        with lock:
            opened.append(store)

    threads = [threading.Thread(target=start) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    try:
        assert failures == [] and len(opened) == 6
        assert {store.schema_version() for store in opened} == {SCHEMA_VERSION}
        opened[0].create(make_voice("voice_a"), Quota())
        assert [r.id for r in opened[5].list("", limit=10).records] == ["voice_a"]
    finally:
        for store in opened:
            store.close()


def test_a_transcript_with_nul_characters_is_kept_as_sent(postgres_url: str) -> None:
    store = PostgresVoiceStore(postgres_url)
    try:
        voice = make_voice("voice_nul")
        record = replace(voice.record, ref_text="a\x00b \u00e9\U0001f600")
        store.create(StoredVoice(record, voice.tensors), Quota())
        assert store.get("", "voice_nul").record.ref_text == "a\x00b \u00e9\U0001f600"
    finally:
        store.close()


def test_connections_the_database_dropped_are_replaced(postgres_server: TestPostgres, postgres_url: str) -> None:
    store = PostgresVoiceStore(postgres_url)
    try:
        store.create(make_voice("voice_a"), Quota())
        postgres_server.drop_connections(postgres_url)  # as a database restart or a failover would
        stored = store.get("", "voice_a")
        assert np.array_equal(stored.tensors["x_vector"], make_voice("voice_a").tensors["x_vector"])
        store.create(make_voice("voice_b"), Quota())
        assert len(store.list("", limit=10).records) == 2
    finally:
        store.close()


def test_a_user_with_row_rights_only_serves_a_migrated_database_but_cannot_make_one(
    postgres_server: TestPostgres, postgres_url: str
) -> None:
    role = f"row_rights_{postgres_url.rsplit('/', 1)[1]}"
    limited_url = postgres_url.replace("//realtime@", f"//{role}@")
    with psycopg.connect(postgres_url, autocommit=True) as owner:
        owner.execute(f'CREATE ROLE "{role}" LOGIN')
        owner.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    with pytest.raises(VoiceStoreUnavailable, match=r"cannot prepare the voice store .*permission denied"):
        PostgresVoiceStore(limited_url)
    PostgresVoiceStore(postgres_url).close()  # migrated by the owner
    with psycopg.connect(postgres_url, autocommit=True) as owner:
        owner.execute(f'GRANT SELECT, INSERT, UPDATE, DELETE ON voices, voice_tensors, voice_schema_version TO "{role}"')
    store = PostgresVoiceStore(limited_url)
    try:
        store.create(make_voice("voice_a"), Quota())
        assert store.rename("", "voice_a", "B").name == "B" and store.get("", "voice_a").record.name == "B"
        store.delete("", "voice_a")
    finally:
        store.close()
