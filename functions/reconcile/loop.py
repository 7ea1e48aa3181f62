"""The local schedule: a sweep every `reconcile_interval_seconds` inside the API process (`make
dev`, the tests). In the cloud EventBridge Scheduler invokes handler.reconcile_handler instead."""

from __future__ import annotations

import asyncio
import logging

from .runner import Reconciler

log = logging.getLogger(__name__)


async def run_forever(reconciler: Reconciler, *, interval: float, budget_per_space: float) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            outcomes = await reconciler.sweep(budget_per_space=budget_per_space)
        except Exception:  # noqa: BLE001 - a store hiccup must not end the loop; the next tick retries
            log.exception("reconcile sweep failed")
            continue
        for o in outcomes:
            if o.done or o.failed:
                log.info("reconciled %s: done=%s failed=%s", o.space_id, list(o.done), list(o.failed))
