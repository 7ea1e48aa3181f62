"""A superseded worker hands its Spaces to the new deployment, so a deploy ends in bounded time.

A worker that a newer deployment of its ECS service has superseded (deployment.py) takes no new
job and keeps its Spaces. ECS stops it only once it holds none, and CloudFormation waits for the
service to be stable for about three hours, then rolls the whole stack back (and locks it
meanwhile). A Space can outlast that. So once a worker has been superseded for `after_s`
(SPACES_HANDOVER_AFTER_S, default 2 h), it asks LiveKit to dispatch each of its jobs' agents to
the same room again (AgentDispatchService.CreateDispatch). The dispatcher sends them to the new
workers, as this one reports itself full. Each new agent evicts its predecessor on joining (the
stage agent's `_take_over_from_predecessors`, the composer's `evict_predecessors`), so the old
job ends. Once idle, the old worker drops its task protection and ECS stops it.

The people in the Space notice one hand-over: the stage continues from the last published state,
and the broadcast resumes its playlist after a discontinuity (docs/infrastructure.md).

`HandoverPlan` is the pure rule; `run` applies it to the worker's jobs until cancelled.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from media_agent.deployment import Superseded, seconds_setting

logger = logging.getLogger(__name__)

AFTER_S_ENV = "SPACES_HANDOVER_AFTER_S"
# Two hours: the new tasks run within minutes of the deploy's start, the hand-over takes seconds,
# and an idle task stops within its 120 s stop timeout, well inside CloudFormation's ~3 h wait.
DEFAULT_AFTER_S = 2 * 3600.0
# A job still here this long after its hand-over was asked for is asked for again (the dispatch
# failed, or found no new worker yet).
RETRY_S = 300.0
# One job is handed over per poll: the new workers take a worker's Spaces one at a time and their
# load reports keep up (all at once could overload one new composer before its load shows, and the
# new fleet may have scaled in while the superseded workers published no load).
POLL_S = 10.0


def after_s(env: Mapping[str, str] | None = None) -> float | None:
    """SPACES_HANDOVER_AFTER_S: seconds (> 0), or "off" to keep every Space to its end (the deploy
    then lasts as long as the longest Space, and CloudFormation may roll it back)."""
    value = (env if env is not None else os.environ).get(AFTER_S_ENV)
    if value and value.strip().lower() == "off":
        return None
    return seconds_setting(AFTER_S_ENV, DEFAULT_AFTER_S, env, also=' or "off"')


@dataclass(frozen=True)
class Job:
    """A running job as the hand-over needs it: its id, the room, and the agent it runs."""

    id: str
    room: str
    agent_name: str


class HandoverPlan:
    """Which jobs to hand over now, given whether the worker is superseded and the time."""

    def __init__(self, after_s: float, retry_s: float = RETRY_S) -> None:
        self._after_s = after_s
        self._retry_s = retry_s
        self._superseded_since: float | None = None
        # job id -> when its hand-over was last asked for.
        self._asked: dict[str, float] = {}

    def due(self, *, superseded: bool, jobs: Sequence[Job], now: float) -> list[Job]:
        """The job to hand over now (one at most), or none."""
        if not superseded:
            # Current again (a rollback), or never superseded: nothing to hand over.
            self._superseded_since = None
            self._asked.clear()
            return []
        if self._superseded_since is None:
            self._superseded_since = now
        running = {job.id for job in jobs}
        self._asked = {job_id: at for job_id, at in self._asked.items() if job_id in running}
        if now - self._superseded_since < self._after_s:
            return []
        due = [job for job in jobs if now - self._asked.get(job.id, -float("inf")) >= self._retry_s][:1]
        for job in due:
            self._asked[job.id] = now
        return due


async def run(
    jobs: Callable[[], Sequence[Job]],
    superseded: Superseded,
    dispatch: Callable[[Job], Awaitable[None]],
    *,
    after: float | None,
    poll_s: float = POLL_S,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Hand the worker's jobs over once it has been superseded for `after` seconds (never: None)."""
    if after is None:
        return
    plan = HandoverPlan(after)
    while True:
        for job in plan.due(superseded=superseded(), jobs=jobs(), now=clock()):
            logger.info("handing %s over to the new deployment", job.room, extra={"job": job.id})
            try:
                await dispatch(job)
            except Exception:  # asked again after RETRY_S
                logger.warning("could not hand %s over", job.room, exc_info=True)
        await asyncio.sleep(poll_s)
