"""Server configuration: limits and options, from command-line options or environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from collections.abc import Mapping
from typing import Any

MIB = 1024 * 1024
ENV_PREFIX = "REALTIME_TTS_"


@dataclass(frozen=True, slots=True)
class Limits:
    """Every limit of PROTOCOL.md; all echoed to the client in `session.ready.limits`."""

    max_frame_bytes: int = 16 * MIB
    max_text_chars: int = 4096
    max_buffered_chars: int = 65536
    max_contexts: int = 8
    max_reference_bytes: int = 10_000_000
    min_reference_seconds: float = 1.0
    max_reference_seconds: float = 30.0
    max_sessions: int = 64
    start_timeout_s: float = 10.0
    idle_timeout_s: float = 60.0
    max_segment_chars: int = 250
    # A client that reads nothing this long while the server has data for it is dropped (4008).
    send_timeout_s: float = 20.0
    # Bytes of messages waiting for one client (socket: the session's outbox, audio counted
    # as encoded estimate); past it the session's producers wait, they never buffer more.
    max_queued_bytes: int = 4 * MIB
    max_ping_bytes: int = 256  # `ping.t`, packed
    # Connections not yet started (no accepted session.start): a pool apart from the session slots.
    max_pending_connections: int = 64
    max_pending_per_client: int = 8

    def to_wire(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """What `realtime-tts serve` (or the app factory) needs to start a server."""

    host: str = "127.0.0.1"
    port: int = 8000
    models_dir: Path = Path("models")
    limits: Limits = field(default_factory=Limits)
    api_keys: tuple[str, ...] = ()
    allowed_origins: tuple[str, ...] = ()
    engine_threads: int = 2
    log_level: str = "info"
    # Qwen3-TTS models: where and how they load, and when an unused one is unloaded (0: never).
    device: str = "auto"  # cpu, cuda, cuda:N or auto
    dtype: str = "auto"  # float32, bfloat16, float16 or auto (bfloat16 on a GPU, float32 on the CPU)
    attn_implementation: str = "sdpa"  # sdpa, eager or flash_attention_2
    model_idle_unload_s: float = 300.0
    preload_models: bool = False  # load and warm every Qwen3 checkpoint at start-up (/ready waits for it)
    # Continuous batching: streams one model steps together (1: each stream alone, in the engine threads);
    # deterministic: fixed row tiles, so a seed's audio never depends on the other streams.
    max_batch: int = 8
    deterministic: bool = True
    # threads per batched model that prefill newcomers (and share decoding) beside its step loop; 0: none
    prefill_lanes: int = 1
    ref_audio_dir: Path | None = None  # HTTP `ref_audio: "file:<name>"` reads only here; None: never
    # Saved voices (/v1/voices): a SQLite file under data_dir; None: saved voices are off.
    data_dir: Path | None = None
    # A PostgreSQL URL: the saved voices live there instead (shared by replicas); wins over data_dir.
    voice_store_url: str | None = None
    max_voices_per_key: int = 100
    max_voice_store_bytes: int = 256 * MIB

    def with_limits(self, **changes: Any) -> ServerConfig:
        return replace(self, limits=replace(self.limits, **changes))


DTYPES = ("auto", "float32", "bfloat16", "float16")
ATTN_IMPLEMENTATIONS = ("sdpa", "eager", "flash_attention_2")


def check_device(value: str) -> str:
    """`cpu`, `cuda`, `cuda:N` or `auto`; anything else is a ValueError."""
    if value in ("auto", "cpu", "cuda") or (value.startswith("cuda:") and value[5:].isdigit()):
        return value
    raise ValueError(f"device {value!r} is not one of cpu, cuda, cuda:N, auto")


def _env_choice(env: Mapping[str, str], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = env.get(ENV_PREFIX + name, default).strip()
    if value not in allowed:
        raise ValueError(f"{ENV_PREFIX}{name}={value!r} is not one of {', '.join(allowed)}")
    return value


def _split_list(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())


def _coerce(value: str, example: Any) -> Any:
    if isinstance(example, bool):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(example, int):
        return int(value)
    if isinstance(example, float):
        return float(value)
    return value


def limits_from_env(env: Mapping[str, str] | None = None, base: Limits | None = None) -> Limits:
    """`REALTIME_TTS_MAX_CONTEXTS=4` and so on: one variable per limit, upper-cased name."""
    source: Mapping[str, str] = os.environ if env is None else env
    limits = base or Limits()
    changes: dict[str, Any] = {}
    for f in fields(limits):
        raw = source.get(ENV_PREFIX + f.name.upper())
        if raw is not None and raw.strip():
            try:
                changes[f.name] = _coerce(raw, getattr(limits, f.name))
            except ValueError as exc:
                raise ValueError(f"{ENV_PREFIX}{f.name.upper()}={raw!r} is not a valid value") from exc
    return replace(limits, **changes)


def config_from_env(env: Mapping[str, str] | None = None) -> ServerConfig:
    """The configuration the environment asks for (the default of `realtime-tts serve` and the app factory)."""
    env = os.environ if env is None else env
    base = ServerConfig()
    return ServerConfig(
        host=env.get(ENV_PREFIX + "HOST", base.host),
        port=int(env.get(ENV_PREFIX + "PORT", env.get("PORT", base.port))),
        models_dir=Path(env.get(ENV_PREFIX + "MODELS_DIR", str(base.models_dir))),
        limits=limits_from_env(env),
        api_keys=_split_list(env.get(ENV_PREFIX + "API_KEYS", "")),
        allowed_origins=_split_list(env.get(ENV_PREFIX + "ALLOWED_ORIGINS", "")),
        engine_threads=int(env.get(ENV_PREFIX + "ENGINE_THREADS", base.engine_threads)),
        log_level=env.get(ENV_PREFIX + "LOG_LEVEL", base.log_level),
        ref_audio_dir=Path(env[ENV_PREFIX + "REF_AUDIO_DIR"]) if env.get(ENV_PREFIX + "REF_AUDIO_DIR") else None,
        data_dir=Path(env[ENV_PREFIX + "DATA_DIR"]) if env.get(ENV_PREFIX + "DATA_DIR") else None,
        voice_store_url=env.get(ENV_PREFIX + "VOICE_STORE_URL", "").strip() or None,
        max_voices_per_key=int(env.get(ENV_PREFIX + "MAX_VOICES_PER_KEY", base.max_voices_per_key)),
        max_voice_store_bytes=int(env.get(ENV_PREFIX + "MAX_VOICE_STORE_BYTES", base.max_voice_store_bytes)),
        **_model_options_from_env(env, base),
    )


def _model_options_from_env(env: Mapping[str, str], base: ServerConfig) -> dict[str, Any]:
    """REALTIME_TTS_DEVICE, _DTYPE, _ATTN_IMPLEMENTATION, _MODEL_IDLE_UNLOAD_S, _PRELOAD_MODELS, _MAX_BATCH, _DETERMINISTIC."""
    device = env.get(ENV_PREFIX + "DEVICE", base.device).strip()
    try:
        check_device(device)
    except ValueError as exc:
        raise ValueError(f"{ENV_PREFIX}DEVICE: {exc}") from exc
    raw_idle = env.get(ENV_PREFIX + "MODEL_IDLE_UNLOAD_S", "").strip()
    try:
        idle = float(raw_idle) if raw_idle else base.model_idle_unload_s
    except ValueError as exc:
        raise ValueError(f"{ENV_PREFIX}MODEL_IDLE_UNLOAD_S={raw_idle!r} is not a number of seconds") from exc
    return {
        "device": device,
        "dtype": _env_choice(env, "DTYPE", DTYPES, base.dtype),
        "attn_implementation": _env_choice(env, "ATTN_IMPLEMENTATION", ATTN_IMPLEMENTATIONS, base.attn_implementation),
        "model_idle_unload_s": idle,
        "preload_models": _coerce(env.get(ENV_PREFIX + "PRELOAD_MODELS", ""), True),
        "max_batch": _max_batch(env.get(ENV_PREFIX + "MAX_BATCH", "").strip() or str(base.max_batch)),
        "deterministic": _coerce(env[ENV_PREFIX + "DETERMINISTIC"], True)
        if env.get(ENV_PREFIX + "DETERMINISTIC", "").strip()
        else base.deterministic,
        "prefill_lanes": _prefill_lanes(env.get(ENV_PREFIX + "PREFILL_LANES", "").strip() or str(base.prefill_lanes)),
    }


def _max_batch(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError as exc:
        raise ValueError(f"{ENV_PREFIX}MAX_BATCH={raw!r} is not an integer") from exc
    try:
        return check_max_batch(value)
    except ValueError as exc:
        raise ValueError(f"{ENV_PREFIX}MAX_BATCH: {exc}") from exc


def _prefill_lanes(raw: str) -> int:
    try:
        return check_prefill_lanes(int(raw))
    except ValueError as exc:
        raise ValueError(f"{ENV_PREFIX}PREFILL_LANES={raw!r}: {exc}") from exc


def check_prefill_lanes(value: int) -> int:
    """0 (the step loop's thread does everything) .. 8 prefill lanes per batched model."""
    if not 0 <= value <= 8:
        raise ValueError(f"prefill_lanes must be 0..8, got {value}")
    return value


def check_max_batch(value: int) -> int:
    """1 (each stream alone) .. 64 streams stepped together per model."""
    if not 1 <= value <= 64:
        raise ValueError(f"max_batch must be 1..64, got {value}")
    return value
