"""`realtime-tts`: serve, say, bench.

    realtime-tts serve --port 8000            # the server, on the embedded engine unless models are installed
    realtime-tts say "Hello there." -o hello.wav
    realtime-tts bench socket                 # time to first audio, server overhead, concurrency
    realtime-tts bench qwen models/CHECKPOINT # our Qwen3 streaming vs the official generate_custom_voice
    realtime-tts bench --list                 # every benchmark: socket, qwen, frames, decoder, words, voices
    realtime-tts soak --clients 8 --minutes 3 # random cancels, disconnects, slow readers; RSS over time
    realtime-tts make-checkpoints --out models --size tiny   # random Qwen3-TTS checkpoints for tests

`bench-qwen`, `bench-voices` and `bench-words` are kept as aliases of `bench qwen|voices|words`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import wave
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from realtime.config import (
    ATTN_IMPLEMENTATIONS,
    DTYPES,
    ENV_PREFIX,
    Limits,
    ServerConfig,
    check_device,
    check_max_batch,
    check_prefill_lanes,
    config_from_env,
)
from realtime.voices.cli import add_voices_parser, run_voices

DEFAULT_URL = "ws://127.0.0.1:8000/v1/realtime"
DEFAULT_DATA_DIR = Path("data")
# The file extensions `say` understands, and the format it asks the server for.
EXTENSION_FORMATS = {
    ".wav": "pcm",  # asked as pcm and written as a WAV file with exact sizes
    ".pcm": "pcm", ".raw": "pcm", ".flac": "flac", ".ogg": "ogg", ".opus": "opus",
    ".mp3": "mp3", ".aac": "aac",
}


def _option(name: str) -> str:
    return "--" + name.replace("_", "-")


def _add_serve(subparsers: Any) -> None:
    serve = subparsers.add_parser(
        "serve",
        help="run the server",
        description=f"Run the server. Every option can also be set as an environment variable {ENV_PREFIX}<NAME>.",
    )
    _add_server_options(serve)


def _add_serve_ray(subparsers: Any) -> None:
    serve_ray = subparsers.add_parser(
        "serve-ray",
        help="run the server as replicas on Ray Serve (needs `scripts/setup ray`; run .venv-ray/bin/realtime-tts)",
        description="Run N replicas of the server on Ray Serve behind Ray's HTTP proxy: a local Ray unless "
                    "--ray-address names a cluster. The server's options apply to every replica "
                    "(--max-sessions is per replica).",
    )
    _add_server_options(serve_ray)
    ray = serve_ray.add_argument_group("Ray Serve")
    ray.add_argument("--replicas", type=int, default=1, help="replicas (default 1; the initial count when autoscaling)")
    ray.add_argument("--min-replicas", type=int, default=1, help="autoscaling lower bound (default 1)")
    ray.add_argument("--max-replicas", type=int, default=0,
                     help="autoscaling upper bound; 0 (default) turns autoscaling off")
    ray.add_argument("--target-sessions-per-replica", type=float, default=0.0,
                     help="autoscaling target of ongoing sessions per replica (default 75%% of --max-sessions)")
    ray.add_argument("--upscale-delay-s", type=float, default=30.0,
                     help="autoscaling: load above the target this long adds a replica (default 30)")
    ray.add_argument("--downscale-delay-s", type=float, default=600.0,
                     help="autoscaling: load below the target this long removes one, draining it (default 600)")
    ray.add_argument("--look-back-period-s", type=float, default=30.0,
                     help="autoscaling: the window sessions are averaged over (default 30)")
    ray.add_argument("--cpus-per-replica", type=float, default=1.0, help="Ray CPUs each replica reserves (default 1)")
    ray.add_argument("--gpus-per-replica", type=float, default=0.0, help="Ray GPUs each replica reserves (default 0)")
    ray.add_argument("--drain-timeout-s", type=float, default=30.0,
                     help="a replica being removed lets open sessions finish this long, then closes them 1012 (default 30)")
    ray.add_argument("--max-queued-requests", type=int, default=64,
                     help="connections Ray may hold while every replica is at its limit (default 64)")
    ray.add_argument("--ray-address", help="join this Ray cluster (e.g. auto) instead of starting a local one")


def _add_server_options(serve: argparse.ArgumentParser) -> None:
    serve.add_argument("--host", help=f"bind address (default 127.0.0.1; {ENV_PREFIX}HOST)")
    serve.add_argument("--port", type=int, help=f"port (default 8000; {ENV_PREFIX}PORT or PORT)")
    serve.add_argument("--models-dir", type=Path, help=f"directory of model checkpoints ({ENV_PREFIX}MODELS_DIR)")
    serve.add_argument("--api-key", action="append", dest="api_keys", help="require this token (repeatable)")
    serve.add_argument("--allowed-origin", action="append", dest="allowed_origins", help="allowed browser Origin (repeatable)")
    serve.add_argument("--engine-threads", type=int, help="worker threads running the engine")
    serve.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    qwen = serve.add_argument_group("Qwen3-TTS models (need `scripts/setup qwen`)")
    qwen.add_argument("--device", type=_device, help=f"cpu, cuda, cuda:N or auto (default auto; {ENV_PREFIX}DEVICE)")
    qwen.add_argument("--dtype", choices=DTYPES, help=f"weights dtype; auto: bfloat16 on a GPU, float32 on the CPU ({ENV_PREFIX}DTYPE)")
    qwen.add_argument("--attn-implementation", choices=ATTN_IMPLEMENTATIONS, help=f"attention kernel (default sdpa; {ENV_PREFIX}ATTN_IMPLEMENTATION)")
    qwen.add_argument("--model-idle-unload-s", type=float, metavar="SECONDS",
                      help=f"unload a model unused this long; 0 never (default 300; {ENV_PREFIX}MODEL_IDLE_UNLOAD_S)")
    qwen.add_argument("--preload-models", action="store_true", default=None,
                      help=f"load and warm every checkpoint at start-up; /ready waits for it ({ENV_PREFIX}PRELOAD_MODELS=1)")
    qwen.add_argument("--max-batch", type=_max_batch, metavar="N",
                      help=f"streams one model steps together (continuous batching); 1: each stream alone "
                           f"in the engine threads (default 8; {ENV_PREFIX}MAX_BATCH)")
    qwen.add_argument("--deterministic", action=argparse.BooleanOptionalAction, default=None,
                      help=f"batched rows in fixed tiles, so a seed's audio never depends on other streams "
                           f"(default on; {ENV_PREFIX}DETERMINISTIC=0 to trade that for speed)")
    qwen.add_argument("--prefill-lanes", type=_prefill_lanes, metavar="N",
                      help=f"threads per batched model that prefill newcomers (and share decoding) beside its "
                           f"step loop; 0: none (default 1; {ENV_PREFIX}PREFILL_LANES)")
    serve.add_argument("--ref-audio-dir", type=Path,
                       help=f"let HTTP clients name reference audio files in this directory ({ENV_PREFIX}REF_AUDIO_DIR)")
    voices = serve.add_argument_group("saved voices (/v1/voices)")
    voices.add_argument("--data-dir", type=Path,
                        help=f"directory of the saved-voice library (default ./data; {ENV_PREFIX}DATA_DIR)")
    voices.add_argument("--voice-store-url", metavar="URL",
                        help=f"keep saved voices in this PostgreSQL database instead (postgresql://user:password@host"
                             f"/db; shared by replicas; wins over --data-dir; needs `scripts/setup postgres`; "
                             f"{ENV_PREFIX}VOICE_STORE_URL)")
    voices.add_argument("--max-voices-per-key", type=int, help=f"default 100; {ENV_PREFIX}MAX_VOICES_PER_KEY")
    voices.add_argument("--max-voice-store-bytes", type=int,
                        help=f"total size of all saved voices (default 256 MiB); {ENV_PREFIX}MAX_VOICE_STORE_BYTES")
    limits = serve.add_argument_group("limits (echoed to clients in session.ready)")
    for f in fields(Limits):
        kind = type(getattr(Limits(), f.name))
        limits.add_argument(_option(f.name), type=kind, dest=f"limit_{f.name}", metavar=kind.__name__.upper(),
                            help=f"default {getattr(Limits(), f.name)}; {ENV_PREFIX}{f.name.upper()}")


def _max_batch(value: str) -> int:
    try:
        return check_max_batch(int(value))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _prefill_lanes(value: str) -> int:
    try:
        return check_prefill_lanes(int(value))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _device(value: str) -> str:
    try:
        return check_device(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def config_from_args(args: argparse.Namespace, base: ServerConfig | None = None) -> ServerConfig:
    """Command-line options over the environment over the defaults."""
    config = base or config_from_env()
    changes = {
        name: getattr(args, name)
        for name in ("host", "port", "models_dir", "engine_threads", "log_level",
                     "device", "dtype", "attn_implementation", "model_idle_unload_s", "preload_models", "ref_audio_dir",
                     "max_batch", "deterministic", "prefill_lanes", "data_dir", "voice_store_url", "max_voices_per_key",
                     "max_voice_store_bytes")
        if getattr(args, name) is not None
    }
    if changes.get("data_dir") is None and config.data_dir is None:
        changes["data_dir"] = DEFAULT_DATA_DIR  # `serve` keeps saved voices unless told where
    if args.api_keys:
        changes["api_keys"] = tuple(args.api_keys)
    if args.allowed_origins:
        changes["allowed_origins"] = tuple(args.allowed_origins)
    limit_changes = {
        f.name: getattr(args, f"limit_{f.name}") for f in fields(Limits) if getattr(args, f"limit_{f.name}") is not None
    }
    return replace(config, limits=replace(config.limits, **limit_changes), **changes)


def _serve_ray(args: argparse.Namespace) -> int:
    from realtime.serve_ray.settings import RaySettings

    try:
        settings = RaySettings(
            replicas=args.replicas, min_replicas=args.min_replicas, max_replicas=args.max_replicas,
            target_sessions_per_replica=args.target_sessions_per_replica, upscale_delay_s=args.upscale_delay_s,
            downscale_delay_s=args.downscale_delay_s, look_back_period_s=args.look_back_period_s,
            cpus_per_replica=args.cpus_per_replica,
            gpus_per_replica=args.gpus_per_replica, drain_timeout_s=args.drain_timeout_s,
            max_queued_requests=args.max_queued_requests,
            host=args.host or "127.0.0.1", port=args.port if args.port is not None else 8000,
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        from realtime.serve_ray.app import run
    except ImportError as exc:
        print(f"error: Ray Serve is not installed here ({exc}): run scripts/setup ray, then .venv-ray/bin/realtime-tts "
              "serve-ray", file=sys.stderr)
        return 2
    return run(settings, config_from_args(args), address=args.ray_address)


def _add_say(subparsers: Any) -> None:
    say = subparsers.add_parser("say", help="speak a text through a running server and save the audio")
    say.add_argument("text", help='the text ("-" reads standard input)')
    say.add_argument("-o", "--output", type=Path, required=True, help="output file; its extension picks the format")
    say.add_argument("--url", default=DEFAULT_URL, help=f"server WebSocket URL (default {DEFAULT_URL})")
    say.add_argument("--token", help="API token, if the server requires one")
    say.add_argument("--voice", help="a saved voice's id (see `realtime-tts voices`); fixes mode and model")
    say.add_argument("--mode")
    say.add_argument("--model")
    say.add_argument("--speaker")
    say.add_argument("--instruct")
    say.add_argument("--language")
    say.add_argument("--seed", type=int)
    say.add_argument("--sample-rate", type=int, default=24000)


async def _say(args: argparse.Namespace) -> int:
    from realtime.client import RealtimeClient, ServerError

    text = sys.stdin.read() if args.text == "-" else args.text
    suffix = args.output.suffix.lower()
    if suffix not in EXTENSION_FORMATS:
        print(f"error: unknown output extension {suffix!r}; use one of {', '.join(EXTENSION_FORMATS)}", file=sys.stderr)
        return 2
    fields_ = {
        "voice": args.voice, "mode": args.mode or (None if args.voice else "custom_voice"), "model": args.model, "speaker": args.speaker, "instruct": args.instruct,
        "language": args.language, "seed": args.seed, "format": EXTENSION_FORMATS[suffix],
        "sample_rate": args.sample_rate,
    }
    try:
        client = await RealtimeClient.connect(args.url, token=args.token, **{k: v for k, v in fields_.items() if v is not None})
    except ServerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"error: cannot reach {args.url}: {exc}", file=sys.stderr)
        return 1
    async with client:
        try:
            result = await client.synthesize(text)
        except ServerError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    errors = [m for m in result.messages if m.get("type") == "error"]
    for error in errors:
        print(f"error: {error.get('code')} {error.get('name')}: {error.get('message')}", file=sys.stderr)
    if suffix == ".wav":
        with wave.open(str(args.output), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(client.ready["sample_rate"])
            out.writeframes(result.audio)
    else:
        args.output.write_bytes(result.audio)
    done = result.done or {}
    print(
        f"{args.output}: {done.get('audio_ms', 0) / 1000:.2f} s of audio, {done.get('segments')} segments, "
        f"first audio after {done.get('ttfa_ms')} ms, seed {done.get('seed')}"
    )
    return 1 if errors else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="realtime-tts", description="Real-time streaming text-to-speech server.")
    subparsers = parser.add_subparsers(dest="command", required=True)
    _add_serve(subparsers)
    _add_serve_ray(subparsers)
    _add_say(subparsers)
    add_voices_parser(subparsers)
    subparsers.add_parser(
        "bench", help="benchmarks: bench socket|qwen|frames|decoder|words|voices (--list); socket when none is named",
        add_help=False,
    )
    for alias in ("qwen", "voices", "words"):  # the verbs before `bench <sub>`, kept as aliases
        subparsers.add_parser(f"bench-{alias}", help=f"alias of `bench {alias}`", add_help=False)
    subparsers.add_parser(
        "soak", help="N clients for M minutes: cancels, disconnects, slow readers, formats; RSS over time",
        add_help=False,
    )
    subparsers.add_parser(
        "make-checkpoints", help="build random Qwen3-TTS checkpoints for tests (needs `scripts/setup qwen`)", add_help=False
    )
    args, rest = parser.parse_known_args(argv)
    if args.command == "bench" or args.command.startswith("bench-"):
        from realtime import bench

        sub = [args.command.removeprefix("bench-")] if args.command != "bench" else []
        return bench.main([*sub, *rest])
    if args.command == "soak":
        from realtime import soak

        return soak.main(rest)
    if args.command == "make-checkpoints":
        from realtime.tools import qwen3_checkpoints as build

        return build.main(rest)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.command == "voices":
        return run_voices(args)
    if args.command == "serve":
        from realtime.server.run import serve
        from realtime.voices.store import VoiceStoreError

        try:
            serve(config_from_args(args))
        except VoiceStoreError as exc:  # unreachable database, bad URL, newer schema: said plainly, no trace
            print(f"error: saved voices: {exc}", file=sys.stderr)
            return 2
        return 0
    if args.command == "serve-ray":
        return _serve_ray(args)
    return asyncio.run(_say(args))


if __name__ == "__main__":
    sys.exit(main())
