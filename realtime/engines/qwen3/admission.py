"""How much prefill the batch worker may run inline per iteration: about one step's worth.

Newcomers' prefill competes with the rows already speaking. The worker's rule: while some
row has been heard (its first chunk left), newcomers may stall the batch by about one
step per iteration, never more; so it prefills inline only as many prompt pieces as fit in
the time one step (code predictor + decoders + talker, for the current batch) has been
taking, and always at least one piece, so a newcomer progresses even when no prefill lane
helps. While no row has been heard yet, nobody is waiting on the batch: then every
newcomer is prefilled before the first code-predictor pass, so streams arriving together
get their first audio together (their time to first audio is the group's, not one
iteration later per stream).

The costs are measured as the worker goes (exponential moving averages), so the budget
follows the hardware: on a CPU a 54-position prompt costs about one step; on a GPU far
less, and several newcomers fit in one step. Pure arithmetic: the caller passes the times.
"""

from __future__ import annotations

from dataclasses import dataclass

_SMOOTHING = 0.3  # weight of the newest measurement in the moving averages


@dataclass(slots=True)
class PrefillBudget:
    """Running estimates of one step's time and one prompt position's prefill time.

    `steps` is the stall allowed per iteration, in steps (1.0: "about one step").
    """

    steps: float = 1.0
    step_s: float | None = None
    position_s: float | None = None

    def __post_init__(self) -> None:
        if self.steps < 0:
            raise ValueError(f"steps must be >= 0, got {self.steps}")

    def record_step(self, seconds: float) -> None:
        """One iteration's batched work (predictor, decoders, talker) took `seconds`."""
        self.step_s = _averaged(self.step_s, seconds)

    def record_prefill(self, positions: int, seconds: float) -> None:
        """A prefill piece of `positions` prompt positions took `seconds`."""
        if positions > 0:
            self.position_s = _averaged(self.position_s, seconds / positions)

    def allows(self, spent_s: float, positions: int, *, heard: bool) -> bool:
        """May the worker run a further piece of `positions` now, having spent `spent_s` on prefill
        this iteration? Always while no row has been heard; otherwise the first piece, then only
        what fits within `steps` steps (never on a guess: unknown costs allow one piece)."""
        if not heard or spent_s <= 0:
            return True
        if self.step_s is None or self.position_s is None:
            return False
        return spent_s + positions * self.position_s <= self.steps * self.step_s


def _averaged(current: float | None, sample: float) -> float:
    sample = max(sample, 0.0)
    return sample if current is None else (1 - _SMOOTHING) * current + _SMOOTHING * sample
