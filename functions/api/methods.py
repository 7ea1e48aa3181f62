"""`Allow` that names every method a path supports, and plain OPTIONS answered with it.

Starlette answers a method a route lacks with the `Allow` of the first route whose path matched,
so `/spaces` (GET and POST are two routes) said `Allow: POST`, and with the web client mounted at
`/`, OPTIONS on any POST route fell through to the static files (`Allow: GET, HEAD`). This
middleware looks the path up in all API routes at once. CORS preflights (an `Origin` and an
`Access-Control-Request-Method`) never reach it: the CORS middleware outside it answers them.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Mount
from starlette.types import ASGIApp, Receive, Scope, Send

from .problems import problem

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


class AllowedMethods:
    def __init__(self, app: ASGIApp, *, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        # The app's own list: routes added after the middleware was declared are seen too.
        self._routes = routes

    def _api_routes(self) -> list[BaseRoute]:
        # A mount (the web client's files at `/`) takes any path with GET and HEAD; the API's
        # routes decide which methods a path has.
        return [route for route in self._routes if not isinstance(route, Mount)]

    def _matches(self, scope: Scope, method: str) -> bool:
        probe = {**scope, "method": method}
        return any(route.matches(probe)[0] is Match.FULL for route in self._api_routes())

    def allowed(self, scope: Scope) -> set[str]:
        return {method for method in METHODS if self._matches(scope, method)}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._matches(scope, scope["method"]):
            await self.app(scope, receive, send)
            return
        methods = self.allowed(scope)
        if not methods:  # not an API path: the router answers (404, or the web client's files)
            await self.app(scope, receive, send)
            return
        allow = ", ".join(sorted(methods | {"OPTIONS"}))
        method: str = scope["method"]
        response: Response
        if method == "OPTIONS":
            response = Response(status_code=204, headers={"Allow": allow})
        else:
            response = problem(
                405, "method_not_allowed", f"{method} is not supported here; use {allow}", {"Allow": allow}
            )
        await response(scope, receive, send)
