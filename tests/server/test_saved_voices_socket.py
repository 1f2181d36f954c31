"""Saved voices over the socket: `voice` in session.start and context.start, the fields it excludes,
unknown and deleted voices, and other keys' voices; tiny random Qwen3 checkpoints, a real server."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from realtime.config import ServerConfig
from realtime.server.run import BackgroundServer
from tests.conftest import run
from tests.support.saved_voices import GENERATION, clone_body, create, voices_call, wav_base64, wav_bytes
from tests.support.stream_checks import audio_bytes, check_timeline, synthesize
from tests.support.wire_checks import expect_error, expect_fatal
from tests.wire import Wire, audio_of

TIMEOUT = 240.0


@pytest.fixture(scope="module")
def voices_server(tiny_checkpoints: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundServer]:
    config = ServerConfig(models_dir=tiny_checkpoints["base"].parent, device="cpu", log_level="warning",
                          engine_threads=1, data_dir=tmp_path_factory.mktemp("voices-socket"))
    with BackgroundServer(config) as running:
        yield running


@pytest.fixture(scope="module")
def saved(voices_server: BackgroundServer) -> dict[str, Any]:
    return create(voices_server, clone_body("Socket voice"))


def _refused(url: str, fields: dict[str, Any], code: int) -> dict[str, Any]:
    async def body() -> dict[str, Any]:
        wire = await Wire.open(url)
        try:
            await wire.send({"type": "session.start", **fields})
            return await expect_fatal(wire, code, timeout=TIMEOUT)
        finally:
            await wire.close()

    return run(body(), timeout=TIMEOUT)


def test_a_session_on_a_saved_voice_sounds_as_its_reference_sent_inline(
    voices_server: BackgroundServer, saved: dict[str, Any]
) -> None:
    common = {"seed": 5, "generation": GENERATION, "language": "english"}
    ready, by_id = run(synthesize(voices_server.url, "Hello there. Second line.", voice=saved["id"], **common), TIMEOUT)
    assert (ready["mode"], ready["model"], ready["voice"]) == ("voice_clone", "tiny-base", saved["id"])
    check_timeline(audio_of(by_id), 24000)
    _, inline = run(synthesize(voices_server.url, "Hello there. Second line.", mode="voice_clone", model="tiny-base",
                               ref_audio=wav_bytes(), ref_text="A reference line.", **common), TIMEOUT)
    assert audio_bytes(by_id) == audio_bytes(inline) and audio_bytes(by_id)


def test_voice_with_a_speaker_field_or_an_unknown_id_is_refused_at_start(
    voices_server: BackgroundServer, saved: dict[str, Any]
) -> None:
    for extra in ({"speaker": "vivian"}, {"ref_text": "x"}, {"ref_audio": wav_bytes()}, {"instruct": "x"},
                  {"mode": "custom_voice"}):
        error = _refused(voices_server.url, {"voice": saved["id"], **extra}, 4000)
        assert next(iter(extra)) in error["fields"], error
    error = _refused(voices_server.url, {"voice": "voice_nobodyhome"}, 4104)
    assert error["fields"] == ["voice"] and "voice_nobodyhome" in error["message"]


def test_context_start_takes_a_saved_voice_beside_other_voices(
    voices_server: BackgroundServer, saved: dict[str, Any]
) -> None:
    async def body() -> None:
        wire = await Wire.open(voices_server.url)
        try:
            ready = await wire.start(mode="custom_voice", model="tiny-custom-voice", generation=GENERATION)
            assert ready["mode"] == "custom_voice"
            await wire.send({"type": "context.start", "ctx": "bad", "voice": saved["id"], "ref_text": "no"})
            error = await expect_error(wire, 4100, ctx="bad", timeout=TIMEOUT)
            assert error["fields"] == ["ref_text"]
            await wire.send({"type": "context.start", "ctx": "missing", "voice": "voice_missing"})
            await expect_error(wire, 4104, ctx="missing", timeout=TIMEOUT)
            await wire.send({"type": "context.start", "ctx": "saved", "voice": saved["id"]})
            for ctx in ("saved", "main"):
                await wire.send({"type": "text", "ctx": ctx, "text": "Hi."})
                await wire.send({"type": "end", "ctx": ctx})
            messages = await wire.until(lambda m: m["type"] == "done" and m["ctx"] == "main", TIMEOUT)
            messages += [] if any(m["type"] == "done" and m["ctx"] == "saved" for m in messages) else \
                await wire.until_done("saved", TIMEOUT)
            for ctx in ("saved", "main"):
                assert audio_bytes(messages, ctx)
                assert [m["reason"] for m in messages if m["type"] == "done" and m["ctx"] == ctx] == ["end"]
        finally:
            await wire.close()

    run(body(), TIMEOUT)


def test_a_deleted_voice_keeps_speaking_in_open_contexts_and_new_ones_are_refused(
    voices_server: BackgroundServer,
) -> None:
    doomed = create(voices_server, {"name": "Doomed", "ref_audio": wav_base64(), "x_vector_only": True})

    async def body() -> None:
        wire = await Wire.open(voices_server.url)
        try:
            await wire.start(voice=doomed["id"], segmentation="manual", generation=GENERATION)
            await wire.send({"type": "text", "ctx": "open", "text": "Before the delete. "})
            await wire.send({"type": "ping", "t": 1})
            await wire.until(lambda m: m["type"] == "pong", TIMEOUT)  # the context is open
            deleted = await asyncio.to_thread(voices_call, voices_server, "DELETE", f"/{doomed['id']}")
            assert deleted.status_code == 200
            await wire.send({"type": "text", "ctx": "open", "text": "After it."})
            await wire.send({"type": "end", "ctx": "open"})
            messages = await wire.until_done("open", TIMEOUT)
            assert audio_bytes(messages, "open") and messages[-1]["reason"] == "end"
            await wire.send({"type": "text", "ctx": "new", "text": "Anyone?"})
            error = await expect_error(wire, 4104, ctx="new", timeout=TIMEOUT)
            assert doomed["id"] in error["message"]
            await wire.send({"type": "context.start", "ctx": "explicit", "voice": doomed["id"]})
            await expect_error(wire, 4104, ctx="explicit", timeout=TIMEOUT)
        finally:
            await wire.close()

    run(body(), TIMEOUT)


def test_a_voice_of_another_key_is_unknown_on_the_socket(tiny_checkpoints: dict[str, Path], tmp_path: Path) -> None:
    config = ServerConfig(models_dir=tiny_checkpoints["base"].parent, device="cpu", log_level="warning",
                          engine_threads=1, data_dir=tmp_path, api_keys=("key-one", "key-two"))
    with BackgroundServer(config) as server:
        voice = create(server, {"name": "Mine", "ref_audio": wav_base64(), "x_vector_only": True}, key="key-one")
        _refused(server.url, {"voice": voice["id"], "token": "key-two"}, 4104)
        ready, messages = run(synthesize(server.url, "Hi.", voice=voice["id"], token="key-one",
                                         generation=GENERATION), TIMEOUT)
        assert ready["voice"] == voice["id"] and audio_bytes(messages)


def test_random_voice_fields_are_refused_with_protocol_errors_never_a_crash(
    voices_server: BackgroundServer, saved: dict[str, Any]
) -> None:
    import random

    from tests.support.fuzz import value

    rng = random.Random(4104)
    candidates = [saved["id"], "voice_", "voice_" + "x" * 70, "", " ", "alloy", None]

    async def one(fields: dict[str, Any]) -> int | None:
        wire = await Wire.open(voices_server.url)
        try:
            await wire.send({"type": "session.start", **fields})
            reply = await wire.recv(TIMEOUT)
            return None if reply["type"] == "session.ready" else reply["code"]
        finally:
            await wire.close()

    codes = set()
    for _ in range(30):
        fields = {"voice": rng.choice(candidates) if rng.random() < 0.6 else value(rng)}
        for name in rng.sample(["speaker", "mode", "model", "ref_text", "language", "seed", "x_vector_only"], 2):
            fields[name] = value(rng)
        code = run(one(fields), TIMEOUT)
        assert code in (None, 4000, 4103, 4104), (fields, code)
        codes.add(code)
    assert 4000 in codes
