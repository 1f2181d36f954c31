"""The voice store alone: what a create, a use and a listing cost on SQLite and on PostgreSQL.

    realtime-tts bench store [--voice-store-url postgresql://...] [--voices 50] [--threads 4] [--json PATH]

SQLite runs in a temporary directory; PostgreSQL runs when a URL is given (its voices go
under an owner of their own and are deleted at the end, so a live library is left alone).
Voices are the size of real ones: a 1.7B x-vector (2048 float32) plus, in context, 10 s of
reference frames (125 x 16 int64). Timed per call, in milliseconds:

- create: one voice, its quota counted inside the transaction (under the store-wide lock on
  PostgreSQL);
- get: a voice with its tensors, what every session or speech request on a saved voice
  waits for before its voice is prepared;
- list: one page of 20 records;
- get under load: `--threads` threads getting voices at once (calls per second too).
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from realtime.bench.socket import summarize
from realtime.voices.opening import open_voice_store
from realtime.voices.store import Quota, StoredVoice, VoiceRecord, VoiceStore, VoiceStoreError

X_VECTOR_SIZE = 2048  # Qwen3-TTS 1.7B
REFERENCE_FRAMES = 125  # 10 s at 12.5 frames/s
CODEBOOKS = 16
BENCH_QUOTA = Quota(max_voices_per_owner=1_000_000, max_store_bytes=2**62)


def bench_voice(owner: str, index: int) -> StoredVoice:
    tensors = {
        "x_vector": np.random.default_rng(index).standard_normal(X_VECTOR_SIZE).astype(np.float32),
        "ref_codes": np.random.default_rng(index).integers(0, 2048, (REFERENCE_FRAMES, CODEBOOKS), dtype=np.int64),
    }
    record = VoiceRecord(
        id=f"voice_bench{secrets.token_hex(8)}", owner=owner, name=f"bench {index}", model="bench-base",
        family="1b7", source="clone", x_vector_only=False, ref_text="A reference line of about ten seconds.",
        language="auto", created_at=time.time(), size_bytes=sum(int(t.nbytes) for t in tensors.values()) + 512,
    )
    return StoredVoice(record, tensors)


def _timed(call: Callable[[], Any]) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def bench_one(store: VoiceStore, voices: int, threads: int) -> dict[str, Any]:
    """Figures for one store; its bench voices are deleted before it returns."""
    owner = f"bench:{secrets.token_hex(6)}"
    made = [bench_voice(owner, index) for index in range(voices)]
    try:
        creates = [_timed(lambda voice=voice: store.create(voice, BENCH_QUOTA)) for voice in made]
        ids = [voice.record.id for voice in made]
        gets = [_timed(lambda voice_id=voice_id: store.get(owner, voice_id)) for voice_id in ids * 2]
        lists = [_timed(lambda: store.list(owner, limit=20)) for _ in range(voices)]
        loaded: list[float] = []
        lock = threading.Lock()

        def reader(offset: int) -> None:
            mine = [_timed(lambda voice_id=voice_id: store.get(owner, voice_id)) for voice_id in ids[offset:] + ids[:offset]]
            with lock:
                loaded.extend(mine)

        started = time.perf_counter()
        workers = [threading.Thread(target=reader, args=(index * voices // threads,)) for index in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        elapsed = time.perf_counter() - started
    finally:
        for voice in made:
            try:
                store.delete(owner, voice.record.id)
            except VoiceStoreError:
                pass
    return {
        "create_ms": summarize(creates), "get_ms": summarize(gets), "list_ms": summarize(lists),
        f"get_ms_{threads}_threads": summarize(loaded), "gets_per_s": round(len(loaded) / elapsed, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="realtime-tts bench store", description=__doc__.split("\n\n")[0])
    parser.add_argument("--voice-store-url", help="also measure this PostgreSQL database (postgresql://...)")
    parser.add_argument("--voices", type=int, default=50, help="voices created, each read twice (default 50)")
    parser.add_argument("--threads", type=int, default=4, help="threads reading at once for the load figure")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    args = parser.parse_args(argv)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-store-") as data_dir:
        targets: list[tuple[str, str | None, Path | None]] = [("sqlite", None, Path(data_dir))]
        if args.voice_store_url:
            targets.append(("postgres", args.voice_store_url, None))
        for name, url, directory in targets:
            try:
                store = open_voice_store(url, directory)
            except VoiceStoreError as exc:
                print(f"bench store: {name}: {exc}", file=sys.stderr)
                return 1
            assert store is not None
            try:
                results[name] = bench_one(store, args.voices, args.threads)
            finally:
                store.close()
    print(f"Voice store, milliseconds p50 / p95 ({args.voices} voices of "
          f"{bench_voice('', 0).record.size_bytes // 1024} KiB; {args.threads} threads for the load figure):")
    print(f"{'store':10} {'create':>16} {'get':>16} {'list 20':>16} {'get, loaded':>16} {'gets/s':>8}")
    for name, figures in results.items():
        cells = [figures[key] for key in ("create_ms", "get_ms", "list_ms", f"get_ms_{args.threads}_threads")]
        print(f"{name:10} " + " ".join(f"{c['p50']:>7.2f} / {c['p95']:<6.2f}" for c in cells)
              + f" {figures['gets_per_s']:>8.0f}")
    if args.json:
        args.json.write_text(json.dumps({"voices": args.voices, "threads": args.threads, "results": results}, indent=2)
                             + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
