"""A fake SFU for unit tests: records what the control plane asked and can refuse on demand."""

from __future__ import annotations

from dataclasses import dataclass, field

from functions.domain.grants import Permission
from functions.domain.model import Role, Space
from functions.media.gateway import GatewayError, RoomGateway, RoomParticipant


@dataclass
class FakeGateway(RoomGateway):
    rooms: dict[str, str] = field(default_factory=dict)  # room -> metadata
    connected: set[str] = field(default_factory=set)
    agents: dict[str, str] = field(default_factory=dict)  # connected agent identity -> agent name
    dispatched: dict[str, list[str]] = field(default_factory=dict)  # room -> agent names, in order
    calls: list[tuple[str, ...]] = field(default_factory=list)
    hands: dict[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)
    permissions: dict[str, tuple[Role, Permission]] = field(default_factory=dict)
    fail: bool = False

    def _maybe_fail(self, what: str) -> None:
        if self.fail:
            raise GatewayError(f"fake SFU refused {what}")

    async def create_room(self, space: Space, *, agents: tuple[str, ...]) -> None:
        self._maybe_fail("create_room")
        from functions.domain.grants import room_metadata

        self.rooms[space.room_name] = room_metadata(space)
        self.dispatched[space.room_name] = list(agents)
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
        return True

    async def list_participants(self, room: str) -> list[RoomParticipant]:
        self._maybe_fail("list_participants")
        self.calls.append(("list_participants", room))
        if room not in self.rooms:
            return []
        return [RoomParticipant(i, False) for i in sorted(self.connected)] + [
            RoomParticipant(identity, True, name) for identity, name in sorted(self.agents.items())
        ]

    async def set_room_metadata(self, space: Space) -> None:
        self._maybe_fail("set_room_metadata")
        from functions.domain.grants import room_metadata

        self.rooms[space.room_name] = room_metadata(space)
        self.calls.append(("set_room_metadata", space.room_name))

    async def send_hands(self, space: Space) -> None:
        self._maybe_fail("send_hands")
        from functions.domain.pushed import moderators, raised_hands

        self.hands[space.room_name] = (raised_hands(space).to_json(), moderators(space))
        self.calls.append(("send_hands", space.room_name))

    async def update_participant(
        self, room: str, identity: str, *, role: Role, permission: Permission
    ) -> bool:
        self._maybe_fail("update_participant")
        self.calls.append(("update_participant", identity, role.value))
        if identity not in self.connected:
            return False
        self.permissions[identity] = (role, permission)
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
