"""`python -m composer` refuses to register a worker that must not or cannot run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from contract import names

ROOT = Path(__file__).resolve().parents[3]


def run_entry_point(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("LIVEKIT_", "SPACES_"))}
    return subprocess.run(
        [sys.executable, "-m", "composer", "start"],
        env={**clean, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_dev_key_pair_is_refused_outside_local_mode(tmp_path: Path) -> None:
    done = run_entry_point(
        **{
            names.ENV_LIVEKIT_API_KEY: "APIrealkey",
            names.ENV_LIVEKIT_API_SECRET: names.DEV_API_SECRET,
            names.ENV_MODE: "cloud",
            names.ENV_LIVEKIT_URL: "ws://127.0.0.1:1",
            names.ENV_BROADCAST_DIR: str(tmp_path),
        }
    )
    assert done.returncode == 1
    assert "refusing the local dev key pair" in done.stderr


def test_a_composer_without_a_destination_does_not_start() -> None:
    done = run_entry_point(
        **{
            names.ENV_LIVEKIT_API_KEY: names.DEV_API_KEY,
            names.ENV_LIVEKIT_API_SECRET: names.DEV_API_SECRET,
            names.ENV_MODE: "local",
            names.ENV_LIVEKIT_URL: "ws://127.0.0.1:1",
        }
    )
    assert done.returncode == 1
    assert names.ENV_BROADCAST_DIR in done.stderr and names.ENV_BROADCAST_BUCKET in done.stderr
