"""The benchmark runs end to end on a small load and writes sane figures."""

from __future__ import annotations

import json
from pathlib import Path

from realtime.bench.socket import main


def _positive(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


def test_bench_small_run_writes_figures(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "b.json"
    assert main(["--runs", "2", "--pairs", "3", "--concurrency", "1,2", "--format-runs", "2", "--audible-runs", "2", "--json", str(out)]) == 0

    printed = capsys.readouterr().out
    assert "engine first chunk" in printed and "socket TTFA" in printed and "Concurrency" in printed
    assert "Output formats" in printed and "First audible sample" in printed

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

    formats = report["formats"]
    assert [row["format"] for row in formats] == ["pcm", "wav", "flac", "ogg", "opus", "mp3", "aac"]
    assert report["formats_sample_rate"] == 24000
    for row in formats:
        assert _positive(row["encode_ms_per_audio_s"]) and _positive(row["kbps"]), row
        assert row["first_chunk_bytes"] > 0 or row["format"] in ("mp3", "aac"), row
        for key in ("first_audio", "first_byte", "first_audible", "audio_before_audible"):
            assert row["socket_ms"][key]["n"] == 2 and _positive(row["socket_ms"][key]["p50"]), (row["format"], key)
    by_format = {row["format"]: row for row in formats}
    assert by_format["pcm"]["kbps"] == 384.0  # 24 kHz s16 mono, exactly
    assert by_format["flac"]["kbps"] < by_format["wav"]["kbps"]  # lossless, and smaller
    # pcm is audible with its first chunk; Vorbis waits for a whole Ogg page (about 4 KiB)
    assert by_format["pcm"]["socket_ms"]["audio_before_audible"]["p50"] <= 100.0 + 1e-6
    assert by_format["ogg"]["socket_ms"]["audio_before_audible"]["p50"] > 100.0

    audible = report["audible"]
    assert audible["engine_leading_silence_ms"] > 100  # the embedded engine's silence before speech
    for transport in ("socket", "http"):
        row = audible[transport]
        assert row["lines"] == 2, row
        assert _positive(row["first_byte_ms"]["p50"]) and row["heard_ms"]["p50"] >= row["first_byte_ms"]["p50"]
        assert row["audible_at_ms"]["max"] <= 6.0, row  # cut to the 5 ms lead-in
    assert isinstance(audible["target_pass"], bool)


def test_bench_format_options_are_checked(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["--formats", "pcm,mp4"]) == 2
    assert "formats must be among" in capsys.readouterr().err
    assert main(["--format-rate", "11025"]) == 2

