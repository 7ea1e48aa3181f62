"""Every request body is bounded before anything reads it, whatever its Content-Type and whoever sends it.

Found from outside: only bodies sent as JSON were held to MAX_BODY_BYTES. The same bytes sent as
`text/plain` (or with no Content-Type, or to the webhook) were read whole into memory before the
route answered 401 or 422: 300 MB sent without a token took the local API from 74 MB to 700 MB
resident, and any web page can make a browser send such a POST (a "simple" request, no preflight).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from livekit import api

from functions.api.json_bodies import MAX_BODY_BYTES, WEBHOOK_MAX_BODY_BYTES

from .conftest import auth
from .test_api import live_space, signed

OVER = b"x" * (MAX_BODY_BYTES + 1)
CONTENT_TYPES = [
    None,
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/octet-stream",
    "application/json",
]


def _headers(content_type: str | None, user: str | None) -> dict[str, str]:
    headers = auth(user) if user else {}
    return headers if content_type is None else {**headers, "Content-Type": content_type}


@pytest.mark.parametrize("content_type", CONTENT_TYPES)
@pytest.mark.parametrize("user", [None, "h"])
def test_a_body_over_the_limit_is_413_whatever_its_content_type(
    client: TestClient, content_type: str | None, user: str | None
) -> None:
    resp = client.post("/spaces", content=OVER, headers=_headers(content_type, user))
    assert resp.status_code == 413, resp.text
    assert resp.json() == {"detail": f"the body is over {MAX_BODY_BYTES} bytes", "rule": "body_too_large"}
    assert client.get("/spaces?state=scheduled", headers=auth("h")).json()["items"] == []


def test_a_role_change_over_the_limit_changes_nothing(client: TestClient) -> None:
    space_id = live_space(client)
    resp = client.put(
        f"/spaces/{space_id}/roles/sam", content=OVER, headers={**auth("host"), "Content-Type": "text/plain"}
    )
    assert resp.status_code == 413 and resp.json()["rule"] == "body_too_large"
    assert client.get(f"/spaces/{space_id}", headers=auth("host")).json()["speakers"] == []


def test_a_webhook_over_its_limit_is_413_before_its_signature_is_read(client: TestClient) -> None:
    resp = client.post(
        "/livekit/webhook",
        content=b"x" * (WEBHOOK_MAX_BODY_BYTES + 1),
        headers={"Authorization": "not a token", "Content-Type": "application/webhook+json"},
    )
    assert resp.status_code == 413 and resp.json()["rule"] == "body_too_large"


def test_a_signed_webhook_larger_than_an_api_body_is_still_taken(client: TestClient) -> None:
    """The SFU's events carry the room metadata (up to livekit-server's 512 KiB) as a JSON string,
    where a control character takes six bytes, so the webhook has a limit of its own above that,
    not the 64 KiB of the API's bodies."""
    space_id = live_space(client)
    event = api.WebhookEvent(
        event="room_started",
        id="EV_big",
        room=api.Room(name=f"space-{space_id}", metadata="\x01" * (512 * 1024)),
    )
    body, headers = signed(event)
    assert 3 * 1024 * 1024 <= len(body) <= WEBHOOK_MAX_BODY_BYTES
    assert client.post("/livekit/webhook", content=body, headers=headers).status_code == 200


class _Stream:
    """An ASGI `receive` sending `total` bytes in 1 MiB chunks, counting what was taken."""

    CHUNK = 1024 * 1024

    def __init__(self, total: int) -> None:
        self.left = total
        self.taken = 0

    async def __call__(self) -> dict[str, Any]:
        size = min(self.CHUNK, self.left)
        self.left -= size
        self.taken += size
        return {"type": "http.request", "body": b"x" * size, "more_body": self.left > 0}


def _drive(app: FastAPI, path: str, stream: _Stream, headers: list[tuple[bytes, bytes]]) -> int:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1"), *headers],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
        "state": {},
    }
    # Not asyncio.run: it unsets the thread's event loop, which Mangum (test_lambda_handler) reads.
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(app(scope, stream, send))
    finally:
        loop.close()
    return int(next(m["status"] for m in sent if m["type"] == "http.response.start"))


@pytest.mark.parametrize("path", ["/spaces", "/livekit/webhook"])
def test_reading_stops_at_the_limit(app: FastAPI, path: str) -> None:
    stream = _Stream(100 * 1024 * 1024)
    status = _drive(app, path, stream, [(b"content-type", b"text/plain")])
    assert status == 413
    assert stream.taken <= WEBHOOK_MAX_BODY_BYTES + _Stream.CHUNK


def test_a_declared_length_over_the_limit_is_refused_unread(app: FastAPI) -> None:
    stream = _Stream(MAX_BODY_BYTES + 1)
    length = str(MAX_BODY_BYTES + 1).encode()
    status = _drive(app, "/spaces", stream, [(b"content-type", b"text/plain"), (b"content-length", length)])
    assert status == 413 and stream.taken == 0


def test_a_content_length_of_other_digits_is_not_a_500(app: FastAPI) -> None:
    """Latin-1 superscript digits pass str.isdigit() but not int(): the length is not taken as one,
    and the body is bounded as it is read (servers in front refuse such a header anyway)."""
    stream = _Stream(10)
    status = _drive(
        app, "/spaces", stream, [(b"content-type", b"application/json"), (b"content-length", b"1\xb2")]
    )
    assert status in (400, 401, 422)
