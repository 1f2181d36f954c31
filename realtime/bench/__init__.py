"""Benchmarks, in one place, behind one verb: `realtime-tts bench <sub> [options]`.

    socket   time to first audio, server overhead, concurrency, formats, audible audio (socket.py,
             with formats.py and audible.py); the default when no sub-command is named
    qwen     our Qwen3 streaming vs the official generate_custom_voice; --concurrency for batching
             (qwen.py, qwen_batch.py)
    frames   the Qwen3 step loop alone (frames.py)
    decoder  the streaming codec decoder (decoder.py)
    words    word timestamps: boundary error, aligner cost, first audio (words.py)
    voices   first audio with saved voices vs predefined speakers (voices.py)
    store    the voice store alone: create, get, list on SQLite and PostgreSQL (store.py)

Each module is imported only when its sub-command runs: most need the Qwen3 stack.
"""

from __future__ import annotations

import importlib
import sys
from typing import Final

SUBCOMMANDS: Final[dict[str, tuple[str, str]]] = {
    "socket": ("realtime.bench.socket", "time to first audio, server overhead, concurrency, formats"),
    "qwen": ("realtime.bench.qwen", "Qwen3 streaming vs the official generate_custom_voice (needs `scripts/setup qwen`)"),
    "frames": ("realtime.bench.frames", "the Qwen3 step loop alone (needs `scripts/setup qwen`)"),
    "decoder": ("realtime.bench.decoder", "the streaming codec decoder (needs `scripts/setup qwen`)"),
    "words": ("realtime.bench.words", "word timestamps: boundary error, aligner cost, first audio with them on"),
    "voices": ("realtime.bench.voices", "first audio with saved voices vs predefined speakers (needs Qwen3 checkpoints)"),
    "store": ("realtime.bench.store", "the voice store alone: create, get, list on SQLite and PostgreSQL (--voice-store-url)"),
}
DEFAULT_SUBCOMMAND: Final = "socket"


def usage() -> str:
    lines = ["usage: realtime-tts bench <sub-command> [options]   (--help after one for its options)", ""]
    lines += [f"  {name:<8} {summary}" for name, (_, summary) in SUBCOMMANDS.items()]
    return "\n".join(lines)


def run(name: str, argv: list[str]) -> int:
    """Run one benchmark's own command line; its exit status (0 when it returns none)."""
    module = importlib.import_module(SUBCOMMANDS[name][0])
    status = module.main(argv)
    return int(status or 0)


def main(argv: list[str] | None = None) -> int:
    """`bench <sub> ...`; with no known sub-command first, the socket benchmark (the verb's old meaning)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in ("-l", "--list"):
        print(usage())
        return 0
    if args and args[0] in SUBCOMMANDS:
        return run(args[0], args[1:])
    if args and not args[0].startswith("-"):
        print(f"error: unknown benchmark {args[0]!r}\n\n{usage()}", file=sys.stderr)
        return 2
    return run(DEFAULT_SUBCOMMAND, args)
