"""Placement by free capacity: each new connection or request goes to the least loaded replica.

Serve's default router probes two random replicas and takes the less loaded: with three or
more it can pick two busy ones while a third sits idle. Here every replica is a candidate,
ranked together, so Serve's own selection (its queue-length cache, probing replicas whose
entry is stale or full, skipping replicas at `max_ongoing_requests`) takes the one with the
fewest ongoing requests: for this server, a replica's sessions, its connections waiting to
start and its HTTP streams. The proxy runs this class; it imports Ray.
"""

from __future__ import annotations

from ray.serve.request_router import FIFOMixin, PendingRequest, RequestRouter, RunningReplica


class LeastLoadedRouter(FIFOMixin, RequestRouter):
    async def choose_replicas(
        self, candidate_replicas: list[RunningReplica], pending_request: PendingRequest | None = None
    ) -> list[list[RunningReplica]]:
        return [list(candidate_replicas)] if candidate_replicas else []
