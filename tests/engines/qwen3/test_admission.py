"""The worker's inline prefill budget: about one step once rows are heard, everything before."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from realtime.engines.qwen3.admission import PrefillBudget


def measured(step_s: float, position_s: float, steps: float = 1.0) -> PrefillBudget:
    budget = PrefillBudget(steps)
    budget.record_step(step_s)
    budget.record_prefill(10, 10 * position_s)
    return budget


def test_before_anyone_is_heard_every_piece_is_allowed() -> None:
    budget = measured(step_s=1.0, position_s=0.5)
    assert budget.allows(100.0, 32, heard=False)


def test_the_first_piece_of_an_iteration_is_always_allowed_even_on_no_estimate() -> None:
    assert PrefillBudget().allows(0.0, 32, heard=True)
    assert measured(step_s=0.001, position_s=10.0).allows(0.0, 32, heard=True)


def test_without_estimates_only_one_piece_runs_per_iteration() -> None:
    assert not PrefillBudget().allows(0.1, 1, heard=True)


def test_a_newcomer_that_costs_about_a_step_is_prefilled_whole_once_heard() -> None:
    budget = measured(step_s=1.0, position_s=0.018)  # the full-size CPU figures: a 54-position prompt is ~1 step
    assert budget.allows(32 * 0.018, 22, heard=True)


def test_prefill_stops_where_the_next_piece_would_stall_the_batch_beyond_a_step() -> None:
    budget = measured(step_s=1.0, position_s=0.02)
    assert budget.allows(0.3, 32, heard=True)  # 0.3 + 0.64 <= 1.0
    assert not budget.allows(0.5, 32, heard=True)  # 0.5 + 0.64 > 1.0


def test_zero_steps_means_one_piece_per_iteration() -> None:
    budget = measured(step_s=1.0, position_s=0.0001, steps=0)
    assert budget.allows(0.0, 32, heard=True)
    assert not budget.allows(0.001, 1, heard=True)


def test_estimates_follow_the_newest_measurements() -> None:
    budget = PrefillBudget()
    for _ in range(30):
        budget.record_step(2.0)
        budget.record_prefill(4, 0.4)
    assert budget.step_s == pytest.approx(2.0) and budget.position_s == pytest.approx(0.1)
    budget.record_prefill(0, 5.0)  # an empty piece tells nothing
    assert budget.position_s == pytest.approx(0.1)


def test_a_negative_allowance_is_refused() -> None:
    with pytest.raises(ValueError):
        PrefillBudget(-1.0)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    steps=st.floats(0, 4),
    samples=st.lists(st.tuples(st.floats(0, 10), st.integers(1, 512), st.floats(0, 10)), min_size=1, max_size=8),
    spent=st.floats(0.0001, 20),
    positions=st.integers(1, 512),
)
def test_once_heard_a_further_piece_never_takes_the_stall_past_the_allowance(
    steps: float, samples: list[tuple[float, int, float]], spent: float, positions: int
) -> None:
    budget = PrefillBudget(steps)
    for step_s, piece, piece_s in samples:
        budget.record_step(step_s)
        budget.record_prefill(piece, piece_s)
    assert budget.step_s is not None and budget.position_s is not None
    if budget.allows(spent, positions, heard=True):
        assert spent + positions * budget.position_s <= steps * budget.step_s
