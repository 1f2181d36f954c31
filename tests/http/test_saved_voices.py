"""`/v1/voices` over a real server on tiny random Qwen3 checkpoints: create (clone, design, blend),
list, get, rename, delete, preview; use by id on /v1/audio/speech; ownership, limits, restarts."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import random
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from realtime.config import ServerConfig
from realtime.server.run import BackgroundServer
from tests.support.fuzz import value
from tests.support.wire_checks import expect_fatal
from tests.wire import Wire
from tests.support.http_checks import decoded_seconds, openai_error
from tests.support.saved_voices import (
    DESIGN,
    clone_body,
    create,
    speech,
    voices_call,
    wav_base64,
    wav_bytes,
)


def _config(models_dir: Path, data_dir: Path | None, **options) -> ServerConfig:
    return ServerConfig(models_dir=models_dir, device="cpu", log_level="warning", engine_threads=1,
                        data_dir=data_dir, **options)


@pytest.fixture(scope="module")
def voices_server(tiny_checkpoints: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundServer]:
    config = _config(tiny_checkpoints["base"].parent, tmp_path_factory.mktemp("voices-data"))
    with BackgroundServer(config) as running:
        yield running


def test_a_cloned_voice_is_created_listed_renamed_and_deleted(voices_server: BackgroundServer) -> None:
    made = create(voices_server, clone_body("Alice"))
    assert made["id"].startswith("voice_") and len(made["id"]) >= 26
    assert {k: made[k] for k in ("name", "model", "mode", "source", "x_vector_only", "ref_text")} == {
        "name": "Alice", "model": "tiny-base", "mode": "voice_clone", "source": "clone", "x_vector_only": False,
        "ref_text": "A reference line.",
    }
    assert isinstance(made["created_at"], int)
    assert voices_call(voices_server, "GET", f"/{made['id']}").json() == made
    listed = voices_call(voices_server, "GET").json()
    assert made["id"] in [voice["id"] for voice in listed["data"]] and listed["object"] == "list"
    renamed = voices_call(voices_server, "PATCH", f"/{made['id']}", json={"name": "Alice B."})
    assert renamed.status_code == 200 and renamed.json()["name"] == "Alice B."
    catalogue = voices_call(voices_server, "GET", "/../audio/voices").json()
    assert made["id"] in [voice["id"] for voice in catalogue["saved_voices"]]
    deleted = voices_call(voices_server, "DELETE", f"/{made['id']}")
    assert deleted.status_code == 200 and deleted.json()["deleted"] is True
    for method in ("GET", "DELETE"):
        gone = voices_call(voices_server, method, f"/{made['id']}")
        assert gone.status_code == 404 and openai_error(gone)["code"] == "voice_not_found"


def test_speech_with_a_saved_voice_equals_speech_with_its_reference_sent_inline(voices_server: BackgroundServer) -> None:
    for extra in ({"ref_text": "A reference line."}, {"x_vector_only": True}):
        body = clone_body("Inline twin", **extra)
        if extra.get("x_vector_only"):
            body.pop("ref_text")
        saved = create(voices_server, body)
        inline = speech(voices_server, mode="voice_clone", model="tiny-base", ref_audio=body["ref_audio"], **extra)
        by_id = speech(voices_server, voice=saved["id"])
        as_object = speech(voices_server, voice={"id": saved["id"]})
        assert inline.status_code == by_id.status_code == as_object.status_code == 200, by_id.text
        assert by_id.headers["x-voice"] == saved["id"] and by_id.headers["x-model"] == "tiny-base"
        assert by_id.content == inline.content == as_object.content and len(by_id.content) > 0


def test_a_designed_voice_is_frozen_the_same_on_every_line(voices_server: BackgroundServer) -> None:
    first = create(voices_server, {"name": "Narrator", "design": DESIGN})
    twin = create(voices_server, {"name": "Narrator again", "design": DESIGN})  # same design, same seed
    assert first["source"] == "design" and first["model"] == "tiny-base" and first["ref_text"] == DESIGN["text"]
    assert first["details"]["design_model"] == "tiny-voice-design"
    lines = [speech(voices_server, voice=voice["id"], input="A line.").content for voice in (first, twin, first)]
    assert lines[0] == lines[1] == lines[2] and lines[0]
    other = create(voices_server, {"name": "Other", "design": {**DESIGN, "seed": 4}})
    store = voices_server.app.state.voices.store  # tiny random weights barely tell voices apart by ear: compare prompts
    first_x, twin_x, other_x = (store.get("", v["id"]).tensors["x_vector"] for v in (first, twin, other))
    assert np.array_equal(first_x, twin_x) and not np.array_equal(first_x, other_x)


def test_a_blend_is_the_weighted_mean_of_its_voices_embeddings(voices_server: BackgroundServer) -> None:
    a = create(voices_server, clone_body("A"))
    b = create(voices_server, {"name": "B", "ref_audio": wav_base64(2.0), "x_vector_only": True})
    mix = create(voices_server, {"name": "Mix", "blend": [{"voice": a["id"], "weight": 0.7}, {"voice": b["id"], "weight": 0.3}]})
    assert mix["source"] == "blend" and mix["x_vector_only"] is True and mix["model"] == "tiny-base"
    store = voices_server.app.state.voices.store
    vectors = [store.get("", voice["id"]).tensors["x_vector"] for voice in (a, b, mix)]
    assert np.allclose(vectors[2], 0.7 * vectors[0] + 0.3 * vectors[1], atol=1e-6)
    assert speech(voices_server, voice=mix["id"]).status_code == 200
    missing = voices_call(voices_server, "POST", json={"name": "M", "blend": [{"voice": a["id"]}, {"voice": "voice_nope"}]})
    assert missing.status_code == 404 and openai_error(missing)["param"] == "blend[1].voice"
    zero = voices_call(voices_server, "POST", json={"name": "M", "blend": [{"voice": a["id"], "weight": 0}, {"voice": b["id"]}]})
    assert zero.status_code == 400 and openai_error(zero)["param"] == "blend[0].weight"


def test_the_preview_is_a_short_audio_file_the_same_every_time(voices_server: BackgroundServer) -> None:
    voice = create(voices_server, {"name": "P", "ref_audio": wav_base64(), "x_vector_only": True})
    first = voices_call(voices_server, "GET", f"/{voice['id']}/sample")
    assert first.status_code == 200 and first.headers["content-type"] == "audio/wav"
    assert 0 < decoded_seconds(first.content, "wav") <= 6.0
    assert voices_call(voices_server, "GET", f"/{voice['id']}/sample").content == first.content
    flac = voices_call(voices_server, "GET", f"/{voice['id']}/sample", params={"format": "flac"})
    assert flac.status_code == 200 and decoded_seconds(flac.content, "flac") == decoded_seconds(first.content, "wav")
    bad = voices_call(voices_server, "GET", f"/{voice['id']}/sample", params={"format": "exe"})
    assert bad.status_code == 400 and openai_error(bad)["param"] == "format"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"name": "X", "ref_audio": "bm90IGF1ZGlvIGF0IGFsbA==", "x_vector_only": True}, 422, "bad_reference_audio"),
        ({"name": "X", "ref_audio": wav_base64(0.3), "x_vector_only": True}, 422, "bad_reference_audio"),
        ({"name": "X", "ref_audio": wav_base64(), "x_vector_only": True, "model": "nope"}, 404, "model_not_found"),
        ({"name": "X", "ref_audio": wav_base64(), "x_vector_only": True, "model": "tiny-custom-voice"}, 409,
         "model_unavailable"),
        ({"name": "X", "ref_audio": "https://example.com/a.wav", "x_vector_only": True}, 400, "invalid_value"),
        ({"name": "", "ref_audio": wav_base64()}, 400, "invalid_value"),
        ({"name": "X", "design": {**DESIGN, "model": "tiny-base"}}, 409, "model_unavailable"),
    ],
)
def test_a_voice_that_cannot_be_made_is_refused_and_nothing_is_stored(
    voices_server: BackgroundServer, body: dict, status: int, code: str
) -> None:
    before = voices_call(voices_server, "GET", params={"limit": 100}).json()["data"]
    response = voices_call(voices_server, "POST", json=body)
    assert response.status_code == status and openai_error(response)["code"] == code, response.text
    assert voices_call(voices_server, "GET", params={"limit": 100}).json()["data"] == before


def test_unknown_voices_and_bad_ids_on_the_speech_route(voices_server: BackgroundServer) -> None:
    missing = speech(voices_server, voice="voice_doesnotexist")
    assert missing.status_code == 404 and openai_error(missing)["param"] == "voice"
    voice = create(voices_server, {"name": "S", "ref_audio": wav_base64(), "x_vector_only": True})
    mixed = speech(voices_server, voice=voice["id"], instructions="whisper")
    assert mixed.status_code == 400 and openai_error(mixed)["param"] == "instructions"
    wrong_model = speech(voices_server, voice=voice["id"], model="tiny-custom-voice")
    assert wrong_model.status_code == 400 and openai_error(wrong_model)["param"] == "model"


def test_listing_pages_through_every_voice(voices_server: BackgroundServer) -> None:
    for index in range(3):
        create(voices_server, {"name": f"page {index}", "ref_audio": wav_base64(), "x_vector_only": True})
    everything = voices_call(voices_server, "GET", params={"limit": 100}).json()["data"]
    seen, after = [], None
    while True:
        page = voices_call(voices_server, "GET", params={"limit": 2, **({"after": after} if after else {})}).json()
        seen += [voice["id"] for voice in page["data"]]
        if not page["has_more"]:
            break
        after = page["last_id"]
    assert seen == [voice["id"] for voice in everything]
    bad = voices_call(voices_server, "GET", params={"limit": 1000})
    assert bad.status_code == 400 and openai_error(bad)["param"] == "limit"


def test_random_voice_requests_never_get_a_server_error(voices_server: BackgroundServer) -> None:
    rng = random.Random(1313)
    fields = ("name", "ref_audio", "ref_text", "x_vector_only", "model", "design", "blend")
    for _ in range(60):
        body = {rng.choice(fields): value(rng) for _ in range(rng.randint(0, 4))}
        method, path = rng.choice([("POST", ""), ("PATCH", "/voice_x"), ("GET", "/voice_x"), ("DELETE", "/voice_x")])
        response = voices_call(voices_server, method, path, content=json.dumps(body, default=repr),
                               headers={"content-type": "application/json"})
        assert response.status_code < 500, (body, response.text)
        if response.status_code >= 400:
            openai_error(response)


# -- ownership, limits, restarts, servers without voices ---------------------------------------------

def test_with_api_keys_a_voice_belongs_to_its_key(tiny_checkpoints: dict[str, Path], tmp_path: Path) -> None:
    config = _config(tiny_checkpoints["base"].parent, tmp_path, api_keys=("key-one", "key-two"))
    with BackgroundServer(config) as server:
        mine = create(server, {"name": "Mine", "ref_audio": wav_base64(), "x_vector_only": True}, key="key-one")
        assert voices_call(server, "GET", f"/{mine['id']}", key="key-one").status_code == 200
        for method, path, body in (("GET", "", None), ("PATCH", "", {"name": "stolen"}), ("DELETE", "", None),
                                   ("GET", "/sample", None)):
            response = voices_call(server, method, f"/{mine['id']}{path}", key="key-two", json=body)
            assert response.status_code == 404, (method, path, response.text)
        assert voices_call(server, "GET", key="key-two").json()["data"] == []
        assert speech(server, key="key-two", voice=mine["id"]).status_code == 404
        assert speech(server, key="key-one", voice=mine["id"]).status_code == 200
        assert voices_call(server, "GET").status_code == 401
        stolen_blend = voices_call(server, "POST", key="key-two", json={
            "name": "B", "blend": [{"voice": mine["id"]}, {"voice": mine["id"] + "x"}]})
        assert stolen_blend.status_code == 404
        assert voices_call(server, "GET", f"/{mine['id']}", key="key-one").json()["name"] == "Mine"
        rows = server.app.state.voices.store._connection().execute("SELECT owner FROM voices").fetchall()
        assert rows and all("key-one" not in owner for (owner,) in rows)  # a hash is stored, never the key


def test_limits_on_voices_per_key_and_on_the_store_size(tiny_checkpoints: dict[str, Path], tmp_path: Path) -> None:
    config = _config(tiny_checkpoints["base"].parent, tmp_path, api_keys=("a", "b"), max_voices_per_key=3)
    body = {"name": "V", "ref_audio": wav_base64(), "x_vector_only": True}
    with BackgroundServer(config) as server:
        with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
            answers = list(pool.map(lambda _: voices_call(server, "POST", json=body, key="a"), range(6)))
        statuses = sorted(response.status_code for response in answers)
        assert statuses == [201, 201, 201, 409, 409, 409], [r.text for r in answers]
        refused = next(r for r in answers if r.status_code == 409)
        assert openai_error(refused)["code"] == "voice_limit_reached"
        assert len(voices_call(server, "GET", key="a").json()["data"]) == 3
        create(server, body, key="b")  # per key
    with BackgroundServer(_config(tiny_checkpoints["base"].parent, tmp_path / "small", max_voice_store_bytes=1000)) as server:
        create(server, body)
        full = voices_call(server, "POST", json=body)
        assert full.status_code == 507 and openai_error(full)["code"] == "voice_store_full"


def test_voices_survive_a_restart_and_speak_the_same(tiny_checkpoints: dict[str, Path], tmp_path: Path) -> None:
    config = _config(tiny_checkpoints["base"].parent, tmp_path)
    with BackgroundServer(config) as server:
        voice = create(server, clone_body("Kept"))
        before = speech(server, voice=voice["id"]).content
    with BackgroundServer(config) as server:
        assert voices_call(server, "GET", f"/{voice['id']}").json() == voice
        assert speech(server, voice=voice["id"]).content == before and before


def test_servers_without_a_data_dir_or_a_base_model(tiny_checkpoints: dict[str, Path], tmp_path: Path) -> None:
    with BackgroundServer(_config(tiny_checkpoints["base"].parent, None)) as server:
        off = voices_call(server, "GET")
        assert off.status_code == 404 and openai_error(off)["code"] == "voices_disabled"
        assert voices_call(server, "GET", "/../audio/voices").json()["saved_voices"] == []
    with BackgroundServer(_config(tmp_path / "no-models", tmp_path / "data")) as server:  # the embedded engine only
        for body in ({"name": "X", "ref_audio": wav_base64(), "x_vector_only": True}, {"name": "X", "design": DESIGN}):
            response = voices_call(server, "POST", json=body)
            assert response.status_code == 409 and openai_error(response)["code"] == "model_unavailable", response.text


def test_a_voice_whose_model_is_gone_is_refused_clearly(tiny_checkpoints: dict[str, Path], tmp_path: Path) -> None:
    with BackgroundServer(_config(tiny_checkpoints["base"].parent, tmp_path / "data")) as server:
        voice = create(server, {"name": "Orphan", "ref_audio": wav_base64(), "x_vector_only": True})
    without_base = tmp_path / "models"
    without_base.mkdir()
    (without_base / "tiny-custom-voice").symlink_to(tiny_checkpoints["custom_voice"], target_is_directory=True)
    with BackgroundServer(_config(without_base, tmp_path / "data")) as server:
        assert voices_call(server, "GET", f"/{voice['id']}").json()["model"] == "tiny-base"  # still listed
        spoken = speech(server, voice=voice["id"])
        assert spoken.status_code == 404 and "no longer serves" in openai_error(spoken)["message"]
        preview = voices_call(server, "GET", f"/{voice['id']}/sample")
        assert preview.status_code == 404 and "no longer serves" in openai_error(preview)["message"]
        error = asyncio.run(_refused_start(server.url, {"voice": voice["id"]}))
        assert error["code"] == 4104 and "no longer serves" in error["message"]


async def _refused_start(url: str, fields: dict) -> dict:
    wire = await Wire.open(url)
    try:
        await wire.send({"type": "session.start", **fields})
        return await expect_fatal(wire, 4104)
    finally:
        await wire.close()


def test_a_clone_can_be_uploaded_as_a_multipart_form(voices_server: BackgroundServer) -> None:
    files = {"ref_audio": ("me.wav", wav_bytes(), "audio/wav")}
    made = voices_call(voices_server, "POST", data={"name": "Uploaded", "ref_text": "A reference line."}, files=files)
    assert made.status_code == 201, made.text
    voice = made.json()
    assert voice["name"] == "Uploaded" and voice["x_vector_only"] is False
    inline = create(voices_server, clone_body("Same, as JSON"))
    assert speech(voices_server, voice=voice["id"]).content == speech(voices_server, voice=inline["id"]).content
    xvec = voices_call(voices_server, "POST", data={"name": "X", "x_vector_only": "true"}, files=files)
    assert xvec.status_code == 201 and xvec.json()["x_vector_only"] is True
    missing = voices_call(voices_server, "POST", data={"name": "No file", "x_vector_only": "true"})
    assert missing.status_code == 400 and openai_error(missing)["param"] is None  # no ref_audio, design or blend
    bad_flag = voices_call(voices_server, "POST", data={"name": "F", "x_vector_only": "maybe"}, files=files)
    assert bad_flag.status_code == 400 and openai_error(bad_flag)["param"] == "x_vector_only"
