"""How full a worker is, as LiveKit's dispatcher sees it (0..1, unavailable above the threshold).

One room is one job process. CPU alone under-reports a worker full of quiet rooms (each still
holds a process and its memory), so the load is the larger of the CPU share and the room count
against a room budget.

The CPU share is that of this worker's own process tree (the worker and its job processes) over
the CPUs it may use, not the machine's: on a shared host (or a test machine) a neighbour's load
must not close this worker to new rooms. In an ECS task the two are the same.

Published load: when the task sets SPACES_LOAD_METRIC, the worker prints, once a minute, the highest
load the dispatcher saw in that minute as one JSON line on stdout (names in contract/names.py). The
task's log group turns it into a CloudWatch metric and the ECS service scales on it, so the fleet
grows on the same signal that closes a worker to new jobs (a budget full of quiet jobs included,
which CPU alone never shows).

A worker that a newer deployment of its ECS service has superseded (media_agent/deployment.py)
reports 1.0, so the dispatcher sends it nothing new, and publishes nothing: it is no longer part of
the pool the service scales for.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Protocol

import psutil
from livekit.agents.utils.hw import get_cpu_monitor

from contract import names

# Rooms one worker may hold. Every room is a job process forked from a preloaded forkserver: about
# 25 MB private memory each on top of ~0.5 GB shared (docs/agent.md), so 40 rooms fit a 2 GiB task
# with headroom; CPU usually binds first. Override with SPACES_AGENT_MAX_ROOMS.
DEFAULT_MAX_ROOMS = 40
MAX_ROOMS_ENV = "SPACES_AGENT_MAX_ROOMS"

# CPU is sampled every second and averaged over the last five samples, so one busy second does not
# close the worker to new rooms.
CPU_SAMPLE_S = 1.0
CPU_WINDOW = 5
# One line a minute: CloudWatch metrics from log filters have a one-minute resolution.
PUBLISH_EVERY_S = 60.0


class _HasActiveJobs(Protocol):
    @property
    def active_jobs(self) -> Sequence[object]: ...


def tree_cpu_seconds(root: psutil.Process | None = None) -> float:
    """User + system CPU seconds of a process and all its live descendants."""
    root = root or psutil.Process()
    total = 0.0
    for process in [root, *root.children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.Error:  # exited between listing and reading
            continue
        total += times.user + times.system
    return total


def max_rooms() -> int:
    value = os.environ.get(MAX_ROOMS_ENV)
    if not value:
        return DEFAULT_MAX_ROOMS
    try:
        parsed = int(value)
    except ValueError as exc:
        raise ValueError(f"{MAX_ROOMS_ENV} must be a positive integer, got {value!r}") from exc
    if parsed <= 0:
        raise ValueError(f"{MAX_ROOMS_ENV} must be a positive integer, got {value!r}")
    return parsed


class WorkerLoad:
    """The `load_fnc` of the AgentServer: max(cpu average, rooms / room budget)."""

    def __init__(
        self,
        rooms_budget: int,
        *,
        metric_name: str | None = None,
        write: Callable[[str], object] | None = None,
        clock: Callable[[], float] = time.monotonic,
        superseded: Callable[[], bool] = lambda: False,
    ) -> None:
        self._budget = rooms_budget
        self._superseded = superseded
        self._samples: deque[float] = deque(maxlen=CPU_WINDOW)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        # Off unless the task names a metric (the ECS task definition sets it).
        self._metric = metric_name or os.environ.get(names.ENV_LOAD_METRIC) or None
        self._write = write or _print_line
        self._clock = clock
        self._window_start: float | None = None
        self._peak_load, self._peak_jobs = 0.0, 0

    def _sample_forever(self) -> None:
        cpus = max(get_cpu_monitor().cpu_count(), 1e-3)  # cgroup quota aware
        previous_busy, previous_at = tree_cpu_seconds(), time.monotonic()
        while True:
            time.sleep(CPU_SAMPLE_S)
            busy, at = tree_cpu_seconds(), time.monotonic()
            value = max(0.0, busy - previous_busy) / ((at - previous_at) * cpus)
            previous_busy, previous_at = busy, at
            with self._lock:
                self._samples.append(min(1.0, value))

    def cpu(self) -> float:
        if self._thread is None:
            # Started lazily: load_fnc is first called inside the running worker, never at import.
            self._thread = threading.Thread(target=self._sample_forever, name="cpu-load", daemon=True)
            self._thread.start()
        with self._lock:
            return sum(self._samples) / len(self._samples) if self._samples else 0.0

    def __call__(self, server: _HasActiveJobs) -> float:
        rooms = len(server.active_jobs)
        if self._superseded():
            with self._lock:
                self._window_start = None  # a minute it took no jobs in is not the pool's load
            return 1.0
        load = min(1.0, max(self.cpu(), rooms / self._budget))
        if self._metric is not None:
            self._publish(load, rooms)
        return load

    def _publish(self, load: float, jobs: int) -> None:
        """Keep the minute's peak; print it when the minute is over (the first call opens one)."""
        now = self._clock()
        with self._lock:
            if self._window_start is None:
                self._window_start, self._peak_load, self._peak_jobs = now, load, jobs
                return
            self._peak_load, self._peak_jobs = max(self._peak_load, load), max(self._peak_jobs, jobs)
            if now - self._window_start < PUBLISH_EVERY_S:
                return
            peak_load, peak_jobs = self._peak_load, self._peak_jobs
            self._window_start, self._peak_load, self._peak_jobs = now, load, jobs
        line = {
            names.LOAD_LINE_METRIC: self._metric,
            names.LOAD_LINE_PERCENT: round(100 * peak_load, 1),
            names.LOAD_LINE_JOBS: peak_jobs,
        }
        self._write(json.dumps(line, separators=(",", ":")))


def _print_line(line: str) -> None:
    # stdout, not the logging setup: the line must stay one bare JSON object for the metric filter.
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
