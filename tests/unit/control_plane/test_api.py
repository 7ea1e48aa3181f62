"""Every endpoint and status code, through HTTP, with a fake SFU and a SQLite store."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
import pytest
from botocore.exceptions import ClientError
from fastapi import FastAPI
from fastapi.testclient import TestClient
from google.protobuf.json_format import MessageToJson
from livekit import api

from contract import names, web_security
from functions.api import deps
from functions.api.main import create_app
from functions.core.config import Settings
from functions.domain import stage
from functions.domain.errors import Busy
from functions.domain.grants import permission_for
from functions.domain.model import Limits, Role, VideoPolicy
from functions.reconcile.wiring import reconciler_for, store_for
from functions.store.base import Snapshot
from functions.store.sqlite import SqliteStore

from .conftest import LK_KEY, LK_SECRET, PUBLIC_LIVEKIT_URL, auth
from .fakes import FakeGateway, dispatches_long_taken


def create(client: TestClient, host: str = "host", **body: Any) -> dict[str, Any]:
    resp = client.post(
        "/spaces", json={"title": "Morning show", "video": "speakers", **body}, headers=auth(host)
    )
    assert resp.status_code == 201, resp.text
    return resp.json()


def start(client: TestClient, space_id: str, host: str = "host") -> dict[str, Any]:
    resp = client.post(f"/spaces/{space_id}/start", headers=auth(host))
    assert resp.status_code == 200, resp.text
    return resp.json()


def live_space(client: TestClient) -> str:
    space_id = create(client)["id"]
    start(client, space_id)
    return space_id


def sweep(app: FastAPI, gateway: FakeGateway) -> None:
    """What the schedule does: one pass over every live Space."""
    settings = app.state.settings
    reconciler = reconciler_for(settings, memory=app.state.reconcile_memory, gateway=gateway)
    # Not asyncio.run: it unsets the thread's event loop, which Mangum (test_lambda_handler) reads.
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(reconciler.sweep(budget_per_space=5))
    finally:
        loop.close()


def set_role(client: TestClient, space_id: str, user: str, role: str, actor: str = "host") -> Any:
    return client.put(f"/spaces/{space_id}/roles/{user}", json={"role": role}, headers=auth(actor))


# --- auth -----------------------------------------------------------------------------------------
def test_every_endpoint_needs_a_valid_bearer_token(client: TestClient) -> None:
    assert client.get("/spaces").status_code == 401
    assert client.get("/spaces", headers={"Authorization": "Bearer nope"}).status_code == 401
    forged = jwt.encode(
        {"sub": "host", "exp": 9999999999}, "wrong-secret-of-sufficient-length!!", algorithm="HS256"
    )
    assert client.get("/spaces", headers={"Authorization": f"Bearer {forged}"}).status_code == 401
    no_exp = jwt.encode({"sub": "host"}, names.DEV_JWT_SECRET, algorithm="HS256")
    assert client.get("/spaces", headers={"Authorization": f"Bearer {no_exp}"}).status_code == 401
    # A subject the user-id pattern only matches before a trailing newline is no user id: such a
    # user could join, but no route could name them to promote, remove or block them.
    newline = jwt.encode({"sub": "bob\n", "exp": 9999999999}, names.DEV_JWT_SECRET, algorithm="HS256")
    assert client.get("/spaces", headers={"Authorization": f"Bearer {newline}"}).status_code == 401
    # Nor is a subject of dots: browsers resolve `/roles/..` away, so no page could act on them.
    for dots in (".", "..", "..."):
        token = jwt.encode({"sub": dots, "exp": 9999999999}, names.DEV_JWT_SECRET, algorithm="HS256")
        resp = client.get("/spaces", headers={"Authorization": f"Bearer {token}"})
        assert resp.status_code == 401 and "only dots" in resp.json()["detail"]
    dotted = jwt.encode({"sub": "a.b", "exp": 9999999999}, names.DEV_JWT_SECRET, algorithm="HS256")
    assert client.get("/spaces", headers={"Authorization": f"Bearer {dotted}"}).status_code == 200
    assert client.get("/healthz").json() == {"status": "ok"}


def test_the_host_is_the_caller_never_the_body(client: TestClient) -> None:
    resp = client.post("/spaces", json={"title": "x", "host": "mallory"}, headers=auth("alice"))
    assert resp.status_code == 422
    assert resp.json()["detail"][0]["loc"] == ["body", "host"]
    assert create(client, "alice")["host"] == "alice"


# --- create / read / discover ---------------------------------------------------------------------
def test_create_returns_the_public_space(client: TestClient) -> None:
    space = create(client, scheduled_start="2030-01-01T10:00:00Z")
    assert space["state"] == "scheduled" and space["host"] == "host" and space["video"] == "speakers"
    assert space["cohosts"] == [] and space["speakers"] == [] and space["raised_hands"] == []
    assert space["listener_count"] == 0 and space["pinned"] is None
    assert space["room_name"] == f"space-{space['id']}"
    assert "blocked" not in space and space["version"] == 0
    # The deployment's seats (conftest: SPACES_MAX_SPEAKERS=3), so a page offers only a free one.
    assert space["seats"] == {"cohosts": 2, "speakers": 3}
    assert client.get(f"/spaces/{space['id']}", headers=auth("anyone")).json() == space


@pytest.mark.parametrize(
    ("title", "stored"),
    [
        ("Launch\nparty", "Launch party"),  # one line: the lobby, the page and the video draw one
        ("  Friday\t\treview ", "Friday review"),
        ("\u202eevil\u202c talk", "evil talk"),  # no reordering of what others read
        ("Ask\u200b me\u00ad anything", "Ask me anything"),
        ("👩\u200d💻 Dev hour", "👩\u200d💻 Dev hour"),
        # Hidden text in tag characters (U+E0000 + ASCII) is dropped, as from names.
        ("Friday\U000e0020\U000e0069\U000e0067\U000e006e review", "Friday review"),
        ("\U0001d173Jazz\U0001d17a", "Jazz"),  # musical formatting controls
        ("❤\ufe0f Live", "❤\ufe0f Live"),  # a variation selector stays with its emoji
        # ... and a subdivision flag (black flag, tags, cancel tag) with its tags
        (
            "\U0001f3f4\U000e0067\U000e0062\U000e0077\U000e006c\U000e0073\U000e007f Cymru",
            "\U0001f3f4\U000e0067\U000e0062\U000e0077\U000e006c\U000e0073\U000e007f Cymru",
        ),
    ],
)
def test_a_title_is_stored_as_one_visible_line(client: TestClient, title: str, stored: str) -> None:
    assert create(client, title=title)["title"] == stored


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "x" * 121}, "title"),
        ({"title": "\u200b\u200b"}, "title"),  # nothing visible: zero-width spaces
        ({"title": "\u200d"}, "title"),  # a joiner alone
        ({"title": "\u202e\ufeff\x00"}, "title"),  # a bidi override, the BOM, a control
        # Beyond the BMP too: tag characters, musical formatting controls, variation selectors
        ({"title": "\U000e0020\U000e0041\U000e0042"}, "title"),
        ({"title": "\U0001d173\U0001d17a"}, "title"),
        ({"title": "\ufe0f\U000e0100 \U000e01ef"}, "title"),
        ({"title": "\u3164\u115f\uffa0"}, "title"),  # Hangul fillers: letters that draw nothing
        ({"title": "\u200d\ufe0f"}, "title"),
        ({"title": "ok", "video": "always"}, "video"),
        ({"title": "ok", "scheduled_start": "tomorrow"}, "scheduled_start"),
        ({"title": "ok", "scheduled_start": "2030-01-01T10:00:00"}, "scheduled_start"),  # no timezone
        ({}, "title"),
    ],
)
def test_bad_create_input_is_422_naming_the_field(
    client: TestClient, body: dict[str, Any], field: str
) -> None:
    resp = client.post("/spaces", json=body, headers=auth("host"))
    assert resp.status_code == 422
    assert resp.json()["detail"][0]["loc"][-1] == field
    assert client.get("/spaces?state=scheduled", headers=auth("host")).json()["items"] == []


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"{not json", "not JSON"),
        (b'{"title": "x"} trailing', "not JSON"),
        (b'{"title": "a\nb"}', "not JSON"),  # a raw newline inside a string
        (b"\x80\x81 not UTF-8", "not UTF-8"),
        (b"\x00\xff", "not UTF-8"),
        (b'{"title": "a", "title": "b"}', '"title" twice'),
        (b'{"title": "a", "video": "off", "video": "speakers"}', '"video" twice'),
        # A 500 any account could send at will; 32,000 deep is past every Python's parser (3.13 reads 5,000).
        (b"[" * 32000 + b"]" * 32000, "nests too deeply"),
        # Found from outside: an integer past Python's 4,300 digits was a 500, before any token.
        (b'{"title": "a", "x": 1' + b"0" * 4400 + b"}", "number too long"),
        (b'{"title": "a", "video": -' + b"9" * 5000 + b"}", "number too long"),
    ],
)
def test_a_body_that_cannot_be_taken_as_it_is_is_one_400_naming_why(
    client: TestClient, body: bytes, why: str
) -> None:
    resp = client.post("/spaces", content=body, headers={**auth("h"), "Content-Type": "application/json"})
    assert resp.status_code == 400, resp.text
    assert resp.json()["rule"] == "malformed_body" and why in resp.json()["detail"]
    assert client.get("/spaces?state=scheduled", headers=auth("h")).json()["items"] == []


def test_a_removal_whose_block_is_named_twice_removes_nobody(client: TestClient) -> None:
    """Found from outside: the last value won, so a proxy reading the first saw a block that was not."""
    space_id = live_space(client)
    assert set_role(client, space_id, "sam", "speaker").status_code == 200
    resp = client.post(
        f"/spaces/{space_id}/participants/sam/remove",
        content=b'{"block": true, "block": false}',
        headers={**auth("host"), "Content-Type": "application/json"},
    )
    assert resp.status_code == 400 and '"block" twice' in resp.json()["detail"]
    assert client.get(f"/spaces/{space_id}", headers=auth("host")).json()["speakers"] == ["sam"]


def test_a_body_over_the_limit_is_413(client: TestClient) -> None:
    from functions.api.json_bodies import MAX_BODY_BYTES

    body = b'{"title": "' + b"x" * MAX_BODY_BYTES + b'"}'
    resp = client.post("/spaces", content=body, headers={**auth("h"), "Content-Type": "application/json"})
    assert resp.status_code == 413 and resp.json()["rule"] == "body_too_large"


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_a_json_body_without_its_content_type_is_422_naming_the_header(
    client: TestClient, content_type: str | None
) -> None:
    headers = auth("h") if content_type is None else {**auth("h"), "Content-Type": content_type}
    resp = client.post("/spaces", content=b'{"title": "x"}', headers=headers)
    assert resp.status_code == 422
    [error] = resp.json()["detail"]
    assert error["loc"] == ["body"] and "Content-Type: application/json" in error["msg"]
    assert client.get("/spaces?state=scheduled", headers=auth("h")).json()["items"] == []


def test_idempotency_key_makes_create_safe_to_retry(client: TestClient) -> None:
    headers = {**auth("host"), "Idempotency-Key": "abc-123"}
    first = client.post("/spaces", json={"title": "once"}, headers=headers)
    again = client.post("/spaces", json={"title": "once"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    changed = client.post("/spaces", json={"title": "different"}, headers=headers)
    assert changed.status_code == 409 and changed.json()["rule"] == "idempotency_key_reused"
    assert len(client.get("/spaces?state=scheduled", headers=auth("host")).json()["items"]) == 1
    # The same instant written with another offset is the same request.
    timed = {**auth("host"), "Idempotency-Key": "abc-456"}
    utc = client.post(
        "/spaces", json={"title": "t", "scheduled_start": "2099-01-01T00:00:00Z"}, headers=timed
    )
    paris = client.post(
        "/spaces", json={"title": "t", "scheduled_start": "2099-01-01T01:00:00+01:00"}, headers=timed
    )
    assert utc.status_code == paris.status_code == 201 and utc.json()["id"] == paris.json()["id"]
    later = client.post(
        "/spaces", json={"title": "t", "scheduled_start": "2099-01-01T01:00:00Z"}, headers=timed
    )
    assert later.status_code == 409 and later.json()["rule"] == "idempotency_key_reused"
    # Whether to keep a recording is part of the request; true is the default, written or not.
    recorded = {**auth("host"), "Idempotency-Key": "abc-789"}
    kept = client.post("/spaces", json={"title": "r"}, headers=recorded)
    said = client.post("/spaces", json={"title": "r", "record": True}, headers=recorded)
    assert kept.status_code == said.status_code == 201 and kept.json()["id"] == said.json()["id"]
    unrecorded = client.post("/spaces", json={"title": "r", "record": False}, headers=recorded)
    assert unrecorded.status_code == 409 and unrecorded.json()["rule"] == "idempotency_key_reused"


def test_unknown_and_malformed_ids(client: TestClient) -> None:
    missing = client.get("/spaces/" + "0" * 32, headers=auth("h"))
    assert missing.status_code == 404 and missing.json()["rule"] == "space_not_found"
    bad = client.get("/spaces/not-an-id", headers=auth("h"))
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["path", "space_id"]


def test_discovery_paginates_and_rejects_bad_parameters(client: TestClient) -> None:
    ids = [live_space(client) for _ in range(3)]
    page1 = client.get("/spaces?state=live&limit=2", headers=auth("x")).json()
    page2 = client.get(f"/spaces?state=live&limit=2&cursor={page1['cursor']}", headers=auth("x")).json()
    assert page2["cursor"] is None
    assert sorted(s["id"] for s in page1["items"] + page2["items"]) == sorted(ids)
    # Any cursor of the schema's shape is a position: every slot exhausted is an empty last page.
    done = client.get("/spaces?state=live&cursor=-~-~-~-~-", headers=auth("x"))
    assert done.status_code == 200 and done.json() == {"items": [], "cursor": None}
    for query, field in [
        ("state=over", "state"),
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("cursor=@@@", "cursor"),
        # One position: the cursor's shape before discovery was sharded (now one per slot).
        ("cursor=20261201T201500123456Z_" + "a" * 32, "cursor"),
    ]:
        resp = client.get(f"/spaces?{query}", headers=auth("x"))
        assert resp.status_code == 422, query
        assert resp.json()["detail"][0]["loc"][-1] == field


def test_ended_spaces_are_listed_most_recently_ended_first(client: TestClient) -> None:
    first, second = live_space(client), live_space(client)
    for space_id in (second, first):
        assert client.post(f"/spaces/{space_id}/end", headers=auth("host")).status_code == 200
    items = client.get("/spaces?state=ended", headers=auth("x")).json()["items"]
    assert [s["id"] for s in items] == [first, second]
    assert all(s["state"] == "ended" for s in items)


@pytest.mark.parametrize(
    "when", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:00:00-05:00", "1969-12-31T23:59:59+00:00"]
)
def test_a_scheduled_start_outside_the_storable_years_is_422(client: TestClient, when: str) -> None:
    resp = client.post("/spaces", json={"title": "a", "scheduled_start": when}, headers=auth("host"))
    assert resp.status_code == 422, resp.text
    assert resp.json()["detail"][0]["loc"] == ["body", "scheduled_start"]
    assert client.get("/spaces?state=scheduled", headers=auth("host")).json()["items"] == []


def test_validation_errors_keep_fastapis_shape_without_echoing_input(client: TestClient) -> None:
    resp = client.post(
        "/spaces",
        content=b'{"title":"\\ud800"}',
        headers={**auth("host"), "Content-Type": "application/json"},
    )
    assert resp.status_code == 422
    [error] = resp.json()["detail"]
    assert error["loc"] == ["body", "title"] and error["msg"] and error["type"]
    assert "input" not in error


def test_an_oidc_subject_with_a_pipe_is_a_user(client: TestClient) -> None:
    """Auth0 subjects look like `auth0|abc` or `google-oauth2|123`."""
    space_id = create(client, host="auth0|abc")["id"]
    assert client.get(f"/spaces/{space_id}", headers=auth("auth0|abc")).json()["host"] == "auth0|abc"
    start(client, space_id, host="auth0|abc")
    resp = set_role(client, space_id, "google-oauth2%7C123", "speaker", actor="auth0|abc")
    assert resp.status_code == 200 and resp.json()["speakers"] == ["google-oauth2|123"]
    token = client.post(f"/spaces/{space_id}/token", headers=auth("google-oauth2|123"))
    assert token.status_code == 200 and token.json()["identity"] == "google-oauth2|123"


# --- lifecycle ------------------------------------------------------------------------------------
def test_start_creates_the_room_and_end_deletes_it(client: TestClient, gateway: FakeGateway) -> None:
    space = create(client)
    started = start(client, space["id"])
    assert started["state"] == "live" and started["started_at"]
    room = started["room_name"]
    assert json.loads(gateway.rooms[room]) == {
        "space_id": space["id"],
        "video": "speakers",
        "record": True,
        "pinned": None,
        "pinned_source": "camera",
        "title": "Morning show",
        "state": "live",
        "host": "host",
        "cohosts": [],
        "speakers": [],
        # The host's token has no `name` claim: the id is their name.
        "names": {"host": "host"},
        "pictures": {},  # nor a `picture` claim
        "listener_count": 0,
        "version": json.loads(gateway.rooms[room])["version"],
        "host_away_until": None,  # the host is in the room (or has not come yet)
        "removed_viewers": {},
        "invited": {},
    }
    ended = client.post(f"/spaces/{space['id']}/end", headers=auth("host"))
    assert ended.status_code == 200 and ended.json()["state"] == "ended"
    assert room not in gateway.rooms
    again = client.post(f"/spaces/{space['id']}/start", headers=auth("host"))
    assert again.status_code == 409 and again.json()["rule"] == "space_not_scheduled"
    assert client.post(f"/spaces/{space['id']}/end", headers=auth("host")).status_code == 409


def test_only_the_host_starts_and_ends(client: TestClient) -> None:
    space_id = create(client)["id"]
    resp = client.post(f"/spaces/{space_id}/start", headers=auth("bob"))
    assert resp.status_code == 403 and resp.json()["rule"] == "only_host_starts"
    start(client, space_id)
    resp = client.post(f"/spaces/{space_id}/end", headers=auth("bob"))
    assert resp.status_code == 403 and resp.json()["rule"] == "only_host_ends"


def test_a_start_the_sfu_refuses_is_stored_and_converges_later(
    client: TestClient, gateway: FakeGateway, app: FastAPI
) -> None:
    space = create(client)
    gateway.fail = True
    resp = client.post(f"/spaces/{space['id']}/start", headers=auth("host"))
    # What is true: the Space is live, its room is not there yet.
    assert resp.status_code == 202 and resp.json()["state"] == "live" and resp.json()["converged"] is False
    gateway.fail = False
    sweep(app, gateway)
    assert gateway.dispatched[f"space-{space['id']}"] == [names.AGENT_NAME]


# --- tokens ---------------------------------------------------------------------------------------
def lk_claims(token: str) -> Any:
    return api.TokenVerifier(LK_KEY, LK_SECRET).verify(token)


def test_token_grants_come_from_the_stored_role(client: TestClient) -> None:
    space_id = live_space(client)
    listener = client.post(f"/spaces/{space_id}/token", headers=auth("lis"))
    assert listener.status_code == 200
    body = listener.json()
    assert body["url"] == PUBLIC_LIVEKIT_URL and body["identity"] == "lis" and body["role"] == "listener"
    claims = lk_claims(body["token"])
    assert claims.video.can_publish is False and claims.video.room == f"space-{space_id}"
    # The role, and when the grant was issued (the same time the answer says).
    assert claims.attributes == {
        "role": "listener",
        names.ISSUED_AT_ATTRIBUTE: claims.attributes[names.ISSUED_AT_ATTRIBUTE],
    }
    assert datetime.fromisoformat(claims.attributes[names.ISSUED_AT_ATTRIBUTE]) == datetime.fromisoformat(
        body["issued_at"]
    )

    set_role(client, space_id, "lis", "speaker")
    speaker = client.post(f"/spaces/{space_id}/token", headers=auth("lis")).json()
    assert speaker["role"] == "speaker"
    assert lk_claims(speaker["token"]).video.can_publish_sources == ["microphone", "camera"]
    host = client.post(f"/spaces/{space_id}/token", headers=auth("host")).json()
    assert host["role"] == "host"


def test_token_for_a_space_that_is_not_live_is_409(client: TestClient) -> None:
    space_id = create(client)["id"]
    resp = client.post(f"/spaces/{space_id}/token", headers=auth("host"))
    assert resp.status_code == 409 and resp.json()["rule"] == "space_not_live"
    assert client.post("/spaces/" + "1" * 32 + "/token", headers=auth("host")).status_code == 404


def test_token_ignores_anything_in_the_body(client: TestClient) -> None:
    space_id = live_space(client)
    resp = client.post(
        f"/spaces/{space_id}/token", json={"role": "host", "identity": "host"}, headers=auth("eve")
    )
    assert resp.json()["role"] == "listener" and resp.json()["identity"] == "eve"


# --- stage ----------------------------------------------------------------------------------------
def test_hands(client: TestClient) -> None:
    space_id = live_space(client)
    assert client.post(f"/spaces/{space_id}/hand", headers=auth("a")).json()["raised_hands"] == ["a"]
    # A listener sees their own hand only; the host and co-hosts see the queue, oldest first.
    assert client.post(f"/spaces/{space_id}/hand", headers=auth("b")).json()["raised_hands"] == ["b"]
    for viewer in ("host", "a", "b"):
        seen = client.get(f"/spaces/{space_id}", headers=auth(viewer)).json()["raised_hands"]
        assert seen == (["a", "b"] if viewer == "host" else [viewer])
    set_role(client, space_id, "co", "cohost")
    assert client.get(f"/spaces/{space_id}", headers=auth("co")).json()["raised_hands"] == ["a", "b"]
    assert client.delete(f"/spaces/{space_id}/hand", headers=auth("a")).json()["raised_hands"] == []
    assert client.get(f"/spaces/{space_id}", headers=auth("host")).json()["raised_hands"] == ["b"]
    resp = client.post(f"/spaces/{space_id}/hand", headers=auth("host"))
    assert resp.status_code == 409 and resp.json()["rule"] == "already_on_stage"
    promoted = set_role(client, space_id, "b", "speaker").json()
    assert promoted["raised_hands"] == [] and promoted["speakers"] == ["b"]


def test_a_read_that_lags_behind_a_create_or_a_start_is_read_again_consistently(
    app: FastAPI, settings: Settings, client: TestClient
) -> None:
    """A listener's page reads the Space eventually consistent; a replica that has not seen the
    create (nothing) or the start (still scheduled) must not be what the page shows."""
    created = client.post("/spaces", json={"title": "t", "video": "off"}, headers=auth("host")).json()

    class Lagging(SqliteStore):
        def get(self, space_id: str, *, member: str | None = None, consistent: bool = True) -> Any:
            return None if not consistent else super().get(space_id, member=member)

    app.dependency_overrides[deps.get_store] = lambda: Lagging(settings.sqlite_path)
    try:
        seen = client.get(f"/spaces/{created['id']}", headers=auth("listener"))
    finally:
        del app.dependency_overrides[deps.get_store]
    assert seen.status_code == 200 and seen.json()["id"] == created["id"]


def test_role_changes_follow_the_rules(client: TestClient) -> None:
    space_id = live_space(client)
    assert set_role(client, space_id, "co", "cohost").json()["cohosts"] == ["co"]
    assert set_role(client, space_id, "s1", "speaker", actor="co").status_code == 200
    resp = set_role(client, space_id, "x", "cohost", actor="co")
    assert resp.status_code == 403 and resp.json()["rule"] == "only_host_assigns_cohosts"
    resp = set_role(client, space_id, "x", "speaker", actor="s1")
    assert resp.status_code == 403 and resp.json()["rule"] == "moderators_only"
    set_role(client, space_id, "s2", "speaker")
    set_role(client, space_id, "s3", "speaker")
    resp = set_role(client, space_id, "s4", "speaker")
    assert resp.status_code == 409 and resp.json()["rule"] == "speaker_limit"
    resp = set_role(client, space_id, "host", "listener")
    assert resp.status_code == 403 and resp.json()["rule"] == "host_role_fixed"
    resp = set_role(client, space_id, "x", "host")
    assert resp.status_code == 422 and resp.json()["detail"][0]["loc"] == ["body", "role"]
    bad_user = set_role(client, space_id, "bad user!", "speaker")
    assert bad_user.status_code == 422 and bad_user.json()["detail"][0]["loc"] == ["path", "user_id"]


def test_live_role_change_updates_a_connected_participant(client: TestClient, gateway: FakeGateway) -> None:
    space_id = live_space(client)
    gateway.join("lis")
    set_role(client, space_id, "lis", "speaker")
    role, permission = gateway.permissions["lis"]
    assert role.value == "speaker" and permission.can_publish and "microphone" in permission.sources
    set_role(client, space_id, "lis", "listener")
    role, permission = gateway.permissions["lis"]
    assert role.value == "listener" and permission.can_publish is False


def test_a_speaker_steps_down_to_the_audience_and_the_sfu_follows(
    client: TestClient, gateway: FakeGateway
) -> None:
    space_id = live_space(client)
    gateway.join("sam")
    assert set_role(client, space_id, "sam", "speaker").status_code == 200
    resp = client.put(
        f"/spaces/{space_id}/roles/sam",
        json={"role": "listener", "from_role": "speaker"},
        headers=auth("sam"),
    )
    assert resp.status_code == 200 and resp.json()["speakers"] == [], resp.text
    role, permission = gateway.permissions["sam"]
    assert role is Role.LISTENER and permission.can_publish is False
    # Back up takes an invitation: a listener changes no role, their own included.
    resp = set_role(client, space_id, "sam", "speaker", actor="sam")
    assert resp.status_code == 403 and resp.json()["rule"] == "moderators_only"


def test_an_invited_listener_goes_on_stage_only_when_they_agree(
    client: TestClient, gateway: FakeGateway
) -> None:
    space_id = live_space(client)
    grant = client.post(f"/spaces/{space_id}/token", headers=auth("lis"))
    assert grant.status_code == 200 and grant.json()["mode"] == "webrtc"
    tag = grant.json()["viewer_tag"]
    gateway.join("lis")
    invited = client.post(f"/spaces/{space_id}/invitations/lis", headers=auth("host"))
    assert invited.status_code == 200, invited.text
    assert invited.json()["speakers"] == [] and set(invited.json()["invitations"]) == {"lis"}
    # Nothing changed for them: still a listener in the SFU. Only their tag is in the metadata.
    assert gateway.permissions["lis"][0] is Role.LISTENER
    metadata = gateway.rooms[invited.json()["room_name"]]
    assert set(json.loads(metadata)["invited"]) == {tag} and '"lis"' not in metadata
    # Their own read shows their invitation; someone else's shows none.
    assert set(client.get(f"/spaces/{space_id}", headers=auth("lis")).json()["invitations"]) == {"lis"}
    assert client.get(f"/spaces/{space_id}", headers=auth("other")).json()["invitations"] == {}
    # Only the invitee answers it.
    assert client.post(f"/spaces/{space_id}/invitation", headers=auth("other")).json()["rule"] == (
        names.NOT_INVITED_RULE
    )
    accepted = client.post(f"/spaces/{space_id}/invitation", headers=auth("lis"))
    assert accepted.status_code == 200 and accepted.json()["speakers"] == ["lis"], accepted.text
    assert accepted.json()["invitations"] == {}
    role, permission = gateway.permissions["lis"]
    assert role is Role.SPEAKER and permission.can_publish
    assert json.loads(gateway.rooms[accepted.json()["room_name"]])["invited"] == {}
    # A repeat once on stage is the no-op; an invitation of a speaker is refused.
    assert client.post(f"/spaces/{space_id}/invitation", headers=auth("lis")).status_code == 200
    again = client.post(f"/spaces/{space_id}/invitations/lis", headers=auth("host"))
    assert again.status_code == 409 and again.json()["rule"] == names.ROLE_CHANGED_RULE


def test_an_invitation_declined_or_withdrawn_frees_its_seat(client: TestClient) -> None:
    space_id = live_space(client)
    for user in ("a", "b"):
        assert client.post(f"/spaces/{space_id}/invitations/{user}", headers=auth("host")).status_code == 200
    # A listener neither invites nor withdraws someone else's.
    refused = client.post(f"/spaces/{space_id}/invitations/c", headers=auth("a"))
    assert refused.status_code == 403 and refused.json()["rule"] == "moderators_only"
    assert client.delete(f"/spaces/{space_id}/invitations/b", headers=auth("a")).status_code == 403
    declined = client.delete(f"/spaces/{space_id}/invitation", headers=auth("a"))
    assert declined.status_code == 200 and declined.json()["invitations"] == {}  # theirs only
    assert set(client.get(f"/spaces/{space_id}", headers=auth("host")).json()["invitations"]) == {"b"}
    withdrawn = client.delete(f"/spaces/{space_id}/invitations/b", headers=auth("host"))
    assert withdrawn.status_code == 200 and withdrawn.json()["invitations"] == {}
    late = client.post(f"/spaces/{space_id}/invitation", headers=auth("b"))
    assert late.status_code == 409 and late.json()["rule"] == names.NOT_INVITED_RULE
    assert "Nothing was changed" in late.json()["detail"]
    assert client.get(f"/spaces/{space_id}", headers=auth("host")).json()["speakers"] == []


def test_a_removed_listener_cannot_answer_an_invitation_a_racing_write_stored(
    app: FastAPI, client: TestClient
) -> None:
    """Found by an outside review: the invitation's removal check reads before its write, so a
    removal committed in between left an invitation for someone removed. Their yes is refused until
    they join again on purpose."""
    space_id = live_space(client)
    assert client.post(f"/spaces/{space_id}/token", headers=auth("lis")).status_code == 200
    assert client.post(f"/spaces/{space_id}/participants/lis/remove", headers=auth("host")).status_code == 200
    store = store_for(app.state.settings)
    now = datetime.now(UTC)
    store.update(
        space_id,
        lambda s: stage.invite(s, actor="host", target="lis", tag="tagOfLis", limits=Limits(), now=now),
    )
    refused = client.post(f"/spaces/{space_id}/invitation", headers=auth("lis"))
    assert refused.status_code == 409 and refused.json()["rule"] == names.NOT_INVITED_RULE, refused.text
    assert "removed you" in refused.json()["detail"]
    assert client.get(f"/spaces/{space_id}", headers=auth("host")).json()["speakers"] == []
    # Back on purpose (a token without rejoin_since lists them again): the invitation is theirs.
    assert client.post(f"/spaces/{space_id}/token", headers=auth("lis")).status_code == 200
    accepted = client.post(f"/spaces/{space_id}/invitation", headers=auth("lis"))
    assert accepted.status_code == 200 and accepted.json()["speakers"] == ["lis"], accepted.text


def test_an_answer_without_an_invitation_reads_only_the_callers_part(
    app: FastAPI, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by an outside review: anyone could make the API read and try to write the whole Space."""
    space_id = live_space(client)
    store = store_for(app.state.settings)
    whole = []
    monkeypatch.setattr(store, "update", lambda *a, **k: whole.append(a) or pytest.fail("no write expected"))
    refused = client.post(f"/spaces/{space_id}/invitation", headers=auth("nobody"))
    assert refused.status_code == 409 and refused.json()["rule"] == names.NOT_INVITED_RULE
    declined = client.delete(f"/spaces/{space_id}/invitation", headers=auth("nobody"))
    assert declined.status_code == 200 and declined.json()["invitations"] == {}
    assert whole == []


def test_a_role_change_the_sfu_refuses_is_kept_and_converges_later(
    client: TestClient, gateway: FakeGateway, app: FastAPI
) -> None:
    space_id = live_space(client)
    gateway.join("lis")
    gateway.fail = True
    resp = set_role(client, space_id, "lis", "speaker")
    # Accepted and stored, not undone; the answer says the room does not follow yet.
    assert (
        resp.status_code == 202 and resp.json()["speakers"] == ["lis"] and resp.json()["converged"] is False
    )
    gateway.fail = False
    sweep(app, gateway)
    assert gateway.permissions["lis"][0] is Role.SPEAKER


def test_remove_with_block_makes_the_next_token_403(client: TestClient, gateway: FakeGateway) -> None:
    space_id = live_space(client)
    set_role(client, space_id, "troll", "speaker")
    gateway.connected.add("troll")
    resp = client.post(
        f"/spaces/{space_id}/participants/troll/remove", json={"block": True}, headers=auth("host")
    )
    assert resp.status_code == 200 and resp.json()["speakers"] == []
    assert ("remove_participant", "troll") in gateway.calls and "troll" not in gateway.connected
    token = client.post(f"/spaces/{space_id}/token", headers=auth("troll"))
    assert token.status_code == 403 and token.json()["rule"] == "blocked"
    # Without block, a removed user may come back as a listener.
    client.post(f"/spaces/{space_id}/participants/other/remove", headers=auth("host"))
    assert client.post(f"/spaces/{space_id}/token", headers=auth("other")).status_code == 200


def test_a_page_coming_back_after_a_removal_it_missed_is_told_and_a_join_on_purpose_is_not(
    client: TestClient, gateway: FakeGateway
) -> None:
    """A removal without a block that found nobody connected (the page was reloading or
    reconnecting) is answered to the page's own comeback, which names its last grant's issued_at."""
    space_id = live_space(client)
    set_role(client, space_id, "sp", "speaker")
    first = client.post(f"/spaces/{space_id}/token", headers=auth("sp")).json()
    # The comeback of a page nobody removed is let in, as is a listener's that never was removed.
    again = client.post(
        f"/spaces/{space_id}/token", params={"rejoin_since": first["issued_at"]}, headers=auth("sp")
    )
    assert again.status_code == 200 and again.json()["role"] == "speaker"
    removed = client.post(f"/spaces/{space_id}/participants/sp/remove", headers=auth("host"))
    assert removed.status_code == 200 and removed.json()["speakers"] == []
    comeback = client.post(
        f"/spaces/{space_id}/token", params={"rejoin_since": again.json()["issued_at"]}, headers=auth("sp")
    )
    assert comeback.status_code == 409 and comeback.json()["rule"] == "removed"
    assert "rejoin_since" in comeback.json()["detail"]
    # Refused, nothing granted or listed; a join on purpose gets in (as a listener), and that page's
    # own later comeback is let in too: the removal came before its grant.
    assert client.get(f"/spaces/{space_id}/listeners", headers=auth("host")).json()["items"] == []
    on_purpose = client.post(f"/spaces/{space_id}/token", headers=auth("sp"))
    assert on_purpose.status_code == 200 and on_purpose.json()["role"] == "listener"
    later = client.post(
        f"/spaces/{space_id}/token",
        params={"rejoin_since": on_purpose.json()["issued_at"]},
        headers=auth("sp"),
    )
    assert later.status_code == 200
    # Someone else's comeback, and a blocked user's (403 whatever it names), are not this rule's.
    client.post(f"/spaces/{space_id}/participants/troll/remove", json={"block": True}, headers=auth("host"))
    blocked = client.post(
        f"/spaces/{space_id}/token", params={"rejoin_since": first["issued_at"]}, headers=auth("troll")
    )
    assert blocked.status_code == 403 and blocked.json()["rule"] == "blocked"
    other = client.post(
        f"/spaces/{space_id}/token", params={"rejoin_since": first["issued_at"]}, headers=auth("other")
    )
    assert other.status_code == 200


def test_a_listener_a_host_removed_is_brought_on_stage_only_once_they_joined_again(
    client: TestClient, gateway: FakeGateway
) -> None:
    """Found from outside: a co-host's audience list, read before the host removed someone, still
    offered *Invite to speak*; the API took it, and the removed person's next join landed on stage."""
    space_id = live_space(client)
    set_role(client, space_id, "co", "cohost")
    assert client.post(f"/spaces/{space_id}/token", headers=auth("lis")).status_code == 200
    assert client.post(f"/spaces/{space_id}/participants/lis/remove", headers=auth("host")).status_code == 200
    stale = client.put(
        f"/spaces/{space_id}/roles/lis", json={"role": "speaker", "from_role": "listener"}, headers=auth("co")
    )
    assert stale.status_code == 409 and stale.json()["rule"] == "target_removed", stale.text
    assert "have not joined again" in stale.json()["detail"] and "lis" not in stale.json()["detail"]
    assert client.get(f"/spaces/{space_id}", headers=auth("host")).json()["speakers"] == []
    assert set_role(client, space_id, "lis", "cohost").json()["rule"] == "target_removed"
    # Back on purpose (listed again): the next invitation is a new decision, and goes through.
    assert client.post(f"/spaces/{space_id}/token", headers=auth("lis")).status_code == 200
    assert set_role(client, space_id, "lis", "speaker", actor="co").status_code == 200
    # A speaker removed and named again at once is the same case; someone never removed is not.
    client.post(f"/spaces/{space_id}/participants/lis/remove", headers=auth("host"))
    assert set_role(client, space_id, "lis", "speaker").json()["rule"] == "target_removed"
    assert set_role(client, space_id, "never-removed", "speaker").status_code == 200


@pytest.mark.parametrize(
    "since",
    ["2026-12-05T05:00:00", "2026-13-45T99:99:99Z", "1970-12-31T23:59:59Z", "yesterday", "1733379000", ""],
)
def test_rejoin_since_must_be_an_rfc3339_time_with_an_offset(client: TestClient, since: str) -> None:
    space_id = live_space(client)
    resp = client.post(f"/spaces/{space_id}/token", params={"rejoin_since": since}, headers=auth("sp"))
    assert resp.status_code == 422 and resp.json()["detail"][0]["loc"] == ["query", "rejoin_since"]


@pytest.mark.parametrize(
    "since", ["2026-12-05t05:00:00z", "2026-12-05T05:00:00z", "2026-12-05t05:00:00+01:00"]
)
def test_rejoin_since_takes_the_lower_case_t_and_z_rfc_3339_allows(client: TestClient, since: str) -> None:
    space_id = live_space(client)
    resp = client.post(f"/spaces/{space_id}/token", params={"rejoin_since": since}, headers=auth("sp"))
    assert resp.status_code == 200, resp.text


def test_the_space_tells_a_blocked_caller_they_are_blocked_and_nobody_else(
    client: TestClient, gateway: FakeGateway
) -> None:
    """A removed page reads the Space once to say whether the removal was a block (docs/web.md)."""
    space_id = live_space(client)
    client.post(f"/spaces/{space_id}/participants/troll/remove", json={"block": True}, headers=auth("host"))
    client.post(f"/spaces/{space_id}/participants/other/remove", headers=auth("host"))
    seen = {
        who: client.get(f"/spaces/{space_id}", headers=auth(who)).json()["caller_blocked"]
        for who in ("troll", "other", "host", "stranger")
    }
    assert seen == {"troll": True, "other": False, "host": False, "stranger": False}
    # The host's answer to the block is about the host; lists read no blocks and say so.
    again = client.post(
        f"/spaces/{space_id}/participants/troll/remove", json={"block": True}, headers=auth("host")
    )
    assert again.json()["caller_blocked"] is False
    listed = client.get("/spaces", params={"state": "live"}, headers=auth("troll")).json()["items"]
    assert [s["caller_blocked"] for s in listed if s["id"] == space_id] == [None]


def test_remove_and_mute_rules(client: TestClient, gateway: FakeGateway) -> None:
    space_id = live_space(client)
    resp = client.post(
        f"/spaces/{space_id}/participants/host/remove", json={"block": True}, headers=auth("x")
    )
    assert resp.status_code == 403 and resp.json()["rule"] == "moderators_only"
    resp = client.post(
        f"/spaces/{space_id}/participants/x/remove", json={"block": "yes please"}, headers=auth("host")
    )
    assert resp.status_code == 422 and resp.json()["detail"][0]["loc"] == ["body", "block"]
    # A block cannot be undone: only a JSON boolean says it (pydantic's lax mode took "yes" and 1).
    for lax in ("yes", "true", "1", 1, 1.0):
        resp = client.post(
            f"/spaces/{space_id}/participants/x/remove", json={"block": lax}, headers=auth("host")
        )
        assert resp.status_code == 422 and resp.json()["detail"][0]["loc"] == ["body", "block"], lax
    assert client.post(f"/spaces/{space_id}/token", headers=auth("x")).status_code == 200
    set_role(client, space_id, "sp", "speaker")
    resp = client.post(f"/spaces/{space_id}/participants/sp/mute", headers=auth("host"))
    assert resp.status_code == 409 and resp.json()["rule"] == "not_connected"
    gateway.connected.add("sp")
    assert client.post(f"/spaces/{space_id}/participants/sp/mute", headers=auth("host")).status_code == 200
    assert ("mute", "sp") in gateway.calls
    resp = client.post(f"/spaces/{space_id}/participants/host/mute", headers=auth("sp"))
    assert resp.status_code == 403


def test_spotlight_pin_is_stored_and_pushed_to_room_metadata(
    client: TestClient, gateway: FakeGateway
) -> None:
    space_id = live_space(client)
    set_role(client, space_id, "sp", "speaker")
    resp = client.put(f"/spaces/{space_id}/spotlight", json={"user_id": "sp"}, headers=auth("host"))
    assert resp.status_code == 200 and resp.json()["pinned"] == "sp"
    assert json.loads(gateway.rooms[f"space-{space_id}"])["pinned"] == "sp"
    resp = client.put(f"/spaces/{space_id}/spotlight", json={"user_id": None}, headers=auth("host"))
    assert resp.json()["pinned"] is None and json.loads(gateway.rooms[f"space-{space_id}"])["pinned"] is None
    resp = client.put(f"/spaces/{space_id}/spotlight", json={"user_id": "sp"}, headers=auth("sp"))
    assert resp.status_code == 403 and resp.json()["rule"] == "only_host_pins"
    resp = client.put(f"/spaces/{space_id}/spotlight", json={}, headers=auth("host"))
    assert resp.status_code == 422 and resp.json()["detail"][0]["loc"] == ["body", "user_id"]
    resp = client.put(f"/spaces/{space_id}/spotlight", json={"user_id": "nobody"}, headers=auth("host"))
    assert resp.status_code == 409 and resp.json()["rule"] == "pin_not_on_stage"


def test_the_host_pins_a_screen_share_and_old_clients_pin_cameras(
    client: TestClient, gateway: FakeGateway
) -> None:
    space_id = live_space(client)
    set_role(client, space_id, "co", "cohost")
    set_role(client, space_id, "sp", "speaker")
    url = f"/spaces/{space_id}/spotlight"
    resp = client.put(url, json={"user_id": "co", "source": "screen_share"}, headers=auth("host"))
    assert resp.status_code == 200
    assert (resp.json()["pinned"], resp.json()["pinned_source"]) == ("co", "screen_share")
    metadata = json.loads(gateway.rooms[f"space-{space_id}"])
    assert (metadata["pinned"], metadata["pinned_source"]) == ("co", "screen_share")
    # A client that knows nothing of sources pins the camera, as before.
    resp = client.put(url, json={"user_id": "co"}, headers=auth("host"))
    assert (resp.json()["pinned"], resp.json()["pinned_source"]) == ("co", "camera")
    before = client.get(f"/spaces/{space_id}").json()
    resp = client.put(url, json={"user_id": "sp", "source": "screen_share"}, headers=auth("host"))
    assert resp.status_code == 409 and resp.json()["rule"] == "pin_screen_not_allowed"
    resp = client.put(url, json={"user_id": "co", "source": "window"}, headers=auth("host"))
    assert resp.status_code == 422 and resp.json()["detail"][0]["loc"] == ["body", "source"]
    assert client.get(f"/spaces/{space_id}").json() == before


# --- webhooks -------------------------------------------------------------------------------------
def signed(
    event: api.WebhookEvent, key: str = LK_KEY, secret: str = LK_SECRET
) -> tuple[bytes, dict[str, str]]:
    body = MessageToJson(event).encode()
    digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
    token = api.AccessToken(key, secret).with_sha256(digest).to_jwt()
    return body, {"Authorization": token, "Content-Type": "application/webhook+json"}


def participant_event(
    kind: str,
    event_id: str,
    room: str,
    role: str = "listener",
    agent: bool = False,
    agent_name: str = names.AGENT_NAME,
    identity: str = "p",
    disconnect_reason: int = 0,
) -> api.WebhookEvent:
    # livekit-agents gives every agent participant the attribute lk.agent.name and no role.
    attributes = {names.AGENT_NAME_ATTRIBUTE: agent_name} if agent else {"role": role}
    info = api.ParticipantInfo(
        identity=identity,
        attributes=attributes,
        kind=api.ParticipantInfo.Kind.AGENT if agent else api.ParticipantInfo.Kind.STANDARD,
        disconnect_reason=disconnect_reason,  # type: ignore[arg-type]
    )
    return api.WebhookEvent(event=kind, id=event_id, room=api.Room(name=room), participant=info)


def test_webhooks_count_listeners_once_and_skip_agents(client: TestClient) -> None:
    space_id = live_space(client)
    room = f"space-{space_id}"
    for event in [
        participant_event("participant_joined", "e1", room),
        participant_event("participant_joined", "e1", room),  # redelivery
        participant_event("participant_joined", "e2", room),
        participant_event("participant_joined", "e3", room, agent=True, role=""),
        participant_event("participant_joined", "e4", room, role="speaker"),
        participant_event("participant_left", "e5", room),
    ]:
        body, headers = signed(event)
        assert client.post("/livekit/webhook", content=body, headers=headers).status_code == 200
    assert client.get(f"/spaces/{space_id}", headers=auth("x")).json()["listener_count"] == 1


def test_a_listeners_join_and_leave_read_that_person_not_the_whole_room(
    client: TestClient, gateway: FakeGateway
) -> None:
    """Listing a room costs in proportion to its people, and listeners are most of the webhooks:
    their joins and leaves run an audience pass (runner.py), anyone else's a full one."""
    space_id = live_space(client)
    room = f"space-{space_id}"
    gateway.join("lena")
    gateway.calls.clear()
    for event in [
        participant_event("participant_joined", "j1", room, identity="lena"),
        participant_event("participant_left", "l1", room, identity="lena"),
    ]:
        body, headers = signed(event)
        assert client.post("/livekit/webhook", content=body, headers=headers).status_code == 200
    assert ("observe", room) not in gateway.calls
    assert ("observe_member", room, "lena") in gateway.calls
    gateway.calls.clear()
    body, headers = signed(
        participant_event("participant_joined", "j2", room, identity="sam", role="speaker")
    )
    assert client.post("/livekit/webhook", content=body, headers=headers).status_code == 200
    assert ("observe", room) in gateway.calls


def test_an_audience_pass_turns_full_when_the_room_is_woken_meanwhile_or_is_gone(
    app: FastAPI, client: TestClient, gateway: FakeGateway
) -> None:
    space_id = live_space(client)
    room = f"space-{space_id}"
    reconciler = reconciler_for(app.state.settings, memory=app.state.reconcile_memory, gateway=gateway)
    member = gateway.observe_member

    async def slow_member(room: str, identity: str) -> Any:
        await asyncio.sleep(0.2)
        return await member(room, identity)

    gateway.observe_member = slow_member  # type: ignore[method-assign]

    async def wake_twice() -> str | None:
        first = asyncio.ensure_future(reconciler.wake(space_id, budget=5, member="lena"))
        await asyncio.sleep(0.05)
        second = await reconciler.wake(space_id, budget=5)  # a stage member's webhook, say
        await first
        return second.note

    loop = asyncio.new_event_loop()
    try:
        gateway.calls.clear()
        assert loop.run_until_complete(wake_twice()) == "coalesced"
        assert ("observe", room) in gateway.calls  # the running pass went round once more, in full
        # The room is gone (closed by the SFU): the pass decides as a full one would (end the Space).
        gateway.observe_member = member  # type: ignore[method-assign]
        del gateway.rooms[room]
        gateway.calls.clear()
        loop.run_until_complete(reconciler.wake(space_id, budget=5, member="lena"))
        assert ("observe", room) in gateway.calls
    finally:
        loop.close()


def test_the_hosts_own_join_runs_a_full_pass_whatever_their_token_says(
    client: TestClient, gateway: FakeGateway
) -> None:
    """A host who rejoins with a listener's token (handed the Space while a listener) is not just
    audience: their presence is the full pass's business."""
    space_id = live_space(client)
    room = f"space-{space_id}"
    gateway.calls.clear()
    body, headers = signed(participant_event("participant_joined", "h1", room, identity="host"))
    assert client.post("/livekit/webhook", content=body, headers=headers).status_code == 200
    assert ("observe", room) in gateway.calls


def test_a_listener_blocked_before_they_joined_is_removed_by_their_join(
    client: TestClient, gateway: FakeGateway
) -> None:
    space_id = live_space(client)
    room = f"space-{space_id}"
    blocked = client.post(
        f"/spaces/{space_id}/participants/lena/remove", json={"block": True}, headers=auth("host")
    )
    assert blocked.status_code in (200, 202), blocked.text
    gateway.join("lena")  # with a token from before the block
    gateway.calls.clear()
    body, headers = signed(participant_event("participant_joined", "j1", room, identity="lena"))
    assert client.post("/livekit/webhook", content=body, headers=headers).status_code == 200
    assert ("observe_member", room, "lena") in gateway.calls and ("observe", room) not in gateway.calls
    assert ("remove_participant", "lena") in gateway.calls and "lena" not in gateway.connected


def test_an_agent_leaving_a_live_space_is_re_dispatched_once(
    client: TestClient, gateway: FakeGateway
) -> None:
    space_id = live_space(client)
    room = f"space-{space_id}"
    dispatches_long_taken(client, gateway, room, [names.AGENT_NAME])  # the start's
    left = participant_event("participant_left", "a1", room, agent=True, role="")
    for _ in range(2):  # a redelivery finds the new dispatch pending: no second one
        body, headers = signed(left)
        assert client.post("/livekit/webhook", content=body, headers=headers).status_code == 200
    assert gateway.calls.count(("dispatch_agent", room, names.AGENT_NAME)) == 1
    assert client.post(f"/spaces/{space_id}/end", headers=auth("host")).status_code == 200
    body, headers = signed(participant_event("participant_left", "a2", room, agent=True, role=""))
    assert client.post("/livekit/webhook", content=body, headers=headers).status_code == 200
    assert gateway.calls.count(("dispatch_agent", room, names.AGENT_NAME)) == 1


def test_a_dispatch_the_sfu_does_not_list_as_recent_is_not_sent_again_every_round(
    app: FastAPI, client: TestClient, gateway: FakeGateway
) -> None:
    """Seen in an integration test whose reconciler clock ran ahead of the SFU's: every dispatch
    looked older than the grace, so each round of a pass dispatched again, ~100 a second for the
    pass's whole budget. This process's own dispatch counts as on its way for the grace."""
    space_id = live_space(client)
    room = f"space-{space_id}"
    dispatches_long_taken(client, gateway, room, [names.AGENT_NAME])
    real = gateway.dispatch_agent

    async def undated(room_name: str, agent_name: str) -> bool:
        sent = await real(room_name, agent_name)
        gateway.dispatch_times[room_name] = [(agent_name, 0.0)]  # listed, but dated long ago
        return sent

    gateway.dispatch_agent = undated  # type: ignore[method-assign]
    sweep(app, gateway)
    sweep(app, gateway)
    assert gateway.calls.count(("dispatch_agent", room, names.AGENT_NAME)) == 1


def test_a_room_creations_dispatch_the_sfu_dates_long_ago_is_not_sent_again(
    client: TestClient, gateway: FakeGateway
) -> None:
    """Found by the last read: only a Dispatch was remembered, so the agents a room is created with
    were dispatched a second time by the next round when the SFU's clock was far behind."""
    real = gateway.create_room

    async def undated(space: Any, *, agents: tuple[str, ...], metadata: str) -> None:
        await real(space, agents=agents, metadata=metadata)
        gateway.dispatch_times[space.room_name] = [(agent, 0.0) for agent in agents]

    gateway.create_room = undated  # type: ignore[method-assign]
    space_id = live_space(client)
    assert gateway.dispatched[f"space-{space_id}"] == [names.AGENT_NAME]


def test_an_agent_leaving_while_another_agent_is_present_is_not_replaced(
    client: TestClient, gateway: FakeGateway
) -> None:
    space_id = live_space(client)
    room = f"space-{space_id}"
    dispatches_long_taken(client, gateway, room, [names.AGENT_NAME])
    # The newer agent evicted the older one: its departure must not dispatch a third.
    gateway.agents = {"agent-new": names.AGENT_NAME}
    gateway.join("listener")
    left = participant_event("participant_left", "a3", room, agent=True, role="")
    body, headers = signed(left)
    assert client.post("/livekit/webhook", content=body, headers=headers).status_code == 200
    assert ("dispatch_agent", room, names.AGENT_NAME) not in gateway.calls
    # The last agent leaving is replaced; other participants do not count as agents.
    gateway.agents = {}
    body, headers = signed(participant_event("participant_left", "a4", room, agent=True, role=""))
    assert client.post("/livekit/webhook", content=body, headers=headers).status_code == 200
    assert gateway.calls.count(("dispatch_agent", room, names.AGENT_NAME)) == 1


def track_event(event_id: str, room: str, identity: str, role: str, source: int) -> api.WebhookEvent:
    info = api.ParticipantInfo(identity=identity, attributes={"role": role})
    return api.WebhookEvent(
        event="track_published",
        id=event_id,
        room=api.Room(name=room),
        participant=info,
        track=api.TrackInfo(sid="TR_x", source=source),
    )


def test_a_track_source_the_sdk_does_not_know_is_no_500(client: TestClient) -> None:
    """Found by an outside review: a signed event whose source is a number the SDK has no name for
    (a newer server's source) raised in the parsing, a 500 the SFU retries and then drops."""
    space_id = live_space(client)
    body, headers = signed(track_event("t-new", f"space-{space_id}", "sp", "speaker", source=99))
    assert b'"source": 99' in body
    resp = client.post("/livekit/webhook", content=body, headers=headers)
    assert resp.status_code == 200, resp.text


def test_a_published_track_the_stored_role_does_not_allow_gets_the_stored_permission(
    client: TestClient, gateway: FakeGateway
) -> None:
    space_id = create(client, video="off")["id"]
    start(client, space_id)
    room = f"space-{space_id}"
    set_role(client, space_id, "sp", "speaker")
    gateway.join("sp", Role.SPEAKER, VideoPolicy.OFF)
    # A listener who can publish (a missed correction), a stale speaker token of a listener.
    gateway.join("lis")
    gateway.permissions["lis"] = (Role.LISTENER, permission_for(Role.SPEAKER, VideoPolicy.OFF))
    gateway.join("stale", Role.SPEAKER, VideoPolicy.OFF)
    gateway.calls.clear()

    def deliver(event: api.WebhookEvent) -> None:
        body, headers = signed(event)
        assert client.post("/livekit/webhook", content=body, headers=headers).status_code == 200

    deliver(track_event("t1", room, "sp", "speaker", api.TrackSource.MICROPHONE))
    # Level-triggered: one wake holds everyone in the room to the stored grants; the speaker
    # already has them and is left alone.
    assert not [c for c in gateway.calls if c[0] == "update_participant" and c[1] == "sp"]
    for listener in ("lis", "stale"):
        role, permission = gateway.permissions[listener]
        assert role is Role.LISTENER and not permission.can_publish
    for event_id in ("t2", "t3", "t4"):  # more tracks, redeliveries: nothing more to do
        deliver(track_event(event_id, room, "stale", "speaker", api.TrackSource.MICROPHONE))
    # The stale speaker became audience: counted once.
    assert client.get(f"/spaces/{space_id}", headers=auth("x")).json()["listener_count"] == 1
    # A blocked user who still publishes is removed.
    resp = client.post(
        f"/spaces/{space_id}/participants/troll/remove", json={"block": True}, headers=auth("host")
    )
    assert resp.status_code == 200
    gateway.join("troll", Role.SPEAKER)  # rejoined with an old token; the join webhook was lost
    deliver(track_event("t5", room, "troll", "speaker", api.TrackSource.MICROPHONE))
    assert "troll" not in gateway.connected


def test_room_finished_ends_the_space(client: TestClient) -> None:
    space_id = live_space(client)
    body, headers = signed(
        api.WebhookEvent(event="room_finished", id="rf1", room=api.Room(name=f"space-{space_id}"))
    )
    assert client.post("/livekit/webhook", content=body, headers=headers).status_code == 200
    assert client.post("/livekit/webhook", content=body, headers=headers).status_code == 200
    assert client.get(f"/spaces/{space_id}", headers=auth("x")).json()["state"] == "ended"


def test_a_room_finished_the_store_could_not_apply_ends_the_space_when_delivered_again(
    app: FastAPI, client: TestClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first delivery meets a busy store (503, LiveKit sends it again): the event id must not be
    spent on it, or the redelivery is taken for a duplicate and the Space never ends."""
    space_id = live_space(client)
    body, headers = signed(
        api.WebhookEvent(event="room_finished", id="rf-busy", room=api.Room(name=f"space-{space_id}"))
    )
    monkeypatch.setattr("functions.store.base.time.sleep", lambda _: None)
    app.dependency_overrides[deps.get_store] = lambda: _AlwaysOutraced(settings.sqlite_path)
    assert client.post("/livekit/webhook", content=body, headers=headers).status_code == 503
    del app.dependency_overrides[deps.get_store]
    again = client.post("/livekit/webhook", content=body, headers=headers)
    assert again.status_code == 200 and again.json()["outcome"].startswith("space ended")
    assert client.get(f"/spaces/{space_id}", headers=auth("x")).json()["state"] == "ended"


def test_unsigned_or_tampered_webhooks_are_401_and_change_nothing(client: TestClient) -> None:
    space_id = live_space(client)
    body, headers = signed(
        api.WebhookEvent(event="room_finished", id="rf2", room=api.Room(name=f"space-{space_id}"))
    )
    assert client.post("/livekit/webhook", content=body).status_code == 401
    assert client.post("/livekit/webhook", content=body + b" ", headers=headers).status_code == 401
    _, wrong = signed(
        api.WebhookEvent(event="room_finished", id="rf2"), secret="another-secret-of-a-sufficient-length!!"
    )
    assert client.post("/livekit/webhook", content=body, headers=wrong).status_code == 401
    assert client.post("/livekit/webhook", content=b"\xff\xfe", headers=headers).status_code == 401
    assert client.get(f"/spaces/{space_id}", headers=auth("x")).json()["state"] == "live"


# --- HTTP surroundings ----------------------------------------------------------------------------
def test_cors_allows_the_configured_origin_only(client: TestClient) -> None:
    preflight = {
        "Origin": "https://web.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type,idempotency-key",
    }
    ok = client.options("/spaces", headers=preflight)
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == "https://web.example"
    other = client.options("/spaces", headers={**preflight, "Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


def test_openapi_lists_every_path(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in [
        "/spaces",
        "/spaces/{space_id}",
        "/spaces/{space_id}/start",
        "/spaces/{space_id}/end",
        "/spaces/{space_id}/token",
        "/spaces/{space_id}/hand",
        "/spaces/{space_id}/roles/{user_id}",
        "/spaces/{space_id}/participants/{user_id}/mute",
        "/spaces/{space_id}/participants/{user_id}/remove",
        "/spaces/{space_id}/spotlight",
        "/spaces/{space_id}/listeners",
        "/livekit/webhook",
        "/healthz",
    ]:
        assert path in paths
    assert client.get("/docs").status_code == 200


def test_local_mode_serves_the_built_web_client_after_the_api(settings: Settings, tmp_path: Path) -> None:
    web = tmp_path / "dist"
    web.mkdir()
    (web / "index.html").write_text("<html>spaces</html>")
    app = create_app(settings.model_copy(update={"web_dist": str(web)}))
    with TestClient(app, base_url="http://127.0.0.1") as c:
        assert "spaces" in c.get("/").text
        assert c.get("/healthz").json() == {"status": "ok"}
        # The page's configuration: none, so it calls this origin (no 404 in every console).
        assert c.get("/config.json").json() == {}
        # With its security headers: its own scripts only, the SFU it is handed, never framed.
        page = c.get("/")
        policy = page.headers["content-security-policy"]
        assert "script-src 'self';" in policy and "frame-ancestors 'none'" in policy
        ws, http = web_security.signalling_origins(settings.client_livekit_url)
        assert f" {ws}" in policy and f" {http}" in policy
        assert page.headers["x-content-type-options"] == "nosniff"
    cloud = settings.model_copy(update={"web_dist": str(web), "mode": "cloud"})
    with TestClient(create_app(cloud), base_url="http://127.0.0.1") as c:
        assert c.get("/").status_code == 404


def participant_joined(
    event_id: str, room: str, identity: str, role: str, *, token: str | None = None
) -> api.WebhookEvent:
    """`token`: a join token the API minted; the participant carries its attributes, as the SFU does."""
    attributes = dict(jwt.decode(token, options={"verify_signature": False})["attributes"]) if token else {}
    info = api.ParticipantInfo(identity=identity, attributes=attributes | {"role": role})
    return api.WebhookEvent(
        event="participant_joined", id=event_id, room=api.Room(name=room), participant=info
    )


def test_a_blocked_user_rejoining_with_an_old_token_is_removed_again(
    client: TestClient, gateway: FakeGateway
) -> None:
    space_id = live_space(client)
    client.post(f"/spaces/{space_id}/participants/troll/remove", json={"block": True}, headers=auth("host"))
    gateway.connected.add("troll")  # reconnected with a token minted before the block
    body, headers = signed(participant_joined("j1", f"space-{space_id}", "troll", "listener"))
    assert client.post("/livekit/webhook", content=body, headers=headers).status_code == 200
    assert "troll" not in gateway.connected


def test_a_join_with_a_token_issued_before_a_removal_is_undone_as_it_connects(
    client: TestClient, gateway: FakeGateway
) -> None:
    """The removal came between the token and the connect: its own disconnect found nobody."""
    space_id = live_space(client)
    set_role(client, space_id, "sp", "speaker")
    before = client.post(f"/spaces/{space_id}/token", headers=auth("sp")).json()
    client.post(f"/spaces/{space_id}/participants/sp/remove", headers=auth("host"))
    gateway.join("sp", Role.SPEAKER)  # connects now, with the token from before the removal
    body, headers = signed(
        participant_joined("j3", f"space-{space_id}", "sp", "speaker", token=before["token"])
    )
    assert client.post("/livekit/webhook", content=body, headers=headers).status_code == 200
    assert "sp" not in gateway.connected and ("remove_participant", "sp") in gateway.calls
    # A token issued after the removal (a join on purpose) stays; so does one without the attribute.
    after = client.post(f"/spaces/{space_id}/token", headers=auth("sp")).json()
    for event_id, token in (("j4", after["token"]), ("j5", None)):
        gateway.join("sp")
        body, headers = signed(
            participant_joined(event_id, f"space-{space_id}", "sp", "listener", token=token)
        )
        assert client.post("/livekit/webhook", content=body, headers=headers).status_code == 200
        assert "sp" in gateway.connected, event_id


def test_a_stale_role_token_is_corrected_to_the_stored_role(client: TestClient, gateway: FakeGateway) -> None:
    space_id = live_space(client)
    set_role(client, space_id, "ex", "speaker")
    set_role(client, space_id, "ex", "listener")  # demoted while offline; still holds a speaker token
    gateway.join("ex", Role.SPEAKER)
    body, headers = signed(participant_joined("j2", f"space-{space_id}", "ex", "speaker"))
    for _ in range(3):  # delivered three times: the count moves once (issue 9: it went 1 -> 2 -> 3)
        assert client.post("/livekit/webhook", content=body, headers=headers).status_code == 200
        role, permission = gateway.permissions["ex"]
        assert role.value == "listener" and permission.can_publish is False
        # Now an audience member: counted, so their eventual leave (as a listener) balances out.
        assert client.get(f"/spaces/{space_id}", headers=auth("x")).json()["listener_count"] == 1


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("GET", "/spaces?limit=abc", {}),
        ("GET", "/spaces?cursor=" + "A" * 3000, {}),
        ("POST", "/spaces", {"json": []}),
        ("POST", "/spaces", {"json": {"title": 5}}),
        ("POST", "/spaces", {"json": {"title": "ok"}, "headers": {"Idempotency-Key": "k" * 200}}),
        ("PUT", "/spaces/{id}/roles/%C3%A9t%C3%A9", {"json": {"role": "speaker"}}),
        ("POST", "/spaces/{id}/participants/x/remove", {"json": {"block": True, "extra": 1}}),
        ("PUT", "/spaces/{id}/spotlight", {"json": {"user_id": 42}}),
        # A lone surrogate: valid JSON, not encodable as UTF-8 when echoed back.
        ("GET", "/spaces?cursor=eyJrIjoiXHVkODAwIn0", {}),
        (
            "POST",
            "/spaces",
            {"content": b'{"title":"\\ud800"}', "headers": {"Content-Type": "application/json"}},
        ),
        (
            "POST",
            "/spaces",
            {"content": b'{"title":"a","\\ud800":1}', "headers": {"Content-Type": "application/json"}},
        ),
    ],
)
def test_odd_client_input_is_a_4xx_never_a_500(
    client: TestClient, method: str, path: str, kwargs: dict[str, Any]
) -> None:
    space_id = live_space(client)
    headers = {**auth("host"), **kwargs.pop("headers", {})}
    resp = client.request(method, path.replace("{id}", space_id), headers=headers, **kwargs)
    assert resp.status_code == 422, resp.text


# --- push, not poll (functions/domain/pushed.py) --------------------------------------------------
def test_changes_are_pushed_to_the_room_hands_to_moderators_only(
    client: TestClient, gateway: FakeGateway
) -> None:
    space_id = create(client)["id"]
    room = start(client, space_id)["room_name"]
    assert client.post(f"/spaces/{space_id}/hand", headers=auth("lena")).status_code == 200
    message, to = gateway.hands[room]
    assert json.loads(message)["hands"] == ["lena"] and to == ("host",)
    assert set_role(client, space_id, "lena", "speaker").status_code == 200
    pushed_doc = json.loads(gateway.rooms[room])
    assert pushed_doc["speakers"] == ["lena"] and pushed_doc["state"] == "live"
    assert json.loads(gateway.hands[room][0])["hands"] == []
    assert set_role(client, space_id, "lena", "cohost").status_code == 200
    assert json.loads(gateway.rooms[room])["cohosts"] == ["lena"]
    assert gateway.hands[room][1] == ("host", "lena")


def test_a_hand_does_not_wait_for_a_metadata_publish_held_back_for_another_change(
    app: FastAPI, client: TestClient, gateway: FakeGateway, settings: Settings
) -> None:
    """A hand is not in the room metadata: its answer waits for the hands message, not for the
    metadata interval (2 s) to let someone else's change out; the next pass publishes that."""
    settings.metadata_interval_seconds = 1.0  # outlasts the requests below
    space_id = create(client)["id"]
    room = start(client, space_id)["room_name"]
    assert set_role(client, space_id, "sam", "speaker").status_code == 200  # metadata just published
    version = client.get(f"/spaces/{space_id}", headers=auth("host")).json()["version"]
    gateway.rooms[room] = "{}"  # the room's metadata is behind, and its next publish is held back
    for method in ("post", "delete"):
        resp = getattr(client, method)(f"/spaces/{space_id}/hand", headers=auth("lena"))
        assert resp.status_code == 200 and resp.json()["converged"] is True
        assert resp.json()["version"] == version  # a hand changes nothing the metadata carries
        assert gateway.rooms[room] == "{}"  # answered without waiting to publish it ...
    assert json.loads(gateway.hands[room][0])["hands"] == []  # ... once the moderators were told
    sweep(app, gateway)
    assert json.loads(gateway.rooms[room])["speakers"] == ["sam"]


def test_a_hand_pass_that_leaves_metadata_pending_still_goes_round_for_a_webhook_it_coalesced(
    app: FastAPI, client: TestClient, gateway: FakeGateway, settings: Settings
) -> None:
    """A webhook that finds the hand's pass holding the room is told "coalesced": that pass owes it
    a round of the whole room before it answers, metadata pending or not."""
    settings.metadata_interval_seconds = 1.0  # outlasts the requests below
    space_id = create(client)["id"]
    room = start(client, space_id)["room_name"]
    assert set_role(client, space_id, "sam", "speaker").status_code == 200  # metadata just published
    gateway.rooms[room] = "{}"  # behind, and its next publish is held back
    notes: list[str] = []
    look_at_member = gateway.observe_member

    async def while_the_hand_pass_runs(room_name: str, identity: str) -> Any:
        if not notes:
            # A listener joins with a speaker's token from before a demotion; their join webhook
            # arrives while the hand's pass holds the room.
            gateway.join("eve", Role.SPEAKER)
            webhook_pass = reconciler_for(settings, memory=app.state.reconcile_memory, gateway=gateway)
            notes.append((await webhook_pass.wake(space_id, budget=3)).note)
        return await look_at_member(room_name, identity)

    gateway.observe_member = while_the_hand_pass_runs  # type: ignore[method-assign]
    resp = client.post(f"/spaces/{space_id}/hand", headers=auth("lena"))
    assert resp.status_code == 200 and resp.json()["converged"] is True
    assert notes == ["coalesced"]
    assert gateway.permissions["eve"][0] is Role.LISTENER  # the round it owed the webhook ran


def test_a_failed_push_does_not_fail_the_hand(client: TestClient, gateway: FakeGateway) -> None:
    space_id = create(client)["id"]
    start(client, space_id)
    gateway.fail = True
    resp = client.post(f"/spaces/{space_id}/hand", headers=auth("lena"))
    # Stored and said so: accepted, the room not yet told (the next pass sends the hands).
    assert resp.status_code == 202 and resp.json()["raised_hands"] == ["lena"]
    assert resp.json()["converged"] is False


def test_the_space_says_when_it_ends_while_its_host_is_away(
    app: FastAPI, client: TestClient, gateway: FakeGateway, settings: Settings
) -> None:
    """The host's leave starts the grace period: the Space (to anyone) and the room metadata say
    when it ends unless they are back, and nothing once they are."""
    space_id = create(client)["id"]
    room = start(client, space_id)["room_name"]
    assert client.get(f"/spaces/{space_id}", headers=auth("lou")).json()["host_away_until"] is None
    before = datetime.now(UTC).timestamp()
    for kind, event_id in (("participant_left", "h-left"), ("participant_joined", "h-back")):
        event = participant_event(kind, event_id, room, role="host", identity="host")
        body, headers = signed(event)
        assert client.post("/livekit/webhook", content=body, headers=headers).status_code == 200
        until = client.get(f"/spaces/{space_id}", headers=auth("lou")).json()["host_away_until"]
        sweep(app, gateway)  # a webhook's pass does not wait out the metadata interval; this does
        pushed_until = json.loads(gateway.rooms[room])["host_away_until"]
        if kind == "participant_left":
            ends = datetime.fromisoformat(until).timestamp()
            after = datetime.now(UTC).timestamp()
            assert before + settings.host_grace_seconds <= ends <= after + settings.host_grace_seconds
            assert pushed_until == round(ends * 1000)
        else:
            assert until is None and pushed_until is None


def _fails_once(monkeypatch: pytest.MonkeyPatch, target: object, method: str) -> None:
    """The store's `method` is busy once (nothing written), then works."""
    real = getattr(target, method)
    calls = {"n": 0}

    def flaky(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise Busy("store_throttled", "the store is busy; nothing was changed, retry", retry_after=1)
        return real(*args, **kwargs)

    monkeypatch.setattr(target, method, flaky)


def test_a_host_leave_the_store_could_not_take_is_applied_when_the_sfu_sends_it_again(
    app: FastAPI, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by an outside review: the event id was claimed before the leave was stored, so the
    503 "nothing was changed, retry" was followed by a retry taken for a duplicate, and the grace
    period never started."""
    space_id = create(client)["id"]
    room = start(client, space_id)["room_name"]
    _fails_once(monkeypatch, store_for(app.state.settings), "update")
    body, headers = signed(
        participant_event("participant_left", "h-busy", room, role="host", identity="host")
    )
    assert client.post("/livekit/webhook", content=body, headers=headers).status_code == 503
    assert client.get(f"/spaces/{space_id}", headers=auth("lou")).json()["host_away_until"] is None
    retried = client.post("/livekit/webhook", content=body, headers=headers)
    assert retried.status_code == 200 and "duplicate" not in retried.text, retried.text
    assert client.get(f"/spaces/{space_id}", headers=auth("lou")).json()["host_away_until"] is not None
    # Applied once, the same event stays a duplicate.
    again = client.post("/livekit/webhook", content=body, headers=headers)
    assert again.status_code == 200 and again.json()["outcome"].startswith("duplicate"), again.text


def test_a_listener_leave_the_store_could_not_take_is_applied_when_the_sfu_sends_it_again(
    app: FastAPI, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by an outside review: the count went down and claimed the event before the listener
    was taken off the host's list; the list's failure answered "retry", and the retry was a
    duplicate, so the listener stayed listed until their entry expired."""
    space_id = live_space(client)
    room = f"space-{space_id}"
    assert client.post(f"/spaces/{space_id}/token", headers=auth("bob")).status_code == 200
    body, headers = signed(participant_event("participant_joined", "b-in", room, identity="bob"))
    assert client.post("/livekit/webhook", content=body, headers=headers).status_code == 200

    def listed() -> list[str]:
        page = client.get(f"/spaces/{space_id}/listeners", headers=auth("host")).json()
        return [item["user_id"] for item in page["items"]]

    assert listed() == ["bob"]
    _fails_once(monkeypatch, store_for(app.state.settings), "remove_listener")
    body, headers = signed(participant_event("participant_left", "b-out", room, identity="bob"))
    assert client.post("/livekit/webhook", content=body, headers=headers).status_code == 503
    assert client.get(f"/spaces/{space_id}", headers=auth("x")).json()["listener_count"] == 1
    retried = client.post("/livekit/webhook", content=body, headers=headers)
    assert retried.status_code == 200 and "duplicate" not in retried.text, retried.text
    assert listed() == []
    assert client.get(f"/spaces/{space_id}", headers=auth("x")).json()["listener_count"] == 0


def test_the_leave_of_a_hosts_session_a_newer_one_replaced_tells_nobody_the_host_left(
    client: TestClient, gateway: FakeGateway, monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    """A reload or a reconnect: the SFU closes the old session as DUPLICATE_IDENTITY when the new one
    joins, and its leave can arrive after. Taken as a departure, the room was told "the host has
    left" until the next pass undid it (an outside review saw the banner for ~3 s)."""
    settings.metadata_interval_seconds = 0  # every pass publishes what it has: nothing held back
    space_id = create(client)["id"]
    room = start(client, space_id)["room_name"]
    gateway.join("host", Role.HOST)  # the newer session
    pushed: list[Any] = []
    set_metadata = gateway.set_room_metadata

    async def recording(space: Any, metadata: str) -> None:
        pushed.append(json.loads(metadata)["host_away_until"])
        await set_metadata(space, metadata)

    monkeypatch.setattr(gateway, "set_room_metadata", recording)
    replaced = participant_event(
        "participant_left",
        "h-replaced",
        room,
        role="host",
        identity="host",
        disconnect_reason=api.DisconnectReason.DUPLICATE_IDENTITY,
    )
    body, headers = signed(replaced)
    resp = client.post("/livekit/webhook", content=body, headers=headers)
    assert resp.status_code == 200, resp.text
    # What the room was told: never that the host is away (the old rule published it, then None).
    assert all(until is None for until in pushed), pushed
    assert client.get(f"/spaces/{space_id}", headers=auth("lou")).json()["host_away_until"] is None
    assert "replaced by a newer one" in resp.json()["outcome"], resp.text
    # Any other leave of the host still starts the grace period.
    body, headers = signed(
        participant_event("participant_left", "h-left", room, role="host", identity="host")
    )
    assert (
        "grace period started"
        in client.post("/livekit/webhook", content=body, headers=headers).json()["outcome"]
    )


def test_the_leave_of_a_listeners_session_a_newer_one_replaced_keeps_them_listed(
    client: TestClient, gateway: FakeGateway
) -> None:
    """A connection that drops and comes back with the same token (the SDK's own reconnect): the SFU
    closes the old session as DUPLICATE_IDENTITY when the new one joins. Its leave took the listener
    off the host's list although they were still in the room, until their next token request (seen
    by an outside review: counted 1, listed nobody)."""
    space_id = live_space(client)
    room = f"space-{space_id}"
    assert client.post(f"/spaces/{space_id}/token", headers=auth("bob")).status_code == 200
    connected_ms = int(datetime.now(UTC).timestamp() * 1000) + 1  # after the token's entry

    def session(kind: str, event_id: str, **info: Any) -> api.WebhookEvent:
        participant = api.ParticipantInfo(
            identity="bob", sid=info.pop("sid"), attributes={"role": "listener"}, **info
        )
        return api.WebhookEvent(event=kind, id=event_id, room=api.Room(name=room), participant=participant)

    gateway.join("bob", Role.LISTENER)  # the newer session: still in the room
    for event in [
        session("participant_joined", "b-old-in", sid="PA_old", joined_at_ms=connected_ms),
        session("participant_joined", "b-new-in", sid="PA_new", joined_at_ms=connected_ms + 5000),
        session(
            "participant_left",
            "b-old-out",
            sid="PA_old",
            joined_at_ms=connected_ms,
            disconnect_reason=api.DisconnectReason.DUPLICATE_IDENTITY,
        ),
    ]:
        body, headers = signed(event)
        assert client.post("/livekit/webhook", content=body, headers=headers).status_code == 200

    page = client.get(f"/spaces/{space_id}/listeners", headers=auth("host")).json()
    assert [item["user_id"] for item in page["items"]] == ["bob"]
    assert client.get(f"/spaces/{space_id}", headers=auth("x")).json()["listener_count"] == 1
    # Their last session's own leave takes them off.
    body, headers = signed(
        session("participant_left", "b-new-out", sid="PA_new", joined_at_ms=connected_ms + 5000)
    )
    assert client.post("/livekit/webhook", content=body, headers=headers).status_code == 200
    assert client.get(f"/spaces/{space_id}/listeners", headers=auth("host")).json()["items"] == []
    assert client.get(f"/spaces/{space_id}", headers=auth("x")).json()["listener_count"] == 0


def test_an_invitation_from_a_stale_list_does_not_demote_a_cohost(client: TestClient) -> None:
    space_id = live_space(client)
    assert set_role(client, space_id, "leo", "cohost").status_code == 200
    before = client.get(f"/spaces/{space_id}", headers=auth("host")).json()
    resp = client.put(
        f"/spaces/{space_id}/roles/leo",
        json={"role": "speaker", "from_role": "listener"},
        headers=auth("host"),
    )
    assert resp.status_code == 409, resp.text
    assert resp.json()["rule"] == "role_changed"
    assert "they are a co-host now, not in the audience" in resp.json()["detail"]
    after = client.get(f"/spaces/{space_id}", headers=auth("host")).json()
    assert after["cohosts"] == ["leo"] and after["speakers"] == [] and after["version"] == before["version"]
    # Still a listener: the invitation goes through.
    resp = client.put(
        f"/spaces/{space_id}/roles/lia",
        json={"role": "speaker", "from_role": "listener"},
        headers=auth("host"),
    )
    assert resp.status_code in (200, 202), resp.text
    assert client.get(f"/spaces/{space_id}", headers=auth("host")).json()["speakers"] == ["lia"]
    # A role that is not one: 422 naming the field.
    resp = client.put(
        f"/spaces/{space_id}/roles/lia", json={"role": "listener", "from_role": "host"}, headers=auth("host")
    )
    assert resp.status_code == 422 and "from_role" in resp.text


# --- host handover (functions/domain/host.py) -----------------------------------------------------
def test_the_host_hands_the_space_to_a_cohost(client: TestClient, gateway: FakeGateway) -> None:
    space_id = live_space(client)
    assert set_role(client, space_id, "cal", "cohost").status_code == 200
    assert client.post(f"/spaces/{space_id}/token", headers=auth("cal")).status_code == 200  # cal joins
    gateway.join("cal", Role.COHOST)
    resp = client.post(f"/spaces/{space_id}/host", json={"user_id": "cal"}, headers=auth("host"))
    assert resp.status_code in (200, 202), resp.text
    space = client.get(f"/spaces/{space_id}", headers=auth("anyone")).json()
    assert space["host"] == "cal" and space["cohosts"] == ["host"]
    # The new host has the host's powers; the old one no longer does.
    assert (
        client.post(f"/spaces/{space_id}/host", json={"user_id": "host"}, headers=auth("host")).status_code
        == 403
    )
    assert client.post(f"/spaces/{space_id}/end", headers=auth("cal")).status_code in (200, 202)


def test_a_live_space_is_not_handed_to_a_cohost_who_is_not_in_the_room(
    client: TestClient, gateway: FakeGateway
) -> None:
    """Found by an outside review: a co-host who took a token and left was handed the Space with a
    200, and the same request's reconciler pass started the grace period that then ended it."""
    space_id = live_space(client)
    assert set_role(client, space_id, "cal", "cohost").status_code == 200
    assert client.post(f"/spaces/{space_id}/token", headers=auth("cal")).status_code == 200
    before = client.get(f"/spaces/{space_id}", headers=auth("anyone")).json()
    refused = client.post(f"/spaces/{space_id}/host", json={"user_id": "cal"}, headers=auth("host"))
    assert refused.status_code == 409 and refused.json()["rule"] == "cohost_not_present", refused.text
    assert "cal is not in the Space now" in refused.json()["detail"]
    assert client.get(f"/spaces/{space_id}", headers=auth("anyone")).json() == before
    gateway.join("cal", Role.COHOST)
    handed = client.post(f"/spaces/{space_id}/host", json={"user_id": "cal"}, headers=auth("host"))
    assert handed.status_code in (200, 202) and handed.json()["host"] == "cal", handed.text
    assert handed.json()["host_away_until"] is None

    # The Space's own rules come first: a refused hand-over asks the SFU nothing (and an SFU that
    # fails does not turn a 409 into a 502).
    gateway.calls.clear()
    gateway.fail = True
    refused = client.post(f"/spaces/{space_id}/host", json={"user_id": "nobody"}, headers=auth("cal"))
    assert refused.status_code == 409 and refused.json()["rule"] == "not_a_cohost", refused.text
    assert not any(call[0] == "observe_member" for call in gateway.calls)


def test_a_live_space_is_not_handed_to_a_cohost_who_never_joined_it(
    settings: Settings, gateway: FakeGateway
) -> None:
    """Found in a security review: two live Spaces handed to someone who never came to them used
    their whole live quota (2 in the cloud), so they could not start their own for as long as the
    handing went on (each handed Space ends after the grace period, and two more follow)."""
    app = create_app(settings.model_copy(update={"max_live_per_host": 2}))
    app.dependency_overrides[deps.get_gateway] = lambda: gateway
    with TestClient(app, base_url="http://127.0.0.1") as client:
        for _ in range(2):
            space_id = create(client, host="mallory")["id"]
            start(client, space_id, host="mallory")
            assert set_role(client, space_id, "victim", "cohost", actor="mallory").status_code == 200
            refused = client.post(
                f"/spaces/{space_id}/host", json={"user_id": "victim"}, headers=auth("mallory")
            )
            assert refused.status_code == 409 and refused.json()["rule"] == "cohost_not_joined", refused.text
            assert "victim has not joined this Space" in refused.json()["detail"]
        start(client, create(client, host="victim")["id"], host="victim")


def test_handover_to_anyone_but_a_cohost_is_refused_naming_the_problem(client: TestClient) -> None:
    space_id = live_space(client)
    assert set_role(client, space_id, "sue", "speaker").status_code == 200
    before = client.get(f"/spaces/{space_id}", headers=auth("anyone")).json()
    for target in ("sue", "nobody"):
        resp = client.post(f"/spaces/{space_id}/host", json={"user_id": target}, headers=auth("host"))
        assert resp.status_code == 409 and "co-host" in resp.text, resp.text
    resp = client.post(f"/spaces/{space_id}/host", json={"user_id": "sue"}, headers=auth("sue"))
    assert resp.status_code == 403
    resp = client.post(f"/spaces/{space_id}/host", json={}, headers=auth("host"))
    assert resp.status_code == 422 and resp.json()["detail"][0]["loc"] == ["body", "user_id"]
    assert client.get(f"/spaces/{space_id}", headers=auth("anyone")).json() == before


# --- a busy or unreachable store --------------------------------------------------------------
class _AlwaysOutraced(SqliteStore):
    """Every compare-and-set loses, as under more concurrent writers than the store retries past."""

    def _commit(self, read: Snapshot, after: Any) -> None:
        return None


def test_a_change_that_never_wins_its_write_is_a_503_that_changed_nothing(
    app: FastAPI, client: TestClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    space_id = live_space(client)
    monkeypatch.setattr("functions.store.base.time.sleep", lambda _: None)
    app.dependency_overrides[deps.get_store] = lambda: _AlwaysOutraced(settings.sqlite_path)
    busy = set_role(client, space_id, "bob", "speaker")
    assert busy.status_code == 503, busy.text
    assert busy.json()["rule"] == "too_much_contention"
    assert busy.headers["retry-after"] == "1"
    del app.dependency_overrides[deps.get_store]
    assert client.get(f"/spaces/{space_id}", headers=auth("host")).json()["speakers"] == []


def test_a_write_whose_follow_up_pass_meets_a_throttled_store_is_accepted_not_a_503(
    app: FastAPI, client: TestClient, settings: Settings
) -> None:
    """The write is stored; the pass after it reads the store again (the reconciler) and is throttled
    there. A 503 would tell the client that nothing changed, and its retry would then be refused."""

    class ThrottledAfterTheWrite(SqliteStore):
        written = False

        def _commit(self, read: Snapshot, after: Any) -> Any:
            stored = super()._commit(read, after)
            self.written = stored is not None
            return stored

        def get(self, space_id: str, *, member: str | None = None, consistent: bool = True) -> Any:
            if self.written:
                raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "m"}}, "GetItem")
            return super().get(space_id, member=member, consistent=consistent)

    space_id = live_space(client)
    store = ThrottledAfterTheWrite(settings.sqlite_path)
    app.dependency_overrides[deps.get_store] = lambda: store
    answer = set_role(client, space_id, "bob", "speaker")
    assert answer.status_code == 202, answer.text
    assert answer.json()["converged"] is False and answer.json()["speakers"] == ["bob"]
    del app.dependency_overrides[deps.get_store]
    assert client.get(f"/spaces/{space_id}", headers=auth("host")).json()["speakers"] == ["bob"]


def test_a_throttled_store_is_a_503_and_any_other_store_failure_stays_a_500(
    app: FastAPI, settings: Settings
) -> None:
    def failing(code: str) -> Any:
        class Failing(SqliteStore):
            def get(self, space_id: str, *, member: str | None = None, consistent: bool = True) -> Any:
                raise ClientError({"Error": {"Code": code, "Message": "m"}}, "GetItem")

        return lambda: Failing(settings.sqlite_path)

    with TestClient(app, raise_server_exceptions=False, base_url="http://127.0.0.1") as c:
        app.dependency_overrides[deps.get_store] = failing("ProvisionedThroughputExceededException")
        throttled = c.get("/spaces/" + "a" * 32, headers={**auth("host"), "Origin": "https://web.example"})
        assert throttled.status_code == 503 and throttled.json()["rule"] == "store_throttled"
        assert throttled.headers["retry-after"] == "2"
        assert throttled.headers["access-control-expose-headers"] == "Retry-After, Spaces-Page-Generation"
        assert throttled.headers["spaces-page-generation"] == str(names.PAGE_GENERATION)
        app.dependency_overrides[deps.get_store] = failing("ValidationException")
        assert c.get("/spaces/" + "a" * 32, headers=auth("host")).status_code == 500


def test_a_host_may_run_only_so_many_live_spaces_at_once(settings: Settings, gateway: FakeGateway) -> None:
    """The cloud stack sets SPACES_MAX_LIVE_PER_HOST (2): each live Space holds a room, a stage agent
    and a composer, so one account of a public deployment must not start them without bound."""
    app = create_app(settings.model_copy(update={"max_live_per_host": 2}))
    app.dependency_overrides[deps.get_gateway] = lambda: gateway
    with TestClient(app, base_url="http://127.0.0.1") as client:
        first, second, third = (create(client)["id"] for _ in range(3))
        start(client, first)
        start(client, second)
        refused = client.post(f"/spaces/{third}/start", headers=auth("host"))
        assert refused.status_code == 409, refused.text
        assert refused.json()["rule"] == "too_many_live_spaces"
        assert client.get(f"/spaces/{third}", headers=auth("host")).json()["state"] == "scheduled"
        # Someone else's quota is their own; and once one ends, the host may start the third.
        start(client, create(client, host="other")["id"], host="other")
        assert client.post(f"/spaces/{first}/end", headers=auth("host")).status_code == 200
        start(client, third)
        # A live hand-over to someone at their limit names them, not the host who asked.
        start(client, create(client, host="other")["id"], host="other")
        set_role(client, third, "other", "cohost")
        assert client.post(f"/spaces/{third}/token", headers=auth("other")).status_code == 200
        gateway.join("other", Role.COHOST)
        refused = client.post(f"/spaces/{third}/host", json={"user_id": "other"}, headers=auth("host"))
        assert refused.status_code == 409 and refused.json()["rule"] == "too_many_live_spaces"
        assert refused.json()["detail"].startswith("other already has the most live Spaces")


def test_a_raised_hand_costs_one_look_at_the_raiser_not_at_the_room(
    client: TestClient, gateway: FakeGateway
) -> None:
    """A hands message has nothing in the room to verify: the pass after a raise or a lower reads
    the raiser and the metadata once, never the whole room, and sends the hands once (a round that
    changed the room would be verified by a second look)."""
    space_id = live_space(client)
    gateway.join("fan")
    for method in ("post", "delete"):
        gateway.calls.clear()
        assert getattr(client, method)(f"/spaces/{space_id}/hand", headers=auth("fan")).status_code == 200
        assert [c[0] for c in gateway.calls].count("observe") == 0, gateway.calls
        assert [c[0] for c in gateway.calls].count("observe_member") == 1, gateway.calls
        assert [c[0] for c in gateway.calls].count("send_hands") == 1, gateway.calls


def test_every_hand_toggle_sends_the_hands_whatever_another_process_sent_since(
    settings: Settings, client: TestClient, gateway: FakeGateway
) -> None:
    """Process 1 sends a raised hand, process 2 its lowering; when process 1 takes the next raise,
    its memory of what it sent last is the same raised hand, yet the moderators saw the lowering."""
    other = create_app(settings)
    other.dependency_overrides[deps.get_gateway] = lambda: gateway
    space_id = live_space(client)
    gateway.join("fan")
    with TestClient(other, base_url="http://127.0.0.1") as second:
        assert client.post(f"/spaces/{space_id}/hand", headers=auth("fan")).status_code == 200
        assert second.delete(f"/spaces/{space_id}/hand", headers=auth("fan")).status_code == 200
        gateway.calls.clear()
        assert client.post(f"/spaces/{space_id}/hand", headers=auth("fan")).status_code == 200
    assert [c[0] for c in gateway.calls].count("send_hands") == 1, gateway.calls


def test_the_patrol_corrects_a_listener_count_whose_webhooks_were_lost(
    app: FastAPI, client: TestClient, gateway: FakeGateway
) -> None:
    """Two listeners are connected but their join webhooks never came (dropped after LiveKit's
    retries, or refused by a flooded throttle): the count would say 0 for the rest of the Space. The
    patrol corrects a difference that stays the same for RECOUNT_AFTER_SECONDS, and only once."""
    from datetime import UTC, datetime, timedelta

    from functions.reconcile.runner import RECOUNT_AFTER_SECONDS, Memory
    from functions.reconcile.wiring import patrol_for

    space_id = live_space(client)
    gateway.join("host", Role.HOST)
    gateway.join("lost-1")
    gateway.join("lost-2")
    now = [datetime.now(UTC)]
    patrol, _ = patrol_for(app.state.settings, memory=Memory(), gateway=gateway)
    patrol.clock = lambda: now[0]

    def count_after_pass(later: float) -> int:
        now[0] += timedelta(seconds=later)
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(patrol.reconcile(space_id, budget=1))
        finally:
            loop.close()
        return int(client.get(f"/spaces/{space_id}", headers=auth("host")).json()["listener_count"])

    # First seen, and still within the wait: a webhook on its way would change it first.
    assert count_after_pass(0) == 0
    assert count_after_pass(RECOUNT_AFTER_SECONDS - 1) == 0
    assert count_after_pass(2) == 2
    assert count_after_pass(RECOUNT_AFTER_SECONDS + 1) == 2  # corrected once, not again
    # A leave that is lost too.
    gateway.connected.discard("lost-1")
    assert count_after_pass(1) == 2
    assert count_after_pass(RECOUNT_AFTER_SECONDS + 1) == 1
    # A request's pass never corrects (one process at a time does: the patrol).
    gateway.connected.discard("lost-2")
    request_pass = reconciler_for(app.state.settings, memory=Memory(), gateway=gateway)
    assert request_pass.recount is False
    request_pass.clock = lambda: now[0]
    for _ in range(2):
        now[0] += timedelta(seconds=RECOUNT_AFTER_SECONDS + 1)
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(request_pass.reconcile(space_id, budget=1))
        finally:
            loop.close()
    assert client.get(f"/spaces/{space_id}", headers=auth("host")).json()["listener_count"] == 1


def test_a_query_parameter_named_twice_is_a_422_naming_it_and_changes_nothing(client: TestClient) -> None:
    """Found from outside: the last value won (`?state=live&state=ended` listed ended Spaces, and
    only the last `rejoin_since` was checked), while a proxy or a log may read the first."""
    space_id = live_space(client)
    listed = client.get("/spaces?state=live&state=ended", headers=auth("h"))
    assert listed.status_code == 422
    assert listed.json()["detail"] == [
        {"type": "value_error", "loc": ["query", "state"], "msg": "given more than once; give it once"}
    ]
    twice = client.post(
        f"/spaces/{space_id}/token?rejoin_since=bogus&rejoin_since=2026-12-05T05:00:00Z", headers=auth("sp")
    )
    assert twice.status_code == 422 and twice.json()["detail"][0]["loc"] == ["query", "rejoin_since"]
    assert client.get(f"/spaces/{space_id}/listeners", headers=auth("host")).json()["items"] == []
    # Once each, and distinct names, are as before.
    assert client.get("/spaces?state=live&limit=5", headers=auth("h")).status_code == 200


def test_every_answer_names_the_page_generation_the_api_serves(client: TestClient) -> None:
    """Answers, refusals and CORS preflights alike: a page older than the API's last breaking change
    learns it from whatever it asks next (web/src/update_notice.ts)."""
    expected, header = str(names.PAGE_GENERATION), names.PAGE_GENERATION_HEADER
    assert client.get("/spaces?state=live", headers=auth("h")).headers[header] == expected
    assert client.get("/spaces/nope", headers=auth("h")).headers[header] == expected
    assert client.get("/spaces").headers[header] == expected  # 401
    preflight = client.options(
        "/spaces",
        headers={"Origin": "http://localhost:5173", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.headers[header] == expected
