"""What a LiveKit worker does for the ECS task it runs in; both workers (stage agent, composer) do it.

- scale-in protection while it holds jobs (scale_in.py), so neither scale-in nor a deployment stops
  a task in the middle of its Spaces;
- standing aside once a newer deployment of its service has superseded it (deployment.py), so a
  deployment finishes while old Spaces run out;
- handing its Spaces to the new deployment once superseded for SPACES_HANDOVER_AFTER_S (handover.py),
  so a deployment finishes before CloudFormation gives up on it.

Both are no-ops outside ECS.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from livekit import api
from livekit.agents.job import RunningJobInfo

from media_agent import deployment, handover, scale_in

logger = logging.getLogger(__name__)

_tasks: set[asyncio.Task[None]] = set()


# Read when a worker module is imported, so a bad SPACES_DEPLOYMENT_CHECK_S or
# SPACES_HANDOVER_AFTER_S stops it at start.
DEPLOYMENT_CHECK_S = deployment.check_interval_s()
HANDOVER_AFTER_S = handover.after_s()


def start(active_jobs: Callable[[], Sequence[RunningJobInfo]], superseded: deployment.Superseded) -> None:
    """Run the three loops for the life of the worker (call from its `worker_started` handler)."""
    loops: list[Coroutine[Any, Any, None]] = [
        scale_in.run(lambda: len(active_jobs())),
        deployment.watch(superseded, check_s=DEPLOYMENT_CHECK_S),
        handover.run(lambda: jobs_of(active_jobs()), superseded, dispatch_again, after=HANDOVER_AFTER_S),
    ]
    for loop in loops:
        task = asyncio.get_running_loop().create_task(loop)
        _tasks.add(task)
        task.add_done_callback(_ended)


def jobs_of(running: Sequence[RunningJobInfo]) -> list[handover.Job]:
    return [handover.Job(info.job.id, info.job.room.name, info.job.agent_name) for info in running]


async def dispatch_again(job: handover.Job) -> None:
    """Ask LiveKit for another agent of the job's kind in its room (LIVEKIT_URL and the key pair
    of the worker's own environment); the newcomer evicts this one."""
    lkapi = api.LiveKitAPI()
    try:
        await lkapi.agent_dispatch.create_dispatch(
            api.CreateAgentDispatchRequest(agent_name=job.agent_name, room=job.room)
        )
    finally:
        await lkapi.aclose()


def _ended(task: asyncio.Task[None]) -> None:
    """A loop that stopped for any reason other than the worker's shutdown is logged loudly."""
    _tasks.discard(task)
    if not task.cancelled() and task.exception() is not None:
        logger.error("ECS task loop %s stopped", task.get_coro(), exc_info=task.exception())
