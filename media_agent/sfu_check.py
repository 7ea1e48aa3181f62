"""Whether a worker may start against its SFU: one question before livekit-agents' long wait.

A worker keeps trying the SFU for about an hour (deployment.SFU_CONNECT_TRIES), which is right
while the SFU does not answer (a first deploy, an outage) but hides a deploy that can never
register: livekit-agents retries every failure alike, a key pair the SFU refuses included, so the
task would stay RUNNING for an hour, ECS's circuit breaker would see no failed task, and the old
workers would stand aside for new ones that take no Space. So each worker first asks the SFU's
server API (ListRooms, for one room that no Space is named) with its own key pair: refused (401,
403) or no LiveKit there (404) is a reason to exit at once, and ECS counts a failed task; no answer,
or any other answer, is left to the long wait.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import aiohttp
from livekit import api

from contract import names

# No Space's room is named so (room names are Space ids).
PROBE_ROOM = "spaces-worker-preflight"
TIMEOUT_S = 10.0
# The SFU's answers that every one of the worker's tries would meet again.
REFUSED_STATUSES = {
    401: "refused the worker's key pair",
    403: "refused the worker's key pair",
    404: "is not a LiveKit server",
}


def refusal_before_start(env: Mapping[str, str]) -> str | None:
    """`sfu_refusal` for a worker's entry point, on a loop of its own: `asyncio.run` would leave the
    main thread without a current loop, which a later `asyncio.get_event_loop()` refuses."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(sfu_refusal(env))
    finally:
        loop.close()


async def sfu_refusal(env: Mapping[str, str], timeout_s: float = TIMEOUT_S) -> str | None:
    """Why the worker must not start against the SFU in `env`, or None when it may (or when the SFU
    does not answer: it is waited for)."""
    url = env.get(names.ENV_LIVEKIT_URL, "")
    key = env.get(names.ENV_LIVEKIT_API_KEY, "")
    secret = env.get(names.ENV_LIVEKIT_API_SECRET, "")
    if not (url and key and secret):
        return None  # livekit-agents says which one is missing
    try:
        async with api.LiveKitAPI(
            url, key, secret, timeout=aiohttp.ClientTimeout(total=timeout_s), failover=False
        ) as lk:
            await asyncio.wait_for(
                lk.room.list_rooms(api.ListRoomsRequest(names=[PROBE_ROOM])), 2 * timeout_s
            )
    except api.TwirpError as exc:
        reason = REFUSED_STATUSES.get(exc.status)
        return None if reason is None else f"the SFU at {url} {reason} (HTTP {exc.status}: {exc.message})"
    except (aiohttp.ClientError, OSError, TimeoutError):
        return None
    return None
