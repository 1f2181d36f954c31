"""Cancel is a barge-in: what was scheduled stops at once and nothing of the stream is scheduled again."""

from __future__ import annotations

from realtime.backend.backend import TTSBackend
from tests.support.engines import PacedEngine
from tests.support.servers import server_fixture

SEGMENT_PACE_S = 0.4  # eight segments take at least 3 s to generate: cancel lands mid-stream
LONG_LINE = " ".join(f"This is sentence number {n} of a long answer." for n in range(1, 9))

paced_server = server_fixture(backend=lambda: TTSBackend([PacedEngine(SEGMENT_PACE_S)], engine_threads=1))


def test_cancel_stops_playback_and_nothing_is_scheduled_after_it(paced_server, open_console) -> None:
    console = open_console(paced_server)
    console.connect()
    console.wait("c.state === 'ready'")
    console.say(LONG_LINE)
    console.wait("c.scheduled.length >= 2")
    console.page.click("#cancel")
    console.wait("c.done.length === 1")
    # Whatever the server had in flight has arrived by now; give the page a moment to mishandle it.
    console.page.evaluate("new Promise(resolve => setTimeout(resolve, 300))")

    cancel = console.hook("c.cancels[0]")
    done = console.hook("c.done[0]")
    assert done["reason"] == "cancelled"
    assert done["segments"] < 8, "the stream was over before the cancel: nothing was barged in on"
    assert console.hook("c.scheduled.length") == cancel["scheduledBefore"]
    assert console.hook(f"c.scheduled.every(e => e.scheduledAt <= {cancel['at']!r})")
    late = console.hook(f"c.received.filter(m => m.at > {cancel['at']!r}).length")
    assert console.hook("c.dropped") == late
    assert console.hook("c.activeSources") == 0
    stopped = console.hook("c.scheduled.filter(e => e.stopped).length")
    assert stopped >= 1, "no scheduled chunk was still pending at cancel: playback was not interrupted"
    assert console.hook("c.scheduled.every(e => e.stopped || e.ended)")
    states = console.hook("c.captions.map(x => x.state)")
    assert "cancelled" in states and "playing" not in states
    assert console.page.locator(".caption.cancelled").count() >= 1


def test_a_line_after_cancel_speaks_in_a_new_stream(paced_server, open_console) -> None:
    console = open_console(paced_server)
    console.connect()
    console.wait("c.state === 'ready'")
    console.say(LONG_LINE)
    console.wait("c.scheduled.length >= 1")
    console.page.click("#cancel")
    console.say("After the barge-in.")
    console.page.click("#end")
    console.wait("c.done.length === 2")

    assert console.hook("c.done.map(d => [d.ctx, d.reason])") == [["line-1", "cancelled"], ["line-2", "end"]]
    assert console.hook("c.scheduled.filter(e => e.ctx === 'line-2').length") >= 1
    assert console.hook("c.errors") == []
