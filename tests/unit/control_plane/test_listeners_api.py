"""The host's listener list through HTTP (SQLite store, fake SFU): who may read it, what it lists,
and how joins, leaves and moderation change it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from livekit import api

from contract import names
from functions.api import deps
from functions.api.main import create_app
from functions.core.config import Settings
from functions.dev_token import dev_token
from functions.domain.model import Role

from .conftest import auth
from .fakes import FakeGateway
from .test_api import live_space, participant_event, set_role, signed


def named(user: str, name: str, picture: str | None = None) -> dict[str, str]:
    token = dev_token(user, secret=names.DEV_JWT_SECRET, name=name, picture=picture)
    return {"Authorization": f"Bearer {token}"}


def join(
    client: TestClient, space_id: str, user: str, name: str, picture: str | None = None
) -> dict[str, Any]:
    resp = client.post(f"/spaces/{space_id}/token", headers=named(user, name, picture))
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def listed(client: TestClient, space_id: str, actor: str = "host", **params: Any) -> dict[str, Any]:
    resp = client.get(f"/spaces/{space_id}/listeners", params=params, headers=auth(actor))
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def names_of(page: dict[str, Any]) -> list[str]:
    return [item["name"] for item in page["items"]]


def deliver(client: TestClient, event: api.WebhookEvent) -> None:
    body, headers = signed(event)
    assert client.post("/livekit/webhook", content=body, headers=headers).status_code == 200


def test_the_host_sees_listeners_by_name_with_their_hands(client: TestClient) -> None:
    space_id = live_space(client)
    join(client, space_id, "u-zoe", "Zoë Adams", "https://img.example/zoe.png")
    join(client, space_id, "u-bob", "bob")
    join(client, space_id, "host", "The Host")  # stage roles are not audience
    assert client.post(f"/spaces/{space_id}/hand", headers=auth("u-bob")).status_code == 200
    page = listed(client, space_id)
    assert page["next_cursor"] is None
    assert [(i["user_id"], i["name"], i["picture"], i["hand_raised"]) for i in page["items"]] == [
        ("u-bob", "bob", None, True),
        ("u-zoe", "Zoë Adams", "https://img.example/zoe.png", False),
    ]
    # Each row carries the tag the pushed documents' removals name them by (their token's tag).
    assert page["items"][1]["viewer_tag"] == join(client, space_id, "u-zoe", "Zoë Adams")["viewer_tag"]
    assert page["items"][0]["viewer_tag"] != page["items"][1]["viewer_tag"]
    assert names_of(listed(client, space_id, q="ZOE a")) == ["Zoë Adams"]
    # A last name finds them too.
    assert names_of(listed(client, space_id, q="adam")) == ["Zoë Adams"]
    assert names_of(listed(client, space_id, q="b")) == ["bob"]


def test_an_ended_space_lists_nobody(client: TestClient) -> None:
    """Found from outside: a listener who took a token and never left was still listed after the
    end, until their entry expired (10 minutes)."""
    space_id = live_space(client)
    join(client, space_id, "u-zoe", "Zoë Adams")
    assert names_of(listed(client, space_id)) == ["Zoë Adams"]
    assert client.post(f"/spaces/{space_id}/end", headers=auth("host")).status_code == 200
    assert listed(client, space_id) == {"items": [], "next_cursor": None}
    assert listed(client, space_id, q="zoe") == {"items": [], "next_cursor": None}
    # Still only for the host and co-hosts.
    resp = client.get(f"/spaces/{space_id}/listeners", headers=auth("u-zoe"))
    assert resp.status_code == 403, resp.text


def test_pages_follow_next_cursor(client: TestClient) -> None:
    space_id = live_space(client)
    for n in range(7):
        join(client, space_id, f"u{n}", f"Listener {n}")
    first = listed(client, space_id, limit=3)
    second = listed(client, space_id, limit=3, cursor=first["next_cursor"])
    third = listed(client, space_id, limit=3, cursor=second["next_cursor"])
    assert names_of(first) + names_of(second) + names_of(third) == [f"Listener {n}" for n in range(7)]
    assert third["next_cursor"] is None


def test_only_the_host_and_cohosts_may_list(client: TestClient) -> None:
    space_id = live_space(client)
    assert set_role(client, space_id, "co", "cohost").status_code == 200
    assert set_role(client, space_id, "sp", "speaker").status_code == 200
    assert client.get(f"/spaces/{space_id}/listeners", headers=auth("co")).status_code == 200
    for who in ("sp", "someone"):
        resp = client.get(f"/spaces/{space_id}/listeners", headers=auth(who))
        assert resp.status_code == 403 and resp.json()["rule"] == "moderators_only"
    assert client.get("/spaces/" + "0" * 32 + "/listeners", headers=auth("host")).status_code == 404
    assert client.get(f"/spaces/{space_id}/listeners").status_code == 401


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": "x"}, "limit"),
        ({"cursor": "not a cursor"}, "cursor"),
        ({"q": "x" * 65}, "q"),
    ],
)
def test_bad_parameters_are_422_naming_them(client: TestClient, params: dict[str, Any], field: str) -> None:
    space_id = live_space(client)
    resp = client.get(f"/spaces/{space_id}/listeners", params=params, headers=auth("host"))
    assert resp.status_code == 422
    assert [e["loc"] for e in resp.json()["detail"]] == [["query", field]]


def test_promoted_listeners_leave_the_list_and_come_back_when_demoted(client: TestClient) -> None:
    space_id = live_space(client)
    join(client, space_id, "amy", "Amy")
    assert set_role(client, space_id, "amy", "speaker").status_code == 200
    assert listed(client, space_id)["items"] == []
    assert set_role(client, space_id, "amy", "listener").status_code == 200
    assert names_of(listed(client, space_id)) == ["Amy"]


def test_removed_and_blocked_listeners_leave_the_list(client: TestClient, gateway: FakeGateway) -> None:
    space_id = live_space(client)
    join(client, space_id, "amy", "Amy")
    join(client, space_id, "bea", "Bea")
    join(client, space_id, "cal", "Cal")
    remove = f"/spaces/{space_id}/participants/amy/remove"
    assert client.post(remove, headers=auth("host")).status_code in (200, 202)
    block = f"/spaces/{space_id}/participants/bea/remove"
    assert client.post(block, json={"block": True}, headers=auth("host")).status_code in (200, 202)
    assert names_of(listed(client, space_id)) == ["Cal"]
    # A removed (not blocked) listener may come back, and is listed again.
    join(client, space_id, "amy", "Amy")
    assert names_of(listed(client, space_id)) == ["Amy", "Cal"]


def left(room: str, event_id: str, identity: str, joined_at_ms: int) -> api.WebhookEvent:
    event = participant_event("participant_left", event_id, room, identity=identity)
    event.participant.joined_at_ms = joined_at_ms
    return event


def test_a_leave_webhook_unlists_once_and_a_late_one_keeps_a_rejoin(client: TestClient) -> None:
    space_id = live_space(client)
    room = f"space-{space_id}"
    join(client, space_id, "amy", "Amy")
    joined = datetime.fromisoformat(listed(client, space_id)["items"][0]["joined_at"])
    # The session connected with that token (the SFU says when; no later than this).
    connected_ms = round(joined.timestamp() * 1000)
    deliver(client, left(room, "leave-1", "amy", connected_ms))
    assert listed(client, space_id)["items"] == []
    join(client, space_id, "amy", "Amy")  # rejoined: a new token, a new session
    rejoined = datetime.fromisoformat(listed(client, space_id)["items"][0]["joined_at"])
    assert rejoined > joined
    deliver(client, left(room, "leave-1", "amy", connected_ms))  # the first leave, redelivered
    deliver(client, left(room, "leave-2", "amy", connected_ms))  # or another late one of it
    assert names_of(listed(client, space_id)) == ["Amy"]


def test_a_signed_leave_with_a_join_time_no_clock_has_is_applied_as_one_without(client: TestClient) -> None:
    """Found from outside: a join time past the year 9999 answered 500 after the count had changed,
    and the retry was then a duplicate, so the listener stayed listed."""
    space_id = live_space(client)
    room = f"space-{space_id}"
    for n, joined_at_ms in enumerate((2**63 - 1, -5, 10**17)):
        join(client, space_id, "amy", "Amy")
        assert names_of(listed(client, space_id)) == ["Amy"]
        deliver(client, left(room, f"odd-leave-{n}", "amy", joined_at_ms))
        assert listed(client, space_id)["items"] == [], joined_at_ms


def test_a_signed_webhook_without_an_event_id_is_refused(client: TestClient) -> None:
    """Every event livekit-server sends has one; without it, every such event after the first would
    be a 'duplicate' of it, in any Space."""
    space_id = live_space(client)
    join(client, space_id, "amy", "Amy")
    body, headers = signed(left(f"space-{space_id}", "", "amy", 0))
    resp = client.post("/livekit/webhook", content=body, headers=headers)
    assert resp.status_code == 401 and "no id" in resp.text
    assert names_of(listed(client, space_id)) == ["Amy"]


@pytest.fixture
def hls_client(settings: Settings, gateway: FakeGateway) -> Iterator[TestClient]:
    app = create_app(
        settings.model_copy(
            update={"broadcast_base_url": "https://cdn.example/b", "webrtc_listener_limit": 0}
        )
    )
    app.dependency_overrides[deps.get_gateway] = lambda: gateway
    with TestClient(app, base_url="http://127.0.0.1") as c:
        yield c


def test_hls_viewers_are_listed(hls_client: TestClient) -> None:
    space_id = live_space(hls_client)
    assert join(hls_client, space_id, "viewer", "Vera")["mode"] == "hls"
    assert names_of(listed(hls_client, space_id)) == ["Vera"]


def test_a_renamed_listener_is_listed_once_and_a_leave_without_a_join_time_unlists_them(
    client: TestClient,
) -> None:
    space_id = live_space(client)
    join(client, space_id, "amy", "Amy")
    join(client, space_id, "amy", "Amy Renamed")  # renamed at the identity provider: listed once
    assert names_of(listed(client, space_id)) == ["Amy Renamed"]
    deliver(client, participant_event("participant_left", "leave-x", f"space-{space_id}", identity="amy"))
    assert listed(client, space_id)["items"] == []


def test_a_promoted_listener_who_leaves_is_unlisted_for_good(client: TestClient) -> None:
    space_id = live_space(client)
    join(client, space_id, "amy", "Amy")
    assert set_role(client, space_id, "amy", "speaker").status_code == 200
    # She leaves while on stage (role attribute "speaker"), and is demoted later.
    deliver(
        client,
        participant_event("participant_left", "leave-s", f"space-{space_id}", role="speaker", identity="amy"),
    )
    assert set_role(client, space_id, "amy", "listener").status_code == 200
    assert listed(client, space_id)["items"] == []


def test_a_listener_invited_from_the_list_is_named_on_the_stage(client: TestClient) -> None:
    space_id = live_space(client)
    join(client, space_id, "u-carol", "Carol Jones", "https://img.example/carol.png")
    join(client, space_id, "u-dan", "u-dan")  # no name claim: listed under the id
    # Invited without a raised hand: the Space learns her name and face from her list entry.
    assert set_role(client, space_id, "u-carol", "speaker").status_code == 200
    assert set_role(client, space_id, "u-dan", "speaker").status_code == 200
    space = client.get(f"/spaces/{space_id}", headers=auth("host")).json()
    assert space["names"].get("u-carol") == "Carol Jones"
    assert space["pictures"] == {"u-carol": "https://img.example/carol.png"}
    # Named by his id, as a join token names a nameless stage member: the Space knows he joined,
    # so he can be handed the Space once a co-host (he was refused as never joined, until he reloaded).
    assert space["names"].get("u-dan") == "u-dan"


def test_a_connected_speaker_sent_back_to_the_audience_is_listed_again(
    client: TestClient, gateway: FakeGateway
) -> None:
    space_id = live_space(client)
    assert set_role(client, space_id, "erin", "speaker").status_code == 200
    join(client, space_id, "erin", "Erin")  # a speaker's token: no list entry
    gateway.join("erin", Role.SPEAKER, name="Erin", picture="https://img.example/erin.png")
    assert set_role(client, space_id, "frank", "speaker").status_code == 200  # never connects
    assert listed(client, space_id)["items"] == []
    assert set_role(client, space_id, "erin", "listener").status_code == 200
    assert set_role(client, space_id, "frank", "listener").status_code == 200
    page = listed(client, space_id)
    assert [(i["user_id"], i["name"], i["picture"]) for i in page["items"]] == [
        ("erin", "Erin", "https://img.example/erin.png")
    ]
    # Her leave unlists her, as any listener's.
    deliver(client, participant_event("participant_left", "leave-e", f"space-{space_id}", identity="erin"))
    assert listed(client, space_id)["items"] == []
