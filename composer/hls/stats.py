"""Where a broadcast spends its CPU: counters per pipeline stage, read by bench/broadcast."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

# Stages of the pipeline this package owns (decode and compose belong to the composer agent).
STAGES = ("convert_video", "encode_video", "scale_low", "encode_low", "encode_audio", "mux", "upload")


@dataclass(frozen=True)
class StageTime:
    calls: int = 0
    cpu_s: float = 0.0  # CPU time of the thread that ran the stage (time.thread_time)
    wall_s: float = 0.0


@dataclass(frozen=True)
class BroadcastStats:
    stages: dict[str, StageTime] = field(default_factory=dict)
    segments_written: int = 0
    segments_dropped: int = 0
    playlists_written: int = 0  # writes of the live window (each after the full playlist's)
    write_errors: int = 0  # failed sink writes, each followed by a retry or a drop
    playlist_conflicts: int = 0  # conditional playlist writes that found another writer's version
    bytes_written: int = 0
    pending_segments: int = 0

    @property
    def cpu_s(self) -> float:
        return sum(s.cpu_s for s in self.stages.values())


class StatsRecorder:
    """Thread-safe accumulation; the encoder thread and the upload thread both write here."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stages = {name: [0, 0.0, 0.0] for name in STAGES}
        self.segments_written = 0
        self.segments_dropped = 0
        self.playlists_written = 0
        self.write_errors = 0
        self.playlist_conflicts = 0
        self.bytes_written = 0

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        cpu0, wall0 = time.thread_time(), time.perf_counter()
        try:
            yield
        finally:
            cpu, wall = time.thread_time() - cpu0, time.perf_counter() - wall0
            with self._lock:
                acc = self._stages[name]
                acc[0] += 1
                acc[1] += cpu
                acc[2] += wall

    def count(self, **deltas: int) -> None:
        with self._lock:
            for name, delta in deltas.items():
                setattr(self, name, getattr(self, name) + delta)

    def snapshot(self, pending_segments: int) -> BroadcastStats:
        with self._lock:
            return BroadcastStats(
                stages={k: StageTime(int(v[0]), v[1], v[2]) for k, v in self._stages.items()},
                segments_written=self.segments_written,
                segments_dropped=self.segments_dropped,
                playlists_written=self.playlists_written,
                write_errors=self.write_errors,
                playlist_conflicts=self.playlist_conflicts,
                bytes_written=self.bytes_written,
                pending_segments=pending_segments,
            )
