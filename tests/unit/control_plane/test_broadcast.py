"""The broadcast tier in the control plane, over ASGI with the fake SFU: WebRTC or HLS by the stored
listener count, the OpenAPI shape of both answers, the broadcast links and recording retention on a
Space, and both agents dispatched (and re-dispatched) when broadcasting is on."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import ValidationError

from contract import names
from functions.api import deps
from functions.api.main import create_app
from functions.core.config import Settings
from functions.domain import viewers

from .conftest import PUBLIC_LIVEKIT_URL, auth
from .fakes import FakeGateway, dispatches_long_taken
from .test_api import create, live_space, lk_claims, participant_event, set_role, signed, start

BASE = "https://cdn.example/broadcasts"
LIMIT = 3


@pytest.fixture
def broadcast_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"broadcast_base_url": BASE, "webrtc_listener_limit": LIMIT, "recording_retention_days": 30}
    )


@pytest.fixture
def bclient(broadcast_settings: Settings, gateway: FakeGateway) -> Iterator[TestClient]:
    app = create_app(broadcast_settings)
    app.dependency_overrides[deps.get_gateway] = lambda: gateway
    with TestClient(app, base_url="http://127.0.0.1") as c:
        yield c


def listeners_join(client: TestClient, space_id: str, count: int, *, first: int = 0) -> None:
    """The SFU's webhooks for `count` listeners joining the room (the only source of the count)."""
    for n in range(first, first + count):
        event = participant_event(
            "participant_joined", f"join-{space_id}-{n}", f"space-{space_id}", identity=f"l{n}"
        )
        body, headers = signed(event)
        assert client.post("/livekit/webhook", content=body, headers=headers).status_code == 200


def token(client: TestClient, space_id: str, user: str) -> dict[str, Any]:
    resp = client.post(f"/spaces/{space_id}/token", headers=auth(user))
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


# --- token mode -----------------------------------------------------------------------------------
def test_listeners_get_webrtc_below_the_limit_and_hls_at_it(bclient: TestClient) -> None:
    space_id = live_space(bclient)
    listeners_join(bclient, space_id, LIMIT - 1)
    below = token(bclient, space_id, "newcomer")
    assert below["mode"] == "webrtc" and below["role"] == "listener"
    assert set(below) == {"mode", "url", "token", "identity", "role", "issued_at", "expires_at", "viewer_tag"}
    assert below["url"] == PUBLIC_LIVEKIT_URL and below["token"] and below["expires_at"]

    listeners_join(bclient, space_id, 1, first=LIMIT - 1)
    at = token(bclient, space_id, "newcomer")
    assert datetime.fromisoformat(at.pop("issued_at")) >= datetime.fromisoformat(below["issued_at"])
    assert at == {
        "mode": "hls",
        # The live window, not the whole stream: a viewer reloads it every segment.
        "playlist_url": f"{BASE}/{space_id}/{names.BROADCAST_LIVE_PLAYLIST}",
        "identity": "newcomer",
        "role": "listener",
        "expires_at": None,
        # Not in the presence sample (domain/presence.py): this page sends no heartbeats.
        "presence_interval_seconds": None,
        # Where state.json would tell this page of a removal (domain/viewers.py).
        "viewer_tag": at["viewer_tag"],
        # What its heartbeats would name: an HLS answer's alone (the WebRTC one above has none).
        "presence_tag": at["presence_tag"],
    }
    assert re.fullmatch(rf"[A-Za-z0-9_-]{{{viewers.TAG_CHARS}}}", at["viewer_tag"]), at
    assert at["presence_tag"] != at["viewer_tag"]


def test_a_space_read_says_which_a_listener_would_get_and_takes_no_seat(bclient: TestClient) -> None:
    """GET answers what the token would, without its seat: a page sent back to the audience reads
    it before asking for a token (web/src/space_session.ts)."""
    created = bclient.post("/spaces", json={"title": "Later"}, headers=auth("host"))
    assert created.json()["listener_mode"] is None  # not live: no answer to give
    space_id = live_space(bclient)
    listeners_join(bclient, space_id, LIMIT - 1)

    def read() -> str | None:
        mode: str | None = bclient.get(f"/spaces/{space_id}", headers=auth("newcomer")).json()[
            "listener_mode"
        ]
        return mode

    assert read() == "webrtc"
    assert read() == "webrtc"  # reads take no seat: still one free
    assert token(bclient, space_id, "newcomer")["mode"] == "webrtc"
    listeners_join(bclient, space_id, 1, first=LIMIT - 1)
    assert read() == "hls"
    assert token(bclient, space_id, "late")["mode"] == "hls"


def test_a_removed_hls_viewer_is_named_in_the_room_metadata_by_tag_until_they_join_again(
    bclient: TestClient, gateway: FakeGateway
) -> None:
    """The viewer is in no room: the removal reaches their page through the room metadata (state.json
    to them), under their tag, at a time after their grant's issued_at."""
    space_id = live_space(bclient)
    listeners_join(bclient, space_id, LIMIT)
    first, other = token(bclient, space_id, "viewer"), token(bclient, space_id, "bystander")
    assert first["mode"] == other["mode"] == "hls" and first["viewer_tag"] != other["viewer_tag"]
    room = f"space-{space_id}"

    def removed() -> dict[str, int]:
        doc: dict[str, int] = json.loads(gateway.rooms[room])["removed_viewers"]
        return doc

    def ms(grant: dict[str, Any]) -> int:
        # As the page reads it (Date.parse): to the millisecond below.
        return int(datetime.fromisoformat(grant["issued_at"]).timestamp() * 1000)

    assert removed() == {}
    remove = f"/spaces/{space_id}/participants/viewer/remove"
    resp = bclient.post(remove, headers=auth("host"))
    assert resp.status_code == 200, resp.text
    # Published by the request's own pass (a listener's removal changes nothing else in the Space).
    assert set(removed()) == {first["viewer_tag"]} and removed()[first["viewer_tag"]] > ms(first)
    shown = bclient.get(f"/spaces/{space_id}", headers=auth("host")).json()
    assert "removed_viewers" not in shown and "viewer" not in json.dumps(removed())

    # A removal without a block is not a ban: joined again on purpose, this grant is newer.
    again = token(bclient, space_id, "viewer")
    assert again["viewer_tag"] == first["viewer_tag"]
    assert ms(again) >= removed()[first["viewer_tag"]]
    # Blocked now: a newer entry, after the new grant.
    resp = bclient.post(remove, json={"block": True}, headers=auth("host"))
    assert resp.status_code == 200, resp.text
    assert removed()[first["viewer_tag"]] > ms(again)
    # Someone removed from the stage is not listed: the SFU disconnects them, and an entry would
    # appear as they leave the speakers.
    set_role(bclient, space_id, "sam", "speaker")
    bclient.post(f"/spaces/{space_id}/participants/sam/remove", headers=auth("host"))
    assert len(removed()) == 1


def test_a_burst_of_token_requests_gets_no_more_webrtc_seats_than_the_limit(bclient: TestClient) -> None:
    """Tokens asked for faster than their joins are counted: before seats, all ten read a count of
    0 and got WebRTC."""
    space_id = live_space(bclient)
    modes = [token(bclient, space_id, f"burst-{n}")["mode"] for n in range(10)]
    assert modes.count("webrtc") == LIMIT and modes[:LIMIT] == ["webrtc"] * LIMIT
    # Asking again keeps one's seat, and takes no other.
    assert [token(bclient, space_id, "burst-0")["mode"] for _ in range(3)] == ["webrtc"] * 3
    # Stage roles take no seat.
    assert token(bclient, space_id, "host")["mode"] == "webrtc"


def test_a_counted_join_frees_its_seat(bclient: TestClient) -> None:
    """Two of three places are taken by tokens; their joins are counted, carrying the seat their
    token named, which frees it: the last place is still there for a third listener."""
    space_id = live_space(bclient)
    for n in (0, 1):
        grant = token(bclient, space_id, f"seated-{n}")
        seat = lk_claims(grant["token"]).attributes[names.SEAT_ATTRIBUTE]
        assert re.fullmatch(r"\d+", seat)  # the bucket it was taken in
        event = participant_event(
            "participant_joined", f"join-seated-{n}", f"space-{space_id}", identity=f"seated-{n}"
        )
        event.participant.attributes[names.SEAT_ATTRIBUTE] = seat
        body, headers = signed(event)
        assert bclient.post("/livekit/webhook", content=body, headers=headers).status_code == 200
    assert bclient.get(f"/spaces/{space_id}", headers=auth("x")).json()["listener_count"] == 2
    third = token(bclient, space_id, "third")
    assert third["mode"] == "webrtc"
    # An HLS grant and stage roles carry no seat.
    assert token(bclient, space_id, "fourth")["mode"] == "hls"
    assert names.SEAT_ATTRIBUTE not in lk_claims(token(bclient, space_id, "host")["token"]).attributes


def test_stage_roles_always_get_webrtc(bclient: TestClient) -> None:
    space_id = live_space(bclient)
    assert set_role(bclient, space_id, "co", "cohost").status_code == 200
    assert set_role(bclient, space_id, "sp", "speaker").status_code == 200
    listeners_join(bclient, space_id, LIMIT + 5)
    for user, role in (("host", "host"), ("co", "cohost"), ("sp", "speaker")):
        answer = token(bclient, space_id, user)
        assert answer["mode"] == "webrtc" and answer["role"] == role and answer["token"]
    assert token(bclient, space_id, "audience")["mode"] == "hls"


def test_an_hls_listener_raises_a_hand_and_once_promoted_gets_webrtc(bclient: TestClient) -> None:
    space_id = live_space(bclient)
    listeners_join(bclient, space_id, LIMIT)
    assert token(bclient, space_id, "viewer")["mode"] == "hls"
    # The hand goes through the API, not the room: being on HLS (not connected) does not matter.
    hand = bclient.post(f"/spaces/{space_id}/hand", headers=auth("viewer"))
    assert hand.status_code == 200 and hand.json()["raised_hands"] == ["viewer"]
    assert set_role(bclient, space_id, "viewer", "speaker").status_code == 200
    promoted = token(bclient, space_id, "viewer")
    assert promoted["mode"] == "webrtc" and promoted["role"] == "speaker"
    # The audience count did not move: the viewer never was a WebRTC listener.
    assert bclient.get(f"/spaces/{space_id}", headers=auth("x")).json()["listener_count"] == LIMIT
    # Demoted back while the room is still full: the broadcast again.
    assert set_role(bclient, space_id, "viewer", "listener").status_code == 200
    assert token(bclient, space_id, "viewer")["mode"] == "hls"


def test_without_a_broadcast_everyone_gets_webrtc(client: TestClient, gateway: FakeGateway) -> None:
    space_id = live_space(client)
    gateway.agents = {"agent-stage": names.AGENT_NAME}  # the dispatched agent came
    listeners_join(client, space_id, 300)  # beyond the default limit (250)
    assert token(client, space_id, "late")["mode"] == "webrtc"
    assert gateway.dispatched[f"space-{space_id}"] == [names.AGENT_NAME]
    assert client.get(f"/spaces/{space_id}", headers=auth("x")).json()["broadcast"] is None


def test_a_limit_of_zero_sends_every_listener_to_the_broadcast(
    broadcast_settings: Settings, gateway: FakeGateway
) -> None:
    app = create_app(broadcast_settings.model_copy(update={"webrtc_listener_limit": 0}))
    app.dependency_overrides[deps.get_gateway] = lambda: gateway
    with TestClient(app, base_url="http://127.0.0.1") as c:
        space_id = live_space(c)
        assert token(c, space_id, "first")["mode"] == "hls"
        assert token(c, space_id, "host")["mode"] == "webrtc"


def test_token_errors_are_unchanged_by_the_broadcast(bclient: TestClient) -> None:
    scheduled = create(bclient)["id"]
    resp = bclient.post(f"/spaces/{scheduled}/token", headers=auth("x"))
    assert resp.status_code == 409 and resp.json()["rule"] == "space_not_live"
    resp = bclient.post(f"/spaces/{'0' * 32}/token", headers=auth("x"))
    assert resp.status_code == 404
    resp = bclient.post("/spaces/not-an-id/token", headers=auth("x"))
    assert resp.status_code == 422 and resp.json()["detail"][0]["loc"] == ["path", "space_id"]
    space_id = live_space(bclient)
    listeners_join(bclient, space_id, LIMIT)
    removed = bclient.post(
        f"/spaces/{space_id}/participants/troll/remove", json={"block": True}, headers=auth("host")
    )
    assert removed.status_code == 200
    # A blocked user gets neither a WebRTC token nor the broadcast link.
    resp = bclient.post(f"/spaces/{space_id}/token", headers=auth("troll"))
    assert resp.status_code == 403 and resp.json()["rule"] == "blocked"


# --- OpenAPI --------------------------------------------------------------------------------------
def test_openapi_describes_both_token_shapes_as_a_union_on_mode(bclient: TestClient) -> None:
    doc = bclient.get("/openapi.json").json()
    ok = doc["paths"]["/spaces/{space_id}/token"]["post"]["responses"]["200"]["content"]["application/json"]
    schema = ok["schema"]
    refs = {option["$ref"] for option in schema["oneOf"]}
    assert refs == {"#/components/schemas/WebRtcTokenResponse", "#/components/schemas/HlsTokenResponse"}
    assert schema["discriminator"]["propertyName"] == "mode"
    assert schema["discriminator"]["mapping"] == {
        "webrtc": "#/components/schemas/WebRtcTokenResponse",
        "hls": "#/components/schemas/HlsTokenResponse",
    }
    components = doc["components"]["schemas"]
    webrtc, hls = components["WebRtcTokenResponse"], components["HlsTokenResponse"]
    assert set(webrtc["required"]) == {
        "mode",
        "url",
        "token",
        "identity",
        "role",
        "issued_at",
        "expires_at",
        "viewer_tag",
    }
    assert webrtc["properties"]["mode"]["const"] == "webrtc"
    assert set(hls["required"]) == {
        "mode",
        "playlist_url",
        "identity",
        "role",
        "issued_at",
        "expires_at",
        "presence_interval_seconds",
        "viewer_tag",
        "presence_tag",
    }
    assert hls["properties"]["mode"]["const"] == "hls"
    assert hls["properties"]["role"]["const"] == "listener"
    assert hls["properties"]["expires_at"]["type"] == "null"
    space = components["SpacePublic"]
    assert {"broadcast", "recording_available_until"} <= set(space["required"])
    assert components["Broadcast"]["required"] == ["playlist_url", "live_playlist_url", "timeline_url"]
    # The local file server is not part of the API.
    assert not any(path.startswith("/broadcast") for path in doc["paths"])


# --- broadcast links and retention ----------------------------------------------------------------
def test_a_space_shows_its_broadcast_while_live_and_its_recording_after(bclient: TestClient) -> None:
    scheduled = create(bclient)
    assert scheduled["broadcast"] is None and scheduled["recording_available_until"] is None
    space_id = scheduled["id"]
    live = start(bclient, space_id)
    links = {
        "playlist_url": f"{BASE}/{space_id}/index.m3u8",
        "live_playlist_url": f"{BASE}/{space_id}/live.m3u8",
        "timeline_url": f"{BASE}/{space_id}/timeline.json",
    }
    assert live["broadcast"] == links and live["recording_available_until"] is None
    listed = bclient.get("/spaces", headers=auth("x")).json()["items"]
    assert [s["broadcast"] for s in listed if s["id"] == space_id] == [links]

    ended = bclient.post(f"/spaces/{space_id}/end", headers=auth("host")).json()
    assert ended["broadcast"] == links
    until = datetime.fromisoformat(ended["recording_available_until"])
    assert until == datetime.fromisoformat(ended["ended_at"]) + timedelta(days=30)


def test_a_space_whose_host_keeps_no_recording_broadcasts_live_and_offers_no_replay(
    bclient: TestClient, gateway: FakeGateway
) -> None:
    """`record: false` at creation: the audience still gets the live broadcast, every member's page
    and the composer learn it from the room metadata (the composer tags the objects for deletion),
    and once it ends there is no replay to offer. The choice is the creator's only."""
    created = create(bclient, record=False)
    assert created["record"] is False
    space_id = created["id"]
    live = start(bclient, space_id)
    assert live["record"] is False and live["broadcast"] is not None
    assert json.loads(gateway.rooms[f"space-{space_id}"])["record"] is False
    assert bclient.get(f"/spaces/{space_id}", headers=auth("x")).json()["record"] is False
    ended = bclient.post(f"/spaces/{space_id}/end", headers=auth("host")).json()
    assert ended["broadcast"] is None and ended["recording_available_until"] is None
    listed = bclient.get("/spaces?state=ended", headers=auth("x")).json()["items"]
    assert [(s["record"], s["broadcast"]) for s in listed if s["id"] == space_id] == [(False, None)]
    # The default keeps it, as every Space did before the choice existed.
    kept = create(bclient)
    assert kept["record"] is True
    start(bclient, kept["id"])
    assert json.loads(gateway.rooms[f"space-{kept['id']}"])["record"] is True


@pytest.mark.parametrize("value", ["no", 0, None, [], "false"])
def test_record_takes_a_json_boolean_only(bclient: TestClient, value: object) -> None:
    resp = bclient.post("/spaces", json={"title": "t", "record": value}, headers=auth("host"))
    assert resp.status_code == 422, resp.text
    assert resp.json()["detail"][0]["loc"] == ["body", "record"]
    assert bclient.get("/spaces?state=scheduled", headers=auth("host")).json()["items"] == []


def test_a_cancelled_space_has_no_recording(bclient: TestClient) -> None:
    space_id = create(bclient)["id"]
    ended = bclient.post(f"/spaces/{space_id}/end", headers=auth("host")).json()
    assert ended["state"] == "ended"
    assert ended["broadcast"] is None and ended["recording_available_until"] is None


def test_past_retention_the_recording_is_gone(
    broadcast_settings: Settings, gateway: FakeGateway, bclient: TestClient
) -> None:
    space_id = live_space(bclient)
    ended = bclient.post(f"/spaces/{space_id}/end", headers=auth("host")).json()
    until = datetime.fromisoformat(ended["recording_available_until"])

    def viewed_at(now: datetime) -> dict[str, Any]:
        app: FastAPI = create_app(broadcast_settings)
        app.dependency_overrides[deps.get_gateway] = lambda: gateway
        app.dependency_overrides[deps.get_presenter] = lambda: deps.Presenter(
            broadcast_settings.broadcast,
            viewer="x",
            host_grace=broadcast_settings.host_grace_seconds,
            limits=broadcast_settings.limits,
            clock=lambda: now,
        )
        with TestClient(app, base_url="http://127.0.0.1") as c:
            body: dict[str, Any] = c.get(f"/spaces/{space_id}", headers=auth("x")).json()
            return body

    just_before = viewed_at(until - timedelta(seconds=1))
    assert just_before["broadcast"] is not None
    after = viewed_at(until)
    assert after["broadcast"] is None
    # The date stays, so a client can say when the recording expired.
    assert datetime.fromisoformat(after["recording_available_until"]) == until


# --- agents ---------------------------------------------------------------------------------------
def test_start_dispatches_the_stage_agent_and_the_composer(bclient: TestClient, gateway: FakeGateway) -> None:
    space_id = live_space(bclient)
    assert gateway.dispatched[f"space-{space_id}"] == [names.AGENT_NAME, names.COMPOSER_AGENT_NAME]


def agent_left(client: TestClient, space_id: str, event_id: str, agent_name: str, identity: str) -> str:
    event = participant_event(
        "participant_left",
        event_id,
        f"space-{space_id}",
        agent=True,
        agent_name=agent_name,
        identity=identity,
    )
    body, headers = signed(event)
    resp = client.post("/livekit/webhook", content=body, headers=headers)
    assert resp.status_code == 200, resp.text
    outcome: str = resp.json()["outcome"]
    return outcome


def test_each_agent_is_re_dispatched_by_its_own_name(bclient: TestClient, gateway: FakeGateway) -> None:
    space_id = live_space(bclient)
    room = f"space-{space_id}"
    dispatches_long_taken(bclient, gateway, room, gateway.dispatched[room])
    # The composer died; the stage agent is still there. Only a composer is dispatched.
    gateway.agents = {"agent-stage": names.AGENT_NAME}
    agent_left(bclient, space_id, "c1", names.COMPOSER_AGENT_NAME, "agent-composer")
    assert gateway.dispatched[room][2:] == [names.COMPOSER_AGENT_NAME]
    # The stage agent died while the (new) composer is in the room: the composer is an agent too,
    # but not a stage agent, so a stage agent is dispatched.
    gateway.agents = {"agent-composer-2": names.COMPOSER_AGENT_NAME}
    agent_left(bclient, space_id, "s1", names.AGENT_NAME, "agent-stage")
    assert gateway.dispatched[room][2:] == [names.COMPOSER_AGENT_NAME, names.AGENT_NAME]
    # A composer evicted by a newer composer is not replaced (no churn).
    dispatches_long_taken(bclient, gateway, room, gateway.dispatched[room])
    gateway.agents = {"agent-composer-3": names.COMPOSER_AGENT_NAME, "agent-stage-2": names.AGENT_NAME}
    agent_left(bclient, space_id, "c2", names.COMPOSER_AGENT_NAME, "agent-composer-2")
    # An agent this deployment does not run is never dispatched.
    agent_left(bclient, space_id, "x1", "someone-elses-agent", "agent-x")
    assert gateway.dispatched[room][2:] == [names.COMPOSER_AGENT_NAME, names.AGENT_NAME]


def test_a_composer_is_not_dispatched_when_broadcasting_is_off(
    client: TestClient, gateway: FakeGateway
) -> None:
    space_id = live_space(client)
    room = f"space-{space_id}"
    dispatches_long_taken(client, gateway, room, [names.AGENT_NAME])
    gateway.agents = {"agent-stage": names.AGENT_NAME}
    agent_left(client, space_id, "c1", names.COMPOSER_AGENT_NAME, "agent-composer")
    assert not any(call[0] == "dispatch_agent" for call in gateway.calls)


# --- settings -------------------------------------------------------------------------------------
def settings_of(**env: str) -> Settings:
    """Settings from exactly these variables (the process environment is not read)."""
    return Settings.model_validate(env)


def test_broadcast_settings_defaults_and_refusals(tmp_path: Path) -> None:
    base = {"SPACES_MODE": "local", "SPACES_SQLITE_PATH": str(tmp_path / "x.sqlite3")}
    defaults = settings_of(**base)
    assert defaults.broadcast_base_url is None and not defaults.broadcast.enabled
    assert defaults.webrtc_listener_limit == 250 and defaults.recording_retention_days == 30
    trimmed = settings_of(**base, SPACES_BROADCAST_BASE_URL="http://127.0.0.1:8000/broadcast/")
    assert trimmed.broadcast_base_url == "http://127.0.0.1:8000/broadcast"
    assert settings_of(**base, SPACES_BROADCAST_BASE_URL=" ").broadcast_base_url is None
    for bad in ("ftp://x/broadcasts", "cdn.example/broadcasts", "https://", "https:///"):
        with pytest.raises(ValidationError, match=names.ENV_BROADCAST_BASE_URL):
            settings_of(**base, SPACES_BROADCAST_BASE_URL=bad)
    with pytest.raises(ValidationError, match="must be https in cloud mode"):
        settings_of(
            SPACES_MODE="cloud",
            LIVEKIT_API_KEY="k",
            LIVEKIT_API_SECRET="s" * 32,
            SPACES_BROADCAST_BASE_URL="http://cdn.example/broadcasts",
        )
    # The room must admit the WebRTC audience, the stage and both agents.
    with pytest.raises(ValidationError, match="SPACES_ROOM_MAX_PARTICIPANTS"):
        settings_of(
            **base,
            SPACES_BROADCAST_BASE_URL=BASE,
            SPACES_WEBRTC_LISTENER_LIMIT="990",
            SPACES_ROOM_MAX_PARTICIPANTS="1000",
        )
    for name, value in (
        (names.ENV_WEBRTC_LISTENER_LIMIT, "-1"),
        (names.ENV_RECORDING_RETENTION_DAYS, "0"),
        (names.ENV_RECORDING_RETENTION_DAYS, "lots"),
    ):
        with pytest.raises(ValidationError, match=name):
            settings_of(**base, **{name: value})
