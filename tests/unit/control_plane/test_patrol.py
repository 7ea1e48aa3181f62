"""The patrol (functions/reconcile/loop.py): a sweep runs beside the trailing reactions' flush, and
one still running when the patrol's time is up is cancelled, not waited for."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from functions.reconcile.loop import patrol


class Ticks:
    def __init__(self, after: int) -> None:
        self.count = 0
        self.enough = asyncio.Event()
        self.after = after

    async def tick(self) -> int:
        self.count += 1
        if self.count >= self.after:
            self.enough.set()
        return 1


class Sweeper:
    """A sweep that ends only once the flush has ticked while it ran (or never, with `until`)."""

    def __init__(self, until: asyncio.Event | None) -> None:
        self.until = until
        self.finished = asyncio.Event()
        self.cancelled = False

    async def sweep(self, *, budget_per_space: float) -> list[Any]:
        try:
            await (self.until.wait() if self.until is not None else asyncio.Event().wait())
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        self.finished.set()
        return []


async def test_a_long_sweep_does_not_hold_up_the_trailing_flush() -> None:
    ticks = Ticks(after=3)
    sweeper = Sweeper(until=ticks.enough)
    task = asyncio.create_task(patrol(sweeper, ticks, sweep_every=3600, budget_per_space=1))  # type: ignore[arg-type]
    try:
        # Were the ticks behind the sweep, neither would ever finish.
        await asyncio.wait_for(sweeper.finished.wait(), timeout=60)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert ticks.count >= 3


@pytest.mark.parametrize("sweep_first", [True, False], ids=["the first sweep", "a later sweep"])
async def test_a_sweep_still_running_when_time_is_up_is_cancelled(sweep_first: bool) -> None:
    """The first sweep too: a Lambda must end before its timeout and the next scheduled start."""
    ticks, sweeper = Ticks(after=1), Sweeper(until=None)
    done = await patrol(
        sweeper,  # type: ignore[arg-type]
        ticks,  # type: ignore[arg-type]
        sweep_every=0,
        budget_per_space=1,
        until=time.monotonic() + 0.6,
        sweep_first=sweep_first,
    )
    assert sweeper.cancelled and done.sweeps == 0 and done.flushed == ticks.count >= 1


async def test_a_sweep_in_which_every_space_failed_is_an_error(caplog: pytest.LogCaptureFixture) -> None:
    """What the ReconcilerErrors alarm counts: the patrol goes on, so the Lambda never fails."""
    from functions.reconcile.loop import _sweep
    from functions.reconcile.runner import Outcome

    class Answers:
        def __init__(self, outcomes: list[Outcome]) -> None:
            self.outcomes = outcomes

        async def sweep(self, *, budget_per_space: float) -> list[Outcome]:
            return self.outcomes

    down = [Outcome(f"s{i}", converged=False, failed=("observe: livekit unreachable",)) for i in range(3)]
    some = [*down[:2], Outcome("s2", converged=True)]
    with caplog.at_level("INFO"):
        await _sweep(Answers(some), 1)  # type: ignore[arg-type]
        assert not [r for r in caplog.records if r.levelname == "ERROR"]
        await _sweep(Answers(down), 1)  # type: ignore[arg-type]
    (error,) = [r for r in caplog.records if r.levelname == "ERROR"]
    assert "all 3 Spaces failed" in error.getMessage()
