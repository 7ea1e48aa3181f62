"""A real agent worker that does nothing but be present: registered under any agent name, it joins
every room it is dispatched to and stays until killed.

The control plane's agent bookkeeping (which agents a Space gets, which one left, what to dispatch
again) depends only on the agent's name and presence, and the webhooks the SFU sends about it. This
worker gives the integration tests those, from livekit-agents itself (it sets `lk.agent.name`),
without the cost of the real stage agent or composer.

    worker = start_stand_in(livekit, agent_name=names.COMPOSER_AGENT_NAME)   # returns once registered
    worker.kill()                                                            # a crash

Run directly: `python -m tests.support.stand_in_agent` with LIVEKIT_URL/_API_KEY/_API_SECRET,
STAND_IN_AGENT_NAME and STAND_IN_HTTP_PORT in the environment.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING, Protocol

from devstack.ports import free_port
from devstack.processes import ManagedProcess, http_ok

if TYPE_CHECKING:
    from livekit.agents import JobContext

ROOT = Path(__file__).resolve().parents[2]
NAME_ENV = "STAND_IN_AGENT_NAME"
PORT_ENV = "STAND_IN_HTTP_PORT"
REGISTERED_MARK = "registered worker"


class LiveKitLike(Protocol):
    @property
    def ws_url(self) -> str: ...
    @property
    def api_key(self) -> str: ...
    @property
    def api_secret(self) -> str: ...


def start_stand_in(
    livekit: LiveKitLike, *, agent_name: str, log: IO[str] | None = None, timeout: float = 60.0
) -> ManagedProcess:
    port = free_port()
    process = ManagedProcess(
        f"stand-in:{agent_name}",
        [sys.executable, "-m", "tests.support.stand_in_agent"],
        env={
            "LIVEKIT_URL": livekit.ws_url,
            "LIVEKIT_API_KEY": livekit.api_key,
            "LIVEKIT_API_SECRET": livekit.api_secret,
            NAME_ENV: agent_name,
            PORT_ENV: str(port),
        },
        cwd=ROOT,
        log=log,
    )
    try:
        process.wait_until(
            lambda: (
                any(REGISTERED_MARK in line for line in process.lines)
                and http_ok(f"http://127.0.0.1:{port}")()
            ),
            timeout=timeout,
            what="registered with livekit-server",
        )
    except BaseException:
        process.kill()
        raise
    return process


async def present(ctx: JobContext) -> None:
    """The job: join, then stay (module level: job processes are started by pickling it)."""
    await ctx.connect()
    await asyncio.Event().wait()


def main() -> None:
    from livekit.agents import AgentServer, cli

    server = AgentServer(
        host="127.0.0.1",
        port=int(os.environ[PORT_ENV]),
        num_idle_processes=1,
        # Always available: the shared test machine's CPU load must not make it refuse the dispatch.
        load_fnc=lambda: 0.0,
    )
    server.rtc_session(agent_name=os.environ[NAME_ENV])(present)
    sys.argv = [sys.argv[0], "start"]
    cli.run_app(server)


if __name__ == "__main__":
    main()
