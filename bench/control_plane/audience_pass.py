"""What the reconciler's look at a room costs as the room fills: the full pass against the audience pass.

    python -m bench.control_plane.audience_pass --listeners 25 100 200 --calls 30

A real livekit-server (started here, local mode) and real hidden listeners (livekit-rtc
connections with the token a WebRTC listener gets: hidden, subscribe only, a name and the role,
seat and picture attributes). At each room size, the real gateway's two reads, one after the other
in the same run:

- `observe` (what a full pass reads: ListRooms, ListParticipants, ListDispatch), and
- `observe_member` (what an audience pass reads: ListRooms, GetParticipant),

as the median and p90 wall time of `--calls` calls each, and the bytes of the ListParticipants and
GetParticipant answers (protobuf). Before the audience pass every listener's join and leave
webhook cost one `observe`; now one `observe_member` (docs/control-plane.md, "When it runs").
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from livekit import api, rtc

from contract import names
from devstack import livekit
from functions.core.config import Settings
from functions.domain.grants import participant_attributes, permission_for
from functions.domain.model import Role, VideoPolicy
from functions.livekit_edge import tokens
from functions.livekit_edge.gateway import LiveKitGateway

KEY, SECRET = "bench-key", "bench-secret-of-sufficient-length-0123456789"
PICTURE = "https://lh3.googleusercontent.com/a/ACg8ocJ" + "x" * 60 + "=s96-c"


def listener_token(room: str, identity: str) -> str:
    """Minted as the control plane mints a WebRTC listener's (its permission and role attribute),
    with the seat and picture attributes a listener's token carries."""
    attributes = {
        **participant_attributes(Role.LISTENER),
        names.SEAT_ATTRIBUTE: "1764619200",
        names.PICTURE_ATTRIBUTE: PICTURE,
    }
    return tokens.mint(
        api_key=KEY,
        api_secret=SECRET,
        room=room,
        identity=identity,
        permission=permission_for(Role.LISTENER, VideoPolicy.SPEAKERS),
        attributes=attributes,
        ttl=timedelta(hours=1),
        name=f"Listener {identity[-6:]}",
    ).token


async def timed(call: Callable[[], Awaitable[Any]], n: int) -> tuple[float, float]:
    """Median and p90 of `n` calls, in ms."""
    times = []
    for _ in range(n):
        started = time.perf_counter()
        await call()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[int(0.9 * (len(times) - 1))]


async def run(sizes: list[int], calls: int) -> None:
    server_log = tempfile.NamedTemporaryFile("w", prefix="livekit-bench-", suffix=".log", delete=False)  # noqa: SIM115
    server = livekit.start_local(api_key=KEY, api_secret=SECRET, log=server_log)
    gateway = LiveKitGateway(
        Settings(
            SPACES_MODE="local", LIVEKIT_URL=server.ws_url, LIVEKIT_API_KEY=KEY, LIVEKIT_API_SECRET=SECRET
        )
    )
    lkapi = api.LiveKitAPI(server.http_url, KEY, SECRET)
    room = f"space-{uuid.uuid4().hex}"
    rooms: list[rtc.Room] = []
    try:
        await lkapi.room.create_room(api.CreateRoomRequest(name=room, max_participants=10_000))
        print(
            "| listeners in the room | full pass's read (`observe`), median / p90 "
            "| audience pass's read (`observe_member`), median / p90 | ratio of medians "
            "| ListParticipants answer | GetParticipant answer |"
        )
        print("|---|---|---|---|---|---|")
        for size in sizes:
            while len(rooms) < size:
                joined = rtc.Room()
                await joined.connect(
                    server.ws_url,
                    listener_token(room, f"listener-{len(rooms):06d}"),
                    rtc.RoomOptions(auto_subscribe=False),
                )
                rooms.append(joined)
            listed = await lkapi.room.list_participants(api.ListParticipantsRequest(room=room))
            assert len(listed.participants) == size, len(listed.participants)
            one = await lkapi.room.get_participant(
                api.RoomParticipantIdentity(room=room, identity="listener-000000")
            )
            full = await timed(lambda: gateway.observe(room), calls)
            member = await timed(lambda: gateway.observe_member(room, "listener-000000"), calls)
            print(
                f"| {size} | {full[0]:.1f} / {full[1]:.1f} ms | {member[0]:.1f} / {member[1]:.1f} ms "
                f"| {full[0] / member[0]:.1f}x | {len(listed.SerializeToString()):,} B "
                f"| {len(one.SerializeToString()):,} B |",
                flush=True,
            )
    finally:
        for joined in rooms:
            await joined.disconnect()
        await lkapi.aclose()
        server.stop()
        server_log.close()
        print(f"livekit-server's log: {server_log.name}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--listeners", type=int, nargs="+", default=[25, 100, 200])
    parser.add_argument("--calls", type=int, default=30)
    args = parser.parse_args()
    asyncio.run(run(sorted(args.listeners), args.calls))


if __name__ == "__main__":
    main()
