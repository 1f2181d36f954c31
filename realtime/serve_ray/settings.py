"""What a Ray deployment of the server asks for, and the Serve deployment options it becomes.

Pure: no Ray import, so the arithmetic is tested in the main venv. The lever for placement is
Serve's `max_ongoing_requests`: a socket is one ongoing request for its whole life, so a
replica's ongoing requests are its sessions, plus connections still waiting for their
`session.start`, plus HTTP requests. The limit is set above the replica's session slots (by
its pending-connection pool and a margin for probes and scrapes): Ray's router then never
holds a connection back while the replica can still answer it, and a full replica answers
`over_capacity` (1013 / 503) in the protocol's own shape instead of a queue that waits.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from realtime.config import Limits, ServerConfig, config_from_env

DEPLOYMENT_NAME = "realtime-tts"
APP_NAME = "realtime-tts"
PROBE_MARGIN = 8  # /health, /ready, /metrics and /v1/models requests beside the sessions
ROUTER_CLASS = "realtime.serve_ray.routing:LeastLoadedRouter"


@dataclass(frozen=True, slots=True)
class RaySettings:
    """`realtime-tts serve-ray` options (and a Serve config file's `args`) beyond the server's own."""

    replicas: int = 1
    # Autoscaling on active sessions: replicas between these bounds, each aiming at
    # `target_sessions_per_replica` ongoing sessions. Off when max_replicas is 0.
    min_replicas: int = 1
    max_replicas: int = 0
    target_sessions_per_replica: float = 0.0  # 0: 75 % of a replica's session slots
    # How long the load must stay above (below) the target before a replica is added (removed),
    # and the window it is averaged over: Serve's own defaults. Sessions last minutes, so a
    # short dip must not drain a replica whose sessions would then be cut at the drain timeout.
    upscale_delay_s: float = 30.0
    downscale_delay_s: float = 600.0
    look_back_period_s: float = 30.0
    cpus_per_replica: float = 1.0
    gpus_per_replica: float = 0.0
    # A replica being removed takes no new sessions; open ones get this long to finish, then
    # their sockets close 1012 and their HTTP streams end incomplete.
    drain_timeout_s: float = 30.0
    max_queued_requests: int = 64  # connections Ray itself may hold while every replica is at its limit
    host: str = "127.0.0.1"
    port: int = 8000

    def __post_init__(self) -> None:
        if self.replicas < 1:
            raise ValueError(f"replicas must be at least 1, got {self.replicas}")
        if self.max_replicas and not 0 <= self.min_replicas <= self.max_replicas:
            raise ValueError(f"need 0 <= min_replicas <= max_replicas, got {self.min_replicas} and {self.max_replicas}")
        if self.cpus_per_replica < 0 or self.gpus_per_replica < 0:
            raise ValueError("cpus_per_replica and gpus_per_replica must not be negative")
        if self.upscale_delay_s < 0 or self.downscale_delay_s < 0 or self.look_back_period_s <= 0:
            raise ValueError("upscale_delay_s and downscale_delay_s must not be negative, look_back_period_s must be "
                             "positive")
        if self.drain_timeout_s <= 0:
            raise ValueError(f"drain_timeout_s must be positive, got {self.drain_timeout_s}")
        if self.max_queued_requests < 1:
            raise ValueError(f"max_queued_requests must be at least 1, got {self.max_queued_requests}")

    @property
    def autoscaling(self) -> bool:
        return self.max_replicas > 0

    def to_args(self) -> dict[str, Any]:
        return asdict(self)


def session_slots(config: ServerConfig, engine_capacity: int | None = None) -> int:
    """A replica's session slots: `max_sessions`, or the engine's capacity when it is lower."""
    slots = config.limits.max_sessions
    return min(slots, engine_capacity) if engine_capacity else slots


def max_ongoing_requests(config: ServerConfig) -> int:
    """Serve's per-replica limit: the sessions, the connections waiting to start, and a probe margin."""
    return session_slots(config) + config.limits.max_pending_connections + PROBE_MARGIN


def deployment_options(settings: RaySettings, config: ServerConfig) -> dict[str, Any]:
    """The keyword arguments of `serve.deployment(...).options(...)` for these settings."""
    actor_options: dict[str, Any] = {"num_cpus": settings.cpus_per_replica}
    if settings.gpus_per_replica:
        actor_options["num_gpus"] = settings.gpus_per_replica
    options: dict[str, Any] = {
        "name": DEPLOYMENT_NAME,
        "ray_actor_options": actor_options,
        "max_ongoing_requests": max_ongoing_requests(config),
        "max_queued_requests": settings.max_queued_requests,
        "graceful_shutdown_timeout_s": settings.drain_timeout_s,
        "graceful_shutdown_wait_loop_s": 0.5,
        "health_check_period_s": 5.0,
        "request_router_config": {"request_router_class": ROUTER_CLASS},
    }
    if settings.autoscaling:
        target = settings.target_sessions_per_replica or max(1.0, 0.75 * session_slots(config))
        options["autoscaling_config"] = {
            "min_replicas": settings.min_replicas,
            "initial_replicas": min(max(settings.replicas, settings.min_replicas), settings.max_replicas),
            "max_replicas": settings.max_replicas,
            "target_ongoing_requests": target,
            "upscale_delay_s": settings.upscale_delay_s,
            "downscale_delay_s": settings.downscale_delay_s,
            "look_back_period_s": settings.look_back_period_s,
        }
    else:
        options["num_replicas"] = settings.replicas
    return options


@dataclass(frozen=True, slots=True)
class ReplicaConfig:
    """The server configuration shipped to each replica (paths as strings, so it pickles plainly)."""

    server: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, config: ServerConfig) -> ReplicaConfig:
        values = asdict(config)
        values["limits"] = config.limits.to_wire()
        # Paths absolute: a replica does not run in the directory `serve-ray` was started from.
        return cls({key: (str(Path(value).resolve()) if isinstance(value, Path) else value) for key, value in values.items()})

    def server_config(self) -> ServerConfig:
        values = dict(self.server)
        limits = Limits(**values.pop("limits", {}))
        for name in ("models_dir", "ref_audio_dir", "data_dir"):
            if values.get(name) is not None:
                values[name] = Path(values[name])
        for name in ("api_keys", "allowed_origins"):
            values[name] = tuple(values.get(name) or ())
        return replace(ServerConfig(), limits=limits, **values)


def _coerce(value: Any, example: Any) -> Any:
    """A config file's (or `serve run`'s key=value) value as the type of the field's default."""
    if isinstance(value, str) and not isinstance(example, str):
        if isinstance(example, bool):
            return value.strip().lower() in {"1", "true", "yes", "on"}
        if isinstance(example, (int, float)):
            return type(example)(value)
        if isinstance(example, tuple):
            return tuple(item.strip() for item in value.split(",") if item.strip())
        if isinstance(example, Path) or example is None:
            return Path(value)
    return tuple(value) if isinstance(example, tuple) and isinstance(value, list) else value


def settings_from_args(args: dict[str, Any]) -> tuple[RaySettings, ServerConfig]:
    """A Serve config's `args` (or `serve run ... key=value`): Ray settings, server options and limits by name,
    over the REALTIME_TTS_* environment; an unknown name is an error."""
    base_settings, config = RaySettings(), config_from_env()
    ray_names = {f.name for f in fields(RaySettings)}
    server_names = {f.name for f in fields(ServerConfig)} - {"limits"}
    limit_names = {f.name for f in fields(Limits)}
    unknown = sorted(set(args) - ray_names - server_names - limit_names)
    if unknown:
        raise ValueError(f"unknown argument(s) {', '.join(unknown)}; known: Ray {sorted(ray_names)}, "
                         f"server {sorted(server_names)}, limits {sorted(limit_names)}")
    settings = replace(base_settings, **{k: _coerce(v, getattr(base_settings, k)) for k, v in args.items() if k in ray_names})
    server = {k: _coerce(v, getattr(config, k)) for k, v in args.items() if k in server_names and k not in ray_names}
    limits = {k: _coerce(v, getattr(config.limits, k)) for k, v in args.items() if k in limit_names}
    return settings, replace(config, limits=replace(config.limits, **limits), **server)
