"""The hand-over rule of a superseded worker (media_agent/handover.py), on a fake clock."""

from __future__ import annotations

import asyncio

import pytest

from media_agent import handover
from media_agent.deployment import Superseded
from media_agent.handover import HandoverPlan, Job

A, B = Job("job-a", "space-a", "spaces-stage"), Job("job-b", "space-b", "spaces-composer")


def test_nothing_is_handed_over_before_the_worker_has_been_superseded_long_enough() -> None:
    plan = HandoverPlan(after_s=100.0, retry_s=30.0)
    assert plan.due(superseded=False, jobs=[A, B], now=0.0) == []
    assert plan.due(superseded=True, jobs=[A, B], now=10.0) == []  # superseded from here
    assert plan.due(superseded=True, jobs=[A, B], now=109.0) == []
    # One at a time, each asked once, then again only if it is still here after retry_s.
    assert plan.due(superseded=True, jobs=[A, B], now=110.0) == [A]
    assert plan.due(superseded=True, jobs=[A, B], now=111.0) == [B]
    assert plan.due(superseded=True, jobs=[A, B], now=120.0) == []
    assert plan.due(superseded=True, jobs=[A], now=140.0) == [A]


def test_a_rollback_starts_the_wait_again() -> None:
    plan = HandoverPlan(after_s=100.0)
    plan.due(superseded=True, jobs=[A], now=0.0)
    assert plan.due(superseded=False, jobs=[A], now=90.0) == []  # current again
    assert plan.due(superseded=True, jobs=[A], now=95.0) == []
    assert plan.due(superseded=True, jobs=[A], now=150.0) == []
    assert plan.due(superseded=True, jobs=[A], now=195.0) == [A]


def test_a_job_that_came_back_under_the_same_id_is_not_forgotten_wrongly() -> None:
    plan = HandoverPlan(after_s=0.0, retry_s=30.0)
    assert plan.due(superseded=True, jobs=[A], now=0.0) == [A]
    assert plan.due(superseded=True, jobs=[], now=1.0) == []  # it ended
    assert plan.due(superseded=True, jobs=[A], now=2.0) == [A]  # a new job: asked at once


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, handover.DEFAULT_AFTER_S),
        ("", handover.DEFAULT_AFTER_S),
        ("60", 60.0),
        ("OFF", None),
        ("off", None),
    ],
)
def test_the_setting(value: str | None, expected: float | None) -> None:
    env = {} if value is None else {handover.AFTER_S_ENV: value}
    assert handover.after_s(env) == expected


@pytest.mark.parametrize("value", ["0", "-5", "soon", "nan"])
def test_a_bad_setting_stops_the_worker_at_start_and_names_itself(value: str) -> None:
    with pytest.raises(ValueError, match=handover.AFTER_S_ENV):
        handover.after_s({handover.AFTER_S_ENV: value})


async def test_the_loop_dispatches_each_due_job_and_survives_a_failed_dispatch() -> None:
    now = [0.0]
    verdict = Superseded()
    asked: list[str] = []

    async def dispatch(job: Job) -> None:
        asked.append(job.room)
        if job is A:
            raise RuntimeError("LiveKit unreachable")

    loop = asyncio.create_task(
        handover.run(lambda: [A, B], verdict, dispatch, after=5.0, poll_s=0.001, clock=lambda: now[0])
    )
    try:
        await asyncio.sleep(0.01)
        assert asked == []
        verdict.value = True
        await asyncio.sleep(0.01)
        now[0] = 6.0
        for _ in range(100):
            if len(asked) >= 2:
                break
            await asyncio.sleep(0.005)
        assert asked == ["space-a", "space-b"]
    finally:
        loop.cancel()


async def test_off_never_hands_anything_over() -> None:
    verdict = Superseded()
    verdict.value = True
    await handover.run(lambda: [A], verdict, lambda job: asyncio.sleep(0), after=None)
