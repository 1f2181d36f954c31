"""Every error code of PROTOCOL.md, on a real server over a real WebSocket.

Each test provokes one error, checks its code, name, fatal flag, ctx and close code,
and then proves the server (or, for a non-fatal error, the same session) still serves.
"""

from __future__ import annotations

import asyncio
import io
import time

import numpy as np
import pytest
import soundfile as sf
from websockets.exceptions import ConnectionClosed

from realtime.backend.backend import TTSBackend
from tests.conftest import run
from tests.support.backends import CRASH_SPEAKER, CRASH_TEXT, CrashingBackend
from tests.support.engines import BREAK_MARK, FAIL_MARK, FAULTY_MODEL_NAME, FaultyEngine, PacedEngine
from tests.support.servers import server_fixture
from tests.support.wire_checks import (
    check_error,
    expect_error,
    expect_fatal,
    frame_of_size,
    fresh_session_speaks,
    speaks,
)
from tests.support.stream_checks import check_timeline
from tests.wire import Wire, audio_of

KIB = 1024

# Servers shared by the tests of one configuration (see tests/support/servers.py).
frame_server = server_fixture(limits=dict(max_frame_bytes=64 * KIB))
crashing_server = server_fixture(backend=lambda: CrashingBackend(engine_threads=1))
auth_server = server_fixture(api_keys=("other", "secret"))
origin_server = server_fixture(allowed_origins=("http://good.example",))
IDLE_S = 0.3
SEGMENT_PACE_S = 0.05  # 20 segments take at least 1 s: well past the idle limit on any machine
timeout_server = server_fixture(
    limits=dict(start_timeout_s=0.5, idle_timeout_s=IDLE_S),
    backend=lambda: TTSBackend([PacedEngine(SEGMENT_PACE_S)], engine_threads=1),
)
faulty_server = server_fixture(backend=lambda: TTSBackend([FaultyEngine(threads=1)], engine_threads=1))


def wav_bytes(seconds: float, rate: int = 16000) -> bytes:
    """A valid mono 16-bit WAV file of a quiet tone."""
    t = np.arange(int(seconds * rate)) / rate
    buffer = io.BytesIO()
    sf.write(buffer, (0.1 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


GARBAGE_AUDIO = bytes(range(256)) * 8


async def until_all_done(wire: Wire, ctxs: set[str]) -> list[dict]:
    """Messages up to the `done` of every context in `ctxs`."""
    waiting = set(ctxs)

    def all_done(message: dict) -> bool:
        if message.get("type") == "done":
            waiting.discard(message["ctx"])
        return not waiting

    return await wire.until(all_done)


# -- 1003 text_frame ---------------------------------------------------------------------------


@pytest.mark.parametrize("after_ready", [False, True], ids=["before_start", "after_ready"])
def test_text_frame_closes_with_1003(server, after_ready: bool) -> None:
    async def body() -> None:
        wire = await Wire.open(server.url)
        if after_ready:
            await wire.start()
        await wire.send_raw('{"type": "session.start"}')
        error = await expect_fatal(wire, 1003)
        assert "binary" in error["message"]
        await fresh_session_speaks(server.url)

    run(body())


# -- 1009 message_too_big ----------------------------------------------------------------------


def test_frame_at_the_limit_is_accepted(frame_server) -> None:
    srv = frame_server

    async def body() -> None:
        wire = await Wire.open(srv.url)
        await wire.send_raw(frame_of_size(64 * KIB))
        ready = await wire.recv()
        assert ready["type"] == "session.ready", ready
        assert ready["limits"]["max_frame_bytes"] == 64 * KIB
        await speaks(wire)
        await wire.close()

    run(body())


def test_frame_one_byte_over_the_limit_gets_error_then_1009(frame_server) -> None:
    srv = frame_server

    async def body() -> None:
        wire = await Wire.open(srv.url)
        await wire.send_raw(frame_of_size(64 * KIB + 1))
        error = await expect_fatal(wire, 1009)
        assert str(64 * KIB + 1) in error["message"] and str(64 * KIB) in error["message"]
        # The same after session.ready: a too-big frame ends the session.
        wire = await Wire.open(srv.url)
        await wire.start()
        await wire.send_raw(frame_of_size(64 * KIB + 1, {"type": "text", "text": "Hi."}))
        await expect_fatal(wire, 1009)
        await fresh_session_speaks(srv.url)

    run(body())


def test_frame_far_over_the_transport_limit_still_closes_with_1009(frame_server) -> None:
    srv = frame_server

    async def body() -> None:
        wire = await Wire.open(srv.url)
        await wire.send_raw(b"\x00" * (64 * KIB * 3))
        messages, code = await wire.closed_with()
        # uvicorn refuses it before the session sees it: the close code is still 1009.
        assert code == 1009, (code, messages)
        for message in messages:
            check_error(message, 1009, fatal=True)
        await fresh_session_speaks(srv.url)

    run(body())


# -- 1011 internal_error -----------------------------------------------------------------------


def test_bug_in_prepare_voice_closes_with_1011_and_server_keeps_serving(crashing_server) -> None:
    srv = crashing_server

    async def body() -> None:
        bystander = await Wire.open(srv.url)
        await bystander.start()
        wire = await Wire.open(srv.url)
        await wire.send({"type": "session.start", "speaker": CRASH_SPEAKER})
        error = await expect_fatal(wire, 1011)
        assert "internal error" in error["message"]
        # A session already running and a new one are both unaffected.
        await speaks(bystander)
        await bystander.close()
        await fresh_session_speaks(srv.url)

    run(body())


def test_bug_in_context_start_closes_the_session_with_1011(crashing_server) -> None:
    srv = crashing_server

    async def body() -> None:
        wire = await Wire.open(srv.url)
        await wire.start()
        await wire.send({"type": "context.start", "ctx": "npc", "speaker": CRASH_SPEAKER})
        await expect_fatal(wire, 1011)
        await fresh_session_speaks(srv.url)

    run(body())


def test_bug_in_a_context_task_closes_the_session_with_1011(crashing_server) -> None:
    srv = crashing_server

    async def body() -> None:
        wire = await Wire.open(srv.url)
        await wire.start()
        await wire.send({"type": "text", "text": f"{CRASH_TEXT} now."})
        await wire.send({"type": "end"})
        await expect_fatal(wire, 1011)
        await fresh_session_speaks(srv.url)

    run(body())


# -- 1013 over_capacity ------------------------------------------------------------------------


def test_over_capacity_closes_with_1013_and_retry_after(make_server) -> None:
    srv = make_server(limits=dict(max_sessions=1), engine_threads=1)

    async def body() -> None:
        first = await Wire.open(srv.url)
        ready = await first.start()
        assert ready["limits"]["max_sessions"] == 1
        second = await Wire.open(srv.url)  # connecting takes no slot: an accepted session.start does
        await second.send({"type": "session.start"})
        error = await expect_fatal(second, 1013)
        assert isinstance(error["retry_after_ms"], int) and error["retry_after_ms"] > 0
        # The first session is unaffected, and its slot is freed once it closes.
        await speaks(first)
        await first.close()
        deadline = time.monotonic() + 5
        while True:
            third = await Wire.open(srv.url)
            try:
                await third.send({"type": "session.start"})
            except ConnectionClosed:
                pass  # refused before the send: the error still waits to be read
            reply = await third.recv()
            if reply["type"] == "session.ready":
                break
            check_error(reply, 1013, fatal=True)
            assert time.monotonic() < deadline, "the slot of a closed session was never freed"
            await asyncio.sleep(0.05)
        await speaks(third)
        await third.close()

    run(body())


def test_rejected_sessions_do_not_use_up_capacity(make_server) -> None:
    srv = make_server(limits=dict(max_sessions=1), engine_threads=1)

    async def body() -> None:
        for _ in range(3):  # sessions refused at start give their slot back
            wire = await Wire.open(srv.url)
            await wire.send({"type": "session.start", "speaker": "nobody"})
            await expect_fatal(wire, 4104)
        await fresh_session_speaks(srv.url)

    run(body())


# -- 4000 bad_message --------------------------------------------------------------------------


def test_garbage_before_session_start_closes_with_4000(server) -> None:
    async def body() -> None:
        wire = await Wire.open(server.url)
        await wire.send_raw(b"\xc1\xc1 definitely not msgpack")
        error = await expect_fatal(wire, 4000)
        assert "msgpack" in error["message"]
        await fresh_session_speaks(server.url)

    run(body())


def test_first_message_other_than_session_start_closes_with_4000(server) -> None:
    async def body() -> None:
        wire = await Wire.open(server.url)
        await wire.send({"type": "text", "text": "Hi."})
        error = await expect_fatal(wire, 4000)
        assert "session.start" in error["message"] and "'text'" in error["message"]
        await fresh_session_speaks(server.url)

    run(body())


def test_session_start_names_every_bad_field_at_once(server) -> None:
    async def body() -> None:
        wire = await Wire.open(server.url)
        await wire.send(
            {
                "type": "session.start",
                "mode": "karaoke",
                "seed": -3,
                "format": "mp4",
                "sample_rate": 12345,
                "segmentation": "paragraph",
                "generation": {"temperature": 9.0, "top_k": "many"},
            }
        )
        error = await expect_fatal(wire, 4000)
        bad = ["mode", "seed", "format", "sample_rate", "segmentation", "generation.temperature", "generation.top_k"]
        assert sorted(error["fields"]) == sorted(bad)
        for field in bad:
            assert f"{field}:" in error["message"], (field, error["message"])
        await fresh_session_speaks(server.url)

    run(body())


# -- 4001 unauthorized -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "headers"),
    [
        ({}, None),
        ({"token": "wrong"}, None),
        ({}, {"Authorization": "Bearer wrong"}),
        ({"token": "secret"}, {"Authorization": "Bearer wrong"}),  # the header, when sent, is the one judged
        ({}, {"Authorization": "Basic secret"}),
        ({"token": 12345}, None),
        ({"token": "s\u00e9cret"}, None),
        ({"token": "\u79d8\u5bc6"}, None),
        ({}, {"Authorization": "Bearer s\u00e9cret"}),
    ],
    ids=[
        "no_token", "wrong_token", "wrong_header", "wrong_header_right_field", "not_bearer", "token_not_string",
        "non_ascii_token", "cjk_token", "non_ascii_header",
    ],
)
def test_missing_or_wrong_token_closes_with_4001(auth_server, start, headers) -> None:
    srv = auth_server

    async def body() -> None:
        wire = await Wire.open(srv.url, additional_headers=headers)
        await wire.send({"type": "session.start", **start})
        error = await expect_fatal(wire, 4001)
        assert "token" in error["message"]
        await fresh_session_speaks(srv.url, token="secret")

    run(body())


@pytest.mark.parametrize(
    ("start", "headers"),
    [({"token": "secret"}, None), ({}, {"Authorization": "Bearer secret"})],
    ids=["token_field", "bearer_header"],
)
def test_right_token_is_accepted(auth_server, start, headers) -> None:
    srv = auth_server

    async def body() -> None:
        wire = await Wire.open(srv.url, additional_headers=headers)
        await wire.start(**start)
        await speaks(wire)
        await wire.close()

    run(body())


def test_token_is_judged_before_the_voice(auth_server) -> None:
    """An unauthorized client learns nothing about the voices: 4001, not 4104."""
    srv = auth_server

    async def body() -> None:
        wire = await Wire.open(srv.url)
        await wire.send({"type": "session.start", "speaker": "nobody"})
        await expect_fatal(wire, 4001)

    run(body())


# -- 4003 forbidden_origin ---------------------------------------------------------------------


def test_forbidden_origin_closes_with_4003(origin_server) -> None:
    srv = origin_server

    async def body() -> None:
        wire = await Wire.open(srv.url, origin="http://evil.example")
        error = await expect_fatal(wire, 4003)  # before any message is sent
        assert "http://evil.example" in error["message"]
        await fresh_session_speaks(srv.url)  # no Origin header: not a browser, accepted

    run(body())


def test_allowed_origin_and_no_origin_are_accepted(origin_server) -> None:
    srv = origin_server

    async def body() -> None:
        wire = await Wire.open(srv.url, origin="http://good.example")
        await wire.start()
        await speaks(wire)
        await wire.close()
        await fresh_session_speaks(srv.url)

    run(body())


# -- 4008 timeout ------------------------------------------------------------------------------


def test_no_session_start_in_time_closes_with_4008(timeout_server) -> None:
    srv = timeout_server

    async def body() -> None:
        wire = await Wire.open(srv.url)
        began = time.monotonic()
        error = await expect_fatal(wire, 4008)
        assert 0.4 <= time.monotonic() - began < 5
        assert "session.start" in error["message"]
        await fresh_session_speaks(srv.url)

    run(body())


def test_idle_session_with_no_context_closes_with_4008(timeout_server) -> None:
    srv = timeout_server

    async def body() -> None:
        wire = await Wire.open(srv.url)
        ready = await wire.start()
        assert ready["limits"]["idle_timeout_s"] == 0.3
        began = time.monotonic()
        error = await expect_fatal(wire, 4008)
        assert 0.25 <= time.monotonic() - began < 5
        assert "idle" in error["message"]
        await fresh_session_speaks(srv.url)

    run(body())


def test_idle_clock_restarts_after_done(timeout_server) -> None:
    srv = timeout_server

    async def body() -> None:
        wire = await Wire.open(srv.url)
        await wire.start()
        await speaks(wire)
        began = time.monotonic()
        await expect_fatal(wire, 4008)
        assert 0.25 <= time.monotonic() - began < 5

    run(body())


def test_generating_context_is_not_killed_by_the_idle_timer(timeout_server) -> None:
    srv = timeout_server
    text = " ".join(f"This is sentence number {n} of a long answer." for n in range(1, 21))

    async def body() -> None:
        wire = await Wire.open(srv.url)
        await wire.start()
        began = time.monotonic()
        await wire.send({"type": "text", "text": text})
        await wire.send({"type": "end"})
        messages = await wire.until_done()
        assert time.monotonic() - began > 20 * SEGMENT_PACE_S > 3 * IDLE_S  # generating, well past the idle limit
        assert not [m for m in messages if m["type"] == "error"]
        assert messages[-1]["reason"] == "end" and messages[-1]["segments"] >= 20
        assert audio_of(messages)[-1]["is_last"]
        await wire.close()

    run(body())


# -- 4100 bad_request --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "mentions"),
    [
        ({"type": "sing", "text": "la"}, "'sing'"),
        ({"type": "session.start"}, "already started"),
        ({"type": "text", "text": 42}, "text"),
        ({"type": "text", "ctx": 7, "text": "Hi."}, "ctx"),
        ({"type": "flush", "ctx": ["a"]}, "ctx"),
        ({"type": "end", "ctx": {"a": 1}}, "ctx"),
        ({"type": "cancel", "ctx": 1.5}, "ctx"),
        ({"type": "text", "ctx": "*", "text": "Hi."}, "ctx"),
        ({"ctx": "main", "text": "Hi."}, "type"),
        ({"type": 3}, "type"),
    ],
    ids=[
        "unknown_type", "second_session_start", "text_not_string", "text_ctx_int", "flush_ctx_list",
        "end_ctx_map", "cancel_ctx_float", "text_ctx_star", "map_without_type", "type_not_string",
    ],
)
def test_bad_request_after_ready_is_non_fatal_4100(server, message, mentions) -> None:
    async def body() -> None:
        wire = await Wire.open(server.url)
        await wire.start()
        await wire.send(message)
        error = await expect_error(wire, 4100)
        assert mentions in error["message"], error
        await speaks(wire)  # the same session goes on
        await wire.close()

    run(body())


def test_non_msgpack_frame_after_ready_is_fatal_4000(server) -> None:
    async def body() -> None:
        wire = await Wire.open(server.url)
        await wire.start()
        await wire.send_raw(b"\xc1")
        await expect_fatal(wire, 4000)
        await fresh_session_speaks(server.url)

    run(body())


# -- 4101 too_many_contexts --------------------------------------------------------------------


def test_context_over_the_limit_gets_4101_and_the_others_finish(make_server) -> None:
    srv = make_server(limits=dict(max_contexts=2), engine_threads=1)

    async def body() -> None:
        wire = await Wire.open(srv.url)
        ready = await wire.start()
        assert ready["limits"]["max_contexts"] == 2
        await wire.send({"type": "text", "ctx": "a", "text": "Hi."})
        await wire.send({"type": "context.start", "ctx": "b"})
        await wire.send({"type": "text", "ctx": "c", "text": "Hi."})
        await wire.send({"type": "context.start", "ctx": "d"})
        seen = await wire.until(lambda m: m.get("type") == "error" and m.get("ctx") == "d")
        errors = [m for m in seen if m["type"] == "error"]
        assert [e["ctx"] for e in errors] == ["c", "d"], errors
        for error in errors:
            check_error(error, 4101, fatal=False)
        await wire.send({"type": "text", "ctx": "b", "text": "Hello."})
        for ctx in ("a", "b"):
            await wire.send({"type": "end", "ctx": ctx})
        messages = await until_all_done(wire, {"a", "b"})
        for ctx in ("a", "b"):
            assert [m["reason"] for m in messages if m["type"] == "done" and m["ctx"] == ctx] == ["end"]
            assert audio_of(messages, ctx)[-1]["is_last"]
        assert not [m for m in messages if m["type"] == "error"]
        assert not [m for m in messages if m.get("ctx") in ("c", "d")], "a refused context sent something"
        await speaks(wire, ctx="c")  # room again once a and b are done
        await wire.close()

    run(body())


# -- 4102 text_too_long ------------------------------------------------------------------------


def test_text_message_over_the_limit_is_refused_whole(make_server) -> None:
    srv = make_server(limits=dict(max_text_chars=20), engine_threads=1)

    async def body() -> None:
        wire = await Wire.open(srv.url)
        await wire.start()
        await wire.send({"type": "text", "text": "Refused text, far too long."})
        error = await expect_error(wire, 4102, ctx="main")
        assert "20" in error["message"]
        await wire.send({"type": "text", "text": "X" * 20})  # exactly at the limit: taken
        messages = await speaks(wire)
        segments = [m for m in messages if m["type"] == "segment"]
        assert "Refused" not in "".join(s["text"] for s in segments)
        taken = "X" * 20 + "Hi."
        assert "".join(taken[s["char_start"]:s["char_end"]] for s in segments) == taken
        await wire.close()

    run(body())


def test_buffered_text_over_the_limit_is_refused_and_the_rest_still_speaks(make_server) -> None:
    srv = make_server(limits=dict(max_buffered_chars=30), engine_threads=1)

    async def body() -> None:
        wire = await Wire.open(srv.url)
        await wire.start(segmentation="manual")
        await wire.send({"type": "text", "text": "Hello there. "})  # 13 buffered
        await wire.send({"type": "text", "text": "Y" * 18})  # 31: over
        error = await expect_error(wire, 4102, ctx="main")
        assert "30" in error["message"]
        await wire.send({"type": "text", "text": "Bye."})  # 17: fits
        await wire.send({"type": "flush"})
        messages = await wire.until(lambda m: m.get("type") == "flushed")
        segments = [m for m in messages if m["type"] == "segment"]
        # Offsets count only the text taken: the refused message left no trace in the context's text.
        taken = "Hello there. Bye."
        assert [s["text"] for s in segments] == ["Hello there.", "Bye."]
        assert [taken[s["char_start"]:s["char_end"]] for s in segments] == ["Hello there.", "Bye."]
        assert audio_of(messages) and not [m for m in messages if m["type"] == "error"]
        await wire.send({"type": "end"})
        done = await wire.until_done()
        assert done[-1]["reason"] == "end"
        assert audio_of(done)[-1]["is_last"]
        await wire.close()

    run(body())


# -- 4103 bad_reference_audio ------------------------------------------------------------------


def test_undecodable_reference_audio_in_session_start_is_fatal_4103(server) -> None:
    async def body() -> None:
        wire = await Wire.open(server.url)
        await wire.send(
            {"type": "session.start", "mode": "voice_clone", "ref_audio": GARBAGE_AUDIO, "ref_text": "Hello."}
        )
        error = await expect_fatal(wire, 4103)
        assert "ref_audio" in error["fields"] and "decoded" in error["message"]
        await fresh_session_speaks(server.url)

    run(body())


def test_too_short_reference_audio_is_4103(server) -> None:
    async def body() -> None:
        wire = await Wire.open(server.url)
        await wire.send(
            {"type": "session.start", "mode": "voice_clone", "ref_audio": wav_bytes(0.3), "ref_text": "Hi."}
        )
        error = await expect_fatal(wire, 4103)
        assert "too short" in error["message"]
        await fresh_session_speaks(server.url)

    run(body())


def test_too_long_reference_audio_is_4103(make_server) -> None:
    srv = make_server(limits=dict(max_reference_seconds=2.0), engine_threads=1)

    async def body() -> None:
        wire = await Wire.open(srv.url)
        await wire.send(
            {"type": "session.start", "mode": "voice_clone", "ref_audio": wav_bytes(3.5), "ref_text": "Hi."}
        )
        error = await expect_fatal(wire, 4103)
        assert "too long" in error["message"]
        await fresh_session_speaks(srv.url)

    run(body())


def test_reference_audio_over_the_byte_limit_is_4103(make_server) -> None:
    srv = make_server(limits=dict(max_reference_bytes=10_000), engine_threads=1)

    async def body() -> None:
        wire = await Wire.open(srv.url)
        await wire.send(
            {"type": "session.start", "mode": "voice_clone", "ref_audio": wav_bytes(2.0), "ref_text": "Hi."}
        )
        error = await expect_fatal(wire, 4103)
        assert "ref_audio" in error["message"] and "10000" in error["message"]
        await fresh_session_speaks(srv.url)

    run(body())


def test_bad_reference_audio_in_context_start_is_non_fatal_4103(server) -> None:
    async def body() -> None:
        wire = await Wire.open(server.url)
        await wire.start()
        await wire.send(
            {"type": "context.start", "ctx": "clone", "mode": "voice_clone", "ref_audio": GARBAGE_AUDIO,
             "ref_text": "Hello."}
        )
        await expect_error(wire, 4103, ctx="clone")
        await wire.send(
            {"type": "context.start", "ctx": "clone", "mode": "voice_clone", "ref_audio": wav_bytes(0.3),
             "ref_text": "Hello."}
        )
        error = await expect_error(wire, 4103, ctx="clone")
        assert "too short" in error["message"]
        await speaks(wire)
        await speaks(wire, ctx="clone")  # the name was never taken: it opens with the session's voice
        await wire.close()

    run(body())


# -- 4104 unknown_voice ------------------------------------------------------------------------


def test_unknown_speaker_is_fatal_4104_listing_the_valid_ones(server) -> None:
    async def body() -> None:
        wire = await Wire.open(server.url)
        await wire.send({"type": "session.start", "speaker": "nobody"})
        error = await expect_fatal(wire, 4104)
        assert "nobody" in error["message"] and "heart" in error["message"]
        assert error["fields"] == ["speaker"]
        await fresh_session_speaks(server.url, speaker="heart")

    run(body())


def test_unknown_model_is_fatal_4104_listing_the_served_models(server) -> None:
    async def body() -> None:
        wire = await Wire.open(server.url)
        await wire.send({"type": "session.start", "model": "qwen3-tts-nope"})
        error = await expect_fatal(wire, 4104)
        assert "qwen3-tts-nope" in error["message"] and "hibari" in error["message"]
        await fresh_session_speaks(server.url, model="hibari")

    run(body())


@pytest.mark.parametrize(
    "start",
    [
        {"mode": "voice_design", "instruct": "A calm, low voice."},
        {"mode": "voice_clone", "ref_audio": wav_bytes(2.0), "ref_text": "A reference sentence."},
        {"mode": "voice_clone", "ref_audio": wav_bytes(2.0), "x_vector_only": True},
    ],
    ids=["voice_design", "voice_clone", "voice_clone_x_vector_only"],
)
def test_mode_without_a_model_is_fatal_4104_naming_what_is_served(server, start) -> None:
    async def body() -> None:
        wire = await Wire.open(server.url)
        await wire.send({"type": "session.start", **start})
        error = await expect_fatal(wire, 4104)
        assert start["mode"] in error["message"]
        assert "hibari" in error["message"] and "custom_voice" in error["message"]
        await fresh_session_speaks(server.url)

    run(body())


def test_unknown_speaker_in_context_start_is_non_fatal_4104(server) -> None:
    async def body() -> None:
        wire = await Wire.open(server.url)
        await wire.start()
        await wire.send({"type": "context.start", "ctx": "npc", "speaker": "nobody"})
        error = await expect_error(wire, 4104, ctx="npc")
        assert "heart" in error["message"]
        await wire.send({"type": "context.start", "ctx": "npc", "model": "nope"})
        error = await expect_error(wire, 4104, ctx="npc")
        assert "hibari" in error["message"]
        await wire.send({"type": "context.start", "ctx": "npc", "speaker": "heart"})
        await speaks(wire, ctx="npc")
        await speaks(wire)
        await wire.close()

    run(body())


# -- 4105 generation_failed --------------------------------------------------------------------


@pytest.mark.parametrize("mark", [FAIL_MARK, BREAK_MARK], ids=["generation_error", "engine_bug"])
def test_a_segment_the_engine_fails_on_is_skipped_with_a_notice_and_the_context_goes_on(faulty_server, mark) -> None:
    async def body() -> None:
        wire = await Wire.open(faulty_server.url)
        ready = await wire.start()
        assert ready["model"] == FAULTY_MODEL_NAME
        await wire.send({"type": "text", "ctx": "bad", "text": f"Hello there. Then {mark} here. Still said."})
        await wire.send({"type": "end", "ctx": "bad"})
        await wire.send({"type": "text", "ctx": "good", "text": "Hello there. All is well."})
        await wire.send({"type": "end", "ctx": "good"})
        messages = await until_all_done(wire, {"bad", "good"})
        bad = [m for m in messages if m.get("ctx") == "bad"]
        assert not [m for m in bad if m["type"] == "error"], bad
        [notice] = [m for m in bad if m["type"] == "notice"]
        assert notice["segment"] == 1 and "could not be spoken" in notice["message"]
        assert [m["text"] for m in bad if m["type"] == "segment"][-1] == "Still said."
        chunks = audio_of(bad, "bad")
        assert [c["is_last"] for c in chunks].count(True) == 1 and chunks[-1]["is_last"]
        assert [c["segment"] for c in chunks if c["segment_end"]] == [0, 1, 2]  # the skipped segment is closed too
        check_timeline(chunks, 24000)
        assert bad[-1]["type"] == "done" and bad[-1]["reason"] == "end" and bad[-1]["segments"] == 3
        good = [m for m in messages if m.get("ctx") == "good"]
        assert good[-1]["reason"] == "end" and not [m for m in good if m["type"] in ("error", "notice")]
        await wire.close()

    run(body())


def test_three_failing_segments_in_a_row_are_4105_and_end_the_context_with_done_error(faulty_server) -> None:
    async def body() -> None:
        wire = await Wire.open(faulty_server.url)
        await wire.start()
        text = f"Hello there. {FAIL_MARK} one. {FAIL_MARK} two. {FAIL_MARK} three. Never said."
        await wire.send({"type": "text", "ctx": "bad", "text": text})
        messages = await wire.until(lambda m: m.get("type") == "done" and m["ctx"] == "bad")
        assert [m["segment"] for m in messages if m["type"] == "notice"] == [1, 2]
        error_at = next(i for i, m in enumerate(messages) if m["type"] == "error")
        error = check_error(messages[error_at], 4105, fatal=False, ctx="bad")
        assert FAIL_MARK in error["message"]
        chunks = audio_of(messages, "bad")
        assert [c["is_last"] for c in chunks].count(True) == 1 and chunks[-1]["is_last"]
        assert [m["type"] for m in messages[-2:]] == ["error", "done"] and messages[-1]["reason"] == "error"
        assert "Never said." not in [m["text"] for m in messages if m["type"] == "segment"]
        # The failed context's name can be reused, and the session keeps serving.
        await speaks(wire, ctx="bad")
        await wire.close()

    run(body())


def test_end_for_a_context_that_already_failed_is_absorbed(faulty_server) -> None:
    """The client's `end` for a stream already answered by done(error) opens no new, empty stream.

    Otherwise that stray context (ending, no text) would refuse the name with 4100 to a client
    that waited for `done` before reusing it, and answer with a second `done`.
    """

    async def body() -> None:
        wire = await Wire.open(faulty_server.url)
        await wire.start()
        await wire.send({"type": "text", "text": f"{FAIL_MARK} at once. {FAIL_MARK} again. {FAIL_MARK} and again."})
        await wire.send({"type": "flush"})  # the context is still open when its third segment in a row fails
        messages = await wire.until_done()
        assert messages[-1]["reason"] == "error"
        assert "flushed" not in [m["type"] for m in messages]
        await wire.send({"type": "end"})  # the end the client meant for the failed stream
        await wire.send({"type": "ping", "t": 1})
        assert await wire.recv() == {"type": "pong", "t": 1}  # nothing answered the end
        await speaks(wire)  # the name is free for a new stream right away
        await wire.send({"type": "end"})  # an end after a normal done still opens an empty stream
        empty = await wire.until_done()
        assert empty[-1]["reason"] == "end" and empty[-1]["segments"] == 0
        await wire.close()

    run(body())


# -- ping / pong -------------------------------------------------------------------------------


@pytest.mark.parametrize("t", [123456789, 0.25, "stamp", None, -1], ids=["int", "float", "str", "absent", "negative"])
def test_ping_is_answered_with_pong_echoing_t(server, t) -> None:
    async def body() -> None:
        wire = await Wire.open(server.url)
        await wire.start()
        await wire.send({"type": "ping"} if t is None else {"type": "ping", "t": t})
        pong = await wire.recv()
        assert pong == {"type": "pong", "t": t}
        await speaks(wire)
        await wire.close()

    run(body())
