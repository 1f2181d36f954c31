"""`realtime-tts soak` on a tiny budget: every kind of episode runs, nothing is stuck, nothing is left held."""

from __future__ import annotations

import asyncio
import random

import httpx
import pytest

from realtime.cli import main
from realtime.soak import ServerNotReady, SoakReport, _Client, run_soak
from tests.support.local import free_port


def test_a_short_soak_leaves_no_stuck_episode_no_held_slot_and_no_queued_bytes() -> None:
    lines: list[str] = []
    report = run_soak(3, 8.0, sample_s=2.0, seed=3, printer=lines.append)
    assert report.sessions > 0 and report.http_requests > 0
    assert report.stuck == 0 and report.unexpected_codes == {}, report.summary()
    assert report.unanswered == {}, report.unanswered  # every socket and request got an answer
    assert report.slots_left == 0 and report.queued_bytes_left == 0
    assert len(report.rss_mib) >= 2 and all(mib > 0 for _, mib in report.rss_mib)
    assert any("rss" in line for line in lines)


def test_soak_is_a_cli_command(capsys) -> None:
    try:
        main(["soak", "--help"])
    except SystemExit as exit_:
        assert exit_.code == 0
    assert "--clients" in capsys.readouterr().out


def test_a_soak_at_a_url_where_no_server_comes_up_stops_with_a_clear_reason() -> None:
    port = free_port()  # nothing listens there
    with pytest.raises(ServerNotReady, match=f"127.0.0.1:{port}.*not ready within 1 s"):
        run_soak(2, 5.0, url=f"ws://127.0.0.1:{port}/v1/realtime", ready_timeout_s=1.0)


def test_connections_the_server_never_answers_are_counted_not_taken_for_deliberate_drops() -> None:
    port = free_port()
    report = SoakReport(clients=1, duration_s=1.0)
    client = _Client(f"ws://127.0.0.1:{port}/v1/realtime", f"http://127.0.0.1:{port}", random.Random(0), report)

    async def both() -> None:
        async with httpx.AsyncClient(timeout=5.0) as http:
            with pytest.raises(httpx.ConnectError):
                await client._http(http, drop=True)
        with pytest.raises(OSError):
            await client._socket("normal")

    asyncio.run(both())
    assert sum(report.unanswered.values()) == 2, report.unanswered
    assert {key.split()[0] for key in report.unanswered} == {"http", "socket"}
    assert report.http_statuses == {} and report.sessions == 0
    assert report.summary()["unanswered"] == dict(report.unanswered)
