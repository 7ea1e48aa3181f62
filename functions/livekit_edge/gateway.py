"""The SFU's server API, as the few calls the control plane makes. Everything else stays in domain/.

`RoomGateway` is the interface (the unit tests use a fake; the integration tests wrap the real one
in a fault injector); `LiveKitGateway` talks to a real livekit-server through livekit-api.
`observe` is what the reconciler reads (functions/reconcile/); the other calls are what it does.
A fresh client per call: on Lambda, Mangum runs every
invocation on its own event loop, and an aiohttp session must not outlive its loop.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from contract import names

from ..core.config import Settings
from ..domain import pushed
from ..domain.grants import (
    CAMERA,
    MICROPHONE,
    SCREEN_SHARE,
    Permission,
    participant_attributes,
)
from ..domain.model import Role, Space
from .sources import source_name

if TYPE_CHECKING:
    from livekit import api as lkapi

log = logging.getLogger(__name__)


class GatewayError(Exception):
    """The SFU could not do what was asked (down, refused). The reconciler's next pass tries again."""


@dataclass(frozen=True)
class ObservedParticipant:
    """A connected participant as the SFU reports it (ListParticipants)."""

    identity: str
    sid: str
    is_agent: bool
    agent_name: str | None
    # The role attribute the control plane wrote (token or live update); None for agents.
    role: str | None
    # What the SFU lets them do now, in grants' terms (sources as grants.MICROPHONE/CAMERA names).
    permission: Permission | None
    # The display name their token carried ("" if none): their audience entry's name.
    name: str = ""
    # Their avatar (the picture attribute their token carried), if any.
    picture: str | None = None
    # Tracks whose kind is not their source's (a video labelled as the microphone): livekit-server
    # checks a publication's source against the grant, never what the track carries, so only a
    # modified client publishes one, to get round its grants (a camera where video is off).
    mislabelled_tracks: int = 0
    # The SFU's version of this participant's state (ParticipantInfo.version): it moves whenever
    # anything about them changes (role attribute, permission, tracks), so two reads that see the
    # same version saw the same state.
    version: int = 0


@dataclass(frozen=True)
class ObservedDispatch:
    agent_name: str
    # Epoch seconds the dispatch was created (0 if the SFU did not say).
    created_at: float
    # Jobs the SFU assigned for it (0: no worker took it yet, or it was dropped).
    jobs: int


@dataclass(frozen=True)
class ObservedRoom:
    """The room as the SFU has it: what the reconciler compares with the desired state."""

    metadata: str
    participants: tuple[ObservedParticipant, ...]
    dispatches: tuple[ObservedDispatch, ...]


@dataclass(frozen=True)
class ObservedMember:
    """The room's metadata and one person in it (None: not connected), read without listing the
    room: what a listener's join or leave needs (runner.py, "audience passes")."""

    metadata: str
    participant: ObservedParticipant | None


@dataclass(frozen=True)
class StrandedRoom:
    """The SFU lists the room, but no node answers for it: the node that held it died (or is cut
    off) and nobody has rejoined it since. Who was in it is unknown; placing the room again
    (CreateRoom) puts it on a live node, empty, once the dead node's stats are a few seconds stale
    (livekit-server v1.13.5: `selector.IsAvailable`, 5 s)."""

    reason: str


class RoomGateway(ABC):
    @abstractmethod
    async def observe(self, room: str) -> ObservedRoom | StrandedRoom | None:
        """The room's metadata, participants and agent dispatches; None if there is no such room."""

    async def observe_member(self, room: str, identity: str) -> ObservedMember | StrandedRoom | None:
        """The room's metadata and one participant; None if there is no such room. This default
        reads the whole room (fakes); the real gateway asks for the one participant only."""
        observed = await self.observe(room)
        if not isinstance(observed, ObservedRoom):
            return observed
        person = next((p for p in observed.participants if p.identity == identity), None)
        return ObservedMember(metadata=observed.metadata, participant=person)

    @abstractmethod
    async def list_rooms(self) -> list[str]:
        """The names of every room the SFU holds (the sweep deletes those of ended Spaces)."""

    @abstractmethod
    async def create_room(self, space: Space, *, agents: tuple[str, ...], metadata: str) -> None:
        """Create the room (name, limits) with `metadata` (grants.room_metadata) and these agents
        dispatched into it."""

    @abstractmethod
    async def delete_room(self, room: str) -> None: ...

    @abstractmethod
    async def dispatch_agent(self, room: str, agent_name: str) -> bool:
        """Dispatch an agent into a running room. False if the room is gone."""

    @abstractmethod
    async def set_room_metadata(self, space: Space, metadata: str) -> None:
        """Publish `metadata` (grants.room_metadata, as the reconciler's diff wants it) to the room."""

    @abstractmethod
    async def send_hands(self, space: Space, *, read_at_ms: int) -> None:
        """Send the raised hands (contract/schema/hands.schema.json), read from the store at
        `read_at_ms`, to the host and co-hosts only."""

    @abstractmethod
    async def update_participant(
        self, room: str, identity: str, *, role: Role, permission: Permission
    ) -> bool:
        """Apply a new role live. False if the participant is not connected."""

    @abstractmethod
    async def remove_participant(self, room: str, identity: str) -> bool:
        """Disconnect. False if the participant is not connected."""

    @abstractmethod
    async def mute_microphone(self, room: str, identity: str) -> bool:
        """Mute every published microphone track. False if the participant is not connected."""

    async def send_data(self, room: str, payload: bytes, *, topic: str) -> None:
        """Send one lossy data packet to everyone in the room (the server sends it; no
        participant needs data-publish rights). Not abstract: only the reactions use it."""
        raise NotImplementedError


class LiveKitGateway(RoomGateway):
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    @asynccontextmanager
    async def _api(self) -> AsyncIterator[lkapi.LiveKitAPI]:
        import aiohttp
        from livekit import api

        creds = self._settings.livekit_credentials()
        url = self._settings.livekit_url.replace("ws://", "http://").replace("wss://", "https://")
        client = api.LiveKitAPI(url, creds.api_key, creds.api_secret)
        try:
            yield client
        except api.TwirpError as exc:
            raise GatewayError(f"livekit refused: {exc.code}: {exc.message}") from exc
        except (OSError, aiohttp.ClientError) as exc:
            # Connection errors derive from OSError; a dropped or garbled answer
            # (ServerDisconnectedError, ClientPayloadError, ClientResponseError) only from ClientError.
            raise GatewayError(f"livekit unreachable: {exc}") from exc
        finally:
            await client.aclose()

    async def observe(self, room: str) -> ObservedRoom | StrandedRoom | None:
        from livekit import api

        async with self._api() as client:
            found = await _find_room(client, room)
            if found is None:
                return None
            try:
                listed = await client.room.list_participants(api.ListParticipantsRequest(room=room))
                dispatches = await client.agent_dispatch.list_dispatch(room)
            except api.TwirpError as exc:
                if exc.code == "not_found":  # closed between the calls
                    return None
                if exc.code not in _NO_NODE:
                    raise
                # No node holds it: closed between the calls (its node removes it from the
                # listing), or its node is gone (the listing keeps it).
                again = await client.room.list_rooms(api.ListRoomsRequest(names=[room]))
                if not any(r.name == room for r in again.rooms):
                    return None
                return StrandedRoom(f"{exc.code}: {exc.message}")
        return ObservedRoom(
            metadata=found.metadata,
            participants=tuple(_observed(p) for p in listed.participants),
            dispatches=tuple(
                ObservedDispatch(
                    agent_name=d.agent_name,
                    created_at=_epoch_seconds(d.state.created_at),
                    jobs=len(d.state.jobs),
                )
                for d in dispatches
            ),
        )

    async def observe_member(self, room: str, identity: str) -> ObservedMember | StrandedRoom | None:
        """ListRooms for the one room, then GetParticipant: two small answers, however many people
        the room holds (ListParticipants returns every one of them)."""
        from livekit import api

        async with self._api() as client:
            found = await _find_room(client, room)
            if found is None:
                return None
            try:
                info = await client.room.get_participant(
                    api.RoomParticipantIdentity(room=room, identity=identity)
                )
            except api.TwirpError as exc:
                if exc.code == "not_found":  # not connected (or the room closed between the calls)
                    return ObservedMember(metadata=found.metadata, participant=None)
                if exc.code not in _NO_NODE:
                    raise
                return StrandedRoom(f"{exc.code}: {exc.message}")
        return ObservedMember(metadata=found.metadata, participant=_observed(info))

    async def list_rooms(self) -> list[str]:
        from livekit import api

        async with self._api() as client:
            rooms = await client.room.list_rooms(api.ListRoomsRequest())
        return [r.name for r in rooms.rooms]

    async def send_data(self, room: str, payload: bytes, *, topic: str) -> None:
        from livekit import api

        async with self._api() as client:
            await client.room.send_data(
                api.SendDataRequest(room=room, data=payload, kind=api.DataPacket.Kind.LOSSY, topic=topic)
            )

    async def create_room(self, space: Space, *, agents: tuple[str, ...], metadata: str) -> None:
        from livekit import api

        s = self._settings
        async with self._api() as client:
            await client.room.create_room(
                api.CreateRoomRequest(
                    name=space.room_name,
                    metadata=metadata,
                    max_participants=s.room_max_participants,
                    empty_timeout=s.room_empty_seconds,
                    departure_timeout=s.room_departure_seconds,
                    # Explicit dispatch: an agent registers under a name and only joins rooms that ask.
                    agents=[api.RoomAgentDispatch(agent_name=name) for name in agents],
                )
            )

    async def delete_room(self, room: str) -> None:
        from livekit import api

        try:
            async with self._api() as client:
                await client.room.delete_room(api.DeleteRoomRequest(room=room))
        except GatewayError as exc:
            if not _not_found(exc):
                raise

    async def dispatch_agent(self, room: str, agent_name: str) -> bool:
        from livekit import api

        try:
            async with self._api() as client:
                await client.agent_dispatch.create_dispatch(
                    api.CreateAgentDispatchRequest(agent_name=agent_name, room=room)
                )
            return True
        except GatewayError as exc:
            if _not_found(exc):
                return False
            raise

    async def set_room_metadata(self, space: Space, metadata: str) -> None:
        from livekit import api

        try:
            async with self._api() as client:
                await client.room.update_room_metadata(
                    api.UpdateRoomMetadataRequest(room=space.room_name, metadata=metadata)
                )
        except GatewayError as exc:
            if not _not_found(exc):  # the room closed meanwhile; the Space ends with the webhook
                raise

    async def send_hands(self, space: Space, *, read_at_ms: int) -> None:
        from livekit import api

        try:
            async with self._api() as client:
                await client.room.send_data(
                    api.SendDataRequest(
                        room=space.room_name,
                        data=pushed.raised_hands(space, read_at_ms).to_json().encode(),
                        kind=api.DataPacket.Kind.RELIABLE,
                        destination_identities=list(pushed.moderators(space)),
                        topic=names.HANDS_TOPIC,
                    )
                )
        except GatewayError as exc:
            if not _not_found(exc):  # the room closed meanwhile
                raise

    async def update_participant(
        self, room: str, identity: str, *, role: Role, permission: Permission
    ) -> bool:
        from livekit import api

        try:
            async with self._api() as client:
                current = await client.room.get_participant(
                    api.RoomParticipantIdentity(room=room, identity=identity)
                )
                await client.room.update_participant(
                    api.UpdateParticipantRequest(
                        room=room,
                        identity=identity,
                        # The SFU replaces the whole permission, so every field is spelled out; sources
                        # it no longer allows are unpublished by the SFU itself (verified in the tests).
                        permission=api.ParticipantPermission(
                            can_publish=permission.can_publish,
                            can_publish_sources=[_track_source(s) for s in permission.sources],
                            can_publish_data=permission.can_publish_data,
                            can_subscribe=permission.can_subscribe,
                            can_update_metadata=permission.can_update_own_metadata,
                            hidden=live_hidden(wanted=permission.hidden, now=current.permission.hidden),
                        ),
                        attributes=participant_attributes(role),
                    )
                )
            return True
        except GatewayError as exc:
            if _not_found(exc):
                return False
            raise

    async def remove_participant(self, room: str, identity: str) -> bool:
        from livekit import api

        try:
            async with self._api() as client:
                await client.room.remove_participant(
                    api.RoomParticipantIdentity(room=room, identity=identity)
                )
            return True
        except GatewayError as exc:
            if _not_found(exc):
                return False
            raise

    async def mute_microphone(self, room: str, identity: str) -> bool:
        from livekit import api

        try:
            async with self._api() as client:
                info = await client.room.get_participant(
                    api.RoomParticipantIdentity(room=room, identity=identity)
                )
                for track in info.tracks:
                    if track.source == api.TrackSource.MICROPHONE and not track.muted:
                        await client.room.mute_published_track(
                            api.MuteRoomTrackRequest(
                                room=room, identity=identity, track_sid=track.sid, muted=True
                            )
                        )
            return True
        except GatewayError as exc:
            if _not_found(exc):
                return False
            raise


def live_hidden(*, wanted: bool, now: bool) -> bool:
    """Whether a connected participant is hidden after a live update: never hidden if visible now.

    livekit-server sends a hidden participant's updates to that participant only, and applies a new
    permission before it unpublishes the tracks the permission no longer allows (v1.13.5
    `pkg/rtc/room.go` broadcastParticipantState, `participant.go` SetPermission). Hiding a visible
    speaker as they are demoted would therefore leave everyone else with the speaker on stage, still
    `can_publish` and still holding their tracks, and, once they leave, with a participant that never
    leaves. So a demoted speaker stays a visible listener until they leave (rejoining, their listener
    token hides them again); a listener who was never on stage stays hidden.
    """
    return wanted and now


async def _find_room(client: lkapi.LiveKitAPI, room: str) -> Any:
    """The room as ListRooms has it (its metadata), or None if the SFU holds no such room."""
    from livekit import api

    rooms = await client.room.list_rooms(api.ListRoomsRequest(names=[room]))
    return next((r for r in rooms.rooms if r.name == room), None)


def _observed(p: Any) -> ObservedParticipant:
    from livekit import api

    is_agent = p.kind == api.ParticipantInfo.Kind.AGENT
    perm = p.permission if p.HasField("permission") else None
    permission = (
        None
        if perm is None
        else Permission(
            can_publish=perm.can_publish,
            sources=tuple(sorted(source_name(s) for s in perm.can_publish_sources)),
            can_publish_data=perm.can_publish_data,
            hidden=perm.hidden,
            can_subscribe=perm.can_subscribe,
            can_update_own_metadata=perm.can_update_metadata,
        )
    )
    return ObservedParticipant(
        identity=p.identity,
        sid=p.sid,
        is_agent=is_agent,
        agent_name=p.attributes.get(names.AGENT_NAME_ATTRIBUTE) if is_agent else None,
        role=None if is_agent else p.attributes.get(names.ROLE_ATTRIBUTE),
        permission=permission,
        name=p.name,
        picture=None if is_agent else p.attributes.get(names.PICTURE_ATTRIBUTE) or None,
        mislabelled_tracks=sum(1 for t in p.tracks if _mislabelled(t.source, t.type)),
        version=p.version,
    )


def _mislabelled(source: int, kind: int) -> bool:
    """A track whose kind (audio, video) is not the one its source carries. A source the grants
    never name (unknown) is not judged: the SFU refuses it to every participant that has grants."""
    from livekit import api

    audio = (api.TrackSource.MICROPHONE, api.TrackSource.SCREEN_SHARE_AUDIO)
    video = (api.TrackSource.CAMERA, api.TrackSource.SCREEN_SHARE)
    if source in audio:
        return bool(kind != api.TrackType.AUDIO)
    if source in video:
        return bool(kind != api.TrackType.VIDEO)
    return False


def _epoch_seconds(value: int) -> float:
    """livekit-server stamps dispatches in nanoseconds; tolerate ms and s too."""
    if value > 10**15:
        return value / 1e9
    if value > 10**12:
        return value / 1e3
    return float(value)


def _track_source(source: str) -> Any:
    from livekit import api

    return {
        MICROPHONE: api.TrackSource.MICROPHONE,
        CAMERA: api.TrackSource.CAMERA,
        SCREEN_SHARE: api.TrackSource.SCREEN_SHARE,
    }[source]


# How livekit-server answers a call routed to the node that holds a room when none does: psrpc's
# "no response from servers" (nobody subscribed to the room's topic) is `unavailable`; a node that
# took the request and never answered is `deadline_exceeded`.
_NO_NODE = frozenset({"unavailable", "deadline_exceeded"})


def _not_found(exc: GatewayError) -> bool:
    cause = exc.__cause__
    return getattr(cause, "code", None) == "not_found"
