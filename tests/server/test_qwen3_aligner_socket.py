"""Word timestamps from Qwen3-ForcedAligner over the real socket, on tiny random checkpoints: valid words, fallbacks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import time

import pytest

from realtime.config import ServerConfig
from realtime.server.run import BackgroundServer
from realtime.words.qwen3_aligner import ALIGNER_NAME
from tests.conftest import models_dir_with, run
from tests.support.http_checks import scrape
from tests.support.stream_checks import check_timeline, of_ctx, synthesize
from tests.support.word_checks import check_words
from tests.wire import Wire, audio_of

FRAMES = 5
TIMEOUT = 240.0
START = {
    "mode": "custom_voice", "model": "tiny-custom-voice", "speaker": "vivian", "seed": 7, "timestamps": "word",
    "segmentation": "line", "generation": {"max_new_tokens": FRAMES + 1},  # random weights rarely say EOS
}
CHINESE = ["你好，世界。", "我们在2024年见，好吗？"]
# Words pocketsphinx's dictionary lacks: on the CPU it comes first for English, and hands these to the aligner.
ENGLISH = ["Zyxwv qwrtp, blorf!", "Snargle costs 3.5% & flimp."]


def load_the_aligner(server: BackgroundServer, name: str = "tiny-forced-aligner", outcome: str = "success") -> None:
    """Open a context asking for words (that starts the aligner's load) and wait until /metrics counts the load.

    A segment never waits for the aligner to load (it falls back meanwhile): tests that expect
    the aligner's times make sure it is loaded first.
    """
    run(synthesize(server.url, "Load.", timestamps="word"), timeout=TIMEOUT)
    deadline = time.monotonic() + TIMEOUT
    while scrape(server, "realtime_tts_model_loads_total", model=name, outcome=outcome) < 1:
        assert time.monotonic() < deadline, f"{name} was never loaded ({outcome})"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def aligner_server(
    tiny_checkpoints: dict[str, Path], tiny_aligner: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BackgroundServer]:
    models = models_dir_with(tmp_path_factory.mktemp("with-aligner"), tiny_checkpoints["custom_voice"], tiny_aligner)
    with BackgroundServer(ServerConfig(models_dir=models, device="cpu", log_level="warning")) as running:
        load_the_aligner(running)
        yield running


def _word_notices(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in messages if m["type"] == "notice" and "word times" in m["message"]]


def _speak(url: str, text: list[str], **start: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    return run(synthesize(url, text, **{**START, **start}), timeout=TIMEOUT)


@pytest.mark.parametrize(("text", "language"), [(CHINESE, "chinese"), (ENGLISH, "english"), (CHINESE + ENGLISH, "auto")])
def test_every_segment_is_timed_by_the_forced_aligner(aligner_server: BackgroundServer, text: list[str], language: str) -> None:
    _, messages = _speak(aligner_server.url, text, language=language, sample_rate=16000)
    check_timeline(audio_of(messages), 16000)
    words = check_words(messages)  # offsets into each segment, times in order inside its audio
    assert sorted(words) == list(range(len(text)))
    assert {m["source"] for m in words.values()} == {ALIGNER_NAME}
    assert not _word_notices(messages)  # (the tiny voice's segments are cut at the frame bound: that notice is not ours)


def test_the_aligner_is_loaded_once_through_the_model_manager_and_shared(aligner_server: BackgroundServer) -> None:
    async def two_contexts(url: str) -> list[dict[str, Any]]:
        wire = await Wire.open(url)
        try:
            await wire.start(**START, language="chinese")
            await wire.send({"type": "context.start", "ctx": "other", "language": "english"})
            for ctx, line in (("main", CHINESE[1]), ("other", ENGLISH[0])):
                await wire.send({"type": "text", "ctx": ctx, "text": line})
                await wire.send({"type": "end", "ctx": ctx})
            pending = {"main", "other"}

            def both_done(message: dict[str, Any]) -> bool:  # the two contexts end in either order
                if message.get("type") == "done":
                    pending.discard(message.get("ctx"))
                return not pending

            return await wire.until(both_done, timeout=TIMEOUT)
        finally:
            await wire.close()

    messages = run(two_contexts(aligner_server.url), timeout=TIMEOUT)
    for ctx in ("main", "other"):
        assert [m["source"] for m in check_words(messages, ctx).values()] == [ALIGNER_NAME]
    assert scrape(aligner_server, "realtime_tts_model_loads_total", model="tiny-forced-aligner", outcome="success") == 1


def test_a_cancel_mid_segment_sends_no_words_after_cancelled(aligner_server: BackgroundServer) -> None:
    async def cancelled(url: str) -> list[dict[str, Any]]:
        wire = await Wire.open(url)
        try:
            await wire.start(**{**START, "generation": {"max_new_tokens": 40}}, language="chinese")
            await wire.send({"type": "text", "text": CHINESE[0]})
            await wire.send({"type": "text", "text": CHINESE[1]})
            await wire.until(lambda m: m.get("type") == "audio", timeout=TIMEOUT)
            await wire.send({"type": "cancel"})
            return await wire.until_done("main", timeout=TIMEOUT)
        finally:
            await wire.close()

    messages = run(cancelled(aligner_server.url), timeout=TIMEOUT)
    check_words(messages)  # also: nothing after `cancelled`
    kinds = [m["type"] for m in of_ctx(messages, "main")]
    assert "cancelled" in kinds and "words" not in kinds[kinds.index("cancelled"):]


def test_an_aligner_that_cannot_load_falls_back_to_estimates_with_a_notice(
    tiny_checkpoints: dict[str, Path], tiny_aligner: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "broken-aligner"
    broken.mkdir()
    for entry in tiny_aligner.iterdir():  # every file in place, but the weights are not weights
        if entry.name != "model.safetensors":
            (broken / entry.name).symlink_to(entry)
    (broken / "model.safetensors").write_bytes(b"\0" * 4096)
    models = models_dir_with(tmp_path / "models", tiny_checkpoints["custom_voice"], broken)
    with BackgroundServer(ServerConfig(models_dir=models, device="cpu", log_level="critical")) as running:
        load_the_aligner(running, "broken-aligner", outcome="failure")
        _, messages = _speak(running.url, CHINESE, language="chinese")
    words = check_words(messages)
    assert sorted(words) == [0, 1] and {m["source"] for m in words.values()} == {"estimated"}
    notices = _word_notices(messages)
    assert sorted(n["segment"] for n in notices) == [0, 1]
    assert all("estimated" in n["message"] and "could not be loaded" in n["message"] for n in notices)
    assert all("broken-aligner" in n["message"] for n in notices)
    assert not [m for m in messages if m["type"] == "error"]


def test_the_embedded_voice_is_timed_by_the_aligner_when_it_is_the_only_qwen3_model(tiny_aligner: Path, tmp_path: Path) -> None:
    models = models_dir_with(tmp_path / "models", tiny_aligner)
    with BackgroundServer(ServerConfig(models_dir=models, device="cpu", log_level="warning")) as running:
        load_the_aligner(running)
        ready, messages = run(synthesize(running.url, ["Zyxwv qwrtp blorf.", "Good morning, everyone."], timestamps="word"), timeout=TIMEOUT)
        loads = scrape(running, "realtime_tts_model_loads_total", model="tiny-forced-aligner", outcome="success")
    assert ready["model"] == "hibari"
    words = check_words(messages)
    # On the CPU, English goes to pocketsphinx first; what its dictionary lacks, to the aligner.
    assert [words[index]["source"] for index in sorted(words)] == [ALIGNER_NAME, "pocketsphinx"]
    assert not _word_notices(messages)
    assert loads == 1  # its own model manager, still counted



def test_http_sse_words_come_from_the_aligner_too(aligner_server: BackgroundServer) -> None:
    from tests.support.http_checks import post_speech, sse_events
    from tests.support.word_checks import check_word_list

    text = "".join(CHINESE)
    response = post_speech(aligner_server, {
        "model": "tiny-custom-voice", "voice": "vivian", "input": text, "response_format": "pcm", "language": "chinese",
        "stream_format": "sse", "timestamps": "word", "seed": 3, "generation": {"max_new_tokens": FRAMES + 1},
    })
    assert response.status_code == 200, response.text
    words = [e for e in sse_events(response.content) if e["type"] == "speech.audio.words"]
    assert [e["segment"] for e in words] == [0, 1] and {e["source"] for e in words} == {ALIGNER_NAME}
    for event in words:
        assert text[event["char_start"] : event["char_end"]] == event["text"] and "notice" not in event
        check_word_list(event["words"], event["text"], 0.0, 2 * FRAMES * 80.0)
