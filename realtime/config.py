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
    ref_audio_dir: Path | None = None  # HTTP `ref_audio: "file:<name>"` reads only here; None: never

    def with_limits(self, **changes: Any) -> ServerConfig:
        return replace(self, limits=replace(self.limits, **changes))


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
    )
