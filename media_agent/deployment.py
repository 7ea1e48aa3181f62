"""Is this worker still what its ECS service deploys? A superseded worker takes no new jobs.

Deploying new worker code while Spaces are live: ECS starts the new tasks at once, but stops an old
one only once its scale-in protection is off (scale_in.py), that is once its last job has ended. An
old worker is still registered with LiveKit, so without this it kept taking new Spaces and, while
Spaces kept starting, the deployment never finished (CloudFormation rolled it back after hours).

So a worker in an ECS service reads, every `check_s`, the service's primary deployment. Once that
deployment runs another task definition with all of its tasks running, seen on `SETTLE_CHECKS`
readings in a row (the new workers need a few seconds more to register with LiveKit), the worker is
*superseded*: it reports itself full to LiveKit's dispatcher (load 1.0, media_agent/load.py) and
stops publishing its load (it is no longer part of the pool the service scales for). It keeps its
Spaces to their end, then its protection drops and ECS stops it. If no task of another task
definition runs any more (the new deployment lost them all), or the deployment is rolled back (the
primary runs this worker's task definition again), the worker takes jobs again: a fleet in which
nobody takes a new Space is worse than one running old code.

Outside ECS (no ECS_CONTAINER_METADATA_URI_V4, as locally and in most tests) nothing happens, and a
task that is not part of a service (its group is not `service:<name>`) is never superseded.

The rule (`Supersession`) is pure; `EcsService` reads ECS; `watch` applies one to the other.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from livekit.agents.worker import ServerEnvOption

logger = logging.getLogger("media_agent.deployment")

# Injected by ECS into every container of a task (Fargate platform 1.4.0 and later).
METADATA_ENV = "ECS_CONTAINER_METADATA_URI_V4"
# How often the service is read. Override with SPACES_DEPLOYMENT_CHECK_S (the tests use 1 s).
CHECK_S_ENV = "SPACES_DEPLOYMENT_CHECK_S"
DEFAULT_CHECK_S = 30.0
# Readings in a row that must show the new deployment whole before this worker stands aside.
SETTLE_CHECKS = 2
# Failed tries in a row to reach the SFU before the worker gives up (livekit-agents sleeps
# min(2n, 10) s after the n-th, n from 0: 59.5 minutes of sleep, plus each try's own time, up to
# aiohttp's timeouts when nothing answers). livekit-agents' own 16 (~2 minutes) made a first
# deploy's workers exit over and over for the 10-20 minutes before any SFU node exists (the nodes
# wait for Redis), tasks that ECS's circuit breaker may count as failed. Giving up, the worker drains
# (its jobs run on, DRAIN_TIMEOUT_S at most) and exits, and ECS starts a fresh task. A key pair the
# SFU refuses is not waited for: sfu_check.py exits before the first try.
SFU_CONNECT_TRIES = 360
SERVICE_GROUP_PREFIX = "service:"


@dataclass(frozen=True)
class Primary:
    """The service's primary deployment: what ECS is converging the service to."""

    task_definition: str
    desired: int
    running: int


class Supersession:
    """Superseded or not, from readings of the service's primary deployment."""

    def __init__(self, own_task_definition: str, settle_checks: int = SETTLE_CHECKS) -> None:
        self.own_task_definition = own_task_definition
        self._settle = settle_checks
        self._ready_readings = 0
        self.superseded = False

    def observe(self, primary: Primary | None, running_elsewhere: int = 0) -> bool:
        """Take one reading: the primary deployment (None: the service names none) and the tasks
        running in any deployment of another task definition than this worker's, the primary's
        included. True if the verdict changed."""
        before = self.superseded
        if primary is None or primary.task_definition == self.own_task_definition:
            self._ready_readings = 0
            self.superseded = False
        elif self.superseded:
            # Stay aside while newer code runs somewhere to take the jobs: the primary, or, while a
            # later deployment is only starting, the one that superseded this worker.
            self.superseded = running_elsewhere >= 1
            if not self.superseded:
                self._ready_readings = 0
        else:
            whole = primary.desired >= 1 and primary.running >= primary.desired
            self._ready_readings = self._ready_readings + 1 if whole else 0
            self.superseded = self._ready_readings >= self._settle
        return self.superseded != before


class _Ecs(Protocol):
    def describe_tasks(self, **kwargs: Any) -> dict[str, Any]: ...

    def describe_services(self, **kwargs: Any) -> dict[str, Any]: ...


@dataclass(frozen=True)
class EcsService:
    """This task's service, and how to read its primary deployment (blocking calls)."""

    cluster: str
    service: str
    own_task_definition: str
    client: _Ecs

    @classmethod
    def locate(cls, metadata_uri: str, client: _Ecs | None = None) -> EcsService | None:
        """From the task metadata endpoint and DescribeTasks; None if the task is not in a service."""
        with urllib.request.urlopen(metadata_uri.rstrip("/") + "/task", timeout=5) as resp:
            metadata = json.load(resp)
        cluster, task_arn = str(metadata["Cluster"]), str(metadata["TaskARN"])
        if client is None:
            import boto3  # the worker image has it (the composer's S3 sink); only needed in ECS

            # The cluster's ARN names its region (Fargate's v4 metadata gives the ARN); a bare name
            # leaves it to the environment (AWS_DEFAULT_REGION).
            parts = cluster.split(":")
            region = parts[3] if cluster.startswith("arn:") and len(parts) > 5 else None
            client = boto3.client("ecs", region_name=region)
        (task,) = client.describe_tasks(cluster=cluster, tasks=[task_arn])["tasks"]
        group = str(task.get("group", ""))
        if not group.startswith(SERVICE_GROUP_PREFIX):
            return None
        return cls(
            cluster=cluster,
            service=group.removeprefix(SERVICE_GROUP_PREFIX),
            own_task_definition=str(task["taskDefinitionArn"]),
            client=client,
        )

    def read(self) -> tuple[Primary | None, int]:
        """The primary deployment, and the tasks running in deployments of other task definitions."""
        (service,) = self.client.describe_services(cluster=self.cluster, services=[self.service])["services"]
        primary: Primary | None = None
        elsewhere = 0
        for deployment in service.get("deployments", []):
            task_definition = str(deployment["taskDefinition"])
            running = int(deployment.get("runningCount", 0))
            if task_definition != self.own_task_definition:
                elsewhere += running
            if deployment.get("status") == "PRIMARY":
                primary = Primary(
                    task_definition, desired=int(deployment.get("desiredCount", 0)), running=running
                )
        return primary, elsewhere


def check_interval_s(env: Mapping[str, str] | None = None) -> float:
    return seconds_setting(CHECK_S_ENV, DEFAULT_CHECK_S, env)


def seconds_setting(
    name: str, default: float, env: Mapping[str, str] | None = None, *, also: str = ""
) -> float:
    """The environment's `name` as a positive number of seconds, `default` when unset; anything
    else stops the worker at start with a message naming it (`also`: what else it may say)."""
    value = (env if env is not None else os.environ).get(name)
    if not value:
        return default
    try:
        parsed = float(value)
    except ValueError:
        parsed = 0.0
    if not parsed > 0:
        raise ValueError(f"{name} must be a positive number of seconds{also}, got {value!r}")
    return parsed


class Superseded:
    """The worker's current verdict, read by its load function (False until `watch` learns otherwise)."""

    def __init__(self) -> None:
        self.value = False

    def __call__(self) -> bool:
        return self.value


async def watch(verdict: Superseded, *, check_s: float, metadata_uri: str | None = None) -> None:
    """Keep `verdict` in line with the service's deployments until cancelled (no-op outside ECS).
    `check_s`: check_interval_s(), read when the worker starts (a bad value stops it there)."""
    metadata_uri = metadata_uri or os.environ.get(METADATA_ENV)
    if not metadata_uri:
        return
    service: EcsService | None = None
    while service is None:
        try:
            service = await asyncio.to_thread(EcsService.locate, metadata_uri)
        except Exception:  # metadata or ECS unreachable for now: never superseded meanwhile
            logger.warning("could not read this task's ECS service; retrying", exc_info=True)
            await asyncio.sleep(check_s)
            continue
        if service is None:
            logger.info("not part of an ECS service: never superseded")
            return
    rule = Supersession(service.own_task_definition)
    while True:
        try:
            primary, elsewhere = await asyncio.to_thread(service.read)
        except Exception:  # keep the last verdict until ECS answers again
            logger.warning("could not read the ECS service's deployments", exc_info=True)
        else:
            if rule.observe(primary, elsewhere):
                verdict.value = rule.superseded
                logger.info(
                    "superseded by %s: taking no new jobs" if rule.superseded else "taking jobs again (%s)",
                    primary.task_definition if primary else "no primary deployment",
                    extra={"own": service.own_task_definition},
                )
        await asyncio.sleep(check_s)


def server_option(env_name: str, *, prod_default: int) -> int | ServerEnvOption[int]:
    """A worker server setting (its status port, its idle processes): the environment's value, else
    the agents framework's choice by mode, 0 in `dev` and `prod_default` in `start`."""
    value = os.environ.get(env_name)
    return int(value) if value else ServerEnvOption(dev_default=0, prod_default=prod_default)
