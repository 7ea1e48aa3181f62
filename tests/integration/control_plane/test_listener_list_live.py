"""The host's listener list through the real app on DynamoDB Local, with a real livekit-server
whose signed webhooks reach it: listeners who take a token and connect (hidden, as listeners do)
are listed by name; one who disconnects leaves the list when the SFU's participant_left arrives;
one invited to speak leaves it too."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from livekit import rtc

from contract import names
from functions.dev_token import dev_token
from tests.support.api_server import ApiServer
from tests.support.dynamodb_local import DynamoEndpoint
from tests.support.eventually import eventually_async

from .conftest import app_on_dynamodb
from .livekit_helpers import live_space, post

# The SFU reports a clean disconnect at once; the webhook queue and the API add seconds on a busy box.
LEAVE_TIMEOUT_S = 30.0
PEOPLE = {"l-zoe": "Zoë Ångström", "l-bob": "bob", "l-ann": "Ann Lee"}


@pytest.fixture(scope="module")
def dynamo_api(request: pytest.FixtureRequest) -> Iterator[ApiServer]:
    """The API on DynamoDB Local, and a livekit-server of its own whose webhooks go to it."""
    dynamodb: DynamoEndpoint = request.getfixturevalue("dynamodb")
    with app_on_dynamodb(dynamodb, name="livekit-listeners") as (_, api):
        yield api


def listed(api: ApiServer, space_id: str, **params: Any) -> list[str]:
    resp = httpx.get(
        f"{api.url}/spaces/{space_id}/listeners", params=params, headers=api.auth("host-l"), timeout=10
    )
    assert resp.status_code == 200, resp.text
    return [item["name"] for item in resp.json()["items"]]


async def connect(api: ApiServer, space_id: str, user: str, name: str) -> rtc.Room:
    token = dev_token(user, secret=api.env[names.ENV_DEV_JWT_SECRET], name=name)
    grant = httpx.post(
        f"{api.url}/spaces/{space_id}/token", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert grant.status_code == 200, grant.text
    room = rtc.Room()
    await room.connect(grant.json()["url"], grant.json()["token"])
    return room


async def test_connected_listeners_are_listed_until_they_leave(dynamo_api: ApiServer) -> None:
    api = dynamo_api
    space_id = live_space(api, "host-l")["id"]
    rooms = {user: await connect(api, space_id, user, name) for user, name in PEOPLE.items()}
    try:
        assert listed(api, space_id) == ["Ann Lee", "bob", "Zoë Ångström"]
        assert listed(api, space_id, q="zoe") == ["Zoë Ångström"]
        assert listed(api, space_id, limit=2) == ["Ann Lee", "bob"]

        # Bob closes the page: the SFU's participant_left unlists him.
        await rooms.pop("l-bob").disconnect()

        async def bob_gone() -> bool:
            return listed(api, space_id) == ["Ann Lee", "Zoë Ångström"]

        await eventually_async(
            bob_gone, timeout=LEAVE_TIMEOUT_S, interval=0.5, what="bob unlisted after leaving"
        )

        # Invited to speak from the list: off it while on stage.
        invited = post(
            api, f"/spaces/{space_id}/roles/l-ann", "host-l", method="PUT", json={"role": "speaker"}
        )
        assert invited.status_code in (200, 202), invited.text
        assert listed(api, space_id) == ["Zoë Ångström"]
    finally:
        for room in rooms.values():
            await room.disconnect()
