"""ECS task scale-in protection while the worker holds rooms.

A Space can run for hours and an agent process cannot hand a room over mid-conversation, so a
worker task with live rooms asks ECS not to pick it for scale-in or deployment replacement; with
no rooms it drops the protection and becomes an ordinary candidate. ECS injects ECS_AGENT_URI into
every task container; without it (locally, in tests that do not set it) nothing happens.

The rule (`ProtectionPolicy`) is pure; `run` polls the worker and applies it over HTTP.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
import urllib.request
from collections.abc import Callable

logger = logging.getLogger("media_agent.scale_in")

ECS_AGENT_URI_ENV = "ECS_AGENT_URI"
STATE_PATH = "/task-protection/v1/state"
# Protection is requested for this long and renewed well before it lapses, so a worker that dies
# without clearing it stays protected at most this long.
EXPIRES_MIN = 60
RENEW_BEFORE_S = 10 * 60
# How often the worker's room count is read.
POLL_S = 5.0


class ProtectionPolicy:
    """Decides what to tell ECS, given the number of rooms and the time."""

    def __init__(self, expires_min: int = EXPIRES_MIN, renew_before_s: float = RENEW_BEFORE_S) -> None:
        self._expires_s = expires_min * 60
        self._renew_before_s = renew_before_s
        self.enabled: bool | None = None  # unknown until the first successful request
        self._expires_at = 0.0

    def decide(self, active_rooms: int, now: float) -> bool | None:
        """The protection state to request now, or None if the current one stands."""
        want = active_rooms > 0
        if want != self.enabled:
            return want
        if want and now >= self._expires_at - self._renew_before_s:
            return True
        return None

    def applied(self, enabled: bool, now: float) -> None:
        self.enabled = enabled
        self._expires_at = now + self._expires_s if enabled else 0.0


def request_body(enabled: bool, expires_min: int = EXPIRES_MIN) -> dict[str, object]:
    body: dict[str, object] = {"ProtectionEnabled": enabled}
    if enabled:
        body["ExpiresInMinutes"] = expires_min
    return body


def _put(agent_uri: str, body: dict[str, object]) -> None:
    req = urllib.request.Request(
        agent_uri.rstrip("/") + STATE_PATH,
        data=json.dumps(body).encode(),
        method="PUT",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=5) as resp:
        resp.read()


async def run(
    active_rooms: Callable[[], int],
    agent_uri: str | None = None,
    policy: ProtectionPolicy | None = None,
    poll_s: float = POLL_S,
) -> None:
    """Keep the task's protection in line with `active_rooms()` until cancelled."""
    agent_uri = agent_uri or os.environ.get(ECS_AGENT_URI_ENV)
    if not agent_uri:
        return
    policy = policy or ProtectionPolicy()
    while True:
        now = time.monotonic()
        rooms = active_rooms()
        wanted = policy.decide(rooms, now)
        if wanted is not None:
            try:
                await asyncio.to_thread(_put, agent_uri, request_body(wanted))
                policy.applied(wanted, now)
                logger.info("scale-in protection %s", "on" if wanted else "off", extra={"rooms": rooms})
            except Exception:  # the ECS agent answers again next poll; keep the last known state
                # Any failure (a refused connection, a malformed answer): one bad reply must not
                # end the loop, or protection would stay as it is for the worker's life.
                logger.warning("could not set scale-in protection", exc_info=True)
        await asyncio.sleep(poll_s)
