"""The saved-voices benchmark runs end to end on tiny checkpoints and writes every figure."""

from __future__ import annotations

import json
from pathlib import Path

from realtime.bench.voices import main


def test_bench_voices_small_run_writes_figures(tiny_checkpoints: dict[str, Path], tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "voices.json"
    assert main([str(tiny_checkpoints["base"].parent), "--runs", "2", "--json", str(out)]) == 0
    assert "predefined speaker" in capsys.readouterr().out
    report = json.loads(out.read_text())
    assert set(report["results"]) == {"predefined speaker", "saved voice (in-context)", "saved voice (x-vector)",
                                      "inline reference (in-context)"}
    for figures in report["results"].values():
        for way in ("new_session_ms", "open_session_ms"):
            assert figures[way]["n"] == 2 and figures[way]["p50"] > 0
    assert all(isinstance(outcome["pass"], bool) for outcome in report["verdict"].values())


def test_bench_voices_needs_the_checkpoints(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main([str(tmp_path), "--runs", "1"]) == 1
    assert "Base and a CustomVoice" in capsys.readouterr().err
