"""Whether the tests run in CI (`CI=true`, as CI services set it): there, every integration test runs
against the parts the tests start themselves, and a missing part fails the run instead of being
replaced by a stand-in."""

from __future__ import annotations

import os


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")
