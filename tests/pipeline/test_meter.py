"""StreamMeter: one stream's figures, measured alike on both doors and reported to the metrics once."""

from __future__ import annotations

from realtime.metrics import Metrics
from realtime.pipeline.meter import StreamMeter
from tests.test_metrics import sample


def test_a_finished_stream_feeds_ttfa_rtf_and_audio_seconds_once() -> None:
    metrics = Metrics()
    meter = StreamMeter(ready_at=10.0, first_audio_at=10.03, engine_s=0.06, audio_s=1.5)
    assert meter.rtf is not None and abs(meter.rtf - 0.04) < 1e-12
    meter.report(metrics, "websocket")
    meter.report(metrics, "websocket")  # a second report (a stream ending twice) counts nothing
    assert sample(metrics, "realtime_tts_time_to_first_audio_seconds_count", transport="websocket") == 1
    assert abs(sample(metrics, "realtime_tts_time_to_first_audio_seconds_sum", transport="websocket") - 0.03) < 1e-9
    assert sample(metrics, "realtime_tts_real_time_factor_bucket", transport="websocket", le="0.05") == 1
    assert sample(metrics, "realtime_tts_audio_seconds_total", transport="websocket") == 1.5
    assert sample(metrics, "realtime_tts_audio_seconds_total", transport="http") == 0


def test_a_stream_without_audio_counts_no_ttfa_and_no_rtf() -> None:
    metrics = Metrics()
    meter = StreamMeter()
    meter.ready()
    assert meter.ttfa_s is None and meter.rtf is None
    meter.report(metrics, "http")
    assert sample(metrics, "realtime_tts_time_to_first_audio_seconds_count", transport="http") == 0
    assert sample(metrics, "realtime_tts_real_time_factor_count", transport="http") == 0


def test_only_the_first_ready_and_first_audio_count() -> None:
    meter = StreamMeter()
    meter.ready()
    meter.first_audio()
    ready, first = meter.ready_at, meter.first_audio_at
    meter.ready()
    meter.first_audio()
    assert (meter.ready_at, meter.first_audio_at) == (ready, first)
    assert meter.ttfa_s is not None and meter.ttfa_s >= 0
