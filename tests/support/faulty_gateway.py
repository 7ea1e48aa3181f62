"""Fault injection around the real SFU gateway (tests only): every call goes to livekit-server,
after a configurable delay, or fails with a GatewayError as if the SFU had refused or been
unreachable. Not a mock: what does happen, happens on the real server.

    gateway = FaultyGateway(LiveKitGateway(settings))
    gateway.delay("update_participant", 2.0, times=1)   # the next call waits 2 s, then goes through
    gateway.fail("remove_participant")                   # every call fails until gateway.heal()
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from functions.domain.grants import Permission
from functions.domain.model import Role, Space
from functions.livekit_edge.gateway import (
    GatewayError,
    ObservedMember,
    ObservedRoom,
    RoomGateway,
    StrandedRoom,
)


@dataclass
class _Fault:
    delay: float = 0.0
    fail: bool = False
    # Calls this fault still applies to (None: until healed).
    times: int | None = None


@dataclass
class FaultyGateway(RoomGateway):
    inner: RoomGateway
    faults: dict[str, _Fault] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    def delay(self, method: str, seconds: float, *, times: int | None = None) -> None:
        self.faults[method] = _Fault(delay=seconds, times=times)

    def fail(self, method: str, *, times: int | None = None) -> None:
        self.faults[method] = _Fault(fail=True, times=times)

    def heal(self) -> None:
        self.faults.clear()

    async def _enter(self, method: str) -> None:
        self.calls.append(method)
        fault = self.faults.get(method)
        if fault is None:
            return
        if fault.times is not None:
            fault.times -= 1
            if fault.times <= 0:
                del self.faults[method]
        if fault.delay:
            await asyncio.sleep(fault.delay)
        if fault.fail:
            raise GatewayError(f"injected failure of {method}")

    async def observe(self, room: str) -> ObservedRoom | None:
        await self._enter("observe")
        return await self.inner.observe(room)

    async def observe_member(self, room: str, identity: str) -> ObservedMember | StrandedRoom | None:
        await self._enter("observe_member")
        return await self.inner.observe_member(room, identity)

    async def list_rooms(self) -> list[str]:
        await self._enter("list_rooms")
        return await self.inner.list_rooms()

    async def create_room(self, space: Space, *, agents: tuple[str, ...], metadata: str) -> None:
        await self._enter("create_room")
        await self.inner.create_room(space, agents=agents, metadata=metadata)

    async def delete_room(self, room: str) -> None:
        await self._enter("delete_room")
        await self.inner.delete_room(room)

    async def dispatch_agent(self, room: str, agent_name: str) -> bool:
        await self._enter("dispatch_agent")
        return await self.inner.dispatch_agent(room, agent_name)

    async def set_room_metadata(self, space: Space, metadata: str) -> None:
        await self._enter("set_room_metadata")
        await self.inner.set_room_metadata(space, metadata)

    async def send_hands(self, space: Space, *, read_at_ms: int) -> None:
        await self._enter("send_hands")
        await self.inner.send_hands(space, read_at_ms=read_at_ms)

    async def update_participant(
        self, room: str, identity: str, *, role: Role, permission: Permission
    ) -> bool:
        await self._enter("update_participant")
        return await self.inner.update_participant(room, identity, role=role, permission=permission)

    async def remove_participant(self, room: str, identity: str) -> bool:
        await self._enter("remove_participant")
        return await self.inner.remove_participant(room, identity)

    async def mute_microphone(self, room: str, identity: str) -> bool:
        await self._enter("mute_microphone")
        return await self.inner.mute_microphone(room, identity)
