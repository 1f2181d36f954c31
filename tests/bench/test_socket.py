"""The benchmark runs end to end on a small load and writes sane figures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from realtime.bench.socket import (
    OVERHEAD_TARGET_MS,
    LevelResult,
    build_parser,
    main,
    merge_rounds,
    overhead_verdict,
    throughput_gains,
)


def _positive(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


def test_bench_small_run_writes_figures(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "b.json"
    assert main(["--runs", "2", "--pairs", "3", "--concurrency", "1,2", "--rounds", "2", "--format-runs", "2",
                 "--audible-runs", "2", "--json", str(out)]) == 0

    printed = capsys.readouterr().out
    assert "engine first chunk" in printed and "socket TTFA" in printed and "Concurrency" in printed
    assert "round 2" in printed and "2 sessions give" in printed
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
    assert isinstance(latency["overhead_pass"], bool)  # the in-process server speaks with the baseline's model
    assert latency["server_model"] == latency["baseline_model"] == "hibari"

    levels = report["concurrency"]
    assert [level["sessions"] for level in levels] == [1, 2] and report["concurrency_rounds"] == 2
    for level in levels:  # two rounds of 2 lines per session
        assert level["errors"] == 0, level["error_samples"]
        assert level["lines_done"] == 2 * 2 * level["sessions"] and level["rounds"] == 2
        assert level["ttfa_ms"]["n"] == 2 * 2 * level["sessions"]
        assert len(level["round_speeds"]) == 2 and all(_positive(speed) for speed in level["round_speeds"])
        for value in (level["ttfa_ms"]["p50"], level["ttfa_ms"]["p95"], level["audio_s"], level["wall_s"], level["rtf"]):
            assert _positive(value), level
    assert report["concurrency_pass"] is True
    [gain] = report["throughput_gains"]
    assert gain["sessions"] == 2 and gain["over_sessions"] == 1 and _positive(gain["gain"]) and len(gain["per_round"]) == 2

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



def _run(sessions: int, audio_s: float, wall_s: float, ttfas: list[float]) -> LevelResult:
    return LevelResult(sessions=sessions, lines_per_session=1, lines_done=len(ttfas), audio_s=audio_s, wall_s=wall_s,
                       round_speeds=[audio_s / wall_s], ttfa_samples=ttfas)


def test_rounds_merge_into_totals_with_ttfa_over_every_line() -> None:
    merged = merge_rounds([_run(4, 40.0, 10.0, [100.0, 120.0]), _run(4, 40.0, 5.0, [80.0, 300.0])])
    assert (merged.rounds, merged.lines_done, merged.audio_s, merged.wall_s) == (2, 4, 80.0, 15.0)
    assert merged.speed == pytest.approx(80 / 15) and merged.rtf == pytest.approx(15 / 80, abs=1e-4)
    assert merged.round_speeds == [4.0, 8.0]
    assert merged.ttfa_ms["n"] == 4 and merged.ttfa_ms["max"] == 300.0 and merged.ttfa_ms["min"] == 80.0


def test_a_level_named_twice_runs_once_per_round() -> None:
    assert build_parser().parse_args(["--concurrency", "1,4,1"]).concurrency == [1, 4]


def test_rounds_of_different_levels_are_not_merged() -> None:
    with pytest.raises(ValueError):
        merge_rounds([_run(1, 1.0, 1.0, [1.0]), _run(4, 1.0, 1.0, [1.0])])
    with pytest.raises(ValueError):
        merge_rounds([])


def test_the_gain_is_over_the_smallest_level_from_totals_and_round_by_round() -> None:
    one = merge_rounds([_run(1, 10.0, 5.0, [50.0]), _run(1, 10.0, 2.5, [50.0])])  # 2x, then 4x real time
    four = merge_rounds([_run(4, 40.0, 8.0, [90.0]), _run(4, 40.0, 4.0, [90.0])])  # 5x, then 10x
    [gain] = throughput_gains([four, one])
    assert gain["sessions"] == 4 and gain["over_sessions"] == 1
    assert gain["gain"] == pytest.approx((80 / 12) / (20 / 7.5), abs=1e-3)  # totals, not the mean of rounds
    assert gain["per_round"] == [2.5, 2.5]
    assert throughput_gains([one]) == [] and throughput_gains([]) == []


def test_the_overhead_is_judged_only_against_a_baseline_speaking_with_the_servers_model() -> None:
    assert overhead_verdict(OVERHEAD_TARGET_MS - 1, "hibari", "hibari") is True
    assert overhead_verdict(OVERHEAD_TARGET_MS + 1, "hibari", "hibari") is False
    # a server at --url on another model: its time to first audio measures that model, not the server
    assert overhead_verdict(OVERHEAD_TARGET_MS - 1, "tiny-custom-voice", "hibari") is None
    assert overhead_verdict(OVERHEAD_TARGET_MS + 1, "tiny-custom-voice", "hibari") is None
    assert overhead_verdict(None, "hibari", "hibari") is None
