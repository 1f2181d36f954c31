"""GET /v1/models, /v1/models/{model}, /v1/audio/voices: what the server serves, OpenAI's shapes plus ours."""

from __future__ import annotations

import openai
import pytest

from realtime.backend.backend import TTSBackend
from realtime.engines.hibari_engine import HibariEngine
from tests.support.engines import CLONING_MODEL_NAME, CloningEngine
from tests.support.http_checks import HTTP, sdk
from tests.support.servers import server_fixture

two_model_server = server_fixture(
    backend=lambda: TTSBackend([HibariEngine(threads=1), CloningEngine()], engine_threads=1)
)


def test_models_list_through_the_sdk(server) -> None:
    models = list(sdk(server).models.list())
    assert [m.id for m in models] == ["hibari"]
    entry = models[0].model_dump()
    assert entry["object"] == "model" and entry["owned_by"] == "realtime-tts"
    assert entry["modes"] == ["custom_voice"] and entry["speakers"] == ["heart"] and entry["sample_rate"] == 24000
    assert entry["default_for"] == ["custom_voice"]


def test_one_model_and_an_unknown_one(server) -> None:
    assert sdk(server).models.retrieve("hibari").id == "hibari"
    with pytest.raises(openai.NotFoundError) as caught:
        sdk(server).models.retrieve("tts-9")
    assert caught.value.body["code"] == "model_not_found" and "hibari" in caught.value.body["message"]


def test_voices_list_modes_speakers_and_openai_names_per_model(two_model_server) -> None:
    data = HTTP.get(two_model_server.http_url + "/v1/audio/voices").json()
    assert data["object"] == "list"
    by_model = {entry["model"]: entry for entry in data["data"]}
    assert set(by_model) == {"hibari", CLONING_MODEL_NAME}
    assert by_model[CLONING_MODEL_NAME]["modes"] == ["custom_voice", "voice_clone"]
    assert by_model["hibari"]["speakers"] == ["heart"]
    assert by_model["hibari"]["openai_voices"]["alloy"] == "heart"
    assert len(by_model["hibari"]["openai_voices"]) == 13


def test_default_model_per_mode_is_marked(two_model_server) -> None:
    models = {m.id: m.model_dump() for m in sdk(two_model_server).models.list()}
    assert models["hibari"]["default_for"] == ["custom_voice"]
    assert models[CLONING_MODEL_NAME]["default_for"] == ["voice_clone"]
