"""The capacity metric: EMF lines CloudWatch turns into the metric ECS scales the agents on."""

from __future__ import annotations

import io
import json

from contract import names
from media_agent.capacity import PERIOD_S, CapacityReporter, emf_line
from media_agent.load import WorkerLoad


def test_an_emf_line_declares_the_load_and_jobs_by_agent_name() -> None:
    doc = json.loads(emf_line(agent_name=names.AGENT_NAME, load=0.7, jobs=28, timestamp_ms=1_000))
    (directive,) = doc["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == names.AGENT_METRICS_NAMESPACE
    assert directive["Dimensions"] == [[names.METRIC_AGENT_DIMENSION]]
    assert {m["Name"] for m in directive["Metrics"]} == {names.METRIC_WORKER_LOAD, names.METRIC_ACTIVE_JOBS}
    # Every metric and dimension named in the directive has its value at the top level (EMF rule).
    assert doc[names.METRIC_AGENT_DIMENSION] == names.AGENT_NAME
    assert doc[names.METRIC_WORKER_LOAD] == 70.0 and doc[names.METRIC_ACTIVE_JOBS] == 28
    assert doc["_aws"]["Timestamp"] == 1_000


def test_the_reporter_writes_at_most_one_line_per_period() -> None:
    out = io.StringIO()
    now = [0.0]
    reporter = CapacityReporter("a", out=out, clock=lambda: now[0], wall_ms=lambda: 5)
    for t in (0.0, 1.0, PERIOD_S - 0.1, PERIOD_S, PERIOD_S + 1):
        now[0] = t
        reporter.report(load=0.1, jobs=1)
    assert len(out.getvalue().splitlines()) == 2


class _Server:
    def __init__(self, jobs: int) -> None:
        self.active_jobs = [object()] * jobs


def test_the_worker_reports_the_load_it_gives_the_dispatcher() -> None:
    """28 quiet rooms of a 40-room budget: 70 % load, the threshold at which the worker refuses
    rooms. The metric says 70 too (CPU alone would say ~0), so ECS scales out before that."""
    out = io.StringIO()
    load = WorkerLoad(40, CapacityReporter(names.AGENT_NAME, out=out))
    load.cpu = lambda: 0.0  # type: ignore[method-assign]
    assert load(_Server(28)) == 0.7
    doc = json.loads(out.getvalue())
    assert doc[names.METRIC_WORKER_LOAD] == 70.0 and doc[names.METRIC_ACTIVE_JOBS] == 28
