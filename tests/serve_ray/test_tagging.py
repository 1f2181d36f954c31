"""Every sample of a replica's /metrics carries its `replica` label, and the exposition stays valid."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from realtime.serve_ray.tagging import label_samples


def _exposition() -> str:
    registry = CollectorRegistry()
    Gauge("sessions_active", "Sessions now", ["transport"], registry=registry).labels("websocket").set(2)
    Counter("audio_seconds", "Audio made", registry=registry).inc(3.5)
    Histogram("ttfa_seconds", "First audio", buckets=(0.1, 1.0), registry=registry).observe(0.2)
    return generate_latest(registry).decode()


def test_every_sample_gets_the_replica_label_and_keeps_its_own() -> None:
    labelled = label_samples(_exposition(), "e5r5ef7v")
    samples = [s for family in text_string_to_metric_families(labelled) for s in family.samples]
    assert samples and all(s.labels["replica"] == "e5r5ef7v" for s in samples)
    assert any(s.labels.get("transport") == "websocket" and s.value == 2 for s in samples)
    assert any(s.labels.get("le") == "1.0" for s in samples)  # a histogram's buckets keep their bound
    assert [line for line in labelled.splitlines() if line.startswith("#")] == [
        line for line in _exposition().splitlines() if line.startswith("#")
    ]


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.text(min_size=1, max_size=40))
def test_any_replica_id_is_quoted_so_the_exposition_still_parses(replica: str) -> None:
    labelled = label_samples(_exposition(), replica)
    samples = [s for family in text_string_to_metric_families(labelled) for s in family.samples]
    assert samples and all(s.labels["replica"] == replica for s in samples)
