"""`realtime-tts bench store`: figures for both stores, and a live library left as it was."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from realtime.bench.store import main
from realtime.voices.opening import open_voice_store
from realtime.voices.store import Quota
from tests.support.voice_stores import make_voice


def test_both_stores_are_measured_and_the_bench_voices_are_deleted(postgres_url: str, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    live = open_voice_store(postgres_url, None)
    assert live is not None
    live.create(make_voice("voice_users"), Quota())
    try:
        assert main(["--voice-store-url", postgres_url, "--voices", "3", "--threads", "2",
                     "--json", str(tmp_path / "store.json")]) == 0
        report = json.loads((tmp_path / "store.json").read_text())
        for store in ("sqlite", "postgres"):
            figures = report["results"][store]
            assert figures["create_ms"]["n"] == 3 and figures["get_ms"]["n"] == 6 and figures["list_ms"]["n"] == 3
            assert figures["get_ms_2_threads"]["n"] == 6 and figures["gets_per_s"] > 0
        assert "postgres" in capsys.readouterr().out
        import psycopg

        with psycopg.connect(postgres_url) as db:  # every owner's voices: only the user's is left
            assert db.execute("SELECT id FROM voices").fetchall() == [("voice_users",)]
        assert live.integrity() == []
    finally:
        live.close()


def test_an_unreachable_database_is_reported_not_raised(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--voice-store-url", "postgresql://nobody@127.0.0.1:1/none", "--voices", "1"]) == 1
    assert "cannot reach the voice store" in capsys.readouterr().err
