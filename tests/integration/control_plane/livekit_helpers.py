"""Real participants for the live tests: connect with a join token, publish synthetic media."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

import httpx
from livekit import api as lkapi
from livekit import rtc
from livekit.rtc.participant import PublishTrackError

from tests.conftest import LiveKitEndpoint
from tests.support.api_server import ApiServer

SAMPLE_RATE = 48_000
# Seconds an allowed publish may take on a busy shared machine before the test fails.
PUBLISH_TIMEOUT = 30.0
# Seconds without an answer after which a publish counts as refused: livekit-server does not answer
# a publish it refuses (an allowed one answers within ~1 s). `refused()` callers also check that
# the server lists no track, so a slow machine cannot turn a refusal test into a false pass.
REFUSAL_WAIT = 6.0


def post(api: ApiServer, path: str, user: str, **kwargs: Any) -> httpx.Response:
    return httpx.request(
        kwargs.pop("method", "POST"), f"{api.url}{path}", headers=api.auth(user), timeout=30, **kwargs
    )


def live_space(
    api: ApiServer, host: str, *, video: str = "speakers", title: str = "live test"
) -> dict[str, Any]:
    created = post(api, "/spaces", host, json={"title": title, "video": video})
    assert created.status_code == 201, created.text
    started = post(api, f"/spaces/{created.json()['id']}/start", host)
    # 202: started and stored, the room still converging (a loaded machine, or webhooks held back).
    assert started.status_code in (200, 202), started.text
    assert started.json()["state"] == "live", started.text
    return started.json()


async def join(api: ApiServer, space_id: str, user: str) -> rtc.Room:
    grant = post(api, f"/spaces/{space_id}/token", user)
    assert grant.status_code == 200, grant.text
    room = rtc.Room()
    await room.connect(grant.json()["url"], grant.json()["token"])
    return room


async def publish_microphone(room: rtc.Room, timeout: float = PUBLISH_TIMEOUT) -> rtc.LocalTrackPublication:
    source = rtc.AudioSource(SAMPLE_RATE, 1)
    track = rtc.LocalAudioTrack.create_audio_track("mic", source)
    options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
    publication = await asyncio.wait_for(room.local_participant.publish_track(track, options), timeout)
    # A few frames of silence so the track carries media.
    frame = rtc.AudioFrame.create(SAMPLE_RATE, 1, SAMPLE_RATE // 100)
    for _ in range(5):
        await source.capture_frame(frame)
    return publication


async def publish_camera(room: rtc.Room, timeout: float = PUBLISH_TIMEOUT) -> rtc.LocalTrackPublication:
    source = rtc.VideoSource(64, 64)
    track = rtc.LocalVideoTrack.create_video_track("cam", source)
    options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_CAMERA)
    return await asyncio.wait_for(room.local_participant.publish_track(track, options), timeout)


async def publish_screen(room: rtc.Room, timeout: float = PUBLISH_TIMEOUT) -> rtc.LocalTrackPublication:
    source = rtc.VideoSource(64, 64)
    track = rtc.LocalVideoTrack.create_video_track("screen", source)
    options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_SCREENSHARE)
    return await asyncio.wait_for(room.local_participant.publish_track(track, options), timeout)


async def refused(publish: Awaitable[Any]) -> bool:
    """True if the client saw the SFU refuse the publish (an error, or no answer in time)."""
    try:
        await publish
    except (PublishTrackError, TimeoutError):
        return True
    return False


async def server_tracks(livekit: LiveKitEndpoint, room: str, identity: str) -> list[lkapi.TrackInfo]:
    async with lkapi.LiveKitAPI(livekit.http_url, livekit.api_key, livekit.api_secret) as client:
        try:
            info = await client.room.get_participant(
                lkapi.RoomParticipantIdentity(room=room, identity=identity)
            )
        except lkapi.TwirpError as exc:
            if exc.code == "not_found":
                return []
            raise
        return list(info.tracks)


async def connected(livekit: LiveKitEndpoint, room: str) -> set[str]:
    """Who is in the room; nobody once it closed (the node that held it lists its participants, so
    a room no node holds answers `unavailable`, not an empty list)."""
    async with lkapi.LiveKitAPI(livekit.http_url, livekit.api_key, livekit.api_secret) as client:
        listed = await client.room.list_rooms(lkapi.ListRoomsRequest(names=[room]))
        if not any(r.name == room for r in listed.rooms):
            return set()
        response = await client.room.list_participants(lkapi.ListParticipantsRequest(room=room))
        return {p.identity for p in response.participants}
