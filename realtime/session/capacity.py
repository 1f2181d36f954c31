"""How many sessions the server runs at once."""

from __future__ import annotations


class SessionSlots:
    """A counter of open sessions with a fixed ceiling (the engine's capacity)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.active = 0

    def try_acquire(self) -> bool:
        if self.active >= self.limit:
            return False
        self.active += 1
        return True

    def release(self) -> None:
        self.active = max(0, self.active - 1)
