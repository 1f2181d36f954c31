"""`realtime-tts bench <sub>`: one verb for every benchmark, the old verbs as aliases."""

from __future__ import annotations

import importlib

import pytest

from realtime import bench
from realtime.cli import main


def test_every_sub_command_names_a_module_with_a_main() -> None:
    for name, (module, _) in bench.SUBCOMMANDS.items():
        assert callable(importlib.import_module(module).main), name
    assert set(bench.SUBCOMMANDS) == {"socket", "qwen", "frames", "decoder", "words", "voices", "store"}


def test_list_names_every_benchmark(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--list"]) == 0
    listed = capsys.readouterr().out
    assert all(f"  {name} " in listed for name in bench.SUBCOMMANDS)


def test_an_unknown_benchmark_is_refused_with_the_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "nope"]) == 2
    assert "unknown benchmark 'nope'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["bench", "words", "--lines", "2"], ("words", ["--lines", "2"])),
        (["bench-words", "--lines", "2"], ("words", ["--lines", "2"])),  # the old verb, an alias
        (["bench-qwen", "models/x"], ("qwen", ["models/x"])),
        (["bench", "--sessions", "2"], ("socket", ["--sessions", "2"])),  # no sub-command: the socket benchmark
        (["bench"], ("socket", [])),
    ],
)
def test_sub_commands_and_aliases_reach_their_benchmark(
    monkeypatch: pytest.MonkeyPatch, argv: list[str], expected: tuple[str, list[str]]
) -> None:
    calls: list[tuple[str, list[str]]] = []
    monkeypatch.setattr(bench, "run", lambda name, args: calls.append((name, args)) or 0)
    assert main(argv) == 0
    assert calls == [expected]
