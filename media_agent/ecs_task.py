"""What a LiveKit worker does for the ECS task it runs in; both workers (stage agent, composer) do it.

- scale-in protection while it holds jobs (scale_in.py), so neither scale-in nor a deployment stops
  a task in the middle of its Spaces;
- standing aside once a newer deployment of its service has superseded it (deployment.py), so a
  deployment finishes while old Spaces run out.

Both are no-ops outside ECS.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from media_agent import deployment, scale_in

logger = logging.getLogger(__name__)

_tasks: set[asyncio.Task[None]] = set()


# Read when a worker module is imported, so a bad SPACES_DEPLOYMENT_CHECK_S stops it at start.
DEPLOYMENT_CHECK_S = deployment.check_interval_s()


def start(active_jobs: Callable[[], int], superseded: deployment.Superseded) -> None:
    """Run both loops for the life of the worker (call from its `worker_started` handler)."""
    loops: list[Coroutine[Any, Any, None]] = [
        scale_in.run(active_jobs),
        deployment.watch(superseded, check_s=DEPLOYMENT_CHECK_S),
    ]
    for loop in loops:
        task = asyncio.get_running_loop().create_task(loop)
        _tasks.add(task)
        task.add_done_callback(_ended)


def _ended(task: asyncio.Task[None]) -> None:
    """A loop that stopped for any reason other than the worker's shutdown is logged loudly."""
    _tasks.discard(task)
    if not task.cancelled() and task.exception() is not None:
        logger.error("ECS task loop %s stopped", task.get_coro(), exc_info=task.exception())
