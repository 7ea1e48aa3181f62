"""How soon the broadcast's big tile shows a camera after the stage switches to it: cold and warm.

A real livekit-server, a real composer worker (`python -m composer`, 1280x720 at 30 fps, the
product's output) and `--speakers` publishers whose cameras send a moving test pattern with
simulcast and dynacast, as the web client publishes a camera (dynacast: the publisher pauses the
layers nobody asks for). A stand-in stage agent (a participant of kind
agent, which is where the composer takes the stage from) moves `video_spotlight` to the next
speaker every `--every` seconds. The composer logs, per switch, when its big tile drew the new
camera's first picture and its first full-size one (composer/worker.py `_note_switch`), and any
subscription it renewed because the full picture did not come (`FULL_PICTURE_WAIT_S`). Until the
first picture, the broadcast shows the person's card; a switch whose full picture never came
within its turn counts as a miss, and the distributions count a miss as the whole turn.

The same switches are made twice in one run, by two composer processes in turn: **cold**
(`SPACES_COMPOSER_WARM_CAMERAS=0`, the shown camera only: a switch subscribes and waits for a
keyframe) and **warm** (the default: every stage camera held at its lowest layer, composer/video.py).
Also measured per mode: the CPU the composer's processes used over the switches.

    python -m bench.broadcast.camera_switch --switches 30

Result: the `camera-switch` block of docs/bench/broadcast.md, raw numbers in
bench/out/broadcast/camera_switch.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import psutil
from livekit import api, rtc

from bench.broadcast.live_source import pattern
from bench.broadcast.report import IMG, OUT, machine_note, pct, update_section
from contract import names
from contract.room_metadata import RoomMetadata
from contract.stage import StageState
from devstack import livekit
from tests.support.agent_process import AgentProcess, start_composer

CAMERA = (960, 540, 15)  # what each publisher sends at its top layer
OUTPUT = {"SPACES_COMPOSER_WIDTH": "1280", "SPACES_COMPOSER_HEIGHT": "720", "SPACES_COMPOSER_FPS": "30"}
PICTURE = re.compile(r"video (\S+): (first|full) picture ([\d.]+) s after the switch \((\d+) lines\)")
RENEWED = re.compile(r"video (\S+): no full picture")
COMPOSING = re.compile(r"composing space-")
SETTLE_S = 4.0  # after the composer is in the room: every subscription set up before the first switch
JOIN_WAIT_S = 120.0  # for the composer to take the job (a loaded machine starts processes slowly)


@dataclass
class Publisher:
    identity: str
    room: rtc.Room
    source: rtc.VideoSource
    task: asyncio.Task[None] | None = None


@dataclass
class ModeResult:
    mode: str
    first: list[float] = field(default_factory=list)
    full: list[float] = field(default_factory=list)
    first_lines: list[int] = field(default_factory=list)
    renewed: int = 0
    switches: int = 0
    turn_s: float = 0.0
    cpu_s: float = 0.0
    seconds: float = 0.0
    received_bytes: int = 0


def token(server: livekit.LiveKitServer, room: str, identity: str, *, agent: bool = False) -> str:
    grants = api.VideoGrants(
        room_join=True, room=room, can_publish=not agent, can_subscribe=True, can_update_own_metadata=agent
    )
    builder = api.AccessToken(server.api_key, server.api_secret).with_identity(identity).with_grants(grants)
    if agent:
        builder = builder.with_kind("agent")
    return builder.to_jwt()


async def publisher(server: livekit.LiveKitServer, room: str, identity: str, seed: int) -> Publisher:
    lk = rtc.Room()
    await lk.connect(
        server.ws_url, token(server, room, identity), rtc.RoomOptions(auto_subscribe=False, dynacast=True)
    )
    mic = rtc.AudioSource(48_000, 1)
    await lk.local_participant.publish_track(
        rtc.LocalAudioTrack.create_audio_track(f"{identity}-mic", mic),
        rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE),
    )
    width, height, fps = CAMERA
    source = rtc.VideoSource(width, height)
    await lk.local_participant.publish_track(
        rtc.LocalVideoTrack.create_video_track(f"{identity}-cam", source),
        rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_CAMERA, simulcast=True),
    )
    pub = Publisher(identity=identity, room=lk, source=source)

    async def pump() -> None:
        n = seed * 37
        while True:
            rgb = pattern(width, height, n)
            rgba = np.dstack([rgb, np.full((height, width), 255, np.uint8)])
            source.capture_frame(rtc.VideoFrame(width, height, rtc.VideoBufferType.RGBA, rgba.tobytes()))
            n += 1
            await asyncio.sleep(1 / fps)

    pub.task = asyncio.create_task(pump(), name=f"camera-{identity}")
    return pub


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process and its children (the worker and its job processes)."""
    try:
        root = psutil.Process(pid)
        total = 0.0
        for proc in [root, *root.children(recursive=True)]:
            times = proc.cpu_times()
            total += times.user + times.system
        return total
    except psutil.NoSuchProcess:
        return 0.0


async def run_mode(
    server: livekit.LiveKitServer, mode: str, speakers: int, switches: int, every: float, log: Any
) -> ModeResult:
    broadcast_dir = Path(tempfile.mkdtemp(prefix="spaces-camera-switch-"))
    composer: AgentProcess = start_composer(
        ws_url=server.ws_url,
        api_key=server.api_key,
        api_secret=server.api_secret,
        broadcast_dir=broadcast_dir,
        env={**OUTPUT, "SPACES_COMPOSER_WARM_CAMERAS": "1" if mode == "warm" else "0"},
        name=f"composer-{mode}",
        log=log,
    )
    lkapi = api.LiveKitAPI(server.http_url, server.api_key, server.api_secret)
    room = f"space-{uuid.uuid4().hex[:12]}"
    identities = [f"speaker{i}" for i in range(speakers)]
    metadata = RoomMetadata(
        space_id=room,
        video="speakers",
        pinned=None,
        title="camera switch",
        host=identities[0],
        speakers=tuple(identities[1:]),
    )
    publishers: list[Publisher] = []
    stage_agent = rtc.Room()
    result = ModeResult(mode=mode)
    try:
        await lkapi.room.create_room(
            api.CreateRoomRequest(name=room, empty_timeout=60, metadata=metadata.to_json())
        )
        for i, identity in enumerate(identities):
            publishers.append(await publisher(server, room, identity, i))
        await stage_agent.connect(server.ws_url, token(server, room, "stage-agent", agent=True))

        async def show(seq: int, identity: str) -> None:
            stage = StageState(
                seq=seq, spotlight=identity, video_spotlight=identity, video_on=tuple(identities)
            )
            await stage_agent.local_participant.set_attributes({names.STAGE_ATTRIBUTE: stage.to_json()})

        await show(1, identities[0])
        await lkapi.agent_dispatch.create_dispatch(
            api.CreateAgentDispatchRequest(agent_name=names.COMPOSER_AGENT_NAME, room=room)
        )
        waited = 0.0
        while not any(COMPOSING.search(line) for line in composer.process.lines):
            if waited > JOIN_WAIT_S:
                raise RuntimeError(f"the {mode} composer did not take the job in {JOIN_WAIT_S:.0f} s")
            await asyncio.sleep(0.5)
            waited += 0.5
        await asyncio.sleep(SETTLE_S)
        lines_before = len(composer.process.lines)
        cpu_before, t0 = tree_cpu(composer.process.proc.pid), time.monotonic()
        for k in range(switches):
            await show(k + 2, identities[(k + 1) % speakers])
            await asyncio.sleep(every)
        result.cpu_s = tree_cpu(composer.process.proc.pid) - cpu_before
        result.seconds = time.monotonic() - t0
        result.switches = switches
        result.turn_s = every
        for line in list(composer.process.lines)[lines_before:]:
            if RENEWED.search(line):
                result.renewed += 1
            match = PICTURE.search(line)
            if match is None:
                continue
            _, which, seconds, lines = match.groups()
            if which == "first":
                result.first.append(float(seconds))
                result.first_lines.append(int(lines))
            elif float(seconds) < every:  # within its turn (the next switch's log may come late)
                result.full.append(float(seconds))
        return result
    finally:
        await stage_agent.disconnect()
        for pub in publishers:
            if pub.task is not None:
                pub.task.cancel()
            await pub.room.disconnect()
        try:
            await lkapi.room.delete_room(api.DeleteRoomRequest(room=room))
        except api.TwirpError:
            pass
        await lkapi.aclose()
        composer.stop()
        shutil.rmtree(broadcast_dir, ignore_errors=True)


def summary(r: ModeResult) -> dict[str, Any]:
    return {
        "mode": r.mode,
        "switches": r.switches,
        "first_picture_s": r.first,
        "full_picture_s": r.full,
        "first_picture_lines": r.first_lines,
        "renewed": r.renewed,
        "composer_cpu_s": round(r.cpu_s, 2),
        "seconds": round(r.seconds, 1),
    }


def with_misses(values: list[float], switches: int, turn_s: float) -> list[float]:
    """The distribution with every switch that never got there counted as its whole turn."""
    return values + [turn_s] * max(0, switches - len(values))


def table(results: list[ModeResult]) -> str:
    rows = [
        "| composer | first picture seen | card shown: median / p90 / max (s) | full picture seen "
        "| full picture: median / p90 / max (s), a miss = the turn | subscriptions renewed "
        "| first picture's lines (median) | composer CPU (cores) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        first = with_misses(r.first, r.switches, r.turn_s)
        full = with_misses(r.full, r.switches, r.turn_s)
        rows.append(
            f"| {r.mode} | {len(r.first)} of {r.switches} "
            f"| {pct(first, 50):.3f} / {pct(first, 90):.3f} / {max(first, default=float('nan')):.3f} "
            f"| {len(r.full)} of {r.switches} "
            f"| {pct(full, 50):.3f} / {pct(full, 90):.3f} / {max(full, default=float('nan')):.3f} "
            f"| {r.renewed} | {pct([float(x) for x in r.first_lines], 50):.0f} | {r.cpu_s / r.seconds:.2f} |"
        )
    return "\n".join(rows)


def plot(results: list[ModeResult], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    for r, style in zip(results, ("-", "--"), strict=False):
        for values, what in ((r.first, "first picture"), (r.full, "full picture")):
            values = with_misses(values, r.switches, r.turn_s)
            if values:
                xs = sorted(values)
                ys = [(i + 1) / len(xs) for i in range(len(xs))]
                ax.step(xs, ys, style, where="post", label=f"{r.mode}: {what}")
    ax.set_xlabel("seconds after the stage switched (a miss counts as the whole turn)")
    ax.set_ylabel("fraction of switches")
    ax.set_title("Broadcast big tile after a camera switch")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


async def main_async(args: argparse.Namespace) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with open(OUT / "camera_switch.log", "w") as log:
        server = livekit.start_local(api_key=names.DEV_API_KEY, api_secret=names.DEV_API_SECRET, log=log)
        try:
            results = [
                await run_mode(server, mode, args.speakers, args.switches, args.every, log)
                for mode in ("cold", "warm")
            ]
        finally:
            server.stop()
    (OUT / "camera_switch.json").write_text(json.dumps([summary(r) for r in results], indent=2))
    print(table(results))
    if args.no_docs:
        return
    plot(results, IMG / "broadcast-camera-switch.png")
    cold, warm = results
    body = "\n".join(
        [
            f"Command: `python -m bench.broadcast.camera_switch --switches {args.switches}` "
            f"({args.speakers} speakers, a switch every {args.every:g} s; cameras {CAMERA[0]}x{CAMERA[1]} "
            f"at {CAMERA[2]} fps with simulcast and dynacast, composer 1280x720 at 30 fps). "
            f"{machine_note()}.",
            "",
            table(results),
            "",
            f"Median time the card is shown after a switch: cold {pct(cold.first, 50):.3f} s, warm "
            f"{pct(warm.first, 50):.3f} s "
            f"({pct(cold.first, 50) / max(pct(warm.first, 50), 1e-3):.0f}x less); "
            f"full picture (a miss = the turn): cold "
            f"{pct(with_misses(cold.full, cold.switches, cold.turn_s), 50):.3f} s, warm "
            f"{pct(with_misses(warm.full, warm.switches, warm.turn_s), 50):.3f} s.",
            "",
            "![camera switch](img/broadcast-camera-switch.png)",
        ]
    )
    update_section("camera-switch", body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--switches", type=int, default=30)
    parser.add_argument("--speakers", type=int, default=3)
    parser.add_argument("--every", type=float, default=2.5, help="seconds between switches")
    parser.add_argument("--no-docs", action="store_true")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
