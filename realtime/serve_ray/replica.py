"""The Serve deployment: one replica is one server (the same Starlette app and engines).

The app is built in the replica (`__serve_build_asgi_app__`, after the constructor), so its
engines load there, on the replica's CPUs or GPU; its lifespan (engine load, warm-up) runs
before Serve marks the replica ready. Everything it answers carries `x-replica`.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from ray import serve

from realtime.server.app import create_app
from realtime.serve_ray.settings import ReplicaConfig
from realtime.serve_ray.tagging import ReplicaTagMiddleware

logger = logging.getLogger(__name__)


class RealtimeReplica:
    async def __init__(self, replica_config: dict[str, Any]) -> None:
        self._config = ReplicaConfig(replica_config).server_config()
        self.replica_id = serve.get_replica_context().replica_id.unique_id
        # On stdout, which Ray relays to the driver (`serve-ray`'s log): which process is which replica.
        print(f"realtime-tts replica {self.replica_id} starting (pid {os.getpid()})", flush=True)

    def __serve_build_asgi_app__(self) -> Any:
        app = create_app(self._config)
        app.add_middleware(ReplicaTagMiddleware, replica=self.replica_id)
        logger.info("replica %s: serving", self.replica_id)
        return app


RealtimeDeployment = serve.deployment(serve.ingress()(RealtimeReplica))
