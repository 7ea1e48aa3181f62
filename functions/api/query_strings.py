"""A query parameter named twice is a 422 naming it, before any route sees it.

Starlette keeps every value and FastAPI reads the last: `?state=live&state=ended` listed ended
Spaces, and `?rejoin_since=bogus&rejoin_since=<valid>` validated only the second, while a proxy, a
WAF or a log that reads the first value sees another request (API Gateway joins repeated values
with commas in `queryStringParameters`). No parameter of this API takes a list, so a repeated one
is the same ambiguity as a key named twice in a JSON body (json_bodies.py), refused the same way.
"""

from __future__ import annotations

from collections import Counter
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from . import problems


def repeated(query_string: bytes) -> list[str]:
    """The names given more than once in `query_string`, in the order they first appear."""
    names = Counter(name for name, _ in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True))
    return [name for name, count in names.items() if count > 1]


class SingleQueryValues:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        twice = repeated(scope.get("query_string", b"")) if scope["type"] == "http" else []
        if not twice:
            await self.app(scope, receive, send)
            return
        # FastAPI's 422 shape, so a client parses one format for every invalid parameter.
        detail = [
            {"type": "value_error", "loc": ["query", name], "msg": "given more than once; give it once"}
            for name in twice
        ]
        content = problems.encode({"detail": detail})
        await send(
            {
                "type": "http.response.start",
                "status": 422,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(content)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": content})
