"""Lambda cold start on this machine: fresh interpreters importing the handler and serving one token."""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CHILD = "bench.control_plane.cold_child"
BASELINE = "bench.control_plane.cold_baseline"


@dataclass
class ColdStart:
    label: str
    runs: list[dict[str, Any]] = field(default_factory=list)
    process_ms: list[float] = field(default_factory=list)

    def median(self, key: str) -> float:
        return statistics.median(r[key] for r in self.runs)


def run_child(
    space_id: str, env: dict[str, str], *, importtime: bool = False, child: str = CHILD
) -> tuple[dict[str, Any], str, float]:
    argv = [sys.executable, *(["-X", "importtime"] if importtime else []), "-m", child, space_id]
    start = time.perf_counter()
    done = subprocess.run(
        argv,
        env={**os.environ, **env, "PYTHONDONTWRITEBYTECODE": "0"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    wall = (time.perf_counter() - start) * 1000
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr, wall


def measure(label: str, space_id: str, env: dict[str, str], runs: int, child: str = CHILD) -> ColdStart:
    run_child(space_id, env, child=child)  # warm the page cache and .pyc files, as a deployed bundle is
    result = ColdStart(label)
    for _ in range(runs):
        doc, _, wall = run_child(space_id, env, child=child)
        result.runs.append(doc)
        result.process_ms.append(wall)
    return result


_LINE = re.compile(r"import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)")


def import_breakdown(space_id: str, env: dict[str, str]) -> dict[str, float]:
    """Import time (ms) per top-level package: every module's own (self) time from
    `python -X importtime`, summed by the package it belongs to."""
    _, stderr, _ = run_child(space_id, env, importtime=True)
    totals: dict[str, float] = defaultdict(float)
    for line in stderr.splitlines():
        m = _LINE.match(line)
        if m:
            totals[m.group(4).split(".")[0]] += int(m.group(1)) / 1000
    return dict(sorted(totals.items(), key=lambda kv: -kv[1]))


def interpreter_startup_ms(runs: int = 10) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)
