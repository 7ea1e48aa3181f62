"""Names and faces through a real livekit-server: the join token's `name` and the avatar attribute
(names.PICTURE_ATTRIBUTE) reach the other participants, survive the control plane's live role
update, and the room metadata names the stage (docs/identity.md)."""

from __future__ import annotations

import json
from typing import Any

import httpx
from livekit import rtc

from contract import names
from functions.dev_token import dev_token
from tests.support.api_server import ApiServer
from tests.support.eventually import eventually_async

PICTURE = "https://img.example/sam.png"


def call(
    api: ApiServer, method: str, path: str, user: str, name: str | None = None, **kw: Any
) -> httpx.Response:
    token = dev_token(
        user, secret=api.env[names.ENV_DEV_JWT_SECRET], name=name, picture=kw.pop("picture", None)
    )
    return httpx.request(
        method, f"{api.url}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=30, **kw
    )


async def join_as(
    api: ApiServer, space_id: str, user: str, name: str, picture: str | None = None
) -> rtc.Room:
    grant = call(api, "POST", f"/spaces/{space_id}/token", user, name, picture=picture)
    assert grant.status_code == 200, grant.text
    room = rtc.Room()
    await room.connect(grant.json()["url"], grant.json()["token"])
    return room


def stage_names(room: rtc.Room) -> dict[str, str]:
    names_: dict[str, str] = json.loads(room.metadata or "{}").get("names", {})
    return names_


async def test_a_name_and_an_avatar_reach_the_other_participants(api: ApiServer) -> None:
    created = call(api, "POST", "/spaces", "host-n1", "Hana Host", json={"title": "names", "video": "off"})
    assert created.status_code == 201, created.text
    space_id = created.json()["id"]
    assert call(api, "POST", f"/spaces/{space_id}/start", "host-n1", "Hana Host").status_code == 200
    host = await join_as(api, space_id, "host-n1", "Hana Host")
    # A listener with an avatar: hidden in the SFU, so only the hands message names them.
    sam = await join_as(api, space_id, "sam-n1", "Sam Speaker", PICTURE)
    try:
        assert sam.local_participant.name == "Sam Speaker"
        assert sam.local_participant.attributes.get(names.PICTURE_ATTRIBUTE) == PICTURE
        assert "sam-n1" not in host.remote_participants
        hands: list[dict[str, Any]] = []
        host.on(
            "data_received",
            lambda packet: (
                hands.append(json.loads(packet.data)) if packet.topic == names.HANDS_TOPIC else None
            ),
        )
        assert call(api, "POST", f"/spaces/{space_id}/hand", "sam-n1", "Sam Speaker").status_code == 200
        message = await eventually_async(
            lambda: next((m for m in reversed(hands) if "sam-n1" in m["hands"]), None),
            what="the hands message naming Sam at the host",
        )
        assert message["names"] == {"sam-n1": "Sam Speaker"}

        # Promoted: now visible, with the name and the avatar of the join token. The live role
        # update (UpdateParticipant with the role attribute) leaves the avatar attribute alone.
        promoted = call(
            api, "PUT", f"/spaces/{space_id}/roles/sam-n1", "host-n1", "Hana Host", json={"role": "speaker"}
        )
        assert promoted.status_code == 200, promoted.text
        seen = await eventually_async(
            lambda: (
                (p := host.remote_participants.get("sam-n1")) is not None
                and p.attributes.get(names.ROLE_ATTRIBUTE) == "speaker"
                and p
            ),
            what="Sam on the host's side as a speaker",
        )
        assert seen.name == "Sam Speaker"
        assert seen.attributes.get(names.PICTURE_ATTRIBUTE) == PICTURE
        # Everyone (and HLS viewers, through state.json) reads the stage's names in the metadata.
        await eventually_async(
            lambda: stage_names(host) == {"host-n1": "Hana Host", "sam-n1": "Sam Speaker"},
            what="the room metadata naming the stage",
        )
        await eventually_async(
            lambda: stage_names(sam) == {"host-n1": "Hana Host", "sam-n1": "Sam Speaker"},
            what="the same names at Sam's side",
        )
    finally:
        await host.disconnect()
        await sam.disconnect()


async def test_a_stage_member_promoted_without_a_hand_is_named_once_they_join(api: ApiServer) -> None:
    created = call(api, "POST", "/spaces", "host-n2", "Hana", json={"title": "names", "video": "off"})
    space_id = created.json()["id"]
    assert call(api, "POST", f"/spaces/{space_id}/start", "host-n2", "Hana").status_code == 200
    assert (
        call(api, "PUT", f"/spaces/{space_id}/roles/cy-n2", "host-n2", json={"role": "cohost"}).status_code
        == 200
    )
    host = await join_as(api, space_id, "host-n2", "Hana")
    try:
        assert "cy-n2" not in stage_names(host)
        cy = await join_as(api, space_id, "cy-n2", "Cy Cohost")
        try:
            # The join stored the name; the participant_joined webhook woke the reconciler, which
            # published the metadata.
            await eventually_async(
                lambda: stage_names(host).get("cy-n2") == "Cy Cohost", what="Cy's name in the metadata"
            )
            assert host.remote_participants["cy-n2"].name == "Cy Cohost"
        finally:
            await cy.disconnect()
    finally:
        await host.disconnect()
