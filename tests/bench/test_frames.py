"""The step-loop benchmark runs on a tiny checkpoint and reports figures (printed, not asserted on speed)."""

from __future__ import annotations

import math
from typing import Any

from realtime.bench.frames import bench_frames
from tests.support.qwen_models import qwen_models  # noqa: F401  (fixture)


def test_bench_frames_measures_both_paths_on_the_same_frames(qwen_models: dict[str, Any]) -> None:  # noqa: F811
    result = bench_frames(qwen_models["custom_voice"], frames=8, repeats=1)
    print("\n" + result.describe())
    assert result.frames == 8 and result.repeats == 1
    figures = (result.ours_first_frame_ms, result.ours_ms_per_frame, result.official_call_ms, result.official_ms_per_frame)
    assert all(math.isfinite(value) and value > 0 for value in figures)
    assert result.ours_total_ms >= result.ours_first_frame_ms
    assert result.official_call_ms >= result.official_first_frame_inside_ms
