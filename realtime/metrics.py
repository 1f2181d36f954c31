"""Prometheus metrics, fed by WebSocket sessions, HTTP speech requests and model loads.

One registry per app (not the process-global one), so several servers in one process,
as in the tests, keep their own figures. `transport` is `websocket` or `http`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Protocol

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

TTFA_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
RTF_BUCKETS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)
# `*_created` timestamps only double the exposition; nothing here reads them.
disable_created_metrics()

HTTP_ROUTES = ("/v1/audio/speech", "/v1/audio/voices", "/v1/models", "/health", "/ready", "/metrics")


class Metrics:
    """The server's counters; every method is cheap and safe to call on the event loop."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.sessions_active = Gauge(
            "realtime_tts_sessions_active", "Sessions (sockets or speech requests) running now", ["transport"], registry=r
        )
        self.sessions = Counter("realtime_tts_sessions", "Sessions admitted", ["transport"], registry=r)
        self.ttfa = Histogram(
            "realtime_tts_time_to_first_audio_seconds",
            "From a stream's first segment being ready to its first audio handed to the client",
            ["transport"], buckets=TTFA_BUCKETS, registry=r,
        )
        self.rtf = Histogram(
            "realtime_tts_real_time_factor", "Engine compute time / audio time, per finished stream",
            ["transport"], buckets=RTF_BUCKETS, registry=r,
        )
        self.audio_seconds = Counter(
            "realtime_tts_audio_seconds", "Seconds of audio streamed to clients", ["transport"], registry=r
        )
        self.errors = Counter(
            "realtime_tts_errors", "Errors reported to clients, by protocol code (socket) or HTTP status",
            ["transport", "code", "name"], registry=r,
        )
        self.model_loads = Counter(
            "realtime_tts_model_loads", "Model loads, by outcome", ["model", "outcome"], registry=r
        )
        self.model_load_seconds = Histogram(
            "realtime_tts_model_load_seconds", "Time to load (and warm) a model", ["model"],
            buckets=(0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0), registry=r,
        )
        self.queued_bytes = Gauge(
            "realtime_tts_queued_bytes", "Bytes of messages queued toward socket clients, not yet sent", registry=r
        )
        self.http_requests = Counter(
            "realtime_tts_http_requests", "HTTP requests answered, by route and status",
            ["route", "method", "status"], registry=r,
        )

    # -- sessions and streams ----------------------------------------------------------------
    def session_opened(self, transport: str) -> None:
        self.sessions.labels(transport).inc()
        self.sessions_active.labels(transport).inc()

    def session_closed(self, transport: str) -> None:
        self.sessions_active.labels(transport).dec()

    def stream_done(self, transport: str, ttfa_s: float | None, rtf: float | None, audio_s: float) -> None:
        if ttfa_s is not None:
            self.ttfa.labels(transport).observe(ttfa_s)
        if rtf is not None:
            self.rtf.labels(transport).observe(rtf)
        if audio_s > 0:
            self.audio_seconds.labels(transport).inc(audio_s)

    def error(self, transport: str, code: int, name: str) -> None:
        self.errors.labels(transport, str(code), name).inc()

    def observe_message(self, message: dict[str, Any]) -> None:
        """A protocol message on its way to a socket client: count errors.

        Finished streams are not read back from `done` messages: each stream's pipeline
        reports its own figures once (realtime/pipeline/meter.py), for both doors.
        """
        if message.get("type") == "error":
            self.error("websocket", int(message.get("code", 0)), str(message.get("name", "")))

    # -- models ------------------------------------------------------------------------------
    def model_loaded(self, model: str, seconds: float, ok: bool) -> None:
        self.model_loads.labels(model, "success" if ok else "failure").inc()
        if ok:
            self.model_load_seconds.labels(model).observe(seconds)

    def watch_model_manager(self, stats: Callable[[], ModelManagerStats]) -> None:
        """Expose a model manager's own counters (lazy loads, unloads), read at each scrape."""
        self.registry.register(_ModelManagerCollector(stats))

    def watch_batches(self, stats: Callable[[], dict[str, BatchStats]]) -> None:
        """Expose each model's batch scheduler (rows stepping, rows waiting, iterations), read at each scrape."""
        self.registry.register(_BatchCollector(stats))

    # -- exposition --------------------------------------------------------------------------
    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class ModelManagerStats(Protocol):
    """What a model manager reports (realtime.engines.qwen3.manager.ManagerStats has this shape)."""

    @property
    def loads(self) -> int: ...
    @property
    def load_failures(self) -> int: ...
    @property
    def unloads(self) -> int: ...
    @property
    def loaded(self) -> tuple[str, ...]: ...
    @property
    def leases(self) -> int: ...


class BatchStats(Protocol):
    """What a batch scheduler reports (realtime.engines.qwen3.scheduler.SchedulerStats has this shape)."""

    @property
    def active(self) -> int: ...
    @property
    def waiting(self) -> int: ...
    @property
    def iterations(self) -> int: ...


class _BatchCollector(Collector):
    def __init__(self, stats: Callable[[], dict[str, BatchStats]]) -> None:
        self._stats = stats

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        rows = GaugeMetricFamily("realtime_tts_batch_rows", "Streams a model steps together now", labels=["model"])
        waiting = GaugeMetricFamily("realtime_tts_batch_waiting", "Streams waiting for a place in the batch", labels=["model"])
        steps = CounterMetricFamily("realtime_tts_batch_iterations", "Batched iterations run", labels=["model"])
        for model, stats in self._stats().items():
            rows.add_metric([model], stats.active)
            waiting.add_metric([model], stats.waiting)
            steps.add_metric([model], stats.iterations)
        yield rows
        yield waiting
        yield steps


class _ModelManagerCollector(Collector):
    def __init__(self, stats: Callable[[], ModelManagerStats]) -> None:
        self._stats = stats

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        stats = self._stats()
        yield CounterMetricFamily("realtime_tts_model_manager_loads", "Models loaded by the manager", value=stats.loads)
        yield CounterMetricFamily(
            "realtime_tts_model_manager_load_failures", "Model loads that failed", value=stats.load_failures
        )
        yield CounterMetricFamily("realtime_tts_model_manager_unloads", "Models unloaded (idle or shutdown)", value=stats.unloads)
        loaded = GaugeMetricFamily("realtime_tts_models_loaded", "Models in memory now (1 each)", labels=["model"])
        for name in stats.loaded:
            loaded.add_metric([name], 1)
        yield loaded
        yield GaugeMetricFamily("realtime_tts_model_leases", "Voices holding a model now", value=stats.leases)


def route_label(path: str) -> str:
    """A bounded label for a request path: a known route, or `other` (clients must not grow the label set)."""
    if path in HTTP_ROUTES:
        return path
    if path.startswith("/v1/models/"):
        return "/v1/models/{model}"
    return "other"


class HttpMetricsMiddleware:
    """Counts every HTTP response by route, method and status (WebSockets and lifespan pass through)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # an application that fails before starting its response

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            self.metrics.http_requests.labels(route_label(scope["path"]), scope["method"], str(status)).inc()
