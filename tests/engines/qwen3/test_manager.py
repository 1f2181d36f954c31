"""ModelManager: lazy loading, shared leases, per-model locks, idle unloading, failures, shutdown."""

from __future__ import annotations

import gc
import threading
import time
import weakref
from pathlib import Path
from typing import Any

import pytest

from realtime.engines.qwen3.checkpoints import Checkpoint, read_checkpoint
from realtime.engines.qwen3.manager import ManagerClosed, ModelLoadError, ModelManager, official_loader
from realtime.engines.qwen3.runtime import LoadOptions


def checkpoint(name: str) -> Checkpoint:
    return Checkpoint(name=name, path=Path("/nowhere") / name, model_type="base", size="1b7", speakers=(),
                      languages=("auto",), accepts_instruct=False)


class FakeModel:
    def __init__(self, name: str) -> None:
        self.name = name


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class RecordingLoader:
    """Counts loads per model; can be told to fail or to wait on an event."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.failures: dict[str, Exception] = {}
        self.gates: dict[str, threading.Event] = {}
        self.started: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def __call__(self, cp: Checkpoint) -> FakeModel:
        with self._lock:
            self.calls.append(cp.name)
        self.started.setdefault(cp.name, threading.Event()).set()
        gate = self.gates.get(cp.name)
        if gate is not None:
            assert gate.wait(10), f"{cp.name}: gate never opened"
        if cp.name in self.failures:
            raise self.failures[cp.name]
        return FakeModel(cp.name)


@pytest.fixture
def loader() -> RecordingLoader:
    return RecordingLoader()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def manager(loader: RecordingLoader, clock: FakeClock) -> Any:
    manager = ModelManager(loader, idle_timeout_s=60, retry_after_s=5, clock=clock, background_sweep=False)
    yield manager
    manager.shutdown()


def test_nothing_loads_until_the_first_acquire(manager: ModelManager, loader: RecordingLoader) -> None:
    assert loader.calls == [] and manager.stats().loaded == ()
    with manager.acquire(checkpoint("a")) as lease:
        assert lease.model.name == "a"
    assert loader.calls == ["a"] and manager.stats().loaded == ("a",) and manager.stats().loads == 1


def test_leases_share_one_loaded_model(manager: ModelManager, loader: RecordingLoader) -> None:
    first, second = manager.acquire(checkpoint("a")), manager.acquire(checkpoint("a"))
    assert first.model is second.model and loader.calls == ["a"]
    assert manager.stats().leases == 2
    first.release()
    first.release()  # idempotent: the count drops once
    assert manager.stats().leases == 1
    second.release()
    assert manager.stats().leases == 0


def test_a_released_lease_no_longer_hands_out_the_model(manager: ModelManager) -> None:
    lease = manager.acquire(checkpoint("a"))
    lease.release()
    assert lease.released
    with pytest.raises(RuntimeError, match="released"):
        lease.model  # noqa: B018


def test_an_idle_model_is_unloaded_after_the_timeout_only(manager: ModelManager, loader: RecordingLoader, clock: FakeClock) -> None:
    manager.acquire(checkpoint("a")).release()
    clock.now += 59
    assert manager.sweep() == [] and manager.stats().loaded == ("a",)
    clock.now += 1
    assert manager.sweep() == ["a"]
    assert manager.stats().loaded == () and manager.stats().unloads == 1
    manager.acquire(checkpoint("a")).release()  # loaded again on demand
    assert loader.calls == ["a", "a"]


def test_a_leased_model_is_never_unloaded_for_idleness(manager: ModelManager, clock: FakeClock) -> None:
    lease = manager.acquire(checkpoint("a"))
    clock.now += 3600
    assert manager.sweep() == []
    lease.release()
    clock.now += 30
    assert manager.sweep() == []  # idle time counts from the last release
    clock.now += 30
    assert manager.sweep() == ["a"]


def test_unloading_drops_every_reference_to_the_model(manager: ModelManager, clock: FakeClock) -> None:
    lease = manager.acquire(checkpoint("a"))
    model = weakref.ref(lease.model)
    lease.release()
    clock.now += 60
    manager.sweep()
    gc.collect()
    assert model() is None


def test_no_idle_timeout_keeps_models_until_shutdown(loader: RecordingLoader, clock: FakeClock) -> None:
    manager = ModelManager(loader, idle_timeout_s=0, clock=clock)
    manager.acquire(checkpoint("a")).release()
    clock.now += 10**6
    assert manager.sweep() == [] and manager.stats().loaded == ("a",)
    manager.shutdown()


def test_a_failed_load_is_typed_reported_and_retried_after_the_back_off(
    manager: ModelManager, loader: RecordingLoader, clock: FakeClock
) -> None:
    cause = OSError("disk on fire")
    loader.failures["a"] = cause
    with pytest.raises(ModelLoadError, match="disk on fire") as raised:
        manager.acquire(checkpoint("a"))
    assert raised.value.__cause__ is cause and raised.value.name == "a"
    clock.now += 1
    with pytest.raises(ModelLoadError, match="disk on fire"):  # within the back-off: answered at once
        manager.acquire(checkpoint("a"))
    assert loader.calls == ["a"]
    del loader.failures["a"]
    clock.now += 5
    with manager.acquire(checkpoint("a")) as lease:  # not cached forever
        assert lease.model.name == "a"
    stats = manager.stats()
    assert loader.calls == ["a", "a"] and stats.load_failures == 1 and stats.loads == 1


def test_two_models_load_at_the_same_time(manager: ModelManager, loader: RecordingLoader) -> None:
    loader.gates["a"], loader.gates["b"] = threading.Event(), threading.Event()
    results: dict[str, Any] = {}

    def take(name: str) -> None:
        results[name] = manager.acquire(checkpoint(name))

    threads = [threading.Thread(target=take, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    # Both loaders are running before either may finish: no lock is shared between them.
    assert loader.started.setdefault("a", threading.Event()).wait(5)
    assert loader.started.setdefault("b", threading.Event()).wait(5)
    loader.gates["a"].set()
    loader.gates["b"].set()
    for thread in threads:
        thread.join(5)
    assert sorted(results) == ["a", "b"] and manager.stats().loaded == ("a", "b")


def test_a_loaded_model_is_handed_out_while_another_loads(manager: ModelManager, loader: RecordingLoader) -> None:
    manager.acquire(checkpoint("a")).release()
    loader.gates["b"] = threading.Event()
    slow = threading.Thread(target=lambda: manager.acquire(checkpoint("b")).release())
    slow.start()
    assert loader.started.setdefault("b", threading.Event()).wait(5)
    with manager.acquire(checkpoint("a")) as lease:
        assert lease.model.name == "a"
    loader.gates["b"].set()
    slow.join(5)
    assert not slow.is_alive()


def test_concurrent_acquires_of_one_model_load_it_once(manager: ModelManager, loader: RecordingLoader) -> None:
    loader.gates["a"] = threading.Event()
    leases: list[Any] = []
    threads = [threading.Thread(target=lambda: leases.append(manager.acquire(checkpoint("a")))) for _ in range(4)]
    for thread in threads:
        thread.start()
    assert loader.started.setdefault("a", threading.Event()).wait(5)
    time.sleep(0.05)
    loader.gates["a"].set()
    for thread in threads:
        thread.join(5)
    assert loader.calls == ["a"] and len(leases) == 4
    assert len({id(lease.model) for lease in leases}) == 1 and manager.stats().leases == 4


def test_shutdown_frees_every_model_and_refuses_new_leases(manager: ModelManager) -> None:
    lease = manager.acquire(checkpoint("a"))
    model = weakref.ref(lease.model)
    manager.acquire(checkpoint("b")).release()
    lease.release()
    manager.shutdown()
    gc.collect()
    assert model() is None and manager.stats().loaded == () and manager.stats().unloads == 2
    with pytest.raises(ManagerClosed):
        manager.acquire(checkpoint("a"))
    manager.shutdown()  # idempotent


def test_a_lease_released_after_shutdown_is_harmless(manager: ModelManager) -> None:
    lease = manager.acquire(checkpoint("a"))
    manager.shutdown()
    lease.release()
    assert manager.stats().leases == 0


def test_the_background_sweeper_unloads_an_idle_model(loader: RecordingLoader) -> None:
    manager = ModelManager(loader, idle_timeout_s=0.2)
    try:
        manager.acquire(checkpoint("a")).release()
        deadline = time.monotonic() + 10
        while manager.stats().loaded and time.monotonic() < deadline:
            time.sleep(0.02)
        assert manager.stats().loaded == () and manager.stats().unloads == 1
    finally:
        manager.shutdown()


def test_the_real_loader_shares_and_unloads_a_tiny_checkpoint(tiny_checkpoints: dict[str, Path], clock: FakeClock) -> None:
    loader = official_loader(LoadOptions(device="cpu", dtype="float32"))
    manager = ModelManager(loader, idle_timeout_s=30, clock=clock, background_sweep=False)
    try:
        cp = read_checkpoint(tiny_checkpoints["custom_voice"])
        with manager.acquire(cp) as first, manager.acquire(cp) as second:
            assert first.model is second.model
            assert first.model.model.tts_model_type == "custom_voice"
            model = weakref.ref(first.model)
        clock.now += 30
        assert manager.sweep() == [cp.name]
        gc.collect()
        assert model() is None
        broken = Checkpoint(name="missing", path=tiny_checkpoints["base"].parent / "missing", model_type="base",
                            size="1b7", speakers=(), languages=("auto",), accepts_instruct=False)
        with pytest.raises(ModelLoadError, match="missing"):
            manager.acquire(broken)
    finally:
        manager.shutdown()


def test_lease_if_loaded_never_loads_and_never_waits(manager: ModelManager, loader: RecordingLoader) -> None:
    assert manager.lease_if_loaded(checkpoint("a")) is None
    assert loader.calls == []
    loader.gates["a"] = threading.Event()
    loading = threading.Thread(target=lambda: manager.acquire(checkpoint("a")).release())
    loading.start()
    assert loader.started.setdefault("a", threading.Event()).wait(10)
    assert manager.lease_if_loaded(checkpoint("a")) is None  # while it loads: at once, no lease
    loader.gates["a"].set()
    loading.join(10)
    with manager.lease_if_loaded(checkpoint("a")) as lease:
        assert lease is not None and lease.model.name == "a" and manager.stats().leases == 1
    assert loader.calls == ["a"] and manager.stats().leases == 0
    manager.shutdown()
    with pytest.raises(ManagerClosed):
        manager.lease_if_loaded(checkpoint("a"))
