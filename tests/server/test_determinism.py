"""One seed governs a session: the same session.start and text give the same audio, byte for byte,
however the text is split into messages and whatever else the server is doing."""

from __future__ import annotations

import asyncio
import random

from tests.conftest import run
from tests.support.stream_checks import audio_bytes, check_timeline, synthesize
from tests.wire import audio_of

TEXT = (
    "Dr. Smith arrived at 3.14 p.m. sharp, didn't she? \"Of course,\" said Mr. Jones; "
    "the train was late again!\nNew line here... and then, quietly, the rest of the story: "
    "nothing happened for a while. The end."
)
SEED = 1234567


def _words(text: str) -> list[str]:
    """Word by word, the whitespace kept with the word before it."""
    pieces, current = [], ""
    for char in text:
        if current and not char.isspace() and current[-1].isspace():
            pieces.append(current)
            current = ""
        current += char
    return pieces + [current]


def _random_pieces(text: str, rng: random.Random) -> list[str]:
    pieces, i = [], 0
    while i < len(text):
        size = rng.randint(1, 17)
        pieces.append(text[i : i + size])
        i += size
    return pieces


def _segments(messages: list[dict]) -> list[tuple[str, int, int]]:
    return [(m["text"], m["char_start"], m["char_end"]) for m in messages if m["type"] == "segment"]


def test_the_same_audio_however_the_text_is_split(server) -> None:
    rng = random.Random(20240601)
    splits = {
        "whole": [TEXT],
        "words": _words(TEXT),
        "chars": list(TEXT),
        "random-1": _random_pieces(TEXT, rng),
        "random-2": _random_pieces(TEXT, rng),
    }
    assert all("".join(pieces) == TEXT for pieces in splits.values())

    async def body() -> None:
        results = {}
        for name, pieces in splits.items():
            ready, messages = await synthesize(server.url, pieces, seed=SEED, segmentation="auto")
            assert ready["seed"] == SEED
            check_timeline(audio_of(messages), 24000)
            results[name] = messages
        reference = results["whole"]
        assert len(_segments(reference)) >= 5
        for name, messages in results.items():
            assert _segments(messages) == _segments(reference), name
            assert audio_bytes(messages) == audio_bytes(reference), name

    run(body())


def test_different_seeds_give_different_audio(server) -> None:
    async def body() -> None:
        ready_a, a = await synthesize(server.url, "The same words, twice over.", seed=1)
        ready_b, b = await synthesize(server.url, "The same words, twice over.", seed=2)
        assert (ready_a["seed"], a[-1]["seed"]) == (1, 1)
        assert (ready_b["seed"], b[-1]["seed"]) == (2, 2)
        assert _segments(a) == _segments(b)
        assert audio_bytes(a) != audio_bytes(b)
        # ...and not merely shifted or scaled: the same length, different samples
        assert len(audio_bytes(a)) == len(audio_bytes(b))

    run(body())


def test_a_drawn_seed_is_echoed_and_reproduces_the_audio(server) -> None:
    async def body() -> None:
        drawn = []
        for _ in range(2):
            ready, first = await synthesize(server.url, TEXT)
            seed = ready["seed"]
            assert isinstance(seed, int) and not isinstance(seed, bool)
            assert 0 <= seed <= 2**32 - 1
            assert first[-1]["seed"] == seed
            drawn.append(seed)
            again_ready, again = await synthesize(server.url, TEXT, seed=seed)
            assert again_ready["seed"] == seed
            assert audio_bytes(again) == audio_bytes(first)
        assert drawn[0] != drawn[1]  # drawn afresh per session (1 in 2^32 to clash)

    run(body())


def test_concurrent_sessions_do_not_disturb_determinism(server) -> None:
    config = {"seed": SEED, "sample_rate": 22050, "format": "wav"}
    others = [
        ({"seed": 99, "sample_rate": 16000}, "Another voice talks over the top, quite a lot, to keep the engine busy."),
        ({"seed": 7, "format": "wav"}, TEXT),
        ({}, "A session with a drawn seed. It says a couple of things. Then it stops."),
    ]

    async def body() -> None:
        _, alone = await synthesize(server.url, TEXT, **config)
        reference = audio_bytes(alone)
        runs = [synthesize(server.url, TEXT, **config) for _ in range(4)]
        runs += [synthesize(server.url, text, **start) for start, text in others]
        runs += [synthesize(server.url, _random_pieces(TEXT, random.Random(5)), **config)]
        results = await asyncio.gather(*runs)
        same = [messages for _, messages in results[:4]] + [results[-1][1]]
        for messages in same:
            assert audio_bytes(messages) == reference
        # the seed-7 run had the same text at another seed: it differs
        assert audio_bytes(results[5][1]) != reference

    run(body())
