"""The default voice store: one SQLite file under the server's data directory.

WAL journal (readers never wait for a writer), one connection per thread, every write
in one `BEGIN IMMEDIATE` transaction (the quota is counted inside it, so concurrent
creates, from threads or from several processes on one file, cannot overrun it), and
`synchronous=FULL` so a committed voice survives a power cut. A process killed in the
middle of a create leaves the file as it was before the create: SQLite rolls the
unfinished transaction back when the file is next opened.

The schema carries its version (`schema_version`); `MIGRATIONS[n]` takes a file from
version n to n+1, each in its own transaction, at open.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from realtime.voices.blobs import from_blob, to_blob
from realtime.voices.store import (
    Page,
    Quota,
    SchemaTooNew,
    StoredVoice,
    VoiceNotFound,
    VoiceQuotaError,
    VoiceRecord,
    VoiceStore,
)

DB_FILE_NAME = "voices.sqlite3"
BUSY_TIMEOUT_MS = 30_000

# MIGRATIONS[n]: the statements that take the schema from version n to n + 1.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE voices (
            id TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            name TEXT NOT NULL,
            model TEXT NOT NULL,
            family TEXT NOT NULL,
            source TEXT NOT NULL,
            x_vector_only INTEGER NOT NULL,
            ref_text TEXT,
            language TEXT NOT NULL,
            created_at REAL NOT NULL,
            size_bytes INTEGER NOT NULL,
            details TEXT NOT NULL DEFAULT '{}'
        )""",
        "CREATE INDEX voices_by_owner ON voices (owner, created_at, id)",
        """CREATE TABLE voice_tensors (
            voice_id TEXT NOT NULL REFERENCES voices (id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            dtype TEXT NOT NULL,
            shape TEXT NOT NULL,
            data BLOB NOT NULL,
            PRIMARY KEY (voice_id, name)
        )""",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)

_RECORD_COLUMNS = (
    "id, owner, name, model, family, source, x_vector_only, ref_text, language, created_at, size_bytes, details"
)


def _record(row: tuple[Any, ...]) -> VoiceRecord:
    (voice_id, owner, name, model, family, source, x_vector_only, ref_text, language, created_at, size, details) = row
    return VoiceRecord(
        id=voice_id, owner=owner, name=name, model=model, family=family, source=source,
        x_vector_only=bool(x_vector_only), ref_text=ref_text, language=language, created_at=float(created_at),
        size_bytes=int(size), details=json.loads(details or "{}"),
    )


class SQLiteVoiceStore(VoiceStore):
    """Voices in `<data_dir>/voices.sqlite3` (or any path given)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._migrate()

    @classmethod
    def in_directory(cls, data_dir: Path) -> SQLiteVoiceStore:
        return cls(Path(data_dir) / DB_FILE_NAME)

    # -- connections and transactions ---------------------------------------------------------
    def _connection(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            # Autocommit mode: transactions are opened explicitly (BEGIN IMMEDIATE) below.
            connection = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                                         check_same_thread=False)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=FULL")
            connection.execute("PRAGMA foreign_keys=ON")
            connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            self._local.connection = connection
            with self._lock:
                self._connections.append(connection)
        return connection

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: committed whole, or rolled back whole on any error."""
        connection = self._connection()
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield connection
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")

    def _migrate(self) -> None:
        with self._write() as db:
            db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = db.execute("SELECT version FROM schema_version").fetchone()
            if row is None:
                db.execute("INSERT INTO schema_version (version) VALUES (0)")
                version = 0
            else:
                version = int(row[0])
            if version > SCHEMA_VERSION:
                raise SchemaTooNew(
                    f"{self.path} has voice schema version {version}; this server knows up to {SCHEMA_VERSION}"
                )
        while version < SCHEMA_VERSION:
            with self._write() as db:  # one transaction per step: a crash leaves a whole version
                for statement in MIGRATIONS[version]:
                    db.execute(statement)
                version += 1
                db.execute("UPDATE schema_version SET version = ?", (version,))

    def schema_version(self) -> int:
        return int(self._connection().execute("SELECT version FROM schema_version").fetchone()[0])

    # -- the contract ---------------------------------------------------------------------------
    def create(self, voice: StoredVoice, quota: Quota) -> None:
        record = voice.record
        blobs = {name: to_blob(array) for name, array in voice.tensors.items()}
        with self._write() as db:
            count = db.execute("SELECT COUNT(*) FROM voices WHERE owner = ?", (record.owner,)).fetchone()[0]
            if count >= quota.max_voices_per_owner:
                raise VoiceQuotaError(
                    "voices_per_key",
                    f"this key already has {count} saved voices, the limit; delete one first",
                )
            used = db.execute("SELECT COALESCE(SUM(size_bytes), 0) FROM voices").fetchone()[0]
            if used + record.size_bytes > quota.max_store_bytes:
                raise VoiceQuotaError(
                    "store_bytes",
                    f"the voice store holds {used} bytes; this voice ({record.size_bytes} bytes) would pass "
                    f"its limit of {quota.max_store_bytes}",
                )
            db.execute(
                f"INSERT INTO voices ({_RECORD_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (record.id, record.owner, record.name, record.model, record.family, record.source,
                 int(record.x_vector_only), record.ref_text, record.language, record.created_at,
                 record.size_bytes, json.dumps(record.details)),
            )
            for name, blob in blobs.items():
                self._insert_tensor(db, record.id, name, blob.dtype, blob.shape_text, blob.data)

    def _insert_tensor(self, db: sqlite3.Connection, voice_id: str, name: str, dtype: str, shape: str, data: bytes) -> None:
        db.execute(
            "INSERT INTO voice_tensors (voice_id, name, dtype, shape, data) VALUES (?, ?, ?, ?, ?)",
            (voice_id, name, dtype, shape, data),
        )

    def record(self, owner: str, voice_id: str) -> VoiceRecord:
        row = self._connection().execute(
            f"SELECT {_RECORD_COLUMNS} FROM voices WHERE owner = ? AND id = ?", (owner, voice_id)
        ).fetchone()
        if row is None:
            raise VoiceNotFound(voice_id)
        return _record(row)

    def get(self, owner: str, voice_id: str) -> StoredVoice:
        db = self._connection()
        db.execute("BEGIN")  # one snapshot: the record and its tensors together
        try:
            record = self.record(owner, voice_id)
            rows = db.execute(
                "SELECT name, dtype, shape, data FROM voice_tensors WHERE voice_id = ?", (voice_id,)
            ).fetchall()
        finally:
            db.execute("COMMIT")
        return StoredVoice(record, {name: from_blob(dtype, shape, data) for name, dtype, shape, data in rows})

    def list(self, owner: str, *, limit: int, after: str | None = None) -> Page:
        db = self._connection()
        if after is None:
            rows = db.execute(
                f"SELECT {_RECORD_COLUMNS} FROM voices WHERE owner = ? ORDER BY created_at, id LIMIT ?",
                (owner, limit + 1),
            ).fetchall()
        else:
            cursor = self.record(owner, after)
            rows = db.execute(
                f"SELECT {_RECORD_COLUMNS} FROM voices WHERE owner = ? AND (created_at > ? OR "
                "(created_at = ? AND id > ?)) ORDER BY created_at, id LIMIT ?",
                (owner, cursor.created_at, cursor.created_at, cursor.id, limit + 1),
            ).fetchall()
        return Page([_record(row) for row in rows[:limit]], has_more=len(rows) > limit)

    def rename(self, owner: str, voice_id: str, name: str) -> VoiceRecord:
        with self._write() as db:
            changed = db.execute(
                "UPDATE voices SET name = ? WHERE owner = ? AND id = ?", (name, owner, voice_id)
            ).rowcount
            if not changed:
                raise VoiceNotFound(voice_id)
        return self.record(owner, voice_id)

    def delete(self, owner: str, voice_id: str) -> None:
        with self._write() as db:
            if not db.execute("DELETE FROM voices WHERE owner = ? AND id = ?", (owner, voice_id)).rowcount:
                raise VoiceNotFound(voice_id)

    def integrity(self) -> list[str]:
        """Problems found in the file (SQLite's own check, then tensors without voices or voices without any)."""
        db = self._connection()
        problems = [row[0] for row in db.execute("PRAGMA integrity_check").fetchall() if row[0] != "ok"]
        orphans = db.execute(
            "SELECT COUNT(*) FROM voice_tensors WHERE voice_id NOT IN (SELECT id FROM voices)"
        ).fetchone()[0]
        if orphans:
            problems.append(f"{orphans} tensors belong to no voice")
        bare = db.execute(
            "SELECT COUNT(*) FROM voices WHERE id NOT IN (SELECT voice_id FROM voice_tensors WHERE name = 'x_vector')"
        ).fetchone()[0]
        if bare:
            problems.append(f"{bare} voices have no x_vector")
        return problems

    def close(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            try:
                connection.close()
            except sqlite3.ProgrammingError:  # made in another thread that has ended
                pass
        self._local = threading.local()
