"""Shared helpers of the broadcast benchmarks: where results go, distributions, the doc blocks."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from bench.agent.report import update_section as _update

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "bench" / "broadcast.md"
IMG = ROOT / "docs" / "bench" / "img"
OUT = ROOT / "bench" / "out" / "broadcast"


def update_section(name: str, body: str) -> None:
    _update(name, body, DOC)


def pct(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), nearest rank; nan for no values."""
    if not values:
        return math.nan
    s = sorted(values)
    k = max(0, min(len(s) - 1, math.ceil(q / 100 * len(s)) - 1))
    return float(s[k])


def machine_note() -> str:
    load = os.getloadavg()
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    nice = os.nice(0)
    prio = (
        f", run at niceness {nice} (a higher CPU priority than the other work on the machine)"
        if nice < 0
        else ""
    )
    return (
        f"{when}, {os.cpu_count()} cores, load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} "
        f"(1 / 5 / 15 min) at the end, shared with other engineers' builds and tests{prio}"
    )
