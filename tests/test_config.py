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
        "max_segment_chars",
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
