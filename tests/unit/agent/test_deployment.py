"""A worker superseded by a newer deployment of its ECS service takes no new jobs (deployment.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import boto3
import pytest
from livekit.agents.worker import ServerEnvOption

from media_agent import deployment
from media_agent.deployment import EcsService, Primary, Superseded, Supersession, check_interval_s, watch
from media_agent.load import WorkerLoad
from tests.support.eventually import eventually_async
from tests.support.fake_ecs import SERVICE, TASK_DEFINITION, Deployment, FakeEcs

pytestmark = pytest.mark.unit

OWN = "arn:aws:ecs:us-east-1:1:task-definition/agent:7"
NEW = "arn:aws:ecs:us-east-1:1:task-definition/agent:8"


def test_a_worker_of_the_primary_deployment_is_never_superseded() -> None:
    rule = Supersession(OWN, settle_checks=2)
    for _ in range(5):
        assert rule.observe(Primary(OWN, desired=3, running=3)) is False
    assert rule.superseded is False
    assert rule.observe(None) is False and rule.superseded is False


def test_superseded_once_the_new_deployment_runs_whole_on_consecutive_readings() -> None:
    rule = Supersession(OWN, settle_checks=2)
    assert rule.observe(Primary(NEW, desired=3, running=0)) is False  # starting
    assert rule.observe(Primary(NEW, desired=3, running=2)) is False  # not whole yet
    assert rule.observe(Primary(NEW, desired=3, running=3)) is False  # whole once: let it register
    assert rule.observe(Primary(NEW, desired=3, running=2)) is False  # a task fell over: start again
    assert rule.superseded is False
    assert rule.observe(Primary(NEW, desired=3, running=3)) is False
    assert rule.observe(Primary(NEW, desired=3, running=4), 4) is True
    assert rule.superseded is True


def test_a_new_deployment_with_no_desired_tasks_never_supersedes() -> None:
    rule = Supersession(OWN, settle_checks=1)
    assert rule.observe(Primary(NEW, desired=0, running=0)) is False
    assert rule.superseded is False


def test_a_superseded_worker_takes_jobs_again_when_nobody_else_can() -> None:
    rule = Supersession(OWN, settle_checks=1)
    assert rule.observe(Primary(NEW, desired=2, running=2), 2) is True
    assert rule.observe(Primary(NEW, desired=2, running=1), 1) is False  # one new worker still takes jobs
    assert rule.superseded is True
    assert rule.observe(Primary(NEW, desired=2, running=0), 0) is True  # none: stand in again
    assert rule.superseded is False
    assert rule.observe(Primary(NEW, desired=2, running=1), 1) is False  # must be whole again first
    assert rule.observe(Primary(NEW, desired=2, running=2), 2) is True


def test_a_later_deployment_starting_does_not_bring_the_oldest_code_back() -> None:
    """Superseded by B; then C is deployed: its tasks are starting while B's still take the jobs."""
    later = "arn:aws:ecs:us-east-1:1:task-definition/agent:9"
    rule = Supersession(OWN, settle_checks=1)
    assert rule.observe(Primary(NEW, desired=2, running=2), 2) is True
    assert rule.observe(Primary(later, desired=2, running=0), 2) is False  # B's two still run
    assert rule.superseded is True
    assert rule.observe(Primary(later, desired=2, running=2), 3) is False


def test_a_rollback_makes_the_old_worker_the_current_one_again() -> None:
    rule = Supersession(OWN, settle_checks=1)
    assert rule.observe(Primary(NEW, desired=2, running=2), 2) is True
    assert rule.observe(Primary(OWN, desired=2, running=1), 2) is True
    assert rule.superseded is False


class _Jobs:
    def __init__(self, n: int) -> None:
        self.active_jobs = [object()] * n


def test_a_superseded_worker_reports_itself_full_and_publishes_nothing() -> None:
    verdict = Superseded()
    now = [0.0]
    lines: list[str] = []
    load = WorkerLoad(
        10, metric_name="StageAgentLoad", write=lines.append, clock=lambda: now[0], superseded=verdict
    )
    load.cpu = lambda: 0.0  # type: ignore[method-assign]  # no sampling thread in a unit test
    assert load(_Jobs(2)) == pytest.approx(0.2)
    verdict.value = True
    for minute in range(1, 4):
        now[0] = 60.0 * minute
        assert load(_Jobs(2)) == 1.0
    assert lines == []
    verdict.value = False
    now[0] = 300.0
    assert load(_Jobs(1)) == pytest.approx(0.1)  # opens a fresh minute
    now[0] = 361.0
    load(_Jobs(1))
    assert len(lines) == 1 and '"jobs":1' in lines[0]


def test_check_interval_is_validated() -> None:
    assert check_interval_s({}) == 30.0
    assert check_interval_s({"SPACES_DEPLOYMENT_CHECK_S": "2.5"}) == 2.5
    for bad in ("0", "-1", "soon", "nan"):
        with pytest.raises(ValueError, match="SPACES_DEPLOYMENT_CHECK_S"):
            check_interval_s({"SPACES_DEPLOYMENT_CHECK_S": bad})


@pytest.fixture
def fake_ecs() -> Any:
    fake = FakeEcs(own_revision=3)
    yield fake
    fake.close()


def _client(fake: FakeEcs) -> Any:
    return boto3.client(
        "ecs",
        endpoint_url=fake.uri,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def test_the_service_is_found_from_the_task_metadata_and_read_through_the_ecs_api(fake_ecs: FakeEcs) -> None:
    service = EcsService.locate(f"{fake_ecs.uri}/metadata", client=_client(fake_ecs))
    assert service is not None
    assert service.service == SERVICE and service.own_task_definition == TASK_DEFINITION.format(3)
    assert service.read() == (Primary(TASK_DEFINITION.format(3), desired=1, running=1), 0)
    fake_ecs.primary = Deployment(4, desired=2, running=1)
    fake_ecs.active = [Deployment(3, desired=1, running=1), Deployment(2, desired=0, running=2)]
    assert service.read() == (Primary(TASK_DEFINITION.format(4), desired=2, running=1), 3)


def test_a_task_outside_a_service_is_never_superseded(fake_ecs: FakeEcs) -> None:
    fake_ecs.in_service = False
    assert EcsService.locate(f"{fake_ecs.uri}/metadata", client=_client(fake_ecs)) is None


async def test_watch_follows_a_deployment_and_its_rollback(fake_ecs: FakeEcs, monkeypatch: Any) -> None:
    for key, value in fake_ecs.task_env().items():
        monkeypatch.setenv(key, value)
    verdict = Superseded()
    task = asyncio.ensure_future(watch(verdict, check_s=0.05))
    try:
        await eventually_async(lambda: "DescribeServices" in fake_ecs.api_calls, timeout=10, what="reads")
        assert verdict() is False
        fake_ecs.primary = Deployment(4, desired=1, running=1)
        await eventually_async(verdict, timeout=10, what="superseded by revision 4")
        fake_ecs.primary = Deployment(3, desired=1, running=1)
        await eventually_async(lambda: not verdict(), timeout=10, what="current again after the rollback")
    finally:
        task.cancel()


async def test_watch_does_nothing_outside_ecs(monkeypatch: Any) -> None:
    monkeypatch.delenv("ECS_CONTAINER_METADATA_URI_V4", raising=False)
    await asyncio.wait_for(watch(Superseded(), check_s=0.05), timeout=5)


def test_both_workers_keep_trying_the_sfu_for_about_an_hour_before_they_exit() -> None:
    """livekit-agents' own 16 tries (~2 minutes) ended a first deploy's workers before any SFU node
    was up; each worker is built with SFU_CONNECT_TRIES, whose waits (min(2n, 10) s) add up to ~1 h."""
    from composer.worker import server as composer
    from media_agent.worker import server as agent

    assert agent._max_retry == composer._max_retry == deployment.SFU_CONNECT_TRIES
    waited_s = sum(min(2 * n, 10) for n in range(deployment.SFU_CONNECT_TRIES))
    assert 50 * 60 <= waited_s <= 70 * 60


def test_a_server_option_is_the_environments_or_the_frameworks_by_mode(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SPACES_TEST_OPTION", "7")
    assert deployment.server_option("SPACES_TEST_OPTION", prod_default=2) == 7
    monkeypatch.delenv("SPACES_TEST_OPTION")
    option = deployment.server_option("SPACES_TEST_OPTION", prod_default=2)
    assert isinstance(option, ServerEnvOption)
    assert (option.dev_default, option.prod_default) == (0, 2)
