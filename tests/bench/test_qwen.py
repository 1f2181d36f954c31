"""The Qwen3 engine benchmark runs end to end on a tiny checkpoint and reports both paths."""

from __future__ import annotations

from pathlib import Path

from realtime.cli import main
from realtime.bench.qwen import bench_engine
from realtime.engines.qwen3.runtime import LoadOptions


def test_benchmark_times_both_paths_on_the_same_frames(tiny_checkpoints: dict[str, Path]) -> None:
    result = bench_engine(tiny_checkpoints["custom_voice"], frames=4, repeats=1, options=LoadOptions(device="cpu"))
    assert result.ours.audio_s == result.official.audio_s == 4 / 12.5  # the same bounded length on both paths
    assert 0 < result.ours.first_audio_ms < result.ours.total_ms
    assert result.official.first_audio_ms == result.official.total_ms  # the official call is not streamed
    lines = result.lines()
    assert "first audio" in lines[-2] and lines[-2].endswith(("PASS", "FAIL"))
    assert "per frame" in lines[-1] and lines[-1].endswith(("PASS", "FAIL"))


def test_cli_prints_the_comparison(tiny_checkpoints: dict[str, Path], tmp_path: Path, capsys) -> None:
    figures = tmp_path / "qwen.json"
    code = main(["bench-qwen", str(tiny_checkpoints["custom_voice"]), "--frames", "3", "--repeats", "1",
                 "--device", "cpu", "--json", str(figures)])
    assert code == 0
    out = capsys.readouterr().out
    assert "ours" in out and "official" in out and "sooner" in out
    assert '"first_audio_speedup"' in figures.read_text()


def test_a_checkpoint_of_another_kind_is_refused(tiny_checkpoints: dict[str, Path]) -> None:
    import pytest

    with pytest.raises(ValueError, match="CustomVoice"):
        bench_engine(tiny_checkpoints["voice_design"], frames=2, repeats=1, options=LoadOptions(device="cpu"))


def test_concurrency_benchmark_compares_batched_and_one_stream_per_thread(
    tiny_checkpoints: dict[str, Path], tmp_path: Path, capsys
) -> None:
    figures = tmp_path / "batch.json"
    code = main(["bench-qwen", str(tiny_checkpoints["custom_voice"]), "--concurrency", "1,2", "--frames", "3",
                 "--max-batch", "4", "--device", "cpu", "--torch-threads", "1", "--json", str(figures)])
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [line.split() for line in lines if line.strip()[:1].isdigit()]
    assert [(row[0], row[1]) for row in rows] == [("1", "batched"), ("1", "1/thread"), ("2", "batched"), ("2", "1/thread")]
    import json

    data = json.loads(figures.read_text())
    assert [run["streams"] for run in data["runs"]] == [1, 1, 2, 2]
    assert all(run["audio_per_wall"] > 0 and run["ttfa_p50_ms"] > 0 for run in data["runs"])
    assert set(data["ceiling"]) == {"1", "2"} and data["ceiling"]["1"] == 1.0
