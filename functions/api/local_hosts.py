"""Local mode answers only requests addressed to this machine (or a name in SPACES_DEV_HOSTS).

Local mode signs and accepts bearer tokens with a public dev secret and mints them for anyone at
/dev/token. CORS keeps other sites' pages from calling it, but not DNS rebinding: a site that
re-points its own name at 127.0.0.1 after its page loaded is same-origin with the local API, and can
sign its own token with the public secret. Its requests still carry its name as `Host`, so every
request (HTTP and WebSocket) whose Host names anything else is refused before any route runs.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from contract.loopback import is_loopback_url, normal_host

from ..core.config import Settings
from .json_bodies import answer

RULE = "foreign_host"
# Also this machine: the name Docker gives containers for their host, through which the compose
# SFU's webhooks reach the local API (docker-compose.yml). Under the reserved `.internal` top-level
# domain, so no site can own it and point a page's name at this machine through it.
DOCKER_HOST = "host.docker.internal"
# What uvicorn prints for a server bound to every address (`--host 0.0.0.0`), which browsers open as
# this machine. No site can be loaded under it either.
ANY_ADDRESS = "0.0.0.0"


def local_host(host_header: str, extra: frozenset[str]) -> bool:
    """Whether a Host header ("127.0.0.1:8000", "[::1]:8000") names this machine or one of `extra`."""
    if is_loopback_url("//" + host_header):
        return True
    try:
        name = urlsplit("//" + host_header).hostname or ""
        return name in (DOCKER_HOST, ANY_ADDRESS) or normal_host(name) in extra
    except ValueError:  # a malformed bracket
        return False


class LocalHostsOnly:
    """Installed in every app; acts in local mode only, read per request from the app's settings
    (as every route reads them: tests and the Lambda handler swap them on a built app)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        settings: Settings = scope["app"].state.settings
        if scope["type"] not in ("http", "websocket") or not settings.is_local:
            await self.app(scope, receive, send)
            return
        extra = settings.dev_host_list
        host = next((v.decode("latin-1") for k, v in scope.get("headers", ()) if k == b"host"), "")
        if local_host(host, extra):
            await self.app(scope, receive, send)
            return
        allowed = ", ".join(["localhost", "127.0.0.0/8", "[::1]", DOCKER_HOST, ANY_ADDRESS, *sorted(extra)])
        detail = (
            f"this local API answers only requests for {allowed}, not for host {host[:100]!r}; "
            "set SPACES_DEV_HOSTS to add a name"
        )
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": RULE})
            return
        await answer(send, 403, detail, RULE)
