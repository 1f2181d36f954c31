"""`realtime-tts soak` on a tiny budget: every kind of episode runs, nothing is stuck, nothing is left held."""

from __future__ import annotations

from realtime.cli import main
from realtime.soak import run_soak


def test_a_short_soak_leaves_no_stuck_episode_no_held_slot_and_no_queued_bytes() -> None:
    lines: list[str] = []
    report = run_soak(3, 8.0, sample_s=2.0, seed=3, printer=lines.append)
    assert report.sessions > 0 and report.http_requests > 0
    assert report.stuck == 0 and report.unexpected_codes == {}, report.summary()
    assert report.slots_left == 0 and report.queued_bytes_left == 0
    assert len(report.rss_mib) >= 2 and all(mib > 0 for _, mib in report.rss_mib)
    assert any("rss" in line for line in lines)


def test_soak_is_a_cli_command(capsys) -> None:
    try:
        main(["soak", "--help"])
    except SystemExit as exit_:
        assert exit_.code == 0
    assert "--clients" in capsys.readouterr().out
