"""How full a worker is, as LiveKit's dispatcher sees it (0..1, unavailable above the threshold).

One room is one job process. CPU alone under-reports a worker full of quiet rooms (each still
holds a process and its memory), so the load is the larger of the CPU share and the room count
against a room budget.

The CPU share is that of this worker's own process tree (the worker and its job processes) over
the CPUs it may use, not the machine's: on a shared host (or a test machine) a neighbour's load
must not close this worker to new rooms. In an ECS task the two are the same.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Sequence
from typing import Protocol

import psutil
from livekit.agents.utils.hw import get_cpu_monitor

# Rooms one worker may hold. Every room is a job process forked from a preloaded forkserver: about
# 25 MB private memory each on top of ~0.5 GB shared (docs/agent.md), so 40 rooms fit a 2 GiB task
# with headroom; CPU usually binds first. Override with SPACES_AGENT_MAX_ROOMS.
DEFAULT_MAX_ROOMS = 40
MAX_ROOMS_ENV = "SPACES_AGENT_MAX_ROOMS"

# CPU is sampled every second and averaged over the last five samples, so one busy second does not
# close the worker to new rooms.
CPU_SAMPLE_S = 1.0
CPU_WINDOW = 5


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

    def __init__(self, rooms_budget: int) -> None:
        self._budget = rooms_budget
        self._samples: deque[float] = deque(maxlen=CPU_WINDOW)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

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
        return min(1.0, max(self.cpu(), rooms / self._budget))
