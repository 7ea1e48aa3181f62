"""The SFU itself enforces what the control plane grants: a real livekit-server, real participants."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from livekit import api as lkapi
from livekit import rtc

from contract import names
from devstack.livekit import start_local
from devstack.ports import free_port
from tests.conftest import LiveKitEndpoint
from tests.support.api_server import ApiServer, api_server
from tests.support.eventually import eventually_async
from tests.support.webhook_hold import WebhookHold, webhook_hold

from .livekit_helpers import (
    REFUSAL_WAIT,
    connected,
    join,
    live_space,
    post,
    publish_camera,
    publish_microphone,
    refused,
    server_tracks,
)


async def test_listener_cannot_publish_and_speaker_can(
    api: ApiServer, livekit_server: LiveKitEndpoint
) -> None:
    space = live_space(api, "host-a", video="off")
    assert (
        post(
            api, f"/spaces/{space['id']}/roles/spk-a", "host-a", method="PUT", json={"role": "speaker"}
        ).status_code
        == 200
    )
    listener = await join(api, space["id"], "lis-a")
    speaker = await join(api, space["id"], "spk-a")
    try:
        assert await refused(publish_microphone(listener, REFUSAL_WAIT))
        await publish_microphone(speaker)
        tracks = await eventually_async(
            lambda: server_tracks(livekit_server, space["room_name"], "spk-a"),
            what="speaker's microphone on the server",
        )
        assert [t.source for t in tracks] == [2]  # TrackSource.MICROPHONE
        assert await server_tracks(livekit_server, space["room_name"], "lis-a") == []
        # Policy "off": the speaker's camera is refused too.
        assert await refused(publish_camera(speaker, REFUSAL_WAIT))
        assert len(await server_tracks(livekit_server, space["room_name"], "spk-a")) == 1
    finally:
        await listener.disconnect()
        await speaker.disconnect()


async def test_a_video_published_as_the_microphone_gets_its_publisher_removed(
    api: ApiServer, livekit_server: LiveKitEndpoint
) -> None:
    """livekit-server checks a publication's source against the grant, not what the track carries:
    a modified client labels a video as its microphone and the SFU takes it, where video is off.
    The track_published webhook's pass removes whoever does that."""
    space = live_space(api, "host-v", video="off")
    put = post(api, f"/spaces/{space['id']}/roles/spk-v", "host-v", method="PUT", json={"role": "speaker"})
    assert put.status_code == 200
    speaker = await join(api, space["id"], "spk-v")
    disconnected = asyncio.Event()
    speaker.on("disconnected", lambda *_: disconnected.set())
    try:
        source = rtc.VideoSource(64, 64)
        track = rtc.LocalVideoTrack.create_video_track("not-a-mic", source)
        options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
        # The SFU accepts it: the grant allows the microphone, and the label says microphone.
        await asyncio.wait_for(speaker.local_participant.publish_track(track, options), 20)
        await asyncio.wait_for(disconnected.wait(), 20)

        async def gone() -> bool:
            return "spk-v" not in await connected(livekit_server, space["room_name"])

        await eventually_async(gone, what="the publisher removed on the server")
        # Still a speaker (nothing was stored against them): an honest microphone is welcome back.
        again = await join(api, space["id"], "spk-v")
        try:
            await publish_microphone(again)
            await eventually_async(
                lambda: server_tracks(livekit_server, space["room_name"], "spk-v"), what="microphone"
            )
            assert "spk-v" in await connected(livekit_server, space["room_name"])
        finally:
            await again.disconnect()
    finally:
        await speaker.disconnect()


async def test_promotion_and_demotion_apply_live(api: ApiServer, livekit_server: LiveKitEndpoint) -> None:
    space = live_space(api, "host-b", video="speakers")
    room = space["room_name"]
    host = await join(api, space["id"], "host-b")
    listener = await join(api, space["id"], "lis-b")
    try:
        assert await refused(publish_microphone(listener, REFUSAL_WAIT))
        # Listeners are hidden: the rest of the room is not told about them (listener scale).
        assert "lis-b" not in host.remote_participants
        promoted = post(
            api, f"/spaces/{space['id']}/roles/lis-b", "host-b", method="PUT", json={"role": "speaker"}
        )
        assert stored(promoted).json()["speakers"] == ["lis-b"]
        # Same connection, new permission: no reconnect.
        await eventually_async(
            lambda: listener.local_participant.permissions.can_publish,
            what="permission update reaching the client",
        )
        await publish_microphone(listener)
        await eventually_async(
            lambda: server_tracks(livekit_server, room, "lis-b"), what="promoted speaker's track"
        )
        await eventually_async(
            lambda: listener.local_participant.attributes.get("role") == "speaker",
            what="role attribute updated",
        )
        # On stage the speaker is visible to the room, with their microphone.
        await eventually_async(
            lambda: (
                "lis-b" in host.remote_participants
                and bool(host.remote_participants["lis-b"].track_publications)
            ),
            what="host sees the promoted speaker and their track",
        )
        assert host.remote_participants["lis-b"].attributes.get("role") == "speaker"

        demoted = post(
            api, f"/spaces/{space['id']}/roles/lis-b", "host-b", method="PUT", json={"role": "listener"}
        )
        assert stored(demoted).json()["speakers"] == []

        async def unpublished() -> bool:
            return await server_tracks(livekit_server, room, "lis-b") == []

        await eventually_async(unpublished, what="demoted speaker's tracks removed by the SFU")
        assert "lis-b" in await connected(livekit_server, room)  # still connected, just a listener again
        assert await refused(publish_microphone(listener, REFUSAL_WAIT))
        assert await server_tracks(livekit_server, room, "lis-b") == []
    finally:
        await listener.disconnect()
        await host.disconnect()


async def test_an_invited_listener_cannot_publish_until_they_accept(
    api: ApiServer, livekit_server: LiveKitEndpoint
) -> None:
    """An invitation changes nothing the SFU enforces: the listener's connection gets the speaker's
    grant only from their own yes. The room metadata every member reads carries the invitation by
    the invitee's tag (their token answer's), never by their id."""
    space = live_space(api, "host-i", video="speakers")
    room = space["room_name"]
    grant = post(api, f"/spaces/{space['id']}/token", "lis-i")
    assert grant.status_code == 200, grant.text
    tag = grant.json()["viewer_tag"]
    host = await join(api, space["id"], "host-i")
    listener = rtc.Room()
    await listener.connect(grant.json()["url"], grant.json()["token"])
    try:
        stored(post(api, f"/spaces/{space['id']}/invitations/lis-i", "host-i"))
        await eventually_async(
            lambda: tag in json.loads(listener.metadata or "{}").get("invited", {}),
            what="the invitation reaching the invitee's room metadata",
        )
        assert "lis-i" not in host.metadata and "lis-i" not in listener.metadata
        assert not listener.local_participant.permissions.can_publish
        assert await refused(publish_microphone(listener, REFUSAL_WAIT))
        assert await server_tracks(livekit_server, room, "lis-i") == []

        accepted = stored(post(api, f"/spaces/{space['id']}/invitation", "lis-i"))
        assert accepted.json()["speakers"] == ["lis-i"] and accepted.json()["invitations"] == {}
        await eventually_async(
            lambda: listener.local_participant.permissions.can_publish,
            what="the speaker's grant reaching the invitee's connection",
        )
        await publish_microphone(listener)
        await eventually_async(
            lambda: server_tracks(livekit_server, room, "lis-i"), what="the new speaker's track"
        )
        await eventually_async(
            lambda: json.loads(listener.metadata or "{}").get("invited") == {},
            what="the answered invitation leaving the room metadata",
        )
    finally:
        await listener.disconnect()
        await host.disconnect()


async def test_remove_with_block_disconnects_and_refuses_the_next_token(
    api: ApiServer, livekit_server: LiveKitEndpoint
) -> None:
    space = live_space(api, "host-c")
    old_grant = post(api, f"/spaces/{space['id']}/token", "troll-c").json()
    troll = rtc.Room()
    await troll.connect(old_grant["url"], old_grant["token"])
    disconnected = asyncio.Event()
    troll.on("disconnected", lambda *_: disconnected.set())

    async def gone() -> bool:
        return "troll-c" not in await connected(livekit_server, space["room_name"])

    try:
        removed = post(
            api, f"/spaces/{space['id']}/participants/troll-c/remove", "host-c", json={"block": True}
        )
        stored(removed)
        await asyncio.wait_for(disconnected.wait(), 20)
        await eventually_async(gone, what="troll removed on the server")
        again = post(api, f"/spaces/{space['id']}/token", "troll-c")
        assert again.status_code == 403 and again.json()["rule"] == "blocked"
    finally:
        await troll.disconnect()

    # The token minted before the block is still within its TTL: rejoining with it works at the
    # SFU, and the join webhook makes the control plane remove the blocked user again.
    rejoin = rtc.Room()
    await rejoin.connect(old_grant["url"], old_grant["token"])
    try:
        await eventually_async(gone, timeout=15, what="blocked user removed again after rejoining")
    finally:
        await rejoin.disconnect()


async def test_mute_mutes_the_speakers_microphone(api: ApiServer, livekit_server: LiveKitEndpoint) -> None:
    space = live_space(api, "host-d")
    post(api, f"/spaces/{space['id']}/roles/spk-d", "host-d", method="PUT", json={"role": "speaker"})
    speaker = await join(api, space["id"], "spk-d")
    try:
        await publish_microphone(speaker)
        await eventually_async(
            lambda: server_tracks(livekit_server, space["room_name"], "spk-d"), what="track"
        )
        assert post(api, f"/spaces/{space['id']}/participants/spk-d/mute", "host-d").status_code == 200

        async def muted() -> bool:
            tracks = await server_tracks(livekit_server, space["room_name"], "spk-d")
            return bool(tracks) and all(t.muted for t in tracks)

        await eventually_async(muted, what="microphone muted by the server")
    finally:
        await speaker.disconnect()


async def test_webhooks_arrive_and_a_closed_room_ends_its_space(
    api: ApiServer, livekit_server: LiveKitEndpoint
) -> None:
    space = live_space(api, "host-e")
    listener = await join(api, space["id"], "lis-e")

    def space_now() -> dict[str, object]:
        return httpx.get(f"{api.url}/spaces/{space['id']}", headers=api.auth("host-e"), timeout=10).json()

    try:
        await eventually_async(
            lambda: space_now()["listener_count"] == 1, timeout=15, what="participant_joined webhook counted"
        )
    finally:
        await listener.disconnect()
    await eventually_async(
        lambda: space_now()["listener_count"] == 0, timeout=15, what="participant_left webhook counted"
    )
    # Close the room behind the API's back, as an empty timeout would: the webhook ends the Space.
    from livekit import api as lkapi

    async with lkapi.LiveKitAPI(
        livekit_server.http_url, livekit_server.api_key, livekit_server.api_secret
    ) as c:
        await c.room.delete_room(lkapi.DeleteRoomRequest(room=space["room_name"]))
    await eventually_async(
        lambda: space_now()["state"] == "ended", timeout=20, what="room_finished ends the Space"
    )


async def test_start_dispatches_the_stage_agent_with_the_room_metadata(
    api: ApiServer, livekit_server: LiveKitEndpoint
) -> None:
    import json

    from livekit import api as lkapi

    from contract import names

    space = live_space(api, "host-f", video="host")
    async with lkapi.LiveKitAPI(
        livekit_server.http_url, livekit_server.api_key, livekit_server.api_secret
    ) as c:
        rooms = await c.room.list_rooms(lkapi.ListRoomsRequest(names=[space["room_name"]]))
        dispatches = await c.agent_dispatch.list_dispatch(space["room_name"])
    assert len(rooms.rooms) == 1
    # The Space as every room member sees it (contract/schema/room_metadata.schema.json).
    metadata = json.loads(rooms.rooms[0].metadata)
    assert isinstance(metadata.pop("version"), int)
    assert metadata == {
        "space_id": space["id"],
        "video": "host",
        "record": True,  # the API's default: keep the recording
        "pinned": None,
        "pinned_source": "camera",
        "title": "live test",
        "state": "live",
        "host": "host-f",
        "cohosts": [],
        "speakers": [],
        "names": {"host-f": "host-f"},  # no `name` claim: shown as the id (docs/identity.md)
        "pictures": {},  # nor a `picture` claim: initials
        "listener_count": 0,
        "host_away_until": None,  # the host's join window: not away yet
        "removed_viewers": {},  # nobody removed
        "invited": {},  # nobody invited to speak
    }
    assert rooms.rooms[0].max_participants > 0 and rooms.rooms[0].empty_timeout > 0
    assert [d.agent_name for d in dispatches] == [names.AGENT_NAME]
    ended = post(api, f"/spaces/{space['id']}/end", "host-f")
    assert ended.status_code == 200 and ended.json()["state"] == "ended"
    async with lkapi.LiveKitAPI(
        livekit_server.http_url, livekit_server.api_key, livekit_server.api_secret
    ) as c:
        assert (await c.room.list_rooms(lkapi.ListRoomsRequest(names=[space["room_name"]]))).rooms == []


@contextmanager
def held_webhooks(tmp_path: Path, name: str) -> Iterator[tuple[ApiServer, LiveKitEndpoint, WebhookHold]]:
    """A livekit-server of its own whose webhooks are held (the test delivers the ones it chooses),
    and an API on it that runs no timed sweep."""
    with webhook_hold() as held:
        server = start_local(
            api_key=names.DEV_API_KEY, api_secret=names.DEV_API_SECRET, webhook_url=held.url, name=name
        )
        sfu = LiveKitEndpoint.of(server, None)
        try:
            with api_server(
                port=free_port(),
                livekit=sfu,
                workdir=tmp_path,
                env={names.ENV_RECONCILE_INTERVAL_SECONDS: "0"},
            ) as api:
                yield api, sfu, held
        finally:
            server.stop()


async def test_a_stale_publishing_token_is_cut_back_when_the_track_is_published(tmp_path: Path) -> None:
    """The join correction can be missed (webhooks are best effort) and the SFU refreshes a connected
    session's token with the grants it joined with. A token whose role attribute matches the stored
    listener role but that grants the microphone stands for that case: the track is published, and
    then the track_published webhook makes the control plane apply the stored permission, and the
    SFU unpublishes the microphone.

    On a server of its own whose webhooks are held (tests/support/webhook_hold.py) and an API that
    runs no timed sweep, so that nothing can correct the session before the track is on the server:
    the join webhook is lost on purpose, the track_published one is delivered once the track is."""
    with held_webhooks(tmp_path, "livekit-held") as (api, sfu, held):
        await _stale_token_cut_back(api, sfu, held)


async def _stale_token_cut_back(api: ApiServer, sfu: LiveKitEndpoint, held: WebhookHold) -> None:
    space = live_space(api, "host-g", video="off")
    room = space["room_name"]
    token = (
        lkapi.AccessToken(sfu.api_key, sfu.api_secret)
        .with_identity("stale-g")
        .with_attributes({"role": "listener"})
        .with_grants(
            lkapi.VideoGrants(room_join=True, room=room, can_publish=True, can_publish_sources=["microphone"])
        )
        .to_jwt()
    )
    stale = rtc.Room()
    await stale.connect(sfu.ws_url, token)
    try:
        # Nothing has woken the reconciler since the start: the publish is accepted, and the track
        # stays on the server.
        await publish_microphone(stale)
        tracks = await eventually_async(
            lambda: server_tracks(sfu, room, "stale-g"), what="the stale microphone on the server"
        )
        assert [t.source for t in tracks] == [2]  # TrackSource.MICROPHONE
        assert stale.local_participant.permissions.can_publish

        # The join webhook is lost; the track_published one arrives.
        await eventually_async(
            lambda: "participant_joined" in held.events() and "track_published" in held.events(),
            what="livekit-server's join and track_published webhooks",
        )
        held.take("participant_joined")
        (published,) = held.take("track_published")
        answer = published.deliver(api.url)
        assert answer.status_code == 200, answer.text
        assert answer.json()["event"] == "track_published"

        await eventually_async(
            lambda: not stale.local_participant.permissions.can_publish,
            timeout=15,
            what="the stored listener permission applied after the track was published",
        )

        async def unpublished() -> bool:
            return await server_tracks(sfu, room, "stale-g") == []

        await eventually_async(unpublished, what="stale microphone unpublished by the SFU")
        assert "stale-g" in await connected(sfu, room)  # held to listener, not removed
    finally:
        await stale.disconnect()


async def test_the_gateway_lists_who_is_in_the_room(api: ApiServer, livekit_server: LiveKitEndpoint) -> None:
    """The re-dispatch check reads the room's participants through the real server API, and an
    audience pass one of them."""
    from functions.core.config import Settings
    from functions.livekit_edge.gateway import LiveKitGateway, ObservedMember, ObservedRoom

    gateway = LiveKitGateway(
        Settings(
            SPACES_MODE="local",
            LIVEKIT_URL=livekit_server.ws_url,
            LIVEKIT_API_KEY=livekit_server.api_key,
            LIVEKIT_API_SECRET=livekit_server.api_secret,
        )
    )
    space = live_space(api, "host-h", video="off")
    listener = await join(api, space["id"], "lis-h")
    try:
        room = await gateway.observe(space["room_name"])
        assert isinstance(room, ObservedRoom)
        assert "lis-h" in {p.identity for p in room.participants if not p.is_agent}
        assert await gateway.observe("space-no-such-room") is None
        # An audience pass reads one person (hidden listeners included) and the metadata alone.
        one = await gateway.observe_member(space["room_name"], "lis-h")
        assert isinstance(one, ObservedMember) and one.metadata == room.metadata
        listed = next(p for p in room.participants if p.identity == "lis-h")
        assert one.participant == listed and listed.permission is not None and listed.permission.hidden
        nobody = await gateway.observe_member(space["room_name"], "not-connected")
        assert isinstance(nobody, ObservedMember) and nobody.participant is None
        assert await gateway.observe_member("space-no-such-room", "lis-h") is None
    finally:
        await listener.disconnect()


def stored(response: httpx.Response) -> httpx.Response:
    """A live change is answered 200 once the room follows it within the request's budget, and 202
    (`converged: false`) when the SFU has not yet (a loaded machine, a pass already running for the
    room); the reconciler's next pass finishes it. Both are success: what the room then does is what
    these tests check, with `eventually`."""
    assert response.status_code in (200, 202), response.text
    assert response.json()["converged"] == (response.status_code == 200)
    return response


def _on_stage(room: rtc.Room, identity: str) -> bool:
    """What another participant's client holds about `identity`: present, allowed to publish, a track."""
    p = room.remote_participants.get(identity)
    return p is not None and p.permissions.can_publish and bool(p.track_publications)


def _demoted(room: rtc.Room, identity: str) -> bool:
    p = room.remote_participants.get(identity)
    return (
        p is not None
        and not p.permissions.can_publish
        and not p.track_publications
        and p.attributes.get("role") == "listener"
    )


async def test_everyone_else_sees_a_demotion_and_the_demoted_speaker_leave(
    api: ApiServer, livekit_server: LiveKitEndpoint
) -> None:
    """Seen from the other participants' clients, not from the server API: livekit-server tells the
    room nothing about a hidden participant, so a demotion that hid the speaker left them on
    everyone else's stage with `can_publish` and their tracks, and never announced their leaving."""
    space = live_space(api, "host-i", video="speakers")
    sid = space["id"]
    for user in ("spk-i", "other-i"):
        put = post(api, f"/spaces/{sid}/roles/{user}", "host-i", method="PUT", json={"role": "speaker"})
        assert put.status_code == 200, put.text
    host = await join(api, sid, "host-i")
    other = await join(api, sid, "other-i")
    speaker = await join(api, sid, "spk-i")
    try:
        await publish_microphone(speaker)
        await publish_camera(speaker)
        for viewer in (host, other):
            await eventually_async(
                lambda v=viewer: (
                    _on_stage(v, "spk-i") and len(v.remote_participants["spk-i"].track_publications) == 2
                ),
                timeout=20,
                what="the speaker and both tracks seen by the room",
            )

        stored(post(api, f"/spaces/{sid}/roles/spk-i", "host-i", method="PUT", json={"role": "listener"}))
        for viewer in (host, other):
            await eventually_async(
                lambda v=viewer: _demoted(v, "spk-i"),
                what="the room sees the demoted speaker lose the permission, the tracks and the role",
            )
        # The demoted speaker's own client agrees, and the SFU holds them to it.
        await eventually_async(
            lambda: not speaker.local_participant.permissions.can_publish, what="own permission revoked"
        )
        assert await server_tracks(livekit_server, space["room_name"], "spk-i") == []

        # Leaving is announced to the room too (a hidden participant's leave would not be).
        await speaker.disconnect()
        for viewer in (host, other):
            await eventually_async(
                lambda v=viewer: "spk-i" not in v.remote_participants,
                what="the room sees the demoted speaker leave",
            )
    finally:
        await speaker.disconnect()
        await other.disconnect()
        await host.disconnect()


async def test_everyone_else_sees_a_removed_speaker_go(
    api: ApiServer, livekit_server: LiveKitEndpoint
) -> None:
    """A speaker removed while on stage, and one removed after a demotion: both leave everyone's view."""
    space = live_space(api, "host-j", video="off")
    sid = space["id"]
    for user in ("spk-j", "was-j"):
        put = post(api, f"/spaces/{sid}/roles/{user}", "host-j", method="PUT", json={"role": "speaker"})
        assert put.status_code == 200, put.text
    host = await join(api, sid, "host-j")
    speaker = await join(api, sid, "spk-j")
    former = await join(api, sid, "was-j")
    try:
        await publish_microphone(speaker)
        await publish_microphone(former)
        for user in ("spk-j", "was-j"):
            await eventually_async(lambda u=user: _on_stage(host, u), timeout=20, what=f"host sees {user}")

        stored(post(api, f"/spaces/{sid}/participants/spk-j/remove", "host-j", json={"block": False}))
        await eventually_async(
            lambda: "spk-j" not in host.remote_participants, what="host sees the removed speaker go"
        )

        stored(post(api, f"/spaces/{sid}/roles/was-j", "host-j", method="PUT", json={"role": "listener"}))
        await eventually_async(lambda: _demoted(host, "was-j"), what="host sees the demotion")
        stored(post(api, f"/spaces/{sid}/participants/was-j/remove", "host-j", json={"block": True}))
        await eventually_async(
            lambda: "was-j" not in host.remote_participants,
            what="host sees the demoted, then removed, user go",
        )
        assert "was-j" not in await connected(livekit_server, space["room_name"])
    finally:
        await former.disconnect()
        await speaker.disconnect()
        await host.disconnect()


async def test_a_hosts_session_replaced_by_a_reconnect_is_no_departure(tmp_path: Path) -> None:
    """A reload or a reconnect opens a second session of the host's identity; livekit-server closes
    the first as DUPLICATE_IDENTITY, and that session's participant_left can reach the API after the
    new one's join. It must not start the grace period: the room would be told "the host has left"
    (an outside review saw the banner for ~3 s). On a server of its own whose webhooks are held, so
    that the leave is delivered last, as it is when it comes late."""
    with held_webhooks(tmp_path, "livekit-replaced") as (api, sfu, held):
        space = live_space(api, "host-r", video="off")
        first = await join(api, space["id"], "host-r")
        # What the room is told, as a listener's page would see it.
        listener = await join(api, space["id"], "lis-r")
        told: list[dict[str, Any]] = []
        listener.on("room_metadata_changed", lambda _old, new: told.append(json.loads(new)))
        second = await join(api, space["id"], "host-r")
        try:
            await eventually_async(
                lambda: "participant_left" in held.events(),
                what="livekit-server's leave of the replaced session",
            )
            (left,) = held.take("participant_left")
            for joined in held.take("participant_joined"):
                assert joined.deliver(api.url).status_code == 200
            answer = left.deliver(api.url)
            assert answer.status_code == 200, answer.text
            assert "replaced by a newer one" in answer.json()["outcome"], answer.text
            got = post(api, f"/spaces/{space['id']}", "someone", method="GET").json()
            assert got["host_away_until"] is None and got["state"] == "live"
            assert "host-r" in await connected(sfu, space["room_name"])
            # A later change of the room's metadata, in order behind anything the leave
            # caused: once the listener has it, they were never told the host had left.
            invited = post(
                api,
                f"/spaces/{space['id']}/roles/lis-r",
                "host-r",
                method="PUT",
                json={"role": "speaker"},
            )
            assert invited.status_code in (200, 202), invited.text
            await eventually_async(
                lambda: any("lis-r" in (m.get("speakers") or []) for m in told),
                what="the listener told of the later change",
            )
            assert all(m.get("host_away_until") is None for m in told), told
        finally:
            await listener.disconnect()
            await second.disconnect()
            await first.disconnect()
