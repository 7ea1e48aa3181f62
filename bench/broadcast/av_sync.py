"""A/V sync of the composer's broadcast: how far the sound trails the picture in its HLS.

The latency benchmark's synthetic speaker (bench/broadcast/latency.py) shows a white flash and
plays a 1 kHz tone at the same instants, every `--period` seconds, through a real livekit-server,
the stage agent and the composer agent (`--composer-size`, 640x360 at 15 fps by default, as in the
latency run). The composer's segments are read back with PyAV: each event's first bright frame at
the big tile's centre and its tone onset (the first 5 ms block over RMS 0.05 after 0.5 s of quiet),
by presentation time. Offset = tone - flash; positive: the sound is late.

The speaker itself sends the flash up to a frame after the tone's first sample (its frames are on
its own 15 fps grid), and the SFU's receive path delivers audio later than video (a Python SDK
subscriber sees 60-90 ms here); both are in the figure, as a viewer gets them.

    python -m bench.broadcast.av_sync --seconds 60

Prints each event's offset, the median and the spread, with the machine's load average.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import av
import numpy as np

from bench.broadcast import latency
from bench.broadcast.report import machine_note, pct
from composer import settings
from composer.hls import parse_playlist
from composer.layout import Geometry
from contract import names
from devstack import livekit
from tests.support.agent_process import start_agent, start_composer
from tests.support.synthetic_speakers import join_token

START_S = 8.0  # first event after the speaker joins: the composer's job has started by then
BRIGHT = 200  # big tile centre mean for a flash; the speaker's pattern stays under 100
TONE_RMS = 0.05
QUIET_S = 0.5
BLOCK = 240  # 5 ms at 48 kHz


def flashes_and_tones(space_dir: Path, width: int, height: int) -> tuple[list[float], list[float]]:
    """Presentation times of each flash's first frame and each tone's onset in the HLS."""
    playlist = parse_playlist((space_dir / "index.m3u8").read_text())
    cx, cy = Geometry.for_size(width, height).big.centre
    flashes: list[float] = []
    audio: list[tuple[float, np.ndarray]] = []
    bright_before = False
    for segment in playlist.segments:
        with av.open(str(space_dir / segment.uri)) as container:
            for frame in container.decode(*container.streams.video, *container.streams.audio):
                assert frame.pts is not None and frame.time_base is not None
                at = float(frame.pts * frame.time_base)
                if isinstance(frame, av.VideoFrame):
                    rgb = frame.to_ndarray(format="rgb24")
                    bright = rgb[cy - 8 : cy + 8, cx - 8 : cx + 8].mean() > BRIGHT
                    if bright and not bright_before:
                        flashes.append(at)
                    bright_before = bright
                else:
                    audio.append((at, frame.to_ndarray().reshape(-1)))
    tones: list[float] = []
    loud_at = -1e9
    for start, pcm in audio:
        for i in range(0, len(pcm), BLOCK):
            at = start + i / 48000
            if np.sqrt(np.mean(pcm[i : i + BLOCK] ** 2)) > TONE_RMS:
                if at - loud_at > QUIET_S:
                    tones.append(at)
                loud_at = at
    return flashes, tones


def offsets(flashes: list[float], tones: list[float]) -> list[float]:
    """tone - flash for each flash with a tone onset within a second of it."""
    out = []
    for flash in flashes:
        near = [t for t in tones if abs(t - flash) < 1.0]
        if near:
            out.append(near[0] - flash)
    return out


def run(seconds: float, period: float, size: str, out: Path) -> list[float]:
    width, height, fps = (int(v) for v in size.split("x"))
    server = livekit.start_local(api_key=names.DEV_API_KEY, api_secret=names.DEV_API_SECRET)
    agents = []
    try:
        key, secret = server.api_key, server.api_secret
        agents.append(start_agent(ws_url=server.ws_url, api_key=key, api_secret=secret, name="stage-agent"))
        env = {settings.WIDTH_ENV: str(width), settings.HEIGHT_ENV: str(height), settings.FPS_ENV: str(fps)}
        agents.append(
            start_composer(ws_url=server.ws_url, api_key=key, api_secret=secret, broadcast_dir=out, env=env)
        )
        asyncio.run(latency.open_space(server, dispatch=True))
        start = time.time()
        count = int((seconds - START_S) // period)
        sched = latency.Schedule(t0=start + START_S, period=period, count=count)
        token = join_token(key, secret, room=latency.SPACE, identity="speaker-1", role="host")
        asyncio.run(latency.speaker(server.ws_url, token, sched, start + seconds, [], latency.Emitted()))
        time.sleep(3)  # the last segments
    finally:
        for agent in agents:
            agent.kill()
        server.stop()
    return offsets(*flashes_and_tones(out / latency.SPACE, width, height))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--period", type=float, default=3.0)
    parser.add_argument("--composer-size", default="640x360x15", help="WxHxFPS of the composer's output")
    parser.add_argument("--out", type=Path, help="where the composer writes its HLS (default: a temp dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="av-sync-") as tmp:
        found = run(args.seconds, args.period, args.composer_size, args.out or Path(tmp))
    ms = [round(1000 * x) for x in found]
    print("tone - flash (ms):", " ".join(f"{x:+d}" for x in ms))
    if ms:
        print(
            f"events {len(ms)}: median {statistics.median(ms):+.0f} ms, p10 {pct(ms, 10):+.0f}, "
            f"p90 {pct(ms, 90):+.0f}, min / max {min(ms):+d} / {max(ms):+d}"
        )
    print(machine_note())


if __name__ == "__main__":
    main()
