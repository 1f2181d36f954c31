"""The voice stores under test, each behind one small interface, so every store test runs on both.

A backing is the place a store keeps its voices (a data directory, a PostgreSQL database);
`open()` opens a new handle on it, as a restarted server or another replica would, through
the same `open_voice_store` the server uses.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Protocol

import numpy as np

from realtime.voices.opening import open_voice_store
from realtime.voices.sqlite import DB_FILE_NAME
from realtime.voices.store import StoredVoice, VoiceRecord, VoiceStore

STORE_KINDS = ("sqlite", "postgres")


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


class StoreBacking(Protocol):
    kind: str
    voice_store_url: str | None
    data_dir: Path | None

    def open(self) -> VoiceStore: ...

    def set_schema_version(self, version: int) -> None:
        """Write this version into the schema table, as a server of that version would have left it."""

    def leave_at_version_zero(self) -> None:
        """An empty place, as a server from before any voice table would have left it."""


class SQLiteBacking:
    kind = "sqlite"
    voice_store_url = None

    def __init__(self, data_dir: Path) -> None:
        self.data_dir: Path | None = data_dir

    def open(self) -> VoiceStore:
        store = open_voice_store(None, self.data_dir)
        assert store is not None
        return store

    def _sql(self, *statements: str) -> None:
        assert self.data_dir is not None
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(self.data_dir / DB_FILE_NAME) as db:
            for statement in statements:
                db.execute(statement)
        db.close()

    def set_schema_version(self, version: int) -> None:
        self._sql(f"UPDATE schema_version SET version = {int(version)}")

    def leave_at_version_zero(self) -> None:
        self._sql("CREATE TABLE schema_version (version INTEGER NOT NULL)", "INSERT INTO schema_version VALUES (0)")


class PostgresBacking:
    kind = "postgres"
    data_dir = None

    def __init__(self, url: str) -> None:
        self.voice_store_url: str | None = url

    def open(self) -> VoiceStore:
        store = open_voice_store(self.voice_store_url, None)
        assert store is not None
        return store

    def _sql(self, *statements: str) -> None:
        import psycopg

        assert self.voice_store_url is not None
        with psycopg.connect(self.voice_store_url, autocommit=True) as db:
            for statement in statements:
                db.execute(statement)  # type: ignore[arg-type]

    def set_schema_version(self, version: int) -> None:
        self._sql(f"UPDATE voice_schema_version SET version = {int(version)}")

    def leave_at_version_zero(self) -> None:
        self._sql("CREATE TABLE voice_schema_version (version INTEGER NOT NULL)",
                  "INSERT INTO voice_schema_version VALUES (0)")
