"""How full a composer worker is, as LiveKit's dispatcher sees it (0..1).

A 720p30 composition is about one core: H.264 encoding with libx264 (preset veryfast, one thread
per Space, composer/hls/config.py) dominates, plus decoding the shown camera (and the lowest
layers of the warm ones, composer/video.py) and drawing the frame. An
audio-only Space is about 0.05 core (the goals in issue 8; bench/broadcast measures both). So the
budget is Spaces per core: by default one Space per CPU this worker may use (cgroup-aware), and the
load is the larger of that share and the worker's own CPU average (media_agent.load.WorkerLoad).
A worker that holds only audio-only Spaces is held back by the Space count before its CPU is busy;
a pool for audio-only Spaces raises the budget with SPACES_COMPOSER_MAX_SPACES.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from livekit.agents.utils.hw import get_cpu_monitor

from media_agent.load import WorkerLoad

MAX_SPACES_ENV = "SPACES_COMPOSER_MAX_SPACES"
# Cores per 720p30 Space (see above).
CORES_PER_SPACE = 1.0
# The dispatcher stops sending Spaces once the load reaches this (it must be below 1 in
# production); with the budget above, a worker then holds `budget` Spaces.
LOAD_THRESHOLD = 0.95


def max_spaces(env: Mapping[str, str], cpus: float | None = None) -> int:
    """Spaces one worker may hold: SPACES_COMPOSER_MAX_SPACES, else one per usable core (>= 1)."""
    value = env.get(MAX_SPACES_ENV)
    if value:
        try:
            parsed = int(value)
        except ValueError:
            parsed = 0
        if parsed <= 0:
            raise ValueError(f"{MAX_SPACES_ENV} must be a positive integer, got {value!r}")
        return parsed
    if cpus is None:
        cpus = get_cpu_monitor().cpu_count()
    return max(1, int(cpus / CORES_PER_SPACE))


def composer_load(env: Mapping[str, str], superseded: Callable[[], bool] = lambda: False) -> WorkerLoad:
    """The AgentServer `load_fnc`: max(CPU average of this worker's processes, Spaces / budget), or
    1.0 once superseded by a newer deployment (media_agent/deployment.py)."""
    return WorkerLoad(max_spaces(env), superseded=superseded)
