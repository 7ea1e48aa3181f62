"""Run an agent worker (`python -m media_agent|composer start|dev`) as a child process for tests.

    agent = start_agent(ws_url=..., api_key=..., api_secret=...)   # returns once registered
    agent.active_jobs()      # rooms it is in, from its own /worker endpoint
    agent.kill()             # SIGKILL the worker and its job processes (a crash)
    agent.stop()             # SIGTERM (drains first in `start` mode), SIGKILL after `timeout`

The worker registers under contract.names.AGENT_NAME and only joins rooms it is dispatched to
(explicit dispatch), so tests create the room and the dispatch themselves.
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from contract import names
from devstack.ports import free_port
from devstack.processes import ManagedProcess, http_ok

ROOT = Path(__file__).resolve().parents[2]

# Seen in the worker log once it has registered with the server and can take dispatches.
REGISTERED_MARK = "registered worker"


@dataclass
class AgentProcess:
    process: ManagedProcess
    http_port: int

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def running(self) -> bool:
        return self.process.running

    @property
    def log(self) -> str:
        return "".join(self.process.lines)

    def registrations(self) -> int:
        return sum(REGISTERED_MARK in line for line in self.process.lines)

    def worker_info(self) -> dict[str, object]:
        """GET /worker: the worker's own view (agent_name, active_jobs, worker_load)."""
        with urllib.request.urlopen(f"{self.http_url}/worker", timeout=2) as resp:
            return dict(json.load(resp))

    def active_jobs(self) -> int:
        return int(self.worker_info().get("active_jobs", 0))  # proto JSON omits zero values

    def kill(self) -> None:
        self.process.kill()

    def stop(self, *, timeout: float = 15.0) -> None:
        self.process.stop(timeout=timeout)


# A worker imports the agents framework and pre-warms its job process before it registers: seconds
# on an idle machine, over a minute on a loaded 2-core CI runner. Generous: it bounds a poll.
WORKER_START_TIMEOUT_S = 180.0


def start_agent(
    *,
    ws_url: str,
    api_key: str,
    api_secret: str,
    mode: str = "start",
    name: str = "agent",
    env: dict[str, str] | None = None,
    log: IO[str] | None = None,
    timeout: float = WORKER_START_TIMEOUT_S,
) -> AgentProcess:
    """Start the worker against a LiveKit server and wait until it is registered and healthy."""
    return _start_worker(
        "media_agent",
        "SPACES_AGENT",
        ws_url=ws_url,
        api_key=api_key,
        api_secret=api_secret,
        mode=mode,
        name=name,
        env=env,
        log=log,
        timeout=timeout,
    )


def start_composer(
    *,
    ws_url: str,
    api_key: str,
    api_secret: str,
    broadcast_dir: Path,
    mode: str = "start",
    name: str = "composer",
    env: dict[str, str] | None = None,
    log: IO[str] | None = None,
    timeout: float = WORKER_START_TIMEOUT_S,
) -> AgentProcess:
    """Start the broadcast composer worker (`python -m composer`), writing to `broadcast_dir`."""
    return _start_worker(
        "composer",
        "SPACES_COMPOSER",
        ws_url=ws_url,
        api_key=api_key,
        api_secret=api_secret,
        mode=mode,
        name=name,
        log=log,
        timeout=timeout,
        env={names.ENV_BROADCAST_DIR: str(broadcast_dir), **(env or {})},
    )


def _start_worker(
    module: str,
    env_prefix: str,
    *,
    ws_url: str,
    api_key: str,
    api_secret: str,
    mode: str,
    name: str,
    env: dict[str, str] | None,
    log: IO[str] | None,
    timeout: float,
) -> AgentProcess:
    if mode not in ("start", "dev"):
        raise ValueError(f"mode must be 'start' or 'dev', got {mode!r}")
    # The health port is free when drawn, and another process on the machine can take it before the
    # worker binds it (the worker binds every address, `::`): the worker then exits at once, and a
    # new port is drawn (a CI run met it while other tests ran beside it).
    for attempt in range(1, PORT_ATTEMPTS + 1):
        http_port = free_port()
        process = ManagedProcess(
            name,
            [sys.executable, "-m", module, mode],
            env={
                names.ENV_MODE: "local",
                names.ENV_LIVEKIT_URL: ws_url,
                names.ENV_LIVEKIT_API_KEY: api_key,
                names.ENV_LIVEKIT_API_SECRET: api_secret,
                f"{env_prefix}_HTTP_PORT": str(http_port),
                # One warm job process: a dispatch does not wait for a process start, and a test
                # machine does not carry one idle process per core.
                f"{env_prefix}_IDLE_PROCESSES": "1",
                **(env or {}),
            },
            cwd=ROOT,
            log=log,
        )
        agent = AgentProcess(process=process, http_port=http_port)
        try:
            process.wait_until(
                lambda this=agent: this.registrations() > 0 and http_ok(this.http_url)(),
                timeout=timeout,
                what="registered with livekit-server",
            )
        except RuntimeError:
            process.kill()
            port_taken = "address already in use" in "".join(process.lines)
            if port_taken and attempt < PORT_ATTEMPTS:
                continue
            raise
        except BaseException:
            process.kill()
            raise
        return agent
    raise AssertionError("unreachable: the last attempt returns or raises")


# Health ports drawn before giving up (each taken one costs a worker start of a second or two).
PORT_ATTEMPTS = 3
