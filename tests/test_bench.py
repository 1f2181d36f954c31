"""The benchmark runs end to end on a small load and writes sane figures."""

from __future__ import annotations

import json
from pathlib import Path

from realtime.bench import main


def _positive(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


def test_bench_small_run_writes_figures(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "b.json"
    assert main(["--runs", "2", "--concurrency", "1,2", "--json", str(out)]) == 0

    printed = capsys.readouterr().out
    assert "engine first chunk" in printed and "socket TTFA" in printed and "Concurrency" in printed

    report = json.loads(out.read_text())
    assert report["machine"]["cpu_count"] >= 1 and report["machine"]["python"]
    assert report["engine"]["model"] == "hibari"
    assert report["server"]["kind"] == "in-process" and report["server"]["format"] == "pcm"

    latency = report["latency"]
    assert latency["errors"] == 0 and latency["pairs"] >= 2
    for key in ("engine_first_chunk_ms", "socket_ttfa_ms"):
        for stat in ("p50", "p95", "mean", "min", "max"):
            assert _positive(latency[key][stat]), (key, stat, latency[key])
    for stat in ("p50", "p95"):
        assert isinstance(latency["overhead_ms"][stat], float)
    assert isinstance(latency["overhead_median_diff_ms"], float)
    assert isinstance(latency["overhead_pass"], bool)

    levels = report["concurrency"]
    assert [level["sessions"] for level in levels] == [1, 2]
    for level in levels:
        assert level["errors"] == 0, level["error_samples"]
        assert level["lines_done"] == 2 * level["sessions"]
        assert level["ttfa_ms"]["n"] == 2 * level["sessions"]
        for value in (level["ttfa_ms"]["p50"], level["ttfa_ms"]["p95"], level["audio_s"], level["wall_s"], level["rtf"]):
            assert _positive(value), level
    assert report["concurrency_pass"] is True
