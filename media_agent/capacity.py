"""A worker's capacity as a CloudWatch metric: one EMF (embedded metric format) log line on stdout
every `PERIOD_S`. In ECS the awslogs driver ships stdout to CloudWatch Logs, which extracts the
metric; no SDK call and no IAM permission (PutMetricData would need both, plus a network call per
sample). ECS scales the agent service on the average `WorkerLoad` across its tasks
(infrastructure/constructs/media_agents.py), the same number LiveKit's dispatcher compares with
the 0.7 threshold, so the fleet grows before workers start refusing rooms.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import TextIO

from contract import names

# Seconds between two lines: CloudWatch stores at 1-minute resolution by default; six samples a
# minute give target tracking a steady average without flooding the log.
PERIOD_S = 10.0


def emf_line(*, agent_name: str, load: float, jobs: int, timestamp_ms: int) -> str:
    """One EMF document: the load (percent) and the job count of one worker, by agent name."""
    return json.dumps(
        {
            "_aws": {
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [
                    {
                        "Namespace": names.AGENT_METRICS_NAMESPACE,
                        "Dimensions": [[names.METRIC_AGENT_DIMENSION]],
                        "Metrics": [
                            {"Name": names.METRIC_WORKER_LOAD, "Unit": "Percent"},
                            {"Name": names.METRIC_ACTIVE_JOBS, "Unit": "Count"},
                        ],
                    }
                ],
            },
            names.METRIC_AGENT_DIMENSION: agent_name,
            names.METRIC_WORKER_LOAD: round(load * 100, 1),
            names.METRIC_ACTIVE_JOBS: jobs,
        },
        separators=(",", ":"),
    )


class CapacityReporter:
    """Called with every load sample; writes a line when `PERIOD_S` has passed since the last."""

    def __init__(
        self,
        agent_name: str,
        *,
        out: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_ms: Callable[[], int] = lambda: int(time.time() * 1000),
    ) -> None:
        self._agent_name = agent_name
        self._out = out
        self._clock = clock
        self._wall_ms = wall_ms
        self._last: float | None = None

    def report(self, *, load: float, jobs: int) -> None:
        now = self._clock()
        if self._last is not None and now - self._last < PERIOD_S:
            return
        self._last = now
        out = self._out or sys.stdout
        out.write(
            emf_line(agent_name=self._agent_name, load=load, jobs=jobs, timestamp_ms=self._wall_ms()) + "\n"
        )
        out.flush()
