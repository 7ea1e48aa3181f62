"""One answer for every body that cannot be taken as it is, before any route sees it: 413
`body_too_large` past its limit, whatever its Content-Type and whoever sends it, and for a JSON body
400 `malformed_body` naming why.

Every body is bounded here, not only JSON ones: FastAPI reads a route's whole body before it checks
the bearer token or the Content-Type, so bytes sent as `text/plain` (or with no Content-Type, or to
the webhook) were taken into memory in full, from anyone, to be answered 401 or 422.

FastAPI answered 400 for bytes that are not UTF-8 but 422 `json_invalid` for text that is not JSON
(trailing text, a raw newline inside a string), and it took an object that names a key twice with
the last value winning: `{"block": true, "block": false}` removed someone without a block, while any
proxy or log that reads the first value would see a block. RFC 8259 leaves duplicate names to the
reader; I-JSON (RFC 7493) forbids them, and so does this API.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import problems

# Every body this API takes is a small object (a title of 120 characters is the longest field);
# API Gateway would pass up to 10 MB to the Lambda.
MAX_BODY_BYTES = 64 * 1024
# The SFU's events carry the room's metadata (livekit-server takes up to 512 KiB; the control plane
# writes ~22 KB at most, docs/identity.md) and one participant's attributes (64 KiB at most), as
# JSON strings: a control character is escaped to six bytes, so 512 KiB of metadata can be 3 MiB.
WEBHOOK_MAX_BODY_BYTES = 4 * 1024 * 1024
WITH_BODY = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# The SFU's webhooks are judged by their signature over the exact bytes before what they hold (an
# unsigned body is 401 whatever it holds), within a size limit of their own.
_OWN_RULES = ("/livekit/",)
# The 400 below, as the OpenAPI document describes it: on every operation the rule covers, including
# those that take no body (one sent anyway as JSON is judged all the same).
MALFORMED_BODY = "`malformed_body`: the body is not UTF-8 JSON text, or names a key twice"


def judges_json(path: str) -> bool:
    """Whether a JSON body sent to `path` is checked here (400 `malformed_body`)."""
    return not path.startswith(_OWN_RULES)


class BodyProblem(ValueError):
    """Why a body cannot be taken, in words for its sender."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise BodyProblem(f"the body names {json.dumps(key)} twice: each key may appear once")
        seen[key] = value
    return seen


def check(body: bytes) -> None:
    """Raises BodyProblem unless `body` is UTF-8 JSON text whose objects name each key once."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BodyProblem(f"the body is not UTF-8 text (byte {exc.start})") from None
    try:
        json.loads(text, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as exc:
        raise BodyProblem(
            f"the body is not JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    except RecursionError:
        # 2 KB of brackets is deeper than the parser goes: a 500 any account could send at will.
        raise BodyProblem("the body nests too deeply to be read") from None
    except BodyProblem:
        raise
    except ValueError as exc:
        # Python refuses to convert an integer of more than 4,300 digits (sys.int_info's limit
        # against quadratic parsing), whatever the body's size allows; no field takes one anyway.
        raise BodyProblem(f"the body holds a number too long to read ({exc})") from None


def _is_json(scope: Scope) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            media = value.decode("latin-1").split(";")[0].strip().lower()
            return media == "application/json" or media.endswith("+json")
    return False


def _declared_length(scope: Scope) -> int | None:
    """The Content-Length a request declares, if it declares one that is a number."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            # ASCII digits only: "1²" is isdigit() but not int(), which a 500 would say.
            return int(text) if text.isascii() and text.isdigit() else None
    return None


class JsonBodies:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in WITH_BODY:
            await self.app(scope, receive, send)
            return
        own_rules = not judges_json(scope["path"])
        limit = WEBHOOK_MAX_BODY_BYTES if own_rules else MAX_BODY_BYTES
        too_large = f"the body is over {limit} bytes"
        declared = _declared_length(scope)
        if declared is not None and declared > limit:
            await answer(send, 413, too_large, "body_too_large")
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await answer(send, 413, too_large, "body_too_large")
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        # An empty body is the route's to judge (an optional body, a missing one); the webhook's
        # is judged by its signature first, and a body that is not JSON by the route's 422.
        if body and not own_rules and _is_json(scope):
            try:
                check(body)
            except BodyProblem as exc:
                await answer(send, 400, str(exc), "malformed_body")
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


async def answer(send: Send, status: int, detail: str, rule: str) -> None:
    content = problems.encode({"detail": detail, "rule": rule})
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(content)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": content})
