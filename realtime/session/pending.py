"""Connections that have not started a session yet: a small pool apart from the session slots.

A socket holds a session slot only once its `session.start` is accepted. Until then it
waits here, bounded in total and per client address, for at most the start timeout, so
connections that never start (keyless squatters, scanners) cannot take the slots keyed
clients need: at worst they fill this pool, and only their own address's share of it.
"""

from __future__ import annotations


class PendingConnections:
    def __init__(self, max_total: int, max_per_client: int) -> None:
        self.max_total = max_total
        self.max_per_client = max_per_client
        self._by_client: dict[str, int] = {}
        self.total = 0

    def try_enter(self, client: str) -> bool:
        """Take a place for a connection from `client` (its address), or False when the pool or its share is full."""
        held = self._by_client.get(client, 0)
        if self.total >= self.max_total or held >= self.max_per_client:
            return False
        self._by_client[client] = held + 1
        self.total += 1
        return True

    def leave(self, client: str) -> None:
        held = self._by_client.get(client, 0)
        if held <= 0:
            return
        if held == 1:
            del self._by_client[client]  # no entry outlives its connections
        else:
            self._by_client[client] = held - 1
        self.total -= 1

    @property
    def clients(self) -> int:
        return len(self._by_client)
