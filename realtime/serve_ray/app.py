"""The Ray Serve application: its builder (for `serve run` and Serve config files) and `serve-ray`.

    realtime-tts serve-ray --replicas 2 --max-sessions 16        # a local Ray, ws://127.0.0.1:8000/v1/realtime
    serve run realtime.serve_ray.app:app_builder replicas=2 models_dir=/models   # any Ray cluster
    serve deploy deploy/ray-serve.yaml                            # a cluster, from a config file

Ray's proxy must run our middleware (proxy.py): `serve-ray` sets the variable that installs it
before Ray starts; on a cluster, set it in the environment of `ray start` on every node.
"""

from __future__ import annotations

import math
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

# Read when Ray is imported: every replica's start line (its id and pid) reaches the driver's log,
# where Ray would otherwise fold the second one into "[repeated 2x]".
os.environ.setdefault("RAY_DEDUP_LOGS", "0")
# Ray 2.60 sends this node's token (made by the first local Ray) to a cluster named by its address
# only when told to, also read at import.
if Path("~/.ray/auth_token").expanduser().exists():
    os.environ.setdefault("RAY_AUTH_MODE", "token")

import ray  # noqa: E402
from ray import serve  # noqa: E402
from ray.serve import Application  # noqa: E402

from realtime.config import ENV_PREFIX, ServerConfig, config_from_env
from realtime.serve_ray.proxy import PROXY_CALLBACK
from realtime.serve_ray.replica import RealtimeDeployment
from realtime.serve_ray.settings import APP_NAME, RaySettings, ReplicaConfig, deployment_options, settings_from_args

PROXY_CALLBACK_VARIABLE = "RAY_SERVE_HTTP_PROXY_CALLBACK_IMPORT_PATH"
SEND_TIMEOUT_VARIABLE = ENV_PREFIX + "SEND_TIMEOUT_S"
OBJECT_STORE_BYTES = 256 * 1024 * 1024  # a local cluster moves no large objects: audio streams through the proxy


def build_application(settings: RaySettings, config: ServerConfig) -> Application:
    return RealtimeDeployment.options(**deployment_options(settings, config)).bind(ReplicaConfig.of(config).server)


def app_builder(args: dict[str, Any]) -> Application:
    """`import_path` of a Serve config file (see deploy/ray-serve.yaml)."""
    settings, config = settings_from_args(args)
    return build_application(settings, config)


def local_cpus(settings: RaySettings) -> int:
    """Logical CPUs a local cluster needs: every replica it may run (Serve's own actors take none)."""
    most = settings.max_replicas if settings.autoscaling else settings.replicas
    return max(1, math.ceil(most * settings.cpus_per_replica))


def run(settings: RaySettings, config: ServerConfig, address: str | None = None) -> int:
    """Locally: start Ray, deploy, print the URL, serve until interrupted, then drain and stop.
    With `address`: deploy to that cluster (or update its deployment: a new replica count adds or
    drains replicas) and return, leaving it running."""
    os.environ.setdefault(PROXY_CALLBACK_VARIABLE, PROXY_CALLBACK)  # inherited by the proxy actor Ray starts
    # The proxy's middleware drops clients that read nothing after the replicas' own send timeout.
    os.environ[SEND_TIMEOUT_VARIABLE] = str(config.limits.send_timeout_s)
    if address:
        ray.init(address=address, log_to_driver=False)
        try:
            serve.start(http_options={"host": settings.host, "port": settings.port})
            serve.run(build_application(settings, config), name=APP_NAME, route_prefix="/")
            print(f"realtime-tts on Ray Serve: deployed to {address} ({_replicas(settings)} replicas)", flush=True)
        finally:
            ray.shutdown()
        return 0
    context = ray.init(address="local", num_cpus=local_cpus(settings), include_dashboard=False,  # always our own
                       object_store_memory=OBJECT_STORE_BYTES, log_to_driver=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        serve.start(http_options={"host": settings.host, "port": settings.port})
        serve.run(build_application(settings, config), name=APP_NAME, route_prefix="/")
        print(f"realtime-tts on Ray Serve: ws://{settings.host}:{settings.port}/v1/realtime "
              f"({_replicas(settings)} replicas; Ray at {context.address_info['gcs_address']})", flush=True)
        stop.wait()
    finally:
        print("realtime-tts on Ray Serve: stopping (open sessions get the drain timeout)", flush=True)
        try:
            serve.shutdown()
        finally:
            ray.shutdown()
    return 0


def _replicas(settings: RaySettings) -> str:
    return f"{settings.min_replicas}..{settings.max_replicas}" if settings.autoscaling else str(settings.replicas)


if __name__ == "__main__":
    sys.exit(run(RaySettings(), config_from_env()))
