"""The storage contract for saved voices, whatever database sits behind it.

A store keeps voice records (metadata) and their tensors, and answers every question
scoped to an owner (a hash of the API key, "" when keys are off): another owner's voice
does not exist for the caller. Every write is one transaction: a create is all there or
not there at all, and the quota check happens inside the same transaction as the insert,
so concurrent creates cannot overrun a limit. Methods block: callers run them off the
event loop. SQLite (`sqlite.py`) is the default; PostgreSQL (`postgres.py`) serves several
replicas from one database; `opening.py` picks one from the configuration.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import numpy as np


class VoiceStoreError(Exception):
    """Base class of the store's errors."""


class VoiceNotFound(VoiceStoreError):
    """No such voice for this owner (deleted, never made, or another owner's)."""


class SchemaTooNew(VoiceStoreError):
    """The database was written by a newer version of the server: refused rather than misread."""


class VoiceStoreUnavailable(VoiceStoreError):
    """The store cannot be opened (database unreachable, bad URL, driver missing); said once, at start-up."""


class VoiceQuotaError(VoiceStoreError):
    """A create would overrun a limit; `limit` names which (`voices_per_key` or `store_bytes`)."""

    def __init__(self, limit: str, message: str) -> None:
        super().__init__(message)
        self.limit = limit


@dataclass(frozen=True, slots=True)
class Quota:
    """Limits a create is checked against, inside its transaction."""

    max_voices_per_owner: int = 100
    max_store_bytes: int = 256 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class VoiceRecord:
    """What is known about a voice without its tensors (listing, get)."""

    id: str
    owner: str
    name: str
    model: str
    family: str
    source: str  # clone | design | blend
    x_vector_only: bool
    ref_text: str | None
    language: str
    created_at: float
    size_bytes: int
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StoredVoice:
    """A record with its tensors (`x_vector`, and `ref_codes` for in-context voices)."""

    record: VoiceRecord
    tensors: dict[str, np.ndarray]


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a listing, oldest first; `has_more` says whether another page follows."""

    records: list[VoiceRecord]
    has_more: bool


class VoiceStore(ABC):
    """Saved voices, scoped by owner. Blocking; thread-safe."""

    @abstractmethod
    def create(self, voice: StoredVoice, quota: Quota) -> None:
        """Insert the voice and its tensors in one transaction, or raise VoiceQuotaError and change nothing."""

    @abstractmethod
    def get(self, owner: str, voice_id: str) -> StoredVoice:
        """The voice with its tensors, or VoiceNotFound."""

    @abstractmethod
    def record(self, owner: str, voice_id: str) -> VoiceRecord:
        """The voice's record alone, or VoiceNotFound."""

    @abstractmethod
    def list(self, owner: str, *, limit: int, after: str | None = None) -> Page:
        """Up to `limit` records, oldest first, after the voice `after` (VoiceNotFound if that one is unknown)."""

    @abstractmethod
    def rename(self, owner: str, voice_id: str, name: str) -> VoiceRecord:
        """Change the name; VoiceNotFound if absent."""

    @abstractmethod
    def delete(self, owner: str, voice_id: str) -> None:
        """Remove the voice and its tensors; VoiceNotFound if absent."""

    @abstractmethod
    def schema_version(self) -> int:
        """The version of the schema the store is at (migrated at open)."""

    @abstractmethod
    def integrity(self) -> list[str]:
        """Problems found in the stored data (tensors without voices, voices without an x_vector...); [] when sound."""

    def close(self) -> None:
        """Release connections."""
