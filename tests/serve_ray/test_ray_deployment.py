"""The server on Ray Serve, end to end: `serve-ray --replicas 2` on a local Ray (2 CPUs, the embedded
engine, tiny Qwen3 checkpoints for saved voices, one throw-away PostgreSQL as the shared voice library),
reached through Ray's HTTP proxy by real WebSocket and HTTP clients.

One deployment for the module (Ray is slow to start on 2 cores); the replica-killing and draining tests
run after the others, and the autoscaling test last of all: it stops that deployment and starts its own
(between 1 and 2 replicas, a target of one session per replica, short delays so the test sees both
directions within a minute; an operator keeps Serve's defaults: 30 s up, 600 s down).
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from websockets.exceptions import ConnectionClosed

from realtime.engines.hibari_engine import HIBARI_MODEL_NAME
from tests.conftest import run
from tests.support.postgres import TestPostgres
from tests.support.ray_deployment import RayDeployment
from tests.support.saved_voices import GENERATION, clone_body
from tests.support.stream_checks import small_buffer_socket
from tests.wire import Wire, audio_of

SESSIONS_PER_REPLICA = 2
DRAIN_TIMEOUT_S = 8
SEND_TIMEOUT_S = 3
IDLE_TIMEOUT_S = 300  # a stalled client's slot must come back by the send timeout, never by idling
TIMEOUT = 120.0
# The first test's setup may wait for another module's Ray cluster to stop (tests/support/ray_deployment.py).
pytestmark = pytest.mark.timeout(900)
LINE = "Hello there. This line is spoken through Ray's proxy."
LONG_TEXT = ("The replica speaking this will be stopped in the middle of the line. " * 58)[:4000]
EMBEDDED = {"model": HIBARI_MODEL_NAME, "format": "pcm"}


@pytest.fixture(scope="module")
def deployment(tiny_checkpoints: dict[str, Path], postgres_server: TestPostgres,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[RayDeployment]:
    logs = tmp_path_factory.mktemp("serve-ray")
    running = RayDeployment(
        "--replicas", "2", "--max-sessions", str(SESSIONS_PER_REPLICA), "--engine-threads", "1",
        "--models-dir", str(tiny_checkpoints["base"].parent), "--device", "cpu",
        "--voice-store-url", postgres_server.new_database("ray"), "--data-dir", str(logs / "data"),
        "--drain-timeout-s", str(DRAIN_TIMEOUT_S), "--send-timeout-s", str(SEND_TIMEOUT_S),
        "--idle-timeout-s", str(IDLE_TIMEOUT_S),
        log_path=logs / "serve-ray.log",
    ).start()
    try:
        assert running.wait_for(lambda: len(running.replica_pids()) == 2, TIMEOUT), running.lines[-20:]
        yield running
    finally:
        running.stop()


def replica_of(wire: Wire) -> str:
    return wire.connection.response.headers["x-replica"]


async def open_session(deployment: RayDeployment, fields: dict[str, Any] | None = None) -> tuple[Wire, dict[str, Any]]:
    """A socket and its first answer (session.ready, or the error that refused it); the embedded voice by default."""
    wire = await Wire.open(deployment.url)
    await wire.send({"type": "session.start", **(EMBEDDED if fields is None else fields)})
    return wire, await wire.recv(TIMEOUT)


async def speak(wire: Wire, text: str = LINE) -> list[dict[str, Any]]:
    await wire.send({"type": "text", "text": text})
    await wire.send({"type": "end"})
    return await wire.until_done(timeout=TIMEOUT)


async def hold_sessions(deployment: RayDeployment, count: int) -> list[Wire]:
    """`count` ready sessions; a refusal while sessions of an earlier test are still being released is retried."""
    held: list[Wire] = []
    deadline = time.monotonic() + TIMEOUT
    while len(held) < count:
        wire, first = await open_session(deployment)
        if first["type"] == "session.ready":
            held.append(wire)
            continue
        assert first["code"] == 1013 and time.monotonic() < deadline, first
        await wire.close()
        await asyncio.sleep(0.2)  # a slot of an earlier test's session is on its way back
    return held


def test_sessions_spread_over_both_replicas_and_speak(deployment: RayDeployment) -> None:
    async def body() -> None:
        wires = await hold_sessions(deployment, 2)
        try:
            assert {replica_of(w) for w in wires} == set(deployment.replica_pids())
            for wire in wires:
                messages = await speak(wire)
                assert messages[-1]["reason"] == "end" and audio_of(messages)
        finally:
            for wire in wires:
                await wire.close()

    run(body(), TIMEOUT * 2)


def test_the_console_and_the_http_catalogue_come_through_the_proxy_unchanged(deployment: RayDeployment) -> None:
    page = httpx.get(deployment.http_url + "/", timeout=TIMEOUT)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    models = httpx.get(deployment.http_url + "/v1/models", timeout=TIMEOUT)
    assert models.status_code == 200 and HIBARI_MODEL_NAME in [m["id"] for m in models.json()["data"]]
    assert models.headers["x-replica"] in deployment.replica_pids()
    assert len(models.headers.get_list("x-request-id")) == 1


def test_a_full_cluster_refuses_cleanly_in_the_protocols_shape(deployment: RayDeployment) -> None:
    async def body() -> None:
        wires = await hold_sessions(deployment, 2 * SESSIONS_PER_REPLICA)
        try:
            assert Counter(replica_of(w) for w in wires) == {rid: SESSIONS_PER_REPLICA for rid in deployment.replica_pids()}
            refused, first = await open_session(deployment)
            messages, code = await refused.closed_with(TIMEOUT)
            assert first["type"] == "error" and first["code"] == 1013 and first["name"] == "over_capacity", first
            assert first["fatal"] is True and first["retry_after_ms"] > 0 and code == 1013 and messages == []
            response = await asyncio.to_thread(
                httpx.post, deployment.http_url + "/v1/audio/speech",
                json={"model": HIBARI_MODEL_NAME, "input": LINE, "voice": "heart", "response_format": "pcm"},
                timeout=TIMEOUT,
            )
            assert response.status_code == 503 and int(response.headers["retry-after"]) >= 1
            assert response.json()["error"]["code"] == "over_capacity"
        finally:
            for wire in wires:
                await wire.close()

    run(body(), TIMEOUT * 2)


def test_each_replicas_metrics_are_reachable_and_carry_its_label(deployment: RayDeployment) -> None:
    for replica in [*deployment.replica_pids()] * 3:  # each pinned request lands where it asked, not by chance
        response = httpx.get(deployment.http_url + "/metrics", headers={"x-session-id": f"replica={replica}"},
                             timeout=TIMEOUT)
        assert response.status_code == 200 and response.headers["x-replica"] == replica
        samples = [line for line in response.text.splitlines() if line and not line.startswith("#")]
        assert samples and all(f'replica="{replica}"' in line for line in samples)


def test_a_voice_made_through_one_replica_speaks_through_the_other(deployment: RayDeployment) -> None:
    made = httpx.post(deployment.http_url + "/v1/voices", json=clone_body("Across replicas"), timeout=TIMEOUT)
    assert made.status_code == 201, made.text
    voice, maker = made.json(), made.headers["x-replica"]

    async def body() -> None:
        wires: list[Wire] = []
        try:
            while True:  # the router places each new session on the least loaded replica: at most two tries
                wire, ready = await open_session(deployment, {"voice": voice["id"], "seed": 5, "format": "pcm",
                                                              "generation": GENERATION, "language": "english"})
                assert ready["type"] == "session.ready" and ready["voice"] == voice["id"], ready
                wires.append(wire)
                if replica_of(wire) != maker:
                    break
                assert len(wires) < SESSIONS_PER_REPLICA
            messages = await speak(wires[-1], "Hello there.")
            assert messages[-1]["reason"] == "end" and audio_of(messages)
        finally:
            for wire in wires:
                await wire.close()

    run(body(), TIMEOUT * 2)


def test_a_client_that_stops_reading_through_the_proxy_is_dropped_and_frees_its_slot(deployment: RayDeployment) -> None:
    async def body() -> None:
        stalled = await Wire.open(deployment.url, max_queue=1, sock=small_buffer_socket(deployment.port))
        await stalled.send({"type": "session.start", **EMBEDDED, "sample_rate": 48000})
        assert (await stalled.recv(TIMEOUT))["type"] == "session.ready"
        await stalled.send({"type": "text", "text": LONG_TEXT})
        await stalled.send({"type": "end"})
        stalled.connection.transport.pause_reading()  # ... and never reads again
        stalled_at = time.monotonic()
        # Every slot of the cluster, its own included: only once the replica was told its client left.
        wires = await hold_sessions(deployment, 2 * SESSIONS_PER_REPLICA)
        freed_after_s = time.monotonic() - stalled_at
        try:
            assert freed_after_s < 90, f"the stalled client's slot came back after {freed_after_s:.0f} s"
            assert audio_of(await speak(wires[0]))
        finally:
            for wire in wires:
                await wire.close()
            stalled.abort()

    run(body(), TIMEOUT * 2)


def test_a_replica_killed_mid_stream_closes_its_sockets_1012_and_the_rest_keep_speaking(
    deployment: RayDeployment,
) -> None:
    async def body() -> None:
        wires = await hold_sessions(deployment, 2)
        by_replica = {replica_of(w): w for w in wires}
        victim_id, survivor_id = sorted(by_replica)
        victim, survivor = by_replica[victim_id], by_replica[survivor_id]
        for wire in wires:
            await wire.send({"type": "text", "text": LONG_TEXT})
            await wire.send({"type": "end"})
        await victim.until(lambda m: m["type"] == "audio", TIMEOUT)
        await survivor.until(lambda m: m["type"] == "audio", TIMEOUT)
        os.kill(deployment.replica_pids()[victim_id], signal.SIGKILL)

        messages, code = await victim.closed_with(TIMEOUT)
        assert code == 1012  # service restart: reconnect
        assert messages[-1]["type"] == "error" and messages[-1]["code"] == 1012 and messages[-1]["fatal"]
        messages = await survivor.until_done(timeout=TIMEOUT)
        assert messages[-1]["reason"] == "end" and audio_of(messages)[-1]["is_last"]
        await survivor.close()

        again, ready = await open_session(deployment)
        try:
            assert ready["type"] == "session.ready" and replica_of(again) != victim_id
            assert audio_of(await speak(again))
        finally:
            await again.close()

    run(body(), TIMEOUT * 3)


def test_an_http_stream_cut_by_a_dying_replica_ends_incomplete(deployment: RayDeployment) -> None:
    assert deployment.wait_for(lambda: len(deployment.replica_pids()) >= 3, TIMEOUT)  # the replacement is up
    body = {"model": HIBARI_MODEL_NAME, "input": LONG_TEXT, "voice": "heart", "response_format": "pcm"}
    with pytest.raises(httpx.RemoteProtocolError):
        with httpx.stream("POST", deployment.http_url + "/v1/audio/speech", json=body, timeout=TIMEOUT) as response:
            assert response.status_code == 200
            pieces = response.iter_raw()
            assert next(pieces)
            os.kill(deployment.replica_pids()[response.headers["x-replica"]], signal.SIGKILL)
            for _ in pieces:
                pass


def _live_replicas(deployment: RayDeployment) -> list[str]:
    return [rid for rid, pid in deployment.replica_pids().items()
            if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]


def _serving(deployment: RayDeployment, replica: str) -> bool:
    try:
        response = httpx.get(deployment.http_url + "/ready", headers={"x-session-id": f"replica={replica}"}, timeout=5)
    except httpx.HTTPError:
        return False
    return response.status_code == 200 and response.headers.get("x-replica") == replica


def test_a_drained_replica_takes_no_new_sessions_lets_open_ones_speak_then_closes_them_1012(
    deployment: RayDeployment,
) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not (len(live := _live_replicas(deployment)) == 2 and all(_serving(deployment, r) for r in live)):
        assert time.monotonic() < deadline, "the killed replicas were not replaced"
        time.sleep(0.5)
    removals = len([line for line in deployment.lines if "Removing 1 replica" in line])

    async def body() -> None:
        wires = await hold_sessions(deployment, 2)
        assert len({replica_of(w) for w in wires}) == 2
        redeploy = deployment.redeploy("--replicas", "1")
        try:
            began = await asyncio.to_thread(deployment.wait_for, lambda: len(
                [line for line in deployment.lines if "Removing 1 replica" in line]) > removals, TIMEOUT)
            assert began, deployment.lines[-20:]
            newcomer, ready = await open_session(deployment)
            assert ready["type"] == "session.ready"
            survivor = replica_of(newcomer)
            refused, first = await open_session(deployment)  # the survivor is full; the drained replica takes none
            assert first["type"] == "error" and first["code"] == 1013, first
            await refused.close()
            drained = next(w for w in wires if replica_of(w) != survivor)
            messages = await speak(drained, "Hello there.")  # open sessions keep speaking while they drain
            assert messages[-1]["reason"] == "end" and audio_of(messages)
            closing, code = await drained.closed_with(TIMEOUT)
            assert code == 1012  # the drain timeout ended it: service restart, reconnect
            assert [m["name"] for m in closing if m["type"] == "error"] == ["service_restart"]
            assert audio_of(await speak(newcomer))
            for wire in wires + [newcomer]:
                await wire.close()
        finally:
            await asyncio.to_thread(redeploy.communicate, None, TIMEOUT)
        assert redeploy.returncode == 0

    run(body(), TIMEOUT * 3)


SCALE_TIMEOUT_S = 90.0
# Replicas report their ongoing requests every half second instead of every 10 s (Serve's default).
QUICK_METRICS = {"RAY_SERVE_REPLICA_AUTOSCALING_METRIC_PUSH_INTERVAL_S": "0.5",
                 "RAY_SERVE_HANDLE_AUTOSCALING_METRIC_PUSH_INTERVAL_S": "0.5"}


@pytest.fixture
def autoscaling(deployment: RayDeployment, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RayDeployment]:
    """serve-ray between 1 and 2 replicas on sessions, after the module's deployment is stopped (one cluster at a time)."""
    deployment.stop()
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


async def ready_session(deployment: RayDeployment) -> Wire:
    wire, ready = await open_session(deployment)
    assert ready["type"] == "session.ready", ready
    return wire


def test_sessions_above_the_target_add_a_replica_and_new_sessions_go_to_it_then_it_is_drained_away(
    autoscaling: RayDeployment,
) -> None:
    first_replica = next(iter(autoscaling.replica_pids()))
    removals_before = autoscaling.count("Removing 1 replica")

    async def body() -> None:
        held = [await ready_session(autoscaling) for _ in range(2)]  # two sessions, target one per replica
        assert {replica_of(w) for w in held} == {first_replica}
        grew = await asyncio.to_thread(autoscaling.wait_for, lambda: len(autoscaling.replica_pids()) == 2, SCALE_TIMEOUT_S)
        assert grew, "two sessions on one replica (target 1) added no replica: " + "".join(autoscaling.lines[-20:])
        added = next(rid for rid in autoscaling.replica_pids() if rid != first_replica)

        newcomer: Wire | None = None
        deadline = time.monotonic() + SCALE_TIMEOUT_S
        while newcomer is None:  # the new replica takes sessions once Serve reports it running
            wire = await ready_session(autoscaling)
            if replica_of(wire) == added:
                newcomer = wire
            else:
                await wire.close()
                assert time.monotonic() < deadline, "the added replica never took a session"
                await asyncio.sleep(0.5)
        for wire in [*held, newcomer]:
            messages = await speak(wire)
            assert messages[-1]["reason"] == "end" and audio_of(messages)
            await wire.close()

        shrank = await asyncio.to_thread(
            autoscaling.wait_for, lambda: autoscaling.count("Removing 1 replica") > removals_before, SCALE_TIMEOUT_S)
        assert shrank, "no session for longer than the downscale delay removed no replica: " + "".join(
            autoscaling.lines[-20:])
        after = await ready_session(autoscaling)  # the one left keeps serving
        messages = await speak(after)
        assert messages[-1]["reason"] == "end" and audio_of(messages)
        await after.close()

    run(body(), TIMEOUT * 4)
