"""`realtime-tts serve-ray` refuses impossible settings before anything starts."""

from __future__ import annotations

import pytest

from realtime.cli import main


@pytest.mark.parametrize("arguments", [["--replicas", "0"], ["--min-replicas", "3", "--max-replicas", "2"],
                                       ["--drain-timeout-s", "0"]])
def test_impossible_settings_are_refused_with_the_reason(arguments: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve-ray", *arguments]) == 2
    assert capsys.readouterr().err.startswith("error: ")


def test_serve_ray_takes_every_serve_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["serve-ray", "--help"])
    help_text = capsys.readouterr().out
    for option in ("--max-sessions", "--voice-store-url", "--models-dir", "--replicas", "--gpus-per-replica",
                   "--drain-timeout-s", "--ray-address"):
        assert option in help_text
