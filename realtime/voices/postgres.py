"""The voice store on PostgreSQL: one library shared by every replica of the server.

Same contract as the SQLite store (`sqlite.py`), with what several processes on several
machines need:
- Everything a voice needs lives in the database (its record and its tensors as `bytea`),
  so a voice made through one replica speaks through any other; nothing on local disk.
- Every write is one transaction. A create takes a transaction-scoped advisory lock
  (`pg_advisory_xact_lock`) before it counts: the lock holds across processes and
  machines, so concurrent creates on any replica cannot overrun a quota. The lock is
  store-wide, not per owner, because one limit (`store_bytes`) is store-wide; creates are
  rare (each follows seconds of model work), so they never queue for long.
- `get` reads the record and its tensors in one REPEATABLE READ snapshot.
- Connections come from a thread-safe pool (`psycopg_pool`); the library's store threads
  share it. A connection the database dropped is replaced before use; while the database
  is out of reach every call raises VoiceStoreUnavailable (after at most
  DEFAULT_ACQUIRE_TIMEOUT_S), and the pool reconnects by itself once it is back.
- `ref_text` is kept as UTF-8 `bytea`: PostgreSQL's `text` cannot hold U+0000, and a
  transcript is client input; every other text column holds values the server made or
  validated (names refuse control characters; details are JSON, which escapes them).

The schema carries its version in `voice_schema_version` (its own name: the database
may hold other applications' tables); `MIGRATIONS[n]` takes it from version n to n + 1,
each step in its own transaction under an advisory lock, so replicas starting together
migrate once. A database from a newer server is refused (SchemaTooNew).

Needs the `postgres` extra (`scripts/setup postgres`: psycopg 3 and psycopg_pool).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import conninfo
from psycopg_pool import ConnectionPool, PoolTimeout

from realtime.voices.blobs import check_blob_size, from_blob, to_blob
from realtime.voices.store import (
    Page,
    Quota,
    SchemaTooNew,
    StoredVoice,
    VoiceNotFound,
    VoiceQuotaError,
    VoiceRecord,
    VoiceStore,
    VoiceStoreUnavailable,
)

DEFAULT_CONNECT_TIMEOUT_S = 10
DEFAULT_MAX_CONNECTIONS = 8
# How long a call waits for a pooled connection before the store says it is unavailable: store calls
# take milliseconds, so waiting longer only means the database is out of reach.
DEFAULT_ACQUIRE_TIMEOUT_S = 5.0
RECONNECT_TIMEOUT_S = 5.0
# Advisory lock keys (64-bit, arbitrary but fixed): one serializes creates, one migrations.
CREATE_LOCK_KEY = 0x7654_7473_766F_6301  # "vTtsvoc" + 1
MIGRATION_LOCK_KEY = 0x7654_7473_766F_6302

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
            x_vector_only BOOLEAN NOT NULL,
            ref_text BYTEA,
            language TEXT NOT NULL,
            created_at DOUBLE PRECISION NOT NULL,
            size_bytes BIGINT NOT NULL,
            details TEXT NOT NULL DEFAULT '{}'
        )""",
        "CREATE INDEX voices_by_owner ON voices (owner, created_at, id)",
        """CREATE TABLE voice_tensors (
            voice_id TEXT NOT NULL REFERENCES voices (id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            dtype TEXT NOT NULL,
            shape TEXT NOT NULL,
            data BYTEA NOT NULL,
            PRIMARY KEY (voice_id, name)
        )""",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)

_RECORD_FIELDS = ("id", "owner", "name", "model", "family", "source", "x_vector_only", "ref_text", "language",
                  "created_at", "size_bytes", "details")
_RECORD_COLUMNS = ", ".join(_RECORD_FIELDS)
_RECORD_COLUMNS_OF_V = ", ".join(f"v.{name}" for name in _RECORD_FIELDS)


def describe_url(url: str) -> str:
    """The URL as it may be shown in logs and errors: user, host, port and database, never the password."""
    try:
        parts = conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "an unparsable PostgreSQL URL"
    user = f"{parts['user']}@" if parts.get("user") else ""
    host = str(parts.get("host") or "localhost")
    port = f":{parts['port']}" if parts.get("port") else ""
    return f"postgresql://{user}{host}{port}/{parts.get('dbname') or ''}"


def _record(row: tuple[Any, ...]) -> VoiceRecord:
    (voice_id, owner, name, model, family, source, x_vector_only, ref_text, language, created_at, size, details) = row
    return VoiceRecord(
        id=voice_id, owner=owner, name=name, model=model, family=family, source=source,
        x_vector_only=bool(x_vector_only), ref_text=None if ref_text is None else bytes(ref_text).decode("utf-8"),
        language=language, created_at=float(created_at), size_bytes=int(size), details=json.loads(details or "{}"),
    )


class PostgresVoiceStore(VoiceStore):
    """Voices in a PostgreSQL database named by a libpq URL (`postgresql://user:password@host:port/db`)."""

    def __init__(self, url: str, *, max_connections: int = DEFAULT_MAX_CONNECTIONS,
                 connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S,
                 acquire_timeout_s: float | None = None) -> None:
        self.url = url
        self.where = describe_url(url)
        # Looked up when a store opens (not when this module loads), so a test can shorten it for the servers it starts.
        acquire_timeout_s = DEFAULT_ACQUIRE_TIMEOUT_S if acquire_timeout_s is None else acquire_timeout_s
        self._acquire_timeout_s = acquire_timeout_s
        options = conninfo.conninfo_to_dict(url) if _parsable(url) else {}
        connect_kwargs: dict[str, Any] = {"autocommit": True}  # transactions are opened explicitly below
        if "connect_timeout" not in options:
            connect_kwargs["connect_timeout"] = max(1, round(connect_timeout_s))
        self._check_reachable(connect_kwargs)
        # check: a connection the database dropped (restart, failover, idle timeout) is replaced before use.
        # reconnect_timeout: the pool's reconnection attempts back off exponentially (1, 2, 4... s); cut
        # short, a sequence ends within seconds and the next call starts a fresh one, so the store is back
        # within seconds of the database, however long it was away.
        self._pool = ConnectionPool(url, min_size=1, max_size=max_connections, kwargs=connect_kwargs,
                                    open=False, name="realtime-tts-voices", timeout=acquire_timeout_s,
                                    check=ConnectionPool.check_connection,
                                    reconnect_timeout=max(acquire_timeout_s, RECONNECT_TIMEOUT_S))
        try:
            self._pool.open(wait=True, timeout=connect_timeout_s * 3)
            self._migrate()
        except PoolTimeout as exc:
            self._pool.close()
            raise VoiceStoreUnavailable(f"cannot reach the voice store at {self.where}: {exc}") from None
        except psycopg.Error as exc:  # e.g. no right to create the tables: an operator's problem, said plainly
            self._pool.close()
            raise VoiceStoreUnavailable(
                f"cannot prepare the voice store at {self.where} (creating or migrating its tables): "
                f"{' '.join(str(exc).split())}"
            ) from None
        except BaseException:
            self._pool.close()
            raise

    def _check_reachable(self, connect_kwargs: dict[str, Any]) -> None:
        """One direct connection first: libpq's own reason (refused, bad password, no such database) beats a pool timeout."""
        try:
            with psycopg.connect(self.url, **connect_kwargs):
                pass
        except psycopg.ProgrammingError as exc:  # a malformed URL
            raise VoiceStoreUnavailable(f"the voice store URL is not valid: {exc}") from None
        except psycopg.OperationalError as exc:
            reason = " ".join(str(exc).split())
            raise VoiceStoreUnavailable(f"cannot reach the voice store at {self.where}: {reason}") from None

    # -- connections and transactions ---------------------------------------------------------
    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection; the database out of reach (down, restarting, refusing) is VoiceStoreUnavailable."""
        try:
            with self._pool.connection(timeout=self._acquire_timeout_s) as connection:
                yield connection
        except PoolTimeout:
            raise VoiceStoreUnavailable(
                f"no connection to the voice store at {self.where} within {self._acquire_timeout_s:g} s"
            ) from None
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:  # the connection broke under the call
            raise VoiceStoreUnavailable(f"the voice store at {self.where} failed: {' '.join(str(exc).split())}") from exc

    @contextmanager
    def _transaction(self, *, isolation: str | None = None) -> Iterator[psycopg.Connection[Any]]:
        """One transaction on a pooled connection: committed whole, or rolled back whole on any error."""
        with self._connection() as connection, connection.transaction():
            if isolation is not None:
                connection.execute(f"SET TRANSACTION ISOLATION LEVEL {isolation}")
            yield connection

    def _migrate(self) -> None:
        while True:  # one transaction per step: a crash leaves a whole version
            with self._transaction() as db:
                db.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_KEY,))
                # Asked first, not CREATE ... IF NOT EXISTS: a user without CREATE can serve a migrated database.
                if db.execute("SELECT to_regclass('voice_schema_version')").fetchone()[0] is None:
                    db.execute("CREATE TABLE voice_schema_version (version INTEGER NOT NULL)")
                row = db.execute("SELECT version FROM voice_schema_version").fetchone()
                if row is None:
                    db.execute("INSERT INTO voice_schema_version (version) VALUES (0)")
                    version = 0
                else:
                    version = int(row[0])
                if version > SCHEMA_VERSION:
                    raise SchemaTooNew(
                        f"the voice store at {self.where} has schema version {version}; "
                        f"this server knows up to {SCHEMA_VERSION}"
                    )
                if version == SCHEMA_VERSION:
                    return
                for statement in MIGRATIONS[version]:
                    db.execute(statement)
                db.execute("UPDATE voice_schema_version SET version = %s", (version + 1,))

    def schema_version(self) -> int:
        with self._connection() as db:
            row = db.execute("SELECT version FROM voice_schema_version").fetchone()
        assert row is not None
        return int(row[0])

    # -- the contract ---------------------------------------------------------------------------
    def create(self, voice: StoredVoice, quota: Quota) -> None:
        record = voice.record
        blobs = {name: to_blob(array) for name, array in voice.tensors.items()}
        with self._transaction() as db:
            db.execute("SELECT pg_advisory_xact_lock(%s)", (CREATE_LOCK_KEY,))  # held until commit or rollback
            count = db.execute("SELECT COUNT(*) FROM voices WHERE owner = %s", (record.owner,)).fetchone()[0]
            if count >= quota.max_voices_per_owner:
                raise VoiceQuotaError(
                    "voices_per_key",
                    f"this key already has {count} saved voices, the limit; delete one first",
                )
            used = int(db.execute("SELECT COALESCE(SUM(size_bytes), 0) FROM voices").fetchone()[0])
            if used + record.size_bytes > quota.max_store_bytes:
                raise VoiceQuotaError(
                    "store_bytes",
                    f"the voice store holds {used} bytes; this voice ({record.size_bytes} bytes) would pass "
                    f"its limit of {quota.max_store_bytes}",
                )
            db.execute(
                f"INSERT INTO voices ({_RECORD_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (record.id, record.owner, record.name, record.model, record.family, record.source,
                 record.x_vector_only, None if record.ref_text is None else record.ref_text.encode("utf-8"),
                 record.language, record.created_at, record.size_bytes, json.dumps(record.details)),
            )
            for name, blob in blobs.items():
                self._insert_tensor(db, record.id, name, blob.dtype, blob.shape_text, blob.data)

    def _insert_tensor(self, db: psycopg.Connection[Any], voice_id: str, name: str, dtype: str, shape: str,
                       data: bytes) -> None:
        db.execute(
            "INSERT INTO voice_tensors (voice_id, name, dtype, shape, data) VALUES (%s, %s, %s, %s, %s)",
            (voice_id, name, dtype, shape, data),
        )

    @staticmethod
    def _record_in(db: psycopg.Connection[Any], owner: str, voice_id: str) -> VoiceRecord:
        row = db.execute(
            f"SELECT {_RECORD_COLUMNS} FROM voices WHERE owner = %s AND id = %s", (owner, voice_id)
        ).fetchone()
        if row is None:
            raise VoiceNotFound(voice_id)
        return _record(row)

    def record(self, owner: str, voice_id: str) -> VoiceRecord:
        with self._connection() as db:
            return self._record_in(db, owner, voice_id)

    def get(self, owner: str, voice_id: str) -> StoredVoice:
        # One statement, so one snapshot (the record and its tensors together) in one round trip: every
        # session or speech request on a saved voice waits for this.
        with self._connection() as db:
            rows = db.execute(
                f"SELECT {_RECORD_COLUMNS_OF_V}, t.name, t.dtype, t.shape, t.data FROM voices v "
                "LEFT JOIN voice_tensors t ON t.voice_id = v.id WHERE v.owner = %s AND v.id = %s",
                (owner, voice_id), binary=True,  # bytea as bytes, not hex text to decode
            ).fetchall()
        if not rows:
            raise VoiceNotFound(voice_id)
        width = len(_RECORD_FIELDS)
        tensors = {row[width]: from_blob(row[width + 1], row[width + 2], bytes(row[width + 3]))
                   for row in rows if row[width] is not None}
        return StoredVoice(_record(rows[0][:width]), tensors)

    def list(self, owner: str, *, limit: int, after: str | None = None) -> Page:
        with self._transaction(isolation="REPEATABLE READ, READ ONLY") as db:
            if after is None:
                rows = db.execute(
                    f"SELECT {_RECORD_COLUMNS} FROM voices WHERE owner = %s ORDER BY created_at, id LIMIT %s",
                    (owner, limit + 1),
                ).fetchall()
            else:
                cursor = self._record_in(db, owner, after)
                rows = db.execute(
                    f"SELECT {_RECORD_COLUMNS} FROM voices WHERE owner = %s AND (created_at > %s OR "
                    "(created_at = %s AND id > %s)) ORDER BY created_at, id LIMIT %s",
                    (owner, cursor.created_at, cursor.created_at, cursor.id, limit + 1),
                ).fetchall()
        return Page([_record(row) for row in rows[:limit]], has_more=len(rows) > limit)

    def rename(self, owner: str, voice_id: str, name: str) -> VoiceRecord:
        with self._transaction() as db:
            row = db.execute(
                f"UPDATE voices SET name = %s WHERE owner = %s AND id = %s RETURNING {_RECORD_COLUMNS}",
                (name, owner, voice_id),
            ).fetchone()
            if row is None:
                raise VoiceNotFound(voice_id)
        return _record(row)

    def delete(self, owner: str, voice_id: str) -> None:
        with self._transaction() as db:
            if not db.execute("DELETE FROM voices WHERE owner = %s AND id = %s", (owner, voice_id)).rowcount:
                raise VoiceNotFound(voice_id)

    def integrity(self) -> list[str]:
        """Problems found: tensors without voices, voices without an x_vector, tensors whose bytes do not fit their shape."""
        problems: list[str] = []
        with self._transaction(isolation="REPEATABLE READ, READ ONLY") as db:
            orphans = db.execute(
                "SELECT COUNT(*) FROM voice_tensors WHERE voice_id NOT IN (SELECT id FROM voices)"
            ).fetchone()[0]
            if orphans:
                problems.append(f"{orphans} tensors belong to no voice")
            bare = db.execute(
                "SELECT COUNT(*) FROM voices WHERE id NOT IN "
                "(SELECT voice_id FROM voice_tensors WHERE name = 'x_vector')"
            ).fetchone()[0]
            if bare:
                problems.append(f"{bare} voices have no x_vector")
            sizes = db.execute("SELECT voice_id, name, dtype, shape, octet_length(data) FROM voice_tensors").fetchall()
        for voice_id, name, dtype, shape, size in sizes:
            try:
                check_blob_size(dtype, shape, int(size))
            except ValueError as exc:  # BlobError, or a shape that is not JSON
                problems.append(f"voice {voice_id} tensor {name}: {exc}")
        return problems

    def close(self) -> None:
        self._pool.close()


def _parsable(url: str) -> bool:
    try:
        conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return False
    return True
