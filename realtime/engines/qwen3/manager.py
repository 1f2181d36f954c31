"""ModelManager: loads models when first needed, shares them by lease, unloads idle ones.

Called from the engine's worker threads (never the event loop): `acquire` blocks while
the model loads. Each model has its own load lock, so two different models may load at the
same time (the official loaders take turns inside transformers, see runtime.py) and a loaded
model is handed out while another one loads; the manager's own lock only guards bookkeeping
and is never held across a load. A failed load is reported
as `ModelLoadError` (cause chained); for a short back-off the same error is returned at
once, then the next `acquire` tries again. A model whose leases are all released is
unloaded after `idle_timeout_s` by a background sweeper thread (or by calling `sweep`).

No torch import here: the loader does the heavy work, and it is injectable so the
bookkeeping is tested fast and deterministically.
"""

from __future__ import annotations

import gc
import logging
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from realtime.engines.qwen3.aligner_checkpoints import AlignerCheckpoint
from realtime.engines.qwen3.runtime import LoadOptions, load_aligner, load_model

log = logging.getLogger(__name__)


class ModelDirectory(Protocol):
    """What the manager needs of a model directory: a unique name and where it is (TTS or aligner checkpoints)."""

    @property
    def name(self) -> str: ...

    @property
    def path(self) -> Path: ...


Loader = Callable[[ModelDirectory], Any]
Clock = Callable[[], float]
LoadListener = Callable[[str, float, bool], None]

DEFAULT_IDLE_TIMEOUT_S = 300.0
DEFAULT_RETRY_AFTER_S = 2.0


def official_loader(options: LoadOptions) -> Loader:
    """The production loader: `Qwen3TTSModel.from_pretrained` on a TTS checkpoint's directory,
    `Qwen3ForcedAligner.from_pretrained` on an aligner's (the word-timestamp aligner)."""

    def load(checkpoint: ModelDirectory) -> Any:
        if isinstance(checkpoint, AlignerCheckpoint):
            return load_aligner(checkpoint.path, options)
        return load_model(checkpoint.path, options)

    return load


class ModelLoadError(RuntimeError):
    """A model could not be loaded; the cause is chained. A later acquire retries."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"cannot load model {name}: {message}")
        self.name = name


class ManagerClosed(RuntimeError):
    """acquire() after shutdown()."""


@dataclass(frozen=True, slots=True)
class ManagerStats:
    """Counters for /metrics."""

    loads: int
    load_failures: int
    unloads: int
    loaded: tuple[str, ...]
    leases: int


class _Slot:
    """One model's state. `load_lock` is held while loading; the rest is guarded by the manager's lock."""

    __slots__ = ("load_lock", "model", "leases", "idle_since", "generation", "failure", "failed_at")

    def __init__(self) -> None:
        self.load_lock = threading.Lock()
        self.model: Any = None
        self.leases = 0
        self.idle_since = 0.0
        self.generation = 0  # bumped at each load, so a stale lease cannot touch a reloaded model
        self.failure: BaseException | None = None
        self.failed_at = 0.0


class Lease:
    """A hold on one loaded model; release it (or use `with`) when done. Releasing twice is harmless."""

    __slots__ = ("checkpoint", "_model", "_manager", "_generation", "_released", "_lock")

    def __init__(self, manager: ModelManager, checkpoint: ModelDirectory, model: Any, generation: int) -> None:
        self.checkpoint = checkpoint
        self._model = model
        self._manager = manager
        self._generation = generation
        self._released = False
        self._lock = threading.Lock()

    @property
    def model(self) -> Any:
        if self._released:
            raise RuntimeError(f"the lease on {self.checkpoint.name} was released")
        return self._model

    @property
    def released(self) -> bool:
        return self._released

    def release(self) -> None:
        with self._lock:
            if self._released:
                return
            self._released = True
            self._model = None
        self._manager._release(self.checkpoint.name, self._generation)

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.release()


class ModelManager:
    """Lazy loading, lease sharing, idle unloading and shutdown for the models of one server."""

    def __init__(
        self,
        loader: Loader,
        *,
        idle_timeout_s: float | None = DEFAULT_IDLE_TIMEOUT_S,
        retry_after_s: float = DEFAULT_RETRY_AFTER_S,
        clock: Clock = time.monotonic,
        background_sweep: bool = True,
    ) -> None:
        """`idle_timeout_s` None or <= 0 keeps models until shutdown; `background_sweep=False` leaves
        idle unloading to explicit `sweep()` calls (tests, or a caller with its own timer)."""
        self._loader = loader
        self._idle_timeout_s = idle_timeout_s if idle_timeout_s and idle_timeout_s > 0 else None
        self._retry_after_s = retry_after_s
        self._clock = clock
        self._background_sweep = background_sweep and self._idle_timeout_s is not None
        self._lock = threading.Lock()
        self._slots: dict[str, _Slot] = {}
        self._closed = False
        self._loads = 0
        self._load_failures = 0
        self._unloads = 0
        self._sweeper: threading.Thread | None = None
        self._stop_sweeper = threading.Event()
        self._load_listeners: list[LoadListener] = []

    def on_load(self, listener: LoadListener) -> None:
        """Call `listener(name, seconds, ok)` after every load attempt (metrics); it must be cheap and thread-safe."""
        self._load_listeners.append(listener)

    def _report_load(self, name: str, started: float, ok: bool) -> None:
        for listener in self._load_listeners:
            try:
                listener(name, time.perf_counter() - started, ok)
            except Exception:  # noqa: BLE001  (a metrics hook must never break a load)
                log.exception("load listener failed")

    # -- leases --------------------------------------------------------------------------------

    def acquire(self, checkpoint: ModelDirectory) -> Lease:
        """A lease on the checkpoint's model, loading it first if needed (blocks meanwhile)."""
        name = checkpoint.name
        with self._lock:
            if self._closed:
                raise ManagerClosed("the model manager is shut down")
            slot = self._slots.setdefault(name, _Slot())
            self._start_sweeper()
        with slot.load_lock:
            with self._lock:
                if self._closed:
                    raise ManagerClosed("the model manager is shut down")
                if slot.model is not None:
                    return self._lease(slot, checkpoint)
                if slot.failure is not None and self._clock() - slot.failed_at < self._retry_after_s:
                    raise ModelLoadError(name, f"{slot.failure} (failed just now; retried on a later request)") from slot.failure
            log.info("loading model %s from %s", name, checkpoint.path)
            started = time.perf_counter()
            try:
                model = self._loader(checkpoint)
            except Exception as exc:  # noqa: BLE001  (any loader failure is reported, typed, to the caller)
                with self._lock:
                    slot.failure, slot.failed_at = exc, self._clock()
                    self._load_failures += 1
                log.warning("loading model %s failed: %s", name, exc)
                self._report_load(name, started, ok=False)
                raise ModelLoadError(name, str(exc)) from exc
            with self._lock:
                if self._closed:  # shut down while loading: do not keep it
                    del model
                    raise ManagerClosed("the model manager is shut down")
                slot.model, slot.failure = model, None
                slot.generation += 1
                self._loads += 1
                lease = self._lease(slot, checkpoint)
            log.info("loaded model %s in %.1f s", name, time.perf_counter() - started)
            self._report_load(name, started, ok=True)
            return lease

    def lease_if_loaded(self, checkpoint: ModelDirectory) -> Lease | None:
        """A lease on the model only when it is loaded now: never loads, never waits for a load (None then)."""
        with self._lock:
            if self._closed:
                raise ManagerClosed("the model manager is shut down")
            slot = self._slots.get(checkpoint.name)
            if slot is None or slot.model is None:
                return None
            return self._lease(slot, checkpoint)

    def _lease(self, slot: _Slot, checkpoint: ModelDirectory) -> Lease:
        slot.leases += 1
        return Lease(self, checkpoint, slot.model, slot.generation)

    def _release(self, name: str, generation: int) -> None:
        with self._lock:
            slot = self._slots.get(name)
            if slot is None or slot.generation != generation or slot.model is None:
                return  # the model was unloaded by shutdown meanwhile
            slot.leases -= 1
            if slot.leases == 0:
                slot.idle_since = self._clock()

    # -- unloading -----------------------------------------------------------------------------

    def sweep(self) -> list[str]:
        """Unload every model with no lease that has been idle for `idle_timeout_s`; returns their names."""
        if self._idle_timeout_s is None:
            return []
        now = self._clock()
        freed: list[Any] = []
        names: list[str] = []
        with self._lock:
            for name, slot in self._slots.items():
                if slot.model is not None and slot.leases == 0 and now - slot.idle_since >= self._idle_timeout_s:
                    freed.append(slot.model)
                    names.append(name)
                    slot.model = None
                    self._unloads += 1
                    log.info("unloaded model %s after %.0f s idle", name, now - slot.idle_since)
        if freed:
            freed.clear()
            _free_memory()
        return names

    def _start_sweeper(self) -> None:
        if not self._background_sweep or self._sweeper is not None:
            return
        assert self._idle_timeout_s is not None
        interval = min(max(self._idle_timeout_s / 4, 0.05), 30.0)
        self._sweeper = threading.Thread(target=self._sweep_forever, args=(interval,), name="model-idle-sweeper", daemon=True)
        self._sweeper.start()

    def _sweep_forever(self, interval: float) -> None:
        while not self._stop_sweeper.wait(interval):
            try:
                self.sweep()
            except Exception:  # noqa: BLE001  (the sweeper must survive anything a model's teardown raises)
                log.exception("idle model sweep failed")

    def shutdown(self) -> None:
        """Drop every model (leased or not), stop the sweeper and free the memory. Idempotent."""
        with self._lock:
            self._closed = True
            freed = [slot.model for slot in self._slots.values() if slot.model is not None]
            for slot in self._slots.values():
                if slot.model is not None:
                    self._unloads += 1
                slot.model, slot.leases = None, 0
            sweeper, self._sweeper = self._sweeper, None
        self._stop_sweeper.set()
        if sweeper is not None and sweeper is not threading.current_thread():
            sweeper.join(timeout=5)
        freed.clear()
        _free_memory()

    # -- metrics -------------------------------------------------------------------------------

    def stats(self) -> ManagerStats:
        with self._lock:
            return ManagerStats(
                loads=self._loads,
                load_failures=self._load_failures,
                unloads=self._unloads,
                loaded=tuple(sorted(name for name, slot in self._slots.items() if slot.model is not None)),
                leases=sum(slot.leases for slot in self._slots.values()),
            )


def _free_memory() -> None:
    """Collect the dropped models now and hand cached GPU memory back (torch only if already imported)."""
    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()
