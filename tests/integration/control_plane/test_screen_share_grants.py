"""Who may share a screen is enforced by the SFU, not the page: a real livekit-server refuses a
speaker's screen-share track and accepts the host's and a co-host's, also after a live promotion."""

from __future__ import annotations

from livekit import api as lkapi
from livekit import rtc

from tests.conftest import LiveKitEndpoint
from tests.support.api_server import ApiServer
from tests.support.eventually import eventually_async

from .livekit_helpers import REFUSAL_WAIT, join, live_space, post, publish_screen, refused, server_tracks

SCREEN = lkapi.TrackSource.SCREEN_SHARE


async def screens(livekit: LiveKitEndpoint, room: str, identity: str) -> list[lkapi.TrackInfo]:
    return [t for t in await server_tracks(livekit, room, identity) if t.source == SCREEN]


async def test_speaker_screen_share_is_refused_and_cohosts_and_hosts_share(
    api: ApiServer, livekit_server: LiveKitEndpoint
) -> None:
    space = live_space(api, "host-ss", video="speakers")
    room = space["room_name"]
    for user, role in (("co-ss", "cohost"), ("spk-ss", "speaker")):
        resp = post(api, f"/spaces/{space['id']}/roles/{user}", "host-ss", method="PUT", json={"role": role})
        assert resp.status_code == 200, resp.text
    host = await join(api, space["id"], "host-ss")
    cohost = await join(api, space["id"], "co-ss")
    speaker = await join(api, space["id"], "spk-ss")
    try:
        assert await refused(publish_screen(speaker, REFUSAL_WAIT))
        assert await screens(livekit_server, room, "spk-ss") == []

        await publish_screen(cohost)
        await eventually_async(
            lambda: screens(livekit_server, room, "co-ss"), what="the co-host's screen share on the server"
        )
        await publish_screen(host)
        await eventually_async(
            lambda: screens(livekit_server, room, "host-ss"), what="the host's screen share on the server"
        )

        # Promoted to co-host while connected: the SFU lets the same participant share now.
        resp = post(
            api, f"/spaces/{space['id']}/roles/spk-ss", "host-ss", method="PUT", json={"role": "cohost"}
        )
        assert resp.status_code == 200, resp.text

        async def may_share() -> bool:
            perms = speaker.local_participant.permissions
            return perms is not None and rtc.TrackSource.SOURCE_SCREENSHARE in perms.can_publish_sources

        await eventually_async(may_share, what="the promotion reaches the participant")
        await publish_screen(speaker)
        await eventually_async(
            lambda: screens(livekit_server, room, "spk-ss"), what="the promoted co-host's screen share"
        )

        # Demoted to speaker while sharing: the SFU unpublishes the share, the microphone right stays.
        resp = post(
            api, f"/spaces/{space['id']}/roles/co-ss", "host-ss", method="PUT", json={"role": "speaker"}
        )
        assert resp.status_code == 200, resp.text

        async def share_gone() -> bool:
            return await screens(livekit_server, room, "co-ss") == []

        await eventually_async(share_gone, what="the demoted co-host's screen share unpublished by the SFU")
        assert await refused(publish_screen(cohost, REFUSAL_WAIT))
    finally:
        for room_client in (host, cohost, speaker):
            await room_client.disconnect()


async def test_no_screen_share_in_a_space_without_video(
    api: ApiServer, livekit_server: LiveKitEndpoint
) -> None:
    space = live_space(api, "host-sv", video="off")
    host = await join(api, space["id"], "host-sv")
    try:
        assert await refused(publish_screen(host, REFUSAL_WAIT))
        assert await screens(livekit_server, space["room_name"], "host-sv") == []
    finally:
        await host.disconnect()
