"""Local mode: the API also serves the built web page (`make dev`, the e2e tests), with the page's
security headers (contract/web_security.py), so every browser test runs the page under them."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response
from starlette.types import Scope

from contract import web_security

from ..core.config import LOCAL_WEB_ORIGINS, Settings


class _Page(StaticFiles):
    def __init__(self, *, directory: Path, headers: dict[str, str]) -> None:
        super().__init__(directory=directory, html=True)
        self._headers = headers

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(self._headers)
        return response


def local_policy(settings: Settings) -> str:
    """The page's policy with this server's origins: the SFU it hands out, the broadcast's base (a
    caching proxy in the tests) and both names of `make dev`'s address."""
    broadcast = [web_security.origin(settings.broadcast_base_url)] if settings.broadcast_base_url else []
    return web_security.content_security_policy(
        connect=[
            *web_security.signalling_origins(settings.client_livekit_url),
            *LOCAL_WEB_ORIGINS,
            *broadcast,
        ],
        media=[*LOCAL_WEB_ORIGINS, *broadcast],
        images=LOCAL_WEB_ORIGINS,
    )


def mount(app: FastAPI, settings: Settings, web: Path) -> None:
    """`/config.json` and the page at `/`, mounted last so every API route wins over a file."""

    @app.get("/config.json", include_in_schema=False)
    def same_origin() -> dict[str, str]:
        # What the page reads first (web/src/config.ts): nothing, so it calls this origin. A
        # deployment writes its own; locally a 404 was an error in every page's console.
        return {}

    headers = web_security.security_headers(local_policy(settings))
    app.mount("/", _Page(directory=web, headers=headers), name="web")
