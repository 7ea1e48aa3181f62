"""AWS Lambda entry points (one image, two handlers):
- `handler`: API Gateway HTTP API (payload v2) events through Mangum;
- `reconcile_handler`: started by EventBridge Scheduler every minute, it patrols for that minute:
  sweeps over every live Space and the trailing reactions' flush (reconcile/loop.py)."""

import asyncio
import os
import random
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from mangum import Mangum

from .api.main import app
from .core.logging import configure_lambda_logging

if "AWS_LAMBDA_FUNCTION_NAME" in os.environ:  # set by the Lambda runtime; tests keep pytest's logging
    configure_lambda_logging()


class ReseedOnFirstCall:
    """SnapStart restores every environment from one snapshot of the initialised process, the state
    of `random` included, so all of them would draw the same numbers: the same jitter in the
    back-offs that spread retries on a hot partition, the same listener-count shard. Each
    environment reseeds `random` from os.urandom on its first invocation; the snapshot is taken
    before any, so it never holds a reseeded state."""

    def __init__(self, inner: Callable[[Any, Any], Any]) -> None:
        self._inner = inner
        self._reseeded = False

    def __call__(self, event: Any, context: Any) -> Any:
        if not self._reseeded:
            random.seed()
            self._reseeded = True
        return self._inner(event, context)


# lifespan off: the app keeps no startup state; everything is created lazily on first use.
handler = ReseedOnFirstCall(Mangum(app, lifespan="off"))


def reconcile_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """One period of the patrol: a sweep at once and every SPACES_RECONCILE_INTERVAL_SECONDS (make
    every live Space's room match its stored state; delete ended Spaces' rooms), and the trailing
    reactions flushed every window, until just before the schedule's next start."""
    from .core.config import get_settings
    from .reconcile.loop import patrol
    from .reconcile.runner import Memory
    from .reconcile.wiring import patrol_for

    settings = get_settings()
    reconciler, trailing = patrol_for(settings, memory=Memory())
    done = asyncio.run(
        patrol(
            reconciler,
            trailing,
            sweep_every=settings.reconcile_interval_seconds or PATROL_DEFAULT_SWEEP_SECONDS,
            budget_per_space=settings.reconcile_budget_seconds,
            until=time.monotonic()
            + patrol_seconds(event, context.get_remaining_time_in_millis() / 1000, time.time()),
        )
    )
    return {
        "sweeps": done.sweeps,
        "reactions_flushed": done.flushed,
        "spaces": len(done.last_sweep),
        "converged": sum(o.converged for o in done.last_sweep),
        "acted": {o.space_id: list(o.done) for o in done.last_sweep if o.done},
        "failed": {o.space_id: list(o.failed) for o in done.last_sweep if o.failed},
    }


# A sweep every this many seconds when the environment sets no interval.
PATROL_DEFAULT_SWEEP_SECONDS = 10.0
# The patrol stops this long before its invocation times out and before the next scheduled start.
PATROL_MARGIN_SECONDS = 2.0


def patrol_seconds(event: dict[str, Any], remaining: float, now: float) -> float:
    """How long this invocation patrols: until the margin before its timeout, and, when the
    schedule says when it meant to start and how often it starts one (`scheduled_time`,
    `period_seconds`), before the next one starts (a late or retried start never overlaps it)."""
    left = remaining - PATROL_MARGIN_SECONDS
    scheduled, period = event.get("scheduled_time"), event.get("period_seconds")
    if isinstance(scheduled, str) and isinstance(period, int | float):
        try:
            start = datetime.fromisoformat(scheduled.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return max(0.0, left)
        left = min(left, start + period - PATROL_MARGIN_SECONDS - now)
    return max(0.0, left)
