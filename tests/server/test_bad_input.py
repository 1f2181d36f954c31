"""Nothing a client sends crashes the server: hostile frames and fields get the protocol's errors.

Before `session.ready`, a frame that is not a valid `session.start` is a fatal 4000
naming the bad field (4103 for reference audio problems). After it, a frame that is not
msgpack is a fatal 4000, anything else malformed a non-fatal 4100 and the session goes on.
After every case the shared server still serves a fresh session.
"""

from __future__ import annotations

import random

import msgpack
import pytest

from realtime.protocol import codec
from tests.conftest import run
from tests.support.wire_checks import check_error, expect_error, expect_fatal, fresh_session_speaks, speaks
from tests.wire import Wire, audio_of


def _nested_arrays(depth: int) -> bytes:
    """msgpack of [[[...[nil]...]]]: `depth` one-element arrays around nil."""
    return b"\x91" * depth + b"\xc0"


def _map_with_raw_value(key: str, raw_value: bytes) -> bytes:
    """msgpack of {"type": "session.start", key: <raw_value>} with the value's bytes given as is."""
    return b"\x82" + msgpack.packb("type") + msgpack.packb("session.start") + msgpack.packb(key) + raw_value


_rng = random.Random(20240611)
RANDOM_FRAMES = [bytes(_rng.randrange(256) for _ in range(_rng.randrange(1, 300))) for _ in range(6)]

# (id, frame, decodes): `decodes` when msgpack reads it (as something that is not a valid message).
HOSTILE_FRAMES = [
    ("empty", b"", False),
    *((f"random_{i}", frame, None) for i, frame in enumerate(RANDOM_FRAMES)),
    ("reserved_byte", b"\xc1", False),
    ("truncated_map", codec.pack({"type": "session.start"})[:-3], False),
    ("trailing_bytes", codec.pack({"type": "session.start"}) + b"\x00", False),
    ("msgpack_list", codec.pack(["session.start"]), True),  # type: ignore[arg-type]
    ("msgpack_int", msgpack.packb(7), True),
    ("msgpack_str", msgpack.packb("session.start"), True),
    ("msgpack_nil", msgpack.packb(None), True),
    ("msgpack_float", msgpack.packb(1.5), True),
    ("msgpack_bin", msgpack.packb(b"\x82\xa4type"), True),
    ("non_string_keys", msgpack.packb({1: "session.start", b"type": "session.start"}), True),
    ("type_int", msgpack.packb({"type": 1}), True),
    ("type_nil", msgpack.packb({"type": None}), True),
    ("type_bin", msgpack.packb({"type": b"session.start"}, use_bin_type=True), True),
    ("type_list", msgpack.packb({"type": ["session.start"]}), True),
    ("array_key", b"\x81\x91\x01\x02", False),
    ("map_key", b"\x81\x80\x01", False),
    ("nested_1000", _nested_arrays(1000), True),
    ("nested_5000", _nested_arrays(5000), False),
    ("huge_array_header", b"\xdd\xff\xff\xff\xff", False),
    ("huge_map_header", b"\xdf\xff\xff\xff\xff", False),
    ("huge_str_header", b"\xdb\xff\xff\xff\xff", False),
    ("huge_bin_header", b"\xc6\xff\xff\xff\xff", False),
    ("ext_type", msgpack.packb(msgpack.ExtType(5, b"abc")), False),
    ("timestamp_ext", msgpack.packb(msgpack.Timestamp(1, 2)), False),
]


@pytest.mark.parametrize(("frame", "decodes"), [c[1:] for c in HOSTILE_FRAMES], ids=[c[0] for c in HOSTILE_FRAMES])
def test_hostile_first_frame_closes_with_4000(server, frame: bytes, decodes: bool | None) -> None:
    async def body() -> None:
        wire = await Wire.open(server.url)
        await wire.send_raw(frame)
        error = await expect_fatal(wire, 4000)
        if decodes is False:
            assert "msgpack" in error["message"], error
        elif decodes is True:
            assert "session.start" in error["message"] or "type" in error["message"], error
        await fresh_session_speaks(server.url)

    run(body())


@pytest.mark.parametrize(("frame", "decodes"), [c[1:] for c in HOSTILE_FRAMES], ids=[c[0] for c in HOSTILE_FRAMES])
def test_hostile_frame_after_ready_is_fatal_4000_or_non_fatal_4100(server, frame: bytes, decodes: bool | None) -> None:
    async def body() -> None:
        wire = await Wire.open(server.url)
        await wire.start()
        await wire.send_raw(frame)
        try:
            codec.unpack(frame)
            readable = True
        except codec.FrameDecodeError:
            readable = False
        if decodes is not None:
            assert readable is decodes
        if readable:  # a msgpack value without a string type: the session goes on
            error = await expect_error(wire, 4100)
            assert "type" in error["message"]
            await speaks(wire)
            await wire.close()
        else:
            await expect_fatal(wire, 4000)
            await fresh_session_speaks(server.url)

    run(body())


# (id, session.start fields, code, the fields the error must name)
BAD_STARTS = [
    ("seed_true", {"seed": True}, 4000, ["seed"]),
    ("seed_negative", {"seed": -1}, 4000, ["seed"]),
    ("seed_2_32", {"seed": 2**32}, 4000, ["seed"]),
    ("seed_float", {"seed": 1.5}, 4000, ["seed"]),
    ("seed_whole_float", {"seed": 7.0}, 4000, ["seed"]),
    ("seed_string", {"seed": "7"}, 4000, ["seed"]),
    ("mode_int", {"mode": 5}, 4000, ["mode"]),
    ("mode_unknown", {"mode": "karaoke"}, 4000, ["mode"]),
    ("mode_huge_string", {"mode": "m" * 100_000}, 4000, ["mode"]),
    ("format_mp4", {"format": "mp4"}, 4000, ["format"]),
    ("format_upper", {"format": "PCM"}, 4000, ["format"]),
    ("sample_rate_12345", {"sample_rate": 12345}, 4000, ["sample_rate"]),
    ("sample_rate_string", {"sample_rate": "24000"}, 4000, ["sample_rate"]),
    ("sample_rate_float", {"sample_rate": 24000.0}, 4000, ["sample_rate"]),
    ("sample_rate_float_wav", {"sample_rate": 16000.0, "format": "wav"}, 4000, ["sample_rate"]),
    ("sample_rate_bool", {"sample_rate": True}, 4000, ["sample_rate"]),
    ("segmentation_empty", {"segmentation": ""}, 4000, ["segmentation"]),
    ("speaker_int", {"speaker": 7}, 4000, ["speaker"]),
    ("speaker_empty", {"speaker": "  "}, 4000, ["speaker"]),
    ("model_list", {"model": ["hibari"]}, 4000, ["model"]),
    ("language_klingon", {"language": "klingon"}, 4000, ["language"]),
    ("language_int", {"language": 1}, 4000, ["language"]),
    ("generation_string", {"generation": "hot"}, 4000, ["generation"]),
    ("generation_top_k_float", {"generation": {"top_k": 1.5}}, 4000, ["generation.top_k"]),
    ("generation_nan", {"generation": {"temperature": float("nan")}}, 4000, ["generation.temperature"]),
    ("generation_inf", {"generation": {"top_p": float("inf")}}, 4000, ["generation.top_p"]),
    ("generation_unknown_key", {"generation": {"warmth": 1}}, 4000, ["generation.warmth"]),
    ("generation_int_key", {"generation": {1: 1}}, 4000, ["generation.1"]),
    ("x_vector_only_string", {"x_vector_only": "yes"}, 4000, ["x_vector_only"]),
    ("ref_audio_string", {"ref_audio": "UklGRg=="}, 4000, ["ref_audio"]),
    ("ref_audio_list", {"ref_audio": [1, 2, 3]}, 4000, ["ref_audio"]),
    ("ref_text_int", {"ref_text": 3}, 4000, ["ref_text"]),
    ("instruct_empty", {"instruct": ""}, 4000, ["instruct"]),
    ("instruct_too_long", {"instruct": "calm " * 1000}, 4000, ["instruct"]),
    ("token_int", {"token": 5}, 4000, ["token"]),
    ("design_without_instruct", {"mode": "voice_design"}, 4000, ["instruct", "mode"]),
    ("clone_without_reference", {"mode": "voice_clone"}, 4000, ["ref_audio", "ref_text", "mode"]),
    ("ref_audio_empty", {"mode": "voice_clone", "ref_audio": b"", "ref_text": "Hi."}, 4103, ["ref_audio", "mode"]),
    ("ref_audio_garbage", {"mode": "voice_clone", "ref_audio": b"RIFF\x00\x00", "ref_text": "Hi."}, 4103,
     ["ref_audio", "mode"]),
    ("unknown_model_and_garbage_reference",
     {"mode": "voice_clone", "model": "nope", "ref_audio": b"RIFF\x00\x00", "ref_text": "Hi."}, 4103,
     ["ref_audio", "model"]),
]


@pytest.mark.parametrize(("fields", "code", "named"), [c[1:] for c in BAD_STARTS], ids=[c[0] for c in BAD_STARTS])
def test_bad_session_start_field_is_fatal_and_named(server, fields, code, named) -> None:
    async def body() -> None:
        wire = await Wire.open(server.url)
        await wire.send({"type": "session.start", **fields})
        error = await expect_fatal(wire, code)
        assert sorted(error["fields"]) == sorted(named), error
        for field in named:
            assert f"{field}:" in error["message"], error
        assert len(error["message"]) < 2000  # a huge value is not echoed back whole
        await fresh_session_speaks(server.url)

    run(body())


def test_deeply_nested_value_in_a_field_is_4000_not_a_crash(server) -> None:
    async def body() -> None:
        for key in ("mode", "format", "sample_rate", "segmentation", "speaker", "generation", "seed"):
            wire = await Wire.open(server.url)
            await wire.send_raw(_map_with_raw_value(key, _nested_arrays(1000)))
            error = await expect_fatal(wire, 4000)
            assert error["fields"] == [key], error
        await fresh_session_speaks(server.url)

    run(body())


# context.start takes the same voice fields; after session.ready their errors are non-fatal.
BAD_OVERRIDES = [c for c in BAD_STARTS if not set(c[1]) & {"format", "sample_rate", "segmentation", "token"}]


@pytest.mark.parametrize(("fields", "code", "named"), [c[1:] for c in BAD_OVERRIDES], ids=[c[0] for c in BAD_OVERRIDES])
def test_bad_context_start_field_is_non_fatal_and_named(server, fields, code, named) -> None:
    async def body() -> None:
        wire = await Wire.open(server.url)
        await wire.start()
        await wire.send({"type": "context.start", "ctx": "npc", **fields})
        error = await expect_error(wire, 4100 if code == 4000 else code, ctx="npc")
        assert sorted(error["fields"]) == sorted(named), error
        await speaks(wire, ctx="npc")  # the name was not taken by the refused context.start
        await wire.close()

    run(body())


# -- after session.ready ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "mentions"),
    [
        ({"type": "text", "text": None}, "text"),
        ({"type": "text"}, "text"),
        ({"type": "text", "text": 5}, "text"),
        ({"type": "text", "text": b"Hi."}, "text"),
        ({"type": "text", "text": ["Hi."]}, "text"),
        ({"type": "text", "ctx": "", "text": "Hi."}, "ctx"),
        ({"type": "text", "ctx": "x" * 200, "text": "Hi."}, "ctx"),
        ({"type": "end", "ctx": ""}, "ctx"),
        ({"type": "flush", "ctx": "*"}, "ctx"),
        ({"type": "context.start", "ctx": "x" * 129}, "ctx"),
        ({"type": "cancel", "ctx": ""}, "ctx"),
    ],
    ids=[
        "text_none", "text_absent", "text_int", "text_bytes", "text_list", "ctx_empty", "ctx_200_chars",
        "end_ctx_empty", "flush_ctx_star", "context_start_ctx_129_chars", "cancel_ctx_empty",
    ],
)
def test_bad_field_after_ready_is_non_fatal_4100(server, message, mentions) -> None:
    async def body() -> None:
        wire = await Wire.open(server.url)
        await wire.start()
        await wire.send(message)
        error = await expect_error(wire, 4100)
        assert mentions in error["message"], error
        await speaks(wire)
        await wire.close()

    run(body())


# Text the engine may find odd: every one ends its context with done (end, or error after a
# non-fatal 4105), exactly one is_last, and the session goes on.
ODD_TEXTS = {
    "empty": "",
    "whitespace": "   \n\t ",
    "control_chars": "\x00\x01\x1b[31m\x7f",
    "emoji": "\U0001f642\U0001f642 \U0001f44d\U0001f3fd",
    "punctuation_only": "... !!! ???",
    "bidi_controls": "\u202eHello\u202c \u05e9\u05dc\u05d5\u05dd",
    "cjk": "\u4f60\u597d\u3002\u3053\u3093\u306b\u3061\u306f\u3002",
    "zero_width_joiners": "\u200d" * 1000,
    "odd_line_breaks": "Hi.\r\nBye.\u2028Ok.\u0085X",
    "bom": "\ufeffHello.",
    "private_use": "\ue000\U0010fffd",
    "long_number": "9" * 400,
    "word_longer_than_a_segment": "a" * 600,
}


@pytest.mark.parametrize("text", list(ODD_TEXTS.values()), ids=list(ODD_TEXTS))
def test_odd_text_ends_its_context_cleanly(server, text: str) -> None:
    async def body() -> None:
        wire = await Wire.open(server.url)
        await wire.start()
        await wire.send({"type": "text", "text": text})
        await wire.send({"type": "end"})
        messages = await wire.until_done()
        done = messages[-1]
        errors = [m for m in messages if m["type"] == "error"]
        if done["reason"] == "error":  # the engine could not read it: reported, not a crash
            assert len(errors) == 1
            check_error(errors[0], 4105, fatal=False, ctx="main")
        else:
            assert done["reason"] == "end" and not errors, messages
        chunks = audio_of(messages)
        assert [c["is_last"] for c in chunks].count(True) == 1 and chunks[-1]["is_last"]
        await speaks(wire)
        await wire.close()

    run(body())


def test_ctx_of_128_chars_is_accepted(server) -> None:
    async def body() -> None:
        wire = await Wire.open(server.url)
        await wire.start()
        await speaks(wire, ctx="c" * 128)
        await wire.close()

    run(body())


def test_cancel_all_with_no_context_is_answered_cancelled(server) -> None:
    async def body() -> None:
        wire = await Wire.open(server.url)
        await wire.start()
        await wire.send({"type": "cancel", "ctx": "*"})
        assert await wire.recv() == {"type": "cancelled", "ctx": "*"}
        await wire.send({"type": "cancel", "ctx": "ghost"})
        assert await wire.recv() == {"type": "cancelled", "ctx": "ghost"}
        await speaks(wire)
        await wire.close()

    run(body())


def test_flush_on_unknown_context_is_answered_flushed(server) -> None:
    async def body() -> None:
        wire = await Wire.open(server.url)
        await wire.start()
        await wire.send({"type": "flush", "ctx": "ghost"})
        assert await wire.recv() == {"type": "flushed", "ctx": "ghost"}
        await wire.send({"type": "flush"})
        assert await wire.recv() == {"type": "flushed", "ctx": "main"}
        await speaks(wire, ctx="ghost")
        await wire.close()

    run(body())


LONG_TEXT = "One sentence here. Another sentence there. And a third one to finish."


def test_second_end_on_an_ending_context_is_4100(server) -> None:
    async def body() -> None:
        wire = await Wire.open(server.url)
        await wire.start()
        await wire.send({"type": "text", "text": LONG_TEXT})
        await wire.send({"type": "end"})
        await wire.send({"type": "end"})
        messages = await wire.until_done()
        errors = [m for m in messages if m["type"] == "error"]
        assert len(errors) == 1, errors
        error = check_error(errors[0], 4100, fatal=False, ctx="main")
        assert "ending" in error["message"]
        assert messages[-1]["reason"] == "end" and messages[-1]["segments"] == 3
        assert [c["is_last"] for c in audio_of(messages)].count(True) == 1
        await speaks(wire)  # once done, the name starts a new stream
        await wire.close()

    run(body())


@pytest.mark.parametrize("late", ["text", "flush"])
def test_text_or_flush_after_end_before_done_is_4100(server, late: str) -> None:
    async def body() -> None:
        wire = await Wire.open(server.url)
        await wire.start()
        await wire.send({"type": "text", "text": LONG_TEXT})
        await wire.send({"type": "end"})
        await wire.send({"type": "text", "text": "Too late."} if late == "text" else {"type": "flush"})
        messages = await wire.until_done()
        errors = [m for m in messages if m["type"] == "error"]
        assert len(errors) == 1, errors
        check_error(errors[0], 4100, fatal=False, ctx="main")
        assert "Too late." not in [m["text"] for m in messages if m["type"] == "segment"]
        assert not [m for m in messages if m["type"] == "flushed"]
        assert messages[-1]["reason"] == "end"
        await speaks(wire)
        await wire.close()

    run(body())


def test_end_after_cancel_opens_no_new_stream(server) -> None:
    """The client's `end` for a stream it cancelled belongs to that stream: no second done, name free."""

    async def body() -> None:
        wire = await Wire.open(server.url)
        await wire.start()
        await wire.send({"type": "text", "text": LONG_TEXT})
        await wire.send({"type": "cancel"})
        await wire.send({"type": "end"})
        await wire.send({"type": "ping", "t": "fence"})
        messages = await wire.until(lambda m: m["type"] == "pong")
        kinds = [m["type"] for m in messages if m["type"] not in ("segment", "audio")]
        assert kinds == ["cancelled", "done", "pong"], messages
        assert next(m for m in messages if m["type"] == "done")["reason"] == "cancelled"
        await speaks(wire)  # the name is free at once: no stray context is ending under it
        await wire.close()

    run(body())


def test_end_on_a_context_with_no_text_finishes_it_empty(server) -> None:
    async def body() -> None:
        wire = await Wire.open(server.url)
        await wire.start()
        await wire.send({"type": "end", "ctx": "silent"})
        messages = await wire.until_done("silent")
        chunks = audio_of(messages, "silent")
        assert len(chunks) == 1 and chunks[0]["is_last"] and chunks[0]["duration_ms"] == 0
        assert messages[-1]["reason"] == "end" and messages[-1]["segments"] == 0
        await speaks(wire)
        await wire.close()

    run(body())


def test_context_start_on_an_open_context_is_4100(server) -> None:
    async def body() -> None:
        wire = await Wire.open(server.url)
        await wire.start()
        await wire.send({"type": "text", "ctx": "a", "text": "Hi"})
        await wire.send({"type": "context.start", "ctx": "a"})
        error = await expect_error(wire, 4100, ctx="a")
        assert "already open" in error["message"]
        await speaks(wire, ctx="a")
        await wire.close()

    run(body())


def test_session_end_with_nothing_open_closes_with_1000(server) -> None:
    async def body() -> None:
        wire = await Wire.open(server.url)
        await wire.start()
        await wire.send({"type": "session.end"})
        messages, code = await wire.closed_with()
        assert messages == [] and code == 1000
        await fresh_session_speaks(server.url)

    run(body())
