"""What clients send to /v1/voices: exactly one kind of create, every bad field named at once."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from realtime.voices.requests import (
    MAX_NAME_CHARS,
    BlendBody,
    CloneBody,
    DesignBody,
    is_voice_id,
    parse_create,
    parse_page,
    parse_rename,
)
from tests.support.fuzz import value


def params(issues: list[Any]) -> set[str | None]:
    return {issue.param for issue in issues}


def test_each_kind_of_create_is_read() -> None:
    clone, issues = parse_create({"name": " Alice ", "ref_audio": "AAAA", "ref_text": "Hi."})
    assert issues == [] and isinstance(clone, CloneBody) and clone.name == "Alice" and not clone.x_vector_only
    xvec, issues = parse_create({"name": "A", "ref_audio": "AAAA", "x_vector_only": True, "ref_text": "ignored"})
    assert issues == [] and isinstance(xvec, CloneBody) and xvec.ref_text is None
    design, issues = parse_create({"name": "D", "design": {"instruct": "deep", "text": "Hello.", "language": "en", "seed": 5}})
    assert issues == [] and isinstance(design, DesignBody) and design.language == "english" and design.seed == 5
    blend, issues = parse_create({"name": "B", "blend": [{"voice": "voice_a", "weight": 0.7}, {"voice": "voice_b", "weight": 1}]})
    assert issues == [] and isinstance(blend, BlendBody) and [p.weight for p in blend.parts] == [0.7, 1.0]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"ref_audio": "AAAA", "ref_text": "x"}, {"name"}),
        ({"name": "x" * (MAX_NAME_CHARS + 1), "ref_audio": "AAAA", "x_vector_only": True}, {"name"}),
        ({"name": "bad\u0007name", "ref_audio": "AAAA", "x_vector_only": True}, {"name"}),
        ({"name": "A", "ref_audio": "AAAA"}, {"ref_text"}),
        ({"name": "A", "ref_audio": 5, "x_vector_only": "yes"}, {"ref_audio", "x_vector_only"}),
        ({"name": "A", "design": {"text": "Hi."}}, {"design.instruct"}),
        ({"name": "A", "design": {"instruct": "x", "text": "Hi.", "seed": -1, "language": "klingon"}},
         {"design.seed", "design.language"}),
        ({"name": "A", "blend": [{"voice": "voice_a", "weight": 0}, {"voice": "nope", "weight": 1}]},
         {"blend[0].weight", "blend[1].voice"}),
        ({"name": "A", "blend": [{"voice": "voice_a", "weight": 1}]}, {"blend"}),
        ({"name": "A", "blend": [{"voice": "voice_a"}, {"voice": "voice_a"}]}, {"blend"}),
        ({"name": "A", "ref_audio": "AAAA", "blend": []}, {None}),
        ({"name": "A"}, {None}),
    ],
)
def test_bad_bodies_name_every_bad_field(body: dict[str, Any], expected: set[str | None]) -> None:
    _, issues = parse_create(body)
    assert params(issues) == expected, issues


def test_rename_and_paging() -> None:
    assert parse_rename({"name": "New"}) == ("New", [])
    assert params(parse_rename({"name": ""})[1]) == {"name"}
    assert params(parse_rename([])[1]) == {None}
    assert parse_page(None, None) == (20, None, [])
    assert parse_page("5", "voice_x")[:2] == (5, "voice_x")
    assert params(parse_page("0", "x")[2]) == {"limit", "after"}
    assert is_voice_id("voice_abc") and not is_voice_id("alloy")


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
KEYS = st.sampled_from(["name", "ref_audio", "ref_text", "x_vector_only", "model", "design", "blend", "other"])


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.dictionaries(KEYS, JSON, max_size=5) | JSON)
def test_any_json_body_is_judged_without_raising(body: Any) -> None:
    parsed, issues = parse_create(body)
    assert parsed is not None or issues
    if not issues:
        assert parsed is not None and parsed.name and len(parsed.name) <= MAX_NAME_CHARS
    name, rename_issues = parse_rename(body)
    assert rename_issues or name


def test_random_bodies_never_raise() -> None:
    rng = random.Random(131)
    fields = ("name", "ref_audio", "ref_text", "x_vector_only", "model", "design", "blend")
    for _ in range(400):
        body = {rng.choice(fields): value(rng) for _ in range(rng.randint(0, 5))}
        if rng.random() < 0.3:
            body["design"] = {k: value(rng) for k in rng.sample(["instruct", "text", "seed", "language"], 2)}
        if rng.random() < 0.3:
            body["blend"] = [{"voice": rng.choice(["voice_a", value(rng)]), "weight": value(rng)} for _ in range(2)]
        parsed, issues = parse_create(body)
        assert parsed is not None or issues
