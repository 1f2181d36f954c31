"""Qwen3-TTS over the real socket, on tiny random checkpoints: all three modes, exact seeds, clear errors."""

from __future__ import annotations

import asyncio
import base64
import json
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile

from realtime.config import ServerConfig
from realtime.server.run import BackgroundServer
from tests.conftest import run
from tests.support.http_checks import decoded_samples, decoded_seconds, post_speech, scrape
from tests.support.qwen_models import reference_audio
from tests.support.stream_checks import audio_bytes, check_timeline, pcm_samples, synthesize
from tests.support.wire_checks import expect_fatal
from tests.wire import Wire, audio_of

FRAMES = 5
GENERATION = {"max_new_tokens": FRAMES + 1}  # random weights rarely say EOS: bound every segment
TIMEOUT = 240.0


@pytest.fixture(scope="module")
def qwen_server(tiny_checkpoints: dict[str, Path]) -> Iterator[BackgroundServer]:
    models_dir = tiny_checkpoints["custom_voice"].parent
    with BackgroundServer(ServerConfig(models_dir=models_dir, device="cpu", log_level="warning")) as running:
        yield running


def _wav_bytes(seconds: float = 1.5) -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, reference_audio(seconds), 24000, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


START: dict[str, dict[str, Any]] = {
    "custom_voice": {"mode": "custom_voice", "model": "tiny-custom-voice", "speaker": "vivian"},
    "voice_design": {"mode": "voice_design", "model": "tiny-voice-design", "instruct": "a bright young voice"},
    "voice_clone_icl": {"mode": "voice_clone", "model": "tiny-base", "ref_text": "A reference line."},
    "voice_clone_xvec": {"mode": "voice_clone", "model": "tiny-base", "x_vector_only": True},
}


def _start(case: str, **extra: Any) -> dict[str, Any]:
    fields = {**START[case], "language": "english", "generation": GENERATION, "seed": 77, **extra}
    if fields["mode"] == "voice_clone":
        fields["ref_audio"] = _wav_bytes()
    return fields


def _speak(url: str, text: str | list[str], **start: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    return run(synthesize(url, text, **start), timeout=TIMEOUT)


@pytest.mark.parametrize("case", list(START))
def test_each_mode_streams_a_valid_context(qwen_server: BackgroundServer, case: str) -> None:
    ready, messages = _speak(qwen_server.url, "Hello from a tiny model. Second sentence here.", **_start(case))
    assert ready["model"] == START[case]["model"] and ready["mode"] == START[case]["mode"] and ready["seed"] == 77
    chunks = audio_of(messages)
    check_timeline(chunks, 24000)
    done = messages[-1]
    assert done["type"] == "done" and done["reason"] == "end" and done["segments"] == 2
    samples = pcm_samples(audio_bytes(messages))
    assert samples.size == 2 * FRAMES * 1920  # two segments, each bounded to FRAMES codec frames
    assert chunks[0]["duration_ms"] == pytest.approx(80.0)  # the first chunk: one frame
    notices = [m for m in messages if m["type"] == "notice"]  # random weights never say EOS: each cut is told
    assert [n["segment"] for n in notices] == [0, 1] and all("bound" in n["message"] for n in notices)


def test_default_model_for_a_mode_is_the_installed_checkpoint(qwen_server: BackgroundServer) -> None:
    fields = _start("voice_design")
    del fields["model"]
    ready, messages = _speak(qwen_server.url, "Which model?", **fields)
    assert ready["model"] == "tiny-voice-design"
    assert audio_bytes(messages)


def test_same_seed_same_audio_however_the_text_is_split(qwen_server: BackgroundServer) -> None:
    text = "One line. Another line."
    _, whole = _speak(qwen_server.url, text, **_start("custom_voice"))
    _, pieces = _speak(qwen_server.url, ["One li", "ne. Anoth", "er line."], **_start("custom_voice"))
    _, other_seed = _speak(qwen_server.url, text, **_start("custom_voice", seed=78))
    assert audio_bytes(whole) == audio_bytes(pieces)
    assert audio_bytes(whole) != audio_bytes(other_seed)


def test_concurrent_sessions_sound_as_they_do_alone(qwen_server: BackgroundServer) -> None:
    alone = {seed: audio_bytes(_speak(qwen_server.url, "Side by side.", **_start("custom_voice", seed=seed))[1]) for seed in (1, 2)}

    async def both() -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
        return await asyncio.gather(
            *(synthesize(qwen_server.url, "Side by side.", **_start("custom_voice", seed=seed)) for seed in (1, 2))
        )

    together = run(both(), timeout=TIMEOUT)
    assert [audio_bytes(messages) for _, messages in together] == [alone[1], alone[2]]


def test_four_sessions_in_one_batch_sound_as_they_do_alone(qwen_server: BackgroundServer) -> None:
    seeds = (11, 12, 13, 14)
    lines = {11: "First of four.", 12: "Second.", 13: "The third one speaks longer than the rest.", 14: "Four."}
    alone = {seed: audio_bytes(_speak(qwen_server.url, lines[seed], **_start("custom_voice", seed=seed))[1]) for seed in seeds}

    async def together() -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
        return await asyncio.gather(
            *(synthesize(qwen_server.url, lines[seed], **_start("custom_voice", seed=seed)) for seed in seeds)
        )

    assert [audio_bytes(messages) for _, messages in run(together(), timeout=TIMEOUT)] == [alone[s] for s in seeds]


def test_fully_greedy_generation_ignores_the_seed(qwen_server: BackgroundServer) -> None:
    greedy = {**GENERATION, "temperature": 0, "subtalker_do_sample": False}
    first = audio_bytes(_speak(qwen_server.url, "Greedy.", **_start("custom_voice", seed=1, generation=greedy))[1])
    second = audio_bytes(_speak(qwen_server.url, "Greedy.", **_start("custom_voice", seed=2, generation=greedy))[1])
    talker_only = {**GENERATION, "temperature": 0}
    sampled = audio_bytes(_speak(qwen_server.url, "Greedy.", **_start("custom_voice", seed=2, generation=talker_only))[1])
    assert first == second and first != sampled


def _refused(url: str, fields: dict[str, Any], code: int) -> dict[str, Any]:
    async def body() -> dict[str, Any]:
        wire = await Wire.open(url)
        try:
            await wire.send({"type": "session.start", **fields})
            return await expect_fatal(wire, code, timeout=TIMEOUT)
        finally:
            await wire.close()

    return run(body(), timeout=TIMEOUT)


def test_unknown_speaker_is_refused_listing_the_speakers(qwen_server: BackgroundServer) -> None:
    error = _refused(qwen_server.url, _start("custom_voice", speaker="nobody"), 4104)
    assert "vivian" in error["message"] and "ryan" in error["message"]


def test_voice_design_without_instruct_is_refused(qwen_server: BackgroundServer) -> None:
    fields = _start("voice_design")
    del fields["instruct"]
    assert "instruct" in _refused(qwen_server.url, fields, 4000)["message"]


def test_voice_clone_without_ref_text_is_refused(qwen_server: BackgroundServer) -> None:
    fields = _start("voice_clone_icl")
    del fields["ref_text"]
    assert "ref_text" in _refused(qwen_server.url, fields, 4000)["message"]


def test_bad_reference_audio_is_refused(qwen_server: BackgroundServer) -> None:
    error = _refused(qwen_server.url, {**_start("voice_clone_xvec"), "ref_audio": b"not audio at all" * 10}, 4103)
    assert "ref_audio" in error["message"]


def test_a_model_of_the_wrong_type_for_the_mode_is_refused(qwen_server: BackgroundServer) -> None:
    error = _refused(qwen_server.url, _start("custom_voice", model="tiny-voice-design"), 4104)
    assert "voice_design" in error["message"]


def test_instruct_on_a_base_model_is_ignored_with_a_notice(qwen_server: BackgroundServer) -> None:
    async def body() -> list[dict[str, Any]]:
        wire = await Wire.open(qwen_server.url)
        try:
            await wire.start(**_start("voice_clone_xvec", instruct="happy"))
            return await wire.until(lambda m: m.get("type") in ("notice", "error"), timeout=TIMEOUT)
        finally:
            await wire.close()

    last = run(body(), timeout=TIMEOUT)[-1]
    assert last["type"] == "notice" and "takes no instruct" in last["message"] and "ignored" in last["message"]
    response = post_speech(qwen_server, {
        "model": "tiny-base", "voice": "alloy", "mode": "voice_clone", "x_vector_only": True, "input": "Hi.",
        "ref_audio": base64.b64encode(_wav_bytes()).decode(), "response_format": "pcm", "instructions": "happy",
        "generation": GENERATION, "language": "english",
    })
    assert response.status_code == 200, response.text
    assert len(response.content) > 0 and "takes no instruct" in response.headers["x-notice"]


def test_a_context_can_use_another_checkpoint_than_the_session(qwen_server: BackgroundServer) -> None:
    async def body() -> list[dict[str, Any]]:
        wire = await Wire.open(qwen_server.url)
        try:
            await wire.start(**_start("custom_voice"))
            await wire.send({"type": "context.start", "ctx": "design", "mode": "voice_design", "instruct": "an old sailor"})
            await wire.send({"type": "text", "ctx": "design", "text": "Ahoy."})
            await wire.send({"type": "end", "ctx": "design"})
            return await wire.until_done("design", timeout=TIMEOUT)
        finally:
            await wire.close()

    messages = run(body(), timeout=TIMEOUT)
    assert not [m for m in messages if m["type"] == "error"], messages
    assert pcm_samples(audio_bytes(messages, "design")).size == FRAMES * 1920


def test_cancel_mid_segment_ends_the_context(qwen_server: BackgroundServer) -> None:
    async def body() -> list[dict[str, Any]]:
        wire = await Wire.open(qwen_server.url)
        try:
            await wire.start(**_start("custom_voice", generation={"max_new_tokens": 400}))
            await wire.send({"type": "text", "text": "A long line that should be cut short by a cancel."})
            await wire.send({"type": "flush"})
            await wire.until(lambda m: m.get("type") == "audio", timeout=TIMEOUT)
            await wire.send({"type": "cancel"})
            return await wire.until_done("main", timeout=TIMEOUT)
        finally:
            await wire.close()

    messages = run(body(), timeout=TIMEOUT)
    assert messages[-1]["reason"] == "cancelled"
    assert [m["type"] for m in messages][-2:] == ["cancelled", "done"]
    assert messages[-1]["audio_ms"] < 400 * 80  # far less than the 400 frames it was allowed


def test_models_unknown_to_this_server_are_listed_in_the_error(qwen_server: BackgroundServer) -> None:
    error = _refused(qwen_server.url, _start("custom_voice", model="nope"), 4104)
    for name in ("tiny-custom-voice", "tiny-voice-design", "tiny-base", "hibari"):
        assert name in error["message"]



def test_a_0b6_custom_voice_tells_the_client_it_ignores_instruct(tiny_checkpoints: dict[str, Path], tmp_path: Path) -> None:
    source = tiny_checkpoints["custom_voice"]
    small = tmp_path / "small-custom-voice"
    small.mkdir()
    for entry in source.iterdir():  # the same weights, presented as a 0.6B checkpoint
        if entry.name != "config.json":
            (small / entry.name).symlink_to(entry)
    config = json.loads((source / "config.json").read_text())
    (small / "config.json").write_text(json.dumps({**config, "tts_model_size": "0b6"}))

    async def body(url: str) -> list[dict[str, Any]]:
        wire = await Wire.open(url)
        try:
            ready = await wire.start(**_start("custom_voice", model="small-custom-voice", instruct="whisper it"))
            assert ready["model"] == "small-custom-voice"
            await wire.send({"type": "context.start", "ctx": "other", "instruct": "shout it"})
            return await wire.until(lambda m: m.get("type") == "notice" and m.get("ctx") == "other", timeout=TIMEOUT)
        finally:
            await wire.close()

    with BackgroundServer(ServerConfig(models_dir=tmp_path, device="cpu", log_level="warning")) as running:
        messages = run(body(running.url), timeout=TIMEOUT)
        response = post_speech(running, {
            "model": "small-custom-voice", "voice": "ryan", "input": "Hi.", "response_format": "pcm",
            "instructions": "whisper it", "generation": GENERATION,
        })
    assert response.status_code == 200, response.text
    assert "ignores `instruct`" in response.headers["x-notice"]  # the same notice over HTTP
    notices = [m for m in messages if m["type"] == "notice"]
    assert [n.get("ctx") for n in notices] == [None, "other"]
    assert all("ignores `instruct`" in n["message"] for n in notices)


def test_lazy_model_loads_are_counted_in_metrics(tiny_checkpoints: dict[str, Path]) -> None:
    config = ServerConfig(models_dir=tiny_checkpoints["custom_voice"].parent, device="cpu", log_level="warning")
    with BackgroundServer(config) as running:
        assert scrape(running, "realtime_tts_model_loads_total", model="tiny-voice-design", outcome="success") == 0
        _speak(running.url, "Load me.", **_start("voice_design"))
        _speak(running.url, "Again, already loaded.", **_start("voice_design"))
        assert scrape(running, "realtime_tts_model_loads_total", model="tiny-voice-design", outcome="success") == 1
        assert scrape(running, "realtime_tts_model_manager_loads_total") == 1
        assert scrape(running, "realtime_tts_model_loads_total", model="hibari", outcome="success") == 1
        # two segments of FRAMES frames: at least one batched iteration per frame, none running now
        assert scrape(running, "realtime_tts_batch_iterations_total", model="tiny-voice-design") >= 2 * FRAMES
        assert scrape(running, "realtime_tts_batch_rows", model="tiny-voice-design") == 0


def test_the_openai_speech_endpoint_speaks_with_a_qwen3_checkpoint(qwen_server: BackgroundServer) -> None:
    body = {
        "model": "tiny-custom-voice", "voice": "ryan", "input": "Over HTTP.", "response_format": "wav",
        "language": "english", "seed": 5, "generation": GENERATION,
    }
    response = post_speech(qwen_server, body)
    assert response.status_code == 200, response.text
    assert response.headers["x-model"] == "tiny-custom-voice"
    assert decoded_seconds(response.content, "wav") == pytest.approx(FRAMES * 0.08)
    _, messages = _speak(qwen_server.url, "Over HTTP.", **_start("custom_voice", speaker="ryan", seed=5))
    socket_samples = pcm_samples(audio_bytes(messages)).astype(np.float32) / 32768.0
    assert np.array_equal(decoded_samples(response.content, "wav"), socket_samples)  # one path, one seed: the same audio


def test_a_checkpoint_that_fails_to_load_is_a_segment_error_and_the_session_goes_on(
    tiny_checkpoints: dict[str, Path], tmp_path: Path
) -> None:
    source = tiny_checkpoints["voice_design"]
    broken = tmp_path / "broken-voice-design"
    broken.mkdir()
    (tmp_path / source.name).symlink_to(source)  # a sound checkpoint beside it
    for entry in source.iterdir():  # every file in place, but the weights are not weights
        if entry.name != "model.safetensors":
            (broken / entry.name).symlink_to(entry)
    (broken / "model.safetensors").write_bytes(b"\0" * 4096)

    async def body(url: str) -> list[dict[str, Any]]:
        wire = await Wire.open(url)
        try:
            await wire.start(**_start("voice_design", model="broken-voice-design"))
            await wire.send({"type": "text", "text": "This cannot be spoken."})
            await wire.send({"type": "end"})
            failed = await wire.until_done("main", timeout=TIMEOUT)
            await wire.send({"type": "context.start", "ctx": "fallback", "model": source.name})
            await wire.send({"type": "text", "ctx": "fallback", "text": "Still here."})
            await wire.send({"type": "end", "ctx": "fallback"})
            return failed + await wire.until_done("fallback", timeout=TIMEOUT)
        finally:
            await wire.close()

    with BackgroundServer(ServerConfig(models_dir=tmp_path, device="cpu", log_level="critical")) as running:
        messages = run(body(running.url), timeout=TIMEOUT)
        failures = scrape(running, "realtime_tts_model_loads_total", model="broken-voice-design", outcome="failure")
    [error] = [m for m in messages if m["type"] == "error"]
    assert error["code"] == 4105 and error["ctx"] == "main" and error["fatal"] is False
    assert "broken-voice-design" in error["message"] and "load" in error["message"]
    done = [m for m in messages if m["type"] == "done"]
    assert [(d["ctx"], d["reason"]) for d in done] == [("main", "error"), ("fallback", "end")]
    assert audio_bytes(messages, "fallback")
    assert failures == 1


def test_preloaded_models_are_loaded_and_warmed_before_ready(tiny_checkpoints: dict[str, Path]) -> None:
    config = ServerConfig(
        models_dir=tiny_checkpoints["custom_voice"].parent, device="cpu", log_level="warning", preload_models=True
    )
    with BackgroundServer(config) as running:  # start() returns once /ready would say ready
        for model in ("tiny-base", "tiny-custom-voice", "tiny-voice-design"):  # each mode's warm-up ran
            assert scrape(running, "realtime_tts_model_loads_total", model=model, outcome="success") == 1
        assert scrape(running, "realtime_tts_model_manager_loads_total") == 3
        _speak(running.url, "Already warm.", **_start("voice_design"))
        assert scrape(running, "realtime_tts_model_manager_loads_total") == 3  # the session loaded nothing


def test_qwen3_words_for_cjk_text_are_estimated_over_its_audio(qwen_server: BackgroundServer) -> None:
    from tests.support.word_checks import check_words

    text = ["你好，世界。\n", "我们在2024年见。\n"]
    _, messages = _speak(
        qwen_server.url, text, **_start("custom_voice", language="chinese", timestamps="word", segmentation="line")
    )
    words = check_words(messages)
    assert sorted(words) == [0, 1]
    assert [w["text"] for w in words[1]["words"]] == ["我", "们", "在", "2024", "年", "见。"]
    assert all(message["source"] == "estimated" for message in words.values())
    spoken = [w for message in words.values() for w in message["words"]]
    assert any(w["end_ms"] > w["start_ms"] for w in spoken)  # spread over real audio, not piled at one point
