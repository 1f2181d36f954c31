"""Autoscaling on active sessions, end to end: `serve-ray` between 1 and 2 replicas on a local Ray
(the embedded engine), a target of one session per replica, and short delays so the test sees both
directions within minutes (an operator keeps Serve's defaults: 30 s up, 600 s down).

Sessions are the load: two open sessions on one replica add a second replica, a new session is
placed on it, and once every session has ended the extra replica is removed (drained) again while
the deployment keeps serving.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from realtime.engines.hibari_engine import HIBARI_MODEL_NAME
from tests.conftest import run
from tests.support.ray_deployment import RayDeployment
from tests.wire import Wire, audio_of

TIMEOUT = 120.0
# The first test's setup may wait for another module's Ray cluster to stop (tests/support/ray_deployment.py).
pytestmark = pytest.mark.timeout(900)
SCALE_TIMEOUT_S = 90.0
EMBEDDED = {"type": "session.start", "model": HIBARI_MODEL_NAME, "format": "pcm"}
# Replicas report their ongoing requests every half second instead of every 10 s (Serve's default).
QUICK_METRICS = {"RAY_SERVE_REPLICA_AUTOSCALING_METRIC_PUSH_INTERVAL_S": "0.5",
                 "RAY_SERVE_HANDLE_AUTOSCALING_METRIC_PUSH_INTERVAL_S": "0.5"}


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RayDeployment]:
    logs = tmp_path_factory.mktemp("serve-ray-autoscaling")
    running = RayDeployment(
        "--replicas", "1", "--min-replicas", "1", "--max-replicas", "2", "--target-sessions-per-replica", "1",
        "--upscale-delay-s", "1", "--downscale-delay-s", "6", "--look-back-period-s", "2",
        "--max-sessions", "3", "--engine-threads", "1", "--data-dir", str(logs / "data"), "--drain-timeout-s", "5",
        log_path=logs / "serve-ray.log", env=QUICK_METRICS,
    ).start()
    try:
        assert running.wait_for(lambda: len(running.replica_pids()) == 1, TIMEOUT), running.lines[-20:]
        yield running
    finally:
        running.stop()


def replica_of(wire: Wire) -> str:
    return wire.connection.response.headers["x-replica"]


async def open_session(deployment: RayDeployment) -> Wire:
    wire = await Wire.open(deployment.url)
    await wire.send(EMBEDDED)
    ready = await wire.recv(TIMEOUT)
    assert ready["type"] == "session.ready", ready
    return wire


async def speak(wire: Wire, text: str = "Hello there.") -> list[dict[str, Any]]:
    await wire.send({"type": "text", "text": text})
    await wire.send({"type": "end"})
    return await wire.until_done(timeout=TIMEOUT)


def test_sessions_above_the_target_add_a_replica_and_new_sessions_go_to_it_then_it_is_drained_away(
    deployment: RayDeployment,
) -> None:
    first_replica = next(iter(deployment.replica_pids()))
    removals_before = deployment.count("Removing 1 replica")

    async def body() -> None:
        held = [await open_session(deployment) for _ in range(2)]  # two sessions, target one per replica
        assert {replica_of(w) for w in held} == {first_replica}
        grew = await asyncio.to_thread(deployment.wait_for, lambda: len(deployment.replica_pids()) == 2, SCALE_TIMEOUT_S)
        assert grew, "two sessions on one replica (target 1) added no replica: " + "".join(deployment.lines[-20:])
        added = next(rid for rid in deployment.replica_pids() if rid != first_replica)

        newcomer: Wire | None = None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SCALE_TIMEOUT_S
        while newcomer is None:  # the new replica takes sessions once Serve reports it running
            wire = await open_session(deployment)
            if replica_of(wire) == added:
                newcomer = wire
            else:
                await wire.close()
                assert loop.time() < deadline, "the added replica never took a session"
                await asyncio.sleep(0.5)
        for wire in [*held, newcomer]:
            messages = await speak(wire)
            assert messages[-1]["reason"] == "end" and audio_of(messages)
            await wire.close()

        shrank = await asyncio.to_thread(
            deployment.wait_for, lambda: deployment.count("Removing 1 replica") > removals_before, SCALE_TIMEOUT_S)
        assert shrank, "no session for longer than the downscale delay removed no replica: " + "".join(
            deployment.lines[-20:])
        after = await open_session(deployment)  # the one left keeps serving
        messages = await speak(after)
        assert messages[-1]["reason"] == "end" and audio_of(messages)
        await after.close()

    run(body(), TIMEOUT * 4)
