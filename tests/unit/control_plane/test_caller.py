"""The caller's display name and avatar reach the API from the token: a local dev token, or the
claims API Gateway's JWT authorizer puts into a Lambda event."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import jwt as pyjwt
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from contract import names
from functions.api import deps
from functions.api.routes.dev import DEV_PICTURE_PATTERN
from functions.dev_token import dev_token
from functions.domain.people import clean_picture

from .fakes import FakeGateway
from .test_api import lk_claims
from .test_lambda_handler import call, cloud, http_api_event  # noqa: F401 - cloud is a fixture

pytestmark = pytest.mark.unit


def probe_app() -> FastAPI:
    app = FastAPI()

    @app.get("/me")
    async def me(caller: deps.CurrentCaller, user: deps.CurrentUser) -> dict[str, str | None]:
        return {"id": caller.id, "name": caller.name, "picture": caller.picture, "user": user}

    return app


@pytest.fixture
def local(settings: deps.Settings) -> Iterator[TestClient]:
    app = probe_app()
    app.state.settings = settings
    with TestClient(app, base_url="http://127.0.0.1") as client:
        yield client


def bearer(user: str, **claims: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {dev_token(user, secret=names.DEV_JWT_SECRET, **claims)}"}


def test_a_dev_token_carries_the_chosen_name_and_picture(local: TestClient) -> None:
    answer = local.get("/me", headers=bearer("alice", name=" Alice L. ", picture="https://x.example/a.png"))
    assert answer.status_code == 200
    assert answer.json() == {
        "id": "alice",
        "name": "Alice L.",
        "picture": "https://x.example/a.png",
        "user": "alice",
    }


def test_without_a_name_claim_the_id_is_the_name(local: TestClient) -> None:
    assert local.get("/me", headers=bearer("bob")).json() == {
        "id": "bob",
        "name": "bob",
        "picture": None,
        "user": "bob",
    }


def test_a_picture_that_is_not_a_web_url_is_dropped(local: TestClient) -> None:
    answer = local.get("/me", headers=bearer("eve", name="Eve", picture="javascript:alert(1)"))
    assert answer.json()["picture"] is None


def test_no_token_is_still_401(local: TestClient) -> None:
    assert local.get("/me").status_code == 401


def id_token_event(method: str, path: str, *, sub: str, **claims: str) -> dict[str, Any]:
    """An HTTP API event behind the JWT authorizer with the claims of a Cognito ID token."""
    event = http_api_event(method, path, sub=sub)
    event["requestContext"]["authorizer"]["jwt"]["claims"].update({"token_use": "id", **claims})
    return event


@pytest.mark.usefixtures("cloud")
def test_the_authorizer_claims_of_an_id_token_name_the_caller() -> None:
    sub = "9f1c2d7e-1111-4222-8333-444455556666"  # Cognito subjects are UUIDs
    status, space = call(id_token_event("POST", "/spaces", sub=sub, name="Ada Lovelace"))
    assert status == 422  # no body: the claims are read, the request is still validated
    event = id_token_event("POST", "/spaces", sub=sub, name="Ada Lovelace")
    event["body"] = json.dumps({"title": "Engines", "video": "host"})
    status, space = call(event)
    assert status == 201 and space["host"] == sub and space["names"] == {sub: "Ada Lovelace"}
    assert call(id_token_event("POST", f"/spaces/{space['id']}/start", sub=sub))[0] == 200
    status, token = call(
        id_token_event(
            "POST",
            f"/spaces/{space['id']}/token",
            sub="2b7e0c1a-aaaa-4bbb-8ccc-ddddeeeeffff",
            name="Grace",
            picture="http://insecure.example/g.png",
        )
    )
    assert status == 200
    claims = lk_claims(token["token"])
    assert claims.name == "Grace"
    assert names.PICTURE_ATTRIBUTE not in claims.attributes  # http is refused outside local mode


# --- names through the API: the join token, the Space, the pushed documents -----------------------
def named_create(client: TestClient, host: str, name: str, picture: str | None = None) -> str:
    resp = client.post(
        "/spaces",
        json={"title": "Names", "video": "speakers"},
        headers=bearer(host, name=name, picture=picture),
    )
    assert resp.status_code == 201, resp.text
    space_id: str = resp.json()["id"]
    assert client.post(f"/spaces/{space_id}/start", headers=bearer(host, name=name)).status_code == 200
    return space_id


def test_the_join_token_carries_the_name_and_the_avatar_attribute(client: TestClient) -> None:
    space_id = named_create(client, "host", "Hana")
    resp = client.post(
        f"/spaces/{space_id}/token",
        headers=bearer("lee", name="Lee Listener", picture="https://img.example/lee.png"),
    )
    assert resp.status_code == 200, resp.text
    claims = lk_claims(resp.json()["token"])
    assert claims.identity == "lee" and claims.name == "Lee Listener"
    assert claims.attributes == {
        names.ROLE_ATTRIBUTE: "listener",
        names.PICTURE_ATTRIBUTE: "https://img.example/lee.png",
        names.ISSUED_AT_ATTRIBUTE: claims.attributes[names.ISSUED_AT_ATTRIBUTE],
    }
    # Without claims: the id is the name, and no avatar attribute at all.
    bare = lk_claims(client.post(f"/spaces/{space_id}/token", headers=bearer("bob")).json()["token"])
    assert bare.name == "bob" and names.PICTURE_ATTRIBUTE not in bare.attributes


def test_hands_carry_their_names_to_the_moderators_and_the_stage_to_everyone(
    client: TestClient, gateway: FakeGateway
) -> None:
    hana, lee = "https://img.example/hana.png", "https://img.example/lee.png"
    space_id = named_create(client, "host", "Hana Host", hana)
    raised = client.post(f"/spaces/{space_id}/hand", headers=bearer("lee", name="Lee Listener", picture=lee))
    assert raised.status_code == 200, raised.text
    assert client.post(f"/spaces/{space_id}/hand", headers=bearer("old")).status_code == 200
    room = f"space-{space_id}"
    message, to = gateway.hands[room]
    assert json.loads(message)["hands"] == ["lee", "old"]
    assert json.loads(message)["names"] == {"lee": "Lee Listener", "old": "old"}
    assert json.loads(message)["pictures"] == {"lee": lee}  # "old" has none: initials
    assert to == ("host",)
    space = client.get(f"/spaces/{space_id}", headers=bearer("host")).json()
    assert space["names"] == {"host": "Hana Host", "lee": "Lee Listener", "old": "old"}
    assert space["pictures"] == {"host": hana, "lee": lee}
    assert json.loads(gateway.rooms[room])["pictures"] == {"host": hana}  # the stage's, for everyone

    promoted = client.put(f"/spaces/{space_id}/roles/lee", json={"role": "speaker"}, headers=bearer("host"))
    assert promoted.status_code == 200, promoted.text
    metadata = json.loads(gateway.rooms[room])
    assert metadata["speakers"] == ["lee"]
    assert metadata["names"] == {"host": "Hana Host", "lee": "Lee Listener"}
    assert metadata["pictures"] == {"host": hana, "lee": lee}


def test_a_stage_member_promoted_without_a_hand_is_named_when_they_join(
    client: TestClient, gateway: FakeGateway
) -> None:
    space_id = named_create(client, "host", "Hana")
    assert (
        client.put(
            f"/spaces/{space_id}/roles/cy", json={"role": "cohost"}, headers=bearer("host")
        ).status_code
        == 200
    )
    assert "cy" not in client.get(f"/spaces/{space_id}", headers=bearer("host")).json()["names"]
    assert client.post(f"/spaces/{space_id}/token", headers=bearer("cy", name="Cy Cohost")).status_code == 200
    assert client.get(f"/spaces/{space_id}", headers=bearer("host")).json()["names"]["cy"] == "Cy Cohost"
    # A new avatar at the identity provider is learnt on the next join, and a removed one dropped.
    face = "https://img.example/cy.png"
    assert (
        client.post(
            f"/spaces/{space_id}/token", headers=bearer("cy", name="Cy Cohost", picture=face)
        ).status_code
        == 200
    )
    assert client.get(f"/spaces/{space_id}", headers=bearer("host")).json()["pictures"] == {"cy": face}
    assert client.post(f"/spaces/{space_id}/token", headers=bearer("cy", name="Cy Cohost")).status_code == 200
    assert client.get(f"/spaces/{space_id}", headers=bearer("host")).json()["pictures"] == {}
    # A listener's join writes nothing.
    before = client.get(f"/spaces/{space_id}", headers=bearer("host")).json()["version"]
    assert client.post(f"/spaces/{space_id}/token", headers=bearer("zed", name="Zed")).status_code == 200
    assert client.get(f"/spaces/{space_id}", headers=bearer("host")).json()["version"] == before


# --- the local dev sign-in ------------------------------------------------------------------------
def test_the_dev_token_route_takes_a_display_name_and_an_avatar(client: TestClient) -> None:
    resp = client.post(
        "/dev/token", json={"user_id": "alice", "name": "Alice L.", "picture": "http://127.0.0.1:8000/a.png"}
    )
    assert resp.status_code == 200, resp.text
    me = client.get("/spaces?state=live", headers={"Authorization": f"Bearer {resp.json()['token']}"})
    assert me.status_code == 200
    claims = pyjwt.decode(resp.json()["token"], options={"verify_signature": False})
    assert claims["name"] == "Alice L." and claims["picture"] == "http://127.0.0.1:8000/a.png"
    bare = pyjwt.decode(
        client.post("/dev/token", json={"user_id": "bob"}).json()["token"],
        options={"verify_signature": False},
    )
    assert "name" not in bare and "picture" not in bare


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"user_id": "a", "name": "x" * 65}, "name"),
        ({"user_id": "a", "picture": "javascript:alert(1)"}, "picture"),
        ({"user_id": "a", "picture": "https://a.example/" + "p" * 1024}, "picture"),
        ({"user_id": "a", "picture": "https://a.example/a b.png"}, "picture"),
    ],
)
def test_the_dev_token_route_refuses_a_bad_name_or_picture_naming_the_field(
    client: TestClient, body: dict[str, str], field: str
) -> None:
    resp = client.post("/dev/token", json=body)
    assert resp.status_code == 422
    assert resp.json()["detail"][0]["loc"] == ["body", field]


@pytest.mark.parametrize(
    "url", ["http://a", "https://x.example:99999/", "http://-/[", "https://a.b/?q=<x>#f", "http://./%zz"]
)
def test_every_picture_the_dev_schema_accepts_is_kept(url: str) -> None:
    assert re.fullmatch(DEV_PICTURE_PATTERN, url)
    assert clean_picture(url, allow_http=True) == url
