"""Which store a server opens: PostgreSQL when a store URL is set (winning over the data directory), SQLite
under the data directory otherwise, none when neither is set; and the options and variable that say so."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from realtime.cli import _add_serve, config_from_args
from realtime.config import ServerConfig, config_from_env
from realtime.voices.opening import open_voice_store
from realtime.voices.postgres import PostgresVoiceStore
from realtime.voices.sqlite import DB_FILE_NAME, SQLiteVoiceStore
from realtime.voices.store import VoiceStoreUnavailable
from tests.support.local import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_a_store_url_wins_over_the_data_directory(postgres_url: str, tmp_path: Path) -> None:
    store = open_voice_store(postgres_url, tmp_path / "data")
    try:
        assert isinstance(store, PostgresVoiceStore)
        assert not (tmp_path / "data" / DB_FILE_NAME).exists()  # nothing of a voice on the local disk
    finally:
        assert store is not None
        store.close()


def test_without_a_url_voices_live_in_sqlite_under_the_data_directory_or_nowhere(tmp_path: Path) -> None:
    store = open_voice_store(None, tmp_path)
    assert isinstance(store, SQLiteVoiceStore) and store.path == tmp_path / DB_FILE_NAME
    store.close()
    assert open_voice_store(None, None) is None and open_voice_store("", None) is None


@pytest.mark.parametrize("url", ["mysql://u@h/db", "sqlite:///tmp/x.db", "localhost:5432"])
def test_a_url_that_is_not_postgresql_is_refused_plainly(url: str, tmp_path: Path) -> None:
    with pytest.raises(VoiceStoreUnavailable, match="must start with postgresql://"):
        open_voice_store(url, tmp_path)


def test_the_url_comes_from_the_environment_or_the_command_line() -> None:
    url = "postgresql://tts@db/voices"
    assert config_from_env({"REALTIME_TTS_VOICE_STORE_URL": url}).voice_store_url == url
    assert config_from_env({}).voice_store_url is None
    parser = argparse.ArgumentParser()
    _add_serve(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["serve", "--voice-store-url", "postgresql://other@db/v"])
    assert config_from_args(args, ServerConfig(voice_store_url=url)).voice_store_url == "postgresql://other@db/v"
    assert config_from_args(parser.parse_args(["serve"]), ServerConfig(voice_store_url=url)).voice_store_url == url


def test_without_the_postgres_extra_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "realtime.voices.postgres", None)  # as if psycopg were not installed
    with pytest.raises(VoiceStoreUnavailable, match=r"needs the `postgres` extra.*scripts/setup postgres"):
        open_voice_store("postgresql://u@db/voices", None)


def test_serve_with_an_unreachable_database_says_so_in_one_line_and_exits(tmp_path: Path) -> None:
    url = f"postgresql://tts:hunter2@127.0.0.1:{free_port()}/voices"  # nobody listens there
    done = subprocess.run([sys.executable, "-m", "realtime", "serve", "--port", "0", "--voice-store-url", url,
                           "--data-dir", str(tmp_path)], capture_output=True, text=True, timeout=120, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: saved voices: cannot reach the voice store at postgresql://tts@127.0.0.1:")
    assert "Traceback" not in done.stderr and "hunter2" not in done.stderr
    assert not (tmp_path / DB_FILE_NAME).exists()
