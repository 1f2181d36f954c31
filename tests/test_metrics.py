"""The metrics registry: what a socket message or an HTTP request changes in the exposition."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from realtime.metrics import Metrics, route_label


def sample(metrics: Metrics, metric: str, **labels: str) -> float:
    """One sample's value in the text exposition (0 when absent), read as a scraper would."""
    for family in text_string_to_metric_families(metrics.exposition().decode()):
        for s in family.samples:
            if s.name == metric and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return 0.0


def test_a_done_message_is_not_counted_again_streams_report_through_their_meter() -> None:
    metrics = Metrics()
    metrics.observe_message({"type": "done", "ttfa_ms": 30.0, "rtf": 0.05, "audio_ms": 1500.0})
    assert sample(metrics, "realtime_tts_time_to_first_audio_seconds_count", transport="websocket") == 0
    assert sample(metrics, "realtime_tts_audio_seconds_total", transport="websocket") == 0


def test_errors_are_counted_by_code() -> None:
    metrics = Metrics()
    metrics.observe_message({"type": "error", "code": 4104, "name": "unknown_voice"})
    metrics.observe_message({"type": "error", "code": 4104, "name": "unknown_voice"})
    metrics.error("http", 400, "invalid_value")
    assert sample(metrics, "realtime_tts_errors_total", transport="websocket", code="4104") == 2
    assert sample(metrics, "realtime_tts_errors_total", transport="http", code="400", name="invalid_value") == 1


def test_sessions_active_goes_up_and_down() -> None:
    metrics = Metrics()
    metrics.session_opened("http")
    metrics.session_opened("http")
    metrics.session_closed("http")
    assert sample(metrics, "realtime_tts_sessions_active", transport="http") == 1
    assert sample(metrics, "realtime_tts_sessions_total", transport="http") == 2


def test_model_loads_by_outcome() -> None:
    metrics = Metrics()
    metrics.model_loaded("hibari", 0.4, ok=True)
    metrics.model_loaded("qwen", 1.0, ok=False)
    assert sample(metrics, "realtime_tts_model_loads_total", model="hibari", outcome="success") == 1
    assert sample(metrics, "realtime_tts_model_loads_total", model="qwen", outcome="failure") == 1
    assert sample(metrics, "realtime_tts_model_load_seconds_count", model="qwen") == 0


def test_two_registries_do_not_share_figures() -> None:
    first, second = Metrics(), Metrics()
    first.session_opened("websocket")
    assert sample(second, "realtime_tts_sessions_total", transport="websocket") == 0


def test_route_label_is_bounded() -> None:
    assert route_label("/v1/audio/speech") == "/v1/audio/speech"
    assert route_label("/v1/models/hibari") == "/v1/models/{model}"
    assert route_label("/anything/a/client/makes/up") == "other"


def test_a_model_managers_counters_are_read_at_each_scrape() -> None:
    from realtime.engines.qwen3.manager import ManagerStats

    current = {"stats": ManagerStats(loads=0, load_failures=0, unloads=0, loaded=(), leases=0)}
    metrics = Metrics()
    metrics.watch_model_manager(lambda: current["stats"])
    assert sample(metrics, "realtime_tts_model_manager_loads_total") == 0
    current["stats"] = ManagerStats(loads=2, load_failures=1, unloads=1, loaded=("qwen-0.6b",), leases=3)
    assert sample(metrics, "realtime_tts_model_manager_loads_total") == 2
    assert sample(metrics, "realtime_tts_model_manager_load_failures_total") == 1
    assert sample(metrics, "realtime_tts_model_manager_unloads_total") == 1
    assert sample(metrics, "realtime_tts_models_loaded", model="qwen-0.6b") == 1
    assert sample(metrics, "realtime_tts_model_leases") == 3


def test_each_models_batch_is_read_at_each_scrape() -> None:
    from realtime.engines.qwen3.scheduler import SchedulerStats

    current = {"qwen-0.6b": SchedulerStats(active=0, waiting=0, iterations=0, largest_batch=0)}
    metrics = Metrics()
    metrics.watch_batches(lambda: current)
    assert sample(metrics, "realtime_tts_batch_rows", model="qwen-0.6b") == 0
    current["qwen-0.6b"] = SchedulerStats(active=5, waiting=2, iterations=40, largest_batch=5)
    assert sample(metrics, "realtime_tts_batch_rows", model="qwen-0.6b") == 5
    assert sample(metrics, "realtime_tts_batch_waiting", model="qwen-0.6b") == 2
    assert sample(metrics, "realtime_tts_batch_iterations_total", model="qwen-0.6b") == 40
