"""Which voice store a server opens: PostgreSQL when a store URL is given, else SQLite under the data directory.

The URL wins over the data directory because a replica's local disk is not shared: with
several replicas, the saved-voice library must live where all of them reach it.
"""

from __future__ import annotations

import logging
from pathlib import Path

from realtime.voices.sqlite import SQLiteVoiceStore
from realtime.voices.store import VoiceStore, VoiceStoreUnavailable

POSTGRES_SCHEMES = ("postgresql://", "postgres://")

logger = logging.getLogger(__name__)


def open_voice_store(voice_store_url: str | None, data_dir: Path | None) -> VoiceStore | None:
    """The store the configuration names (migrated at open), or None when saved voices are off.

    Raises VoiceStoreUnavailable with a message fit for an operator (no trace needed)
    when the URL is not one we serve, its driver is not installed, or the database
    cannot be reached; SchemaTooNew when the database is from a newer server.
    """
    if voice_store_url:
        if not voice_store_url.startswith(POSTGRES_SCHEMES):
            scheme = voice_store_url.split("://", 1)[0] if "://" in voice_store_url else voice_store_url[:20]
            raise VoiceStoreUnavailable(
                f"the voice store URL must start with postgresql:// (got {scheme!r}); "
                "leave it unset to keep voices in SQLite under --data-dir"
            )
        try:
            from realtime.voices.postgres import PostgresVoiceStore
        except ImportError as exc:
            raise VoiceStoreUnavailable(
                f"a PostgreSQL voice store needs the `postgres` extra ({exc.name or exc} is missing): "
                "run `scripts/setup postgres` or `pip install 'realtime-tts[postgres]'`"
            ) from None
        store = PostgresVoiceStore(voice_store_url)
        logger.info("saved voices: PostgreSQL at %s (schema version %d)", store.where, store.schema_version())
        return store
    if data_dir is not None:
        sqlite_store = SQLiteVoiceStore.in_directory(data_dir)
        logger.info("saved voices: SQLite at %s", sqlite_store.path)
        return sqlite_store
    return None
