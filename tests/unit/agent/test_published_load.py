"""The worker load a task publishes for its ECS scaling: one JSON line a minute with the minute's
peak, in the shape the CDK metric filter reads (names from contract/names.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest

from contract import names
from media_agent.load import PUBLISH_EVERY_S, WorkerLoad


@dataclass
class _Server:
    active_jobs: list[object] = field(default_factory=list)


class _FixedCpu(WorkerLoad):
    """The CPU sampler replaced by a value the test sets (the real one reads the process tree)."""

    share = 0.0

    def cpu(self) -> float:
        return self.share


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _load(lines: list[str], clock: _Clock, metric: str | None = "ComposerLoad", budget: int = 2) -> _FixedCpu:
    return _FixedCpu(budget, metric_name=metric, write=lines.append, clock=clock)


def test_publishes_the_minutes_peak_once_a_minute() -> None:
    lines: list[str] = []
    clock = _Clock()
    load = _load(lines, clock)
    server = _Server()
    assert load(server) == 0.0  # opens the first minute
    server.active_jobs = [object()]
    clock.now += 20
    assert load(server) == 0.5
    load.share = 0.8  # CPU above the job share
    clock.now += 20
    assert load(server) == 0.8
    load.share = 0.1
    server.active_jobs = []
    clock.now += 19
    assert load(server) == 0.1
    assert lines == []  # still inside the minute
    clock.now += PUBLISH_EVERY_S - 59
    load(server)
    (line,) = lines
    assert json.loads(line) == {
        names.LOAD_LINE_METRIC: "ComposerLoad",
        names.LOAD_LINE_PERCENT: 80.0,
        names.LOAD_LINE_JOBS: 1,
    }
    # The next minute starts from what was seen at its start, not from the old peak.
    clock.now += PUBLISH_EVERY_S
    load(server)
    assert json.loads(lines[1])[names.LOAD_LINE_PERCENT] == 10.0
    assert json.loads(lines[1])[names.LOAD_LINE_JOBS] == 0


def test_a_full_budget_of_quiet_jobs_publishes_100_percent() -> None:
    lines: list[str] = []
    clock = _Clock()
    load = _load(lines, clock, budget=2)
    server = _Server(active_jobs=[object(), object()])
    load(server)
    clock.now += PUBLISH_EVERY_S
    assert load(server) == 1.0
    assert json.loads(lines[0])[names.LOAD_LINE_PERCENT] == 100.0


def test_nothing_is_published_without_a_metric_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(names.ENV_LOAD_METRIC, raising=False)
    lines: list[str] = []
    clock = _Clock()
    load = _load(lines, clock, metric=None)
    for _ in range(3):
        load(_Server())
        clock.now += PUBLISH_EVERY_S
    assert lines == []


def test_the_metric_name_comes_from_the_task_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(names.ENV_LOAD_METRIC, names.COMPOSER_LOAD_METRIC)
    lines: list[str] = []
    clock = _Clock()
    load = _load(lines, clock, metric=None)
    load(_Server())
    clock.now += PUBLISH_EVERY_S
    load(_Server())
    assert json.loads(lines[0])[names.LOAD_LINE_METRIC] == names.COMPOSER_LOAD_METRIC
