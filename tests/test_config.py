from __future__ import annotations

from pathlib import Path

import pytest

from realtime.cli import config_from_args, main
from realtime.config import Limits, ServerConfig, config_from_env, limits_from_env


def test_limits_come_from_environment_variables() -> None:
    limits = limits_from_env({"REALTIME_TTS_MAX_CONTEXTS": "3", "REALTIME_TTS_IDLE_TIMEOUT_S": "2.5"})
    assert limits.max_contexts == 3 and limits.idle_timeout_s == 2.5
    assert limits.max_text_chars == Limits().max_text_chars


def test_a_bad_environment_value_names_the_variable() -> None:
    with pytest.raises(ValueError, match="REALTIME_TTS_MAX_CONTEXTS"):
        limits_from_env({"REALTIME_TTS_MAX_CONTEXTS": "many"})


def test_server_config_reads_port_keys_and_origins() -> None:
    config = config_from_env(
        {"PORT": "9001", "REALTIME_TTS_API_KEYS": "a, b", "REALTIME_TTS_ALLOWED_ORIGINS": "http://x",
         "REALTIME_TTS_MODELS_DIR": "/m"}
    )
    assert config.port == 9001 and config.api_keys == ("a", "b") and config.allowed_origins == ("http://x",)
    assert config.models_dir == Path("/m")


def test_limits_on_the_wire_list_every_limit() -> None:
    assert set(Limits().to_wire()) == {
        "max_frame_bytes", "max_text_chars", "max_buffered_chars", "max_contexts", "max_reference_bytes",
        "min_reference_seconds", "max_reference_seconds", "max_sessions", "start_timeout_s", "idle_timeout_s",
        "max_segment_chars", "send_timeout_s", "max_queued_bytes", "max_ping_bytes", "max_pending_connections",
        "max_pending_per_client",
    }


def test_command_line_options_win_over_the_environment() -> None:
    import argparse

    from realtime.cli import _add_serve

    parser = argparse.ArgumentParser()
    _add_serve(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["serve", "--port", "9100", "--max-contexts", "2", "--api-key", "k"])
    base = ServerConfig(port=1, limits=Limits(max_contexts=7, max_text_chars=10))
    config = config_from_args(args, base)
    assert config.port == 9100 and config.limits.max_contexts == 2 and config.limits.max_text_chars == 10
    assert config.api_keys == ("k",)


def test_cli_requires_a_command(capsys) -> None:
    with pytest.raises(SystemExit):
        main([])


def test_model_options_come_from_the_environment() -> None:
    config = config_from_env({"REALTIME_TTS_DEVICE": "cuda:1", "REALTIME_TTS_DTYPE": "bfloat16",
                              "REALTIME_TTS_ATTN_IMPLEMENTATION": "eager", "REALTIME_TTS_MODEL_IDLE_UNLOAD_S": "30"})
    assert (config.device, config.dtype, config.attn_implementation, config.model_idle_unload_s) == (
        "cuda:1", "bfloat16", "eager", 30.0)
    defaults = config_from_env({})
    assert (defaults.device, defaults.dtype, defaults.attn_implementation) == ("auto", "auto", "sdpa")
    assert defaults.preload_models is False
    assert config_from_env({"REALTIME_TTS_PRELOAD_MODELS": "1"}).preload_models is True


def test_batching_options_come_from_the_environment_and_the_command_line() -> None:
    import argparse

    from realtime.cli import _add_serve

    defaults = config_from_env({})
    assert (defaults.max_batch, defaults.deterministic) == (8, True)
    config = config_from_env({"REALTIME_TTS_MAX_BATCH": "4", "REALTIME_TTS_DETERMINISTIC": "0"})
    assert (config.max_batch, config.deterministic) == (4, False)
    parser = argparse.ArgumentParser()
    _add_serve(parser.add_subparsers(dest="command"))
    chosen = config_from_args(parser.parse_args(["serve", "--max-batch", "1", "--no-deterministic"]), ServerConfig())
    assert (chosen.max_batch, chosen.deterministic) == (1, False)
    kept = config_from_args(parser.parse_args(["serve"]), ServerConfig(max_batch=3))
    assert (kept.max_batch, kept.deterministic) == (3, True)
    for bad in (["--max-batch", "0"], ["--max-batch", "65"], ["--max-batch", "many"],
                ["--prefill-lanes", "-1"], ["--prefill-lanes", "9"], ["--prefill-lanes", "one"]):
        with pytest.raises(SystemExit):
            parser.parse_args(["serve", *bad])


def test_prefill_lanes_come_from_the_environment_and_the_command_line() -> None:
    import argparse

    from realtime.cli import _add_serve

    assert config_from_env({}).prefill_lanes == 1
    assert config_from_env({"REALTIME_TTS_PREFILL_LANES": "0"}).prefill_lanes == 0
    parser = argparse.ArgumentParser()
    _add_serve(parser.add_subparsers(dest="command"))
    assert config_from_args(parser.parse_args(["serve", "--prefill-lanes", "2"]), ServerConfig()).prefill_lanes == 2
    assert config_from_args(parser.parse_args(["serve"]), ServerConfig(prefill_lanes=0)).prefill_lanes == 0


@pytest.mark.parametrize(
    ("name", "value"),
    [("DEVICE", "gpu"), ("DEVICE", "cuda:one"), ("DTYPE", "int4"), ("ATTN_IMPLEMENTATION", "fast"),
     ("MODEL_IDLE_UNLOAD_S", "soon"), ("MAX_BATCH", "0"), ("MAX_BATCH", "lots"), ("PREFILL_LANES", "9"),
     ("PREFILL_LANES", "few")],
)
def test_a_bad_model_option_in_the_environment_names_the_variable(name: str, value: str) -> None:
    with pytest.raises(ValueError, match=f"REALTIME_TTS_{name}"):
        config_from_env({f"REALTIME_TTS_{name}": value})


def test_model_options_on_the_command_line_win_and_are_checked(capsys) -> None:
    import argparse

    from realtime.cli import _add_serve

    parser = argparse.ArgumentParser()
    _add_serve(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["serve", "--device", "cpu", "--dtype", "float16", "--attn-implementation", "eager",
                              "--model-idle-unload-s", "0"])
    config = config_from_args(args, ServerConfig(device="cuda", model_idle_unload_s=5))
    assert (config.device, config.dtype, config.attn_implementation, config.model_idle_unload_s) == (
        "cpu", "float16", "eager", 0.0)
    assert config.preload_models is False  # not asked for: the base's value stays
    assert config_from_args(parser.parse_args(["serve", "--preload-models"]), ServerConfig()).preload_models is True
    for bad in (["--device", "tpu"], ["--dtype", "int8"], ["--attn-implementation", "fast"]):
        with pytest.raises(SystemExit):
            parser.parse_args(["serve", *bad])
    assert "tpu" in capsys.readouterr().err


def test_reference_audio_directory_is_off_unless_named() -> None:
    import argparse

    from realtime.cli import _add_serve

    assert config_from_env({}).ref_audio_dir is None
    assert config_from_env({"REALTIME_TTS_REF_AUDIO_DIR": "/refs"}).ref_audio_dir == Path("/refs")
    parser = argparse.ArgumentParser()
    _add_serve(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["serve", "--ref-audio-dir", "/voices"])
    assert config_from_args(args, ServerConfig(ref_audio_dir=Path("/refs"))).ref_audio_dir == Path("/voices")
    assert config_from_args(parser.parse_args(["serve"]), ServerConfig()).ref_audio_dir is None
