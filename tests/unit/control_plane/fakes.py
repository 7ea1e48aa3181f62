"""A fake SFU for unit tests: records what the control plane asked and can refuse on demand."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import cast

from fastapi import FastAPI
from fastapi.testclient import TestClient

from functions.domain.grants import Permission, permission_for
from functions.domain.model import Role, Space, VideoPolicy
from functions.livekit_edge.gateway import (
    GatewayError,
    ObservedDispatch,
    ObservedMember,
    ObservedParticipant,
    ObservedRoom,
    RoomGateway,
)


@dataclass
class FakeGateway(RoomGateway):
    rooms: dict[str, str] = field(default_factory=dict)  # room -> metadata
    connected: set[str] = field(default_factory=set)
    agents: dict[str, str] = field(default_factory=dict)  # connected agent identity -> agent name
    dispatched: dict[str, list[str]] = field(default_factory=dict)  # room -> agent names, in order
    calls: list[tuple[str, ...]] = field(default_factory=list)
    hands: dict[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)
    # The role and permission each connected person has now (a listener's if never set).
    permissions: dict[str, tuple[Role, Permission]] = field(default_factory=dict)
    dispatch_times: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    # The display name and avatar each connected person's token carried (none if never set).
    profiles: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    fail: bool = False
    # Each connected person's state version, moved by every change the SFU makes to them.
    versions: dict[str, int] = field(default_factory=dict)

    def _maybe_fail(self, what: str) -> None:
        if self.fail:
            raise GatewayError(f"fake SFU refused {what}")

    def join(
        self,
        identity: str,
        role: Role = Role.LISTENER,
        video: VideoPolicy = VideoPolicy.SPEAKERS,
        *,
        name: str = "",
        picture: str | None = None,
    ) -> None:
        """Someone connects with a token for `role` (carrying `name` and `picture`)."""
        self.connected.add(identity)
        self.permissions[identity] = (role, permission_for(role, video))
        self.profiles[identity] = (name, picture)
        self.versions[identity] = self.versions.get(identity, 0) + 1

    async def observe(self, room: str) -> ObservedRoom | None:
        self._maybe_fail("observe")
        self.calls.append(("observe", room))
        if room not in self.rooms:
            return None
        listener = (Role.LISTENER, permission_for(Role.LISTENER, VideoPolicy.OFF))
        people = tuple(
            ObservedParticipant(
                identity=i,
                sid=f"PA_{i}",
                is_agent=False,
                agent_name=None,
                role=self.permissions.get(i, listener)[0].value,
                permission=self.permissions.get(i, listener)[1],
                name=self.profiles.get(i, ("", None))[0],
                picture=self.profiles.get(i, ("", None))[1],
                version=self.versions.get(i, 0),
            )
            for i in sorted(self.connected)
        )
        agents = tuple(
            ObservedParticipant(
                identity=i, sid=f"PA_{i}", is_agent=True, agent_name=n, role=None, permission=None
            )
            for i, n in sorted(self.agents.items())
        )
        dispatches = tuple(ObservedDispatch(n, t, 0) for n, t in self.dispatch_times.get(room, []))
        return ObservedRoom(metadata=self.rooms[room], participants=people + agents, dispatches=dispatches)

    async def observe_member(self, room: str, identity: str) -> ObservedMember | None:
        """Recorded on its own: what the real gateway asks without listing the room."""
        calls_before = len(self.calls)
        observed = await self.observe(room)
        del self.calls[calls_before:]
        self.calls.append(("observe_member", room, identity))
        if observed is None:
            return None
        person = next((p for p in observed.participants if p.identity == identity), None)
        return ObservedMember(metadata=observed.metadata, participant=person)

    async def list_rooms(self) -> list[str]:
        self._maybe_fail("list_rooms")
        return sorted(self.rooms)

    async def create_room(self, space: Space, *, agents: tuple[str, ...], metadata: str) -> None:
        self._maybe_fail("create_room")
        self.rooms[space.room_name] = metadata
        self.dispatched[space.room_name] = list(agents)
        self.dispatch_times[space.room_name] = [(a, time.time()) for a in agents]
        self.calls.append(("create_room", space.room_name))

    async def delete_room(self, room: str) -> None:
        self._maybe_fail("delete_room")
        self.rooms.pop(room, None)
        self.calls.append(("delete_room", room))

    async def dispatch_agent(self, room: str, agent_name: str) -> bool:
        self._maybe_fail("dispatch_agent")
        self.calls.append(("dispatch_agent", room, agent_name))
        if room not in self.rooms:
            return False
        self.dispatched.setdefault(room, []).append(agent_name)
        self.dispatch_times.setdefault(room, []).append((agent_name, time.time()))
        return True

    async def set_room_metadata(self, space: Space, metadata: str) -> None:
        self._maybe_fail("set_room_metadata")
        self.rooms[space.room_name] = metadata
        self.calls.append(("set_room_metadata", space.room_name))

    async def send_hands(self, space: Space, *, read_at_ms: int) -> None:
        self._maybe_fail("send_hands")
        from functions.domain.pushed import moderators, raised_hands

        self.hands[space.room_name] = (raised_hands(space, read_at_ms).to_json(), moderators(space))
        self.calls.append(("send_hands", space.room_name))

    async def update_participant(
        self, room: str, identity: str, *, role: Role, permission: Permission
    ) -> bool:
        self._maybe_fail("update_participant")
        self.calls.append(("update_participant", identity, role.value))
        if identity not in self.connected:
            return False
        self.permissions[identity] = (role, permission)
        self.versions[identity] = self.versions.get(identity, 0) + 1
        return True

    async def remove_participant(self, room: str, identity: str) -> bool:
        self._maybe_fail("remove_participant")
        self.calls.append(("remove_participant", identity))
        if identity not in self.connected:
            return False
        self.connected.discard(identity)
        return True

    async def mute_microphone(self, room: str, identity: str) -> bool:
        self._maybe_fail("mute")
        self.calls.append(("mute", identity))
        return identity in self.connected


def dispatches_long_taken(client: TestClient, gateway: FakeGateway, room: str, agents: Iterable[str]) -> None:
    """The room's dispatches so far as the SFU and the reconciler's memory see them 20 s and more
    later: dated long ago, and forgotten by the process that made them (runner.Memory.dispatched)."""
    gateway.dispatch_times[room] = [(agent, 0.0) for agent in agents]
    cast(FastAPI, client.app).state.reconcile_memory.dispatched.clear()
