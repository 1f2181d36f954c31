"""Placement by free capacity: each new connection or request goes to the least loaded replica.

Serve's default router probes two random replicas and takes the less loaded: with three or
more it can pick two busy ones while a third sits idle. Here every replica is a candidate,
ranked together, so Serve's own selection (its queue-length cache, probing replicas whose
entry is stale or full, skipping replicas at `max_ongoing_requests`) takes the one with the
fewest ongoing requests: for this server, a replica's sessions, its connections waiting to
start and its HTTP streams.

One exception, for operators: a request with the header `x-session-id: replica=<id>` (Serve's
session header) goes to that replica while it runs, e.g. to scrape each replica's /metrics.
The proxy runs this class; it imports Ray.
"""

from __future__ import annotations

from ray.serve.request_router import FIFOMixin, PendingRequest, RequestRouter, RunningReplica

PIN_PREFIX = "replica="


def pinned_replica(session_id: str) -> str | None:
    """The replica id a request's session header names, if it names one."""
    return session_id[len(PIN_PREFIX):] if session_id.startswith(PIN_PREFIX) else None


class LeastLoadedRouter(FIFOMixin, RequestRouter):
    async def choose_replicas(
        self, candidate_replicas: list[RunningReplica], pending_request: PendingRequest | None = None
    ) -> list[list[RunningReplica]]:
        if not candidate_replicas:
            return []
        pinned = pinned_replica(pending_request.metadata.session_id) if pending_request is not None else None
        if pinned is not None:
            named = [r for r in candidate_replicas if r.replica_id.unique_id == pinned]
            if named:
                return [named]
        return [list(candidate_replicas)]
