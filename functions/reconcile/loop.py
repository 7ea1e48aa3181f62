"""The patrol: a full sweep every `sweep_every` seconds and, in between, the trailing reactions'
flush once per reactions window. Locally it runs forever inside the API process (`make dev`, the
tests); in the cloud EventBridge Scheduler starts handler.reconcile_handler every minute, which
patrols until just before the next start."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from ..domain import reactions
from ..usecases.reactions import TrailingFlush
from .runner import Outcome, Reconciler

log = logging.getLogger(__name__)

# Seconds after a window boundary to look for marks. A reaction marks the window it was counted in
# right after counting, and a window becomes publishable two windows later, so by then its marks
# are written.
_AFTER_BOUNDARY = 0.05


@dataclass
class Patrolled:
    sweeps: int = 0
    # Spaces whose trailing reactions were flushed (each mark counted once).
    flushed: int = 0
    last_sweep: list[Outcome] = field(default_factory=list)


async def patrol(
    reconciler: Reconciler,
    trailing: TrailingFlush | None,
    *,
    sweep_every: float,
    budget_per_space: float,
    until: float | None = None,
    sweep_first: bool = True,
) -> Patrolled:
    """Until time.monotonic() reaches `until` (forever if None); with `sweep_first`, the first sweep
    starts at once.

    A sweep runs beside the trailing flush, not in its way: with many live Spaces a sweep takes
    longer than the flush may wait (the 10-s catch-up). A sweep still running at `until`, the first
    one included, is cancelled: the invocation must end before its timeout and before the next
    scheduled start. A pass undoes nothing it did, and a sweep visits the Spaces in a random order,
    so sweeps cut short still reach every Space over a few patrols."""
    done = Patrolled()
    next_sweep = time.monotonic() + (0.0 if sweep_first else sweep_every)
    sweeping: asyncio.Task[list[Outcome]] | None = None
    try:
        while True:
            if sweeping is not None and sweeping.done():
                done.last_sweep = sweeping.result()
                done.sweeps += 1
                sweeping = None
            if sweeping is None and time.monotonic() >= next_sweep:
                sweeping = asyncio.create_task(_sweep(reconciler, budget_per_space))
                next_sweep = time.monotonic() + sweep_every
            if trailing is not None:
                try:
                    done.flushed += await trailing.tick()
                except Exception:  # noqa: BLE001 - a store hiccup must not end the patrol
                    log.exception("trailing reactions flush failed")
            wait = reactions.WINDOW_SECONDS - time.time() % reactions.WINDOW_SECONDS + _AFTER_BOUNDARY
            if until is not None:
                left = until - time.monotonic()
                if left <= 0:
                    return done
                wait = min(wait, left)
            await asyncio.sleep(wait)
    finally:
        if sweeping is not None:
            sweeping.cancel()
            await asyncio.gather(sweeping, return_exceptions=True)


async def _sweep(reconciler: Reconciler, budget_per_space: float) -> list[Outcome]:
    try:
        outcomes = await reconciler.sweep(budget_per_space=budget_per_space)
    except Exception:  # noqa: BLE001 - a store hiccup must not end the loop; the next sweep retries
        log.exception("reconcile sweep failed")
        return []
    for o in outcomes:
        if o.done or o.failed:
            log.info("reconciled %s: done=%s failed=%s", o.space_id, list(o.done), list(o.failed))
    if outcomes and all(o.failed for o in outcomes):
        # Every Space failed (the SFU unreachable, the store throttled): what the ReconcilerErrors
        # alarm counts, with the exception above (infrastructure/constructs/observability.py).
        log.error("reconcile sweep: all %d Spaces failed, e.g. %s", len(outcomes), list(outcomes[0].failed))
    return outcomes
