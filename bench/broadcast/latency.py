"""Glass-to-glass latency: speaker to HLS viewer in the real headless Chromium, WebRTC beside it.

A synthetic speaker shows a white flash and plays a 1 kHz tone burst (250 ms each) every
`--period` seconds at known epoch times. The probe page (bench/broadcast/latency_page.html) plays
the broadcast with hls.js, with the web page's live settings, through a CDN edge (Debian's nginx,
tests/support/nginx_cdn.py) and, beside it, the speaker's tracks over WebRTC from a real
livekit-server with livekit-client; it detects each flash (centre of the picture, where the big
tile is; requestVideoFrameCallback's expected display time) and each burst (WebAudio, 256-sample
blocks) and reports when, on this machine's clock. Latency = detection - emission.

Sources of the broadcast (`--source`):
- `pyav` (default): the speaker's pictures and sound are encoded straight into HLS by
  bench/broadcast/live_source.py (PyAV libx264 + AAC, FFmpeg's HLS muxer, 1 s segments, EVENT
  playlist): everything from the encoder to the viewer's screen is real (segmenting, the
  origin's cache headers, the edge's cache, hls.js' hold-back and playlist reloads), but the
  speaker -> SFU -> composer hop and the composer's own mixing and rendering are not in it;
- `composer`: the same speaker publishes to livekit-server only; the composer agent
  (`python -m composer start`, branch composer-agent) composes the Space into HLS on disk; the
  stage agent decides the spotlight. Needs the whole pipeline in this checkout.

    python -m bench.broadcast.latency --seconds 100

Results: the `latency` block of docs/bench/broadcast.md and docs/bench/img/broadcast-latency.png.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from livekit import api, rtc

from bench.broadcast.live_source import SAMPLE_RATE, SourceConfig, pattern
from bench.broadcast.live_source import run as run_source
from bench.broadcast.report import IMG, OUT, ROOT, machine_note, pct, update_section
from contract import names
from devstack import livekit
from tests.support.hls_origin import origin_process
from tests.support.nginx_cdn import nginx_cdn
from tests.support.synthetic_speakers import join_token

PAGE = Path(__file__).with_name("latency_page.html")
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
WIDTH, HEIGHT, FPS = 640, 360, 15
BURST_S = 0.25
TONE_HZ = 1000.0
AUDIO_FRAME = 960  # 20 ms at 48 kHz
SPACE = "space-latency"


@dataclass(frozen=True)
class Schedule:
    """Flash + tone burst every `period` seconds from epoch time `t0`, each `BURST_S` long."""

    t0: float
    period: float
    count: int

    def times(self) -> list[float]:
        return [self.t0 + k * self.period for k in range(self.count)]

    def active(self, wall: np.ndarray | float) -> np.ndarray:
        rel = np.asarray(wall, dtype=np.float64) - self.t0
        k = np.floor(rel / self.period)
        return (rel >= 0) & (k < self.count) & (rel - k * self.period < BURST_S)

    def match(self, detected: float) -> tuple[int, float] | None:
        """The event a detection belongs to: the latest emitted before it, within one period."""
        k = math.floor((detected - self.t0) / self.period)
        if k < 0 or k >= self.count:
            return None
        return k, detected - (self.t0 + k * self.period)


class Emitted:
    """When the first frame / samples of each event were actually handed to an encoder or the SDK.

    Latency is measured from there: on a loaded machine a producer can run late, and a frame
    handed over late is a frame captured late. Each producer process writes its own to a file.
    """

    def __init__(self) -> None:
        self.at: dict[tuple[str, int], float] = {}

    def mark(self, kind: str, sched: Schedule, wall: float, active: bool) -> None:
        if active:
            k = math.floor((wall - sched.t0) / sched.period)
            self.at.setdefault((kind, k), time.time())

    def dump(self, path: Path) -> None:
        path.write_text(json.dumps([[kind, k, t] for (kind, k), t in self.at.items()]))

    @staticmethod
    def load(path: Path) -> dict[tuple[str, int], float]:
        if not path.exists():
            return {}
        return {(kind, int(k)): float(t) for kind, k, t in json.loads(path.read_text())}


def picture(sched: Schedule, n: int, wall: float) -> np.ndarray:
    if bool(sched.active(wall)):
        return np.full((HEIGHT, WIDTH, 3), 255, dtype=np.uint8)
    return pattern(WIDTH, HEIGHT, n) // 3  # dark, so the centre never looks like a flash


def sound(sched: Schedule, wall: float, count: int) -> np.ndarray:
    t = wall + np.arange(count) / SAMPLE_RATE
    tone = 0.5 * np.sin(2 * np.pi * TONE_HZ * t)
    return (np.where(sched.active(t), tone, 0.0) * 32767).astype(np.int16)


async def speaker(
    url: str, token: str, sched: Schedule, until: float, lag: list[float], emitted: Emitted
) -> None:
    """Publish camera and microphone in real time, paced on the wall clock of the schedule."""
    room = rtc.Room()
    await room.connect(url, token)
    vsrc = rtc.VideoSource(WIDTH, HEIGHT)
    asrc = rtc.AudioSource(SAMPLE_RATE, 1, queue_size_ms=60)
    cam = rtc.LocalVideoTrack.create_video_track("camera", vsrc)
    mic = rtc.LocalAudioTrack.create_audio_track("microphone", asrc)
    await room.local_participant.publish_track(
        cam, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_CAMERA)
    )
    await room.local_participant.publish_track(
        mic, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
    )
    base = math.ceil(time.time() * 50) / 50
    n_audio = n_video = 0
    try:
        while time.time() < until:
            a_at = base + n_audio * AUDIO_FRAME / SAMPLE_RATE
            v_at = base + n_video / FPS
            at = min(a_at, v_at)
            await asyncio.sleep(max(0.0, at - time.time()))
            if a_at <= v_at:
                pcm = sound(sched, a_at, AUDIO_FRAME)
                emitted.mark("tone", sched, a_at, bool(pcm.any()))
                await asrc.capture_frame(rtc.AudioFrame(pcm.tobytes(), SAMPLE_RATE, 1, AUDIO_FRAME))
                lag.append(time.time() - a_at)
                n_audio += 1
            else:
                rgba = np.dstack([picture(sched, n_video, v_at), np.full((HEIGHT, WIDTH), 255, np.uint8)])
                emitted.mark("flash", sched, v_at, bool(sched.active(v_at)))
                vsrc.capture_frame(rtc.VideoFrame(WIDTH, HEIGHT, rtc.VideoBufferType.RGBA, rgba.tobytes()))
                n_video += 1
    finally:
        await room.disconnect()


def node_file(rel: str, override: Path | None) -> Path:
    roots = [override] if override else []
    roots.append(ROOT / "web" / "node_modules")
    for root in roots:
        if root is not None and (root / rel).is_file():
            return root / rel
    raise SystemExit(f"{rel} not found under {roots}: run `cd web && npm ci` (hls.js and livekit-client)")


async def probe(page_url: str, until: float) -> dict[str, Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--autoplay-policy=no-user-gesture-required",
                "--disable-background-timer-throttling",
                "--disable-renderer-backgrounding",
            ],
        )
        try:
            page = await browser.new_page()
            page.on(
                "console", lambda m: print("page:", m.text, file=sys.stderr) if m.type == "error" else None
            )
            await page.goto(page_url)
            while time.time() < until:
                await asyncio.sleep(1.0)
            result: dict[str, Any] = await page.evaluate(
                "({events: window.__events, status: window.__status, behind: window.__behind})"
            )
            return result
        finally:
            await browser.close()


def summarize(
    events: list[dict[str, Any]],
    emitted: dict[str, dict[tuple[str, int], float]],
    period: float,
    first_k: int,
) -> dict[str, dict[str, Any]]:
    """Each detection is matched to the latest hand-over of that signal on that path before it."""
    out: dict[str, dict[str, Any]] = {}
    for path in ("hls", "webrtc"):
        for kind in ("flash", "tone"):
            sent = sorted(
                (t, k) for (kd, k), t in emitted.get(path, {}).items() if kd == kind and k >= first_k
            )
            lat: dict[int, float] = {}
            stray = 0
            for e in events:
                if e["path"] != path or e["kind"] != kind:
                    continue
                d = e["t"] / 1000
                before = [(t, k) for t, k in sent if t <= d]
                if not before or d - before[-1][0] >= period:
                    stray += 1
                    continue
                t, k = before[-1]
                lat.setdefault(k, d - t)
            vals = [lat[k] for _, k in sent if k in lat]
            out[f"{path}/{kind}"] = {
                "n": len(vals),
                "events": len(sent),
                "missed": len(sent) - len(vals),
                "stray": stray,
                "p50": pct(vals, 50),
                "p90": pct(vals, 90),
                "min": min(vals, default=math.nan),
                "max": max(vals, default=math.nan),
                "values": vals,
            }
    return out


def produce_hls(args: argparse.Namespace) -> None:
    """Role `hls-source` (own process): encode the speaker's flashes and bursts into live HLS."""
    sched = Schedule(args.t0, args.period, args.count)
    emitted = Emitted()

    def frame(n: int, wall: float) -> np.ndarray:
        emitted.mark("flash", sched, wall, bool(sched.active(wall)))
        return picture(sched, n, wall)

    def audio(wall: float, pcm: np.ndarray) -> np.ndarray:
        out = sound(sched, wall, len(pcm))
        emitted.mark("tone", sched, wall, bool(out.any()))
        return out

    cfg = SourceConfig(
        out=args.out, segment_seconds=args.segment, width=WIDTH, height=HEIGHT, fps=FPS, video_kbps=800
    )
    try:
        run_source(cfg, seconds=args.until - time.time(), frame_hook=frame, audio_hook=audio)
    finally:
        emitted.dump(args.emitted)


def produce_webrtc(args: argparse.Namespace) -> None:
    """Role `speaker` (own process): publish the same flashes and bursts to livekit-server."""
    sched = Schedule(args.t0, args.period, args.count)
    emitted = Emitted()
    lag: list[float] = []
    try:
        asyncio.run(speaker(args.url, args.token, sched, args.until, lag, emitted))
    finally:
        emitted.dump(args.emitted)
        Path(str(args.emitted) + ".lag").write_text(json.dumps({"p50": pct(lag, 50), "p99": pct(lag, 99)}))


def child(role: str, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "bench.broadcast.latency", "--role", role, *extra], cwd=ROOT
    )


def run(args: argparse.Namespace) -> dict[str, Any]:
    hls_js = node_file("hls.js/dist/hls.min.js", args.node_modules)
    lk_js = node_file("livekit-client/dist/livekit-client.umd.js", args.node_modules)
    with tempfile.TemporaryDirectory(prefix="latency-") as tmp_name:
        tmp = Path(tmp_name)
        root = tmp / "origin"
        (root / "probe").mkdir(parents=True)
        shutil.copy(PAGE, root / "probe" / "latency.html")
        shutil.copy(hls_js, root / "probe" / "hls.min.js")
        shutil.copy(lk_js, root / "probe" / "livekit-client.umd.js")
        server = livekit.start_local(api_key=names.DEV_API_KEY, api_secret=names.DEV_API_SECRET)
        procs: list[subprocess.Popen[bytes]] = []
        agents: list[Any] = []
        try:
            if args.source == "composer":
                agents = start_pipeline(server, root, args)
            asyncio.run(open_space(server, dispatch=args.source == "composer"))
            start = time.time()
            count = int((args.seconds - args.warmup) // args.period)
            sched = Schedule(t0=start + args.warmup, period=args.period, count=count)
            until = start + args.seconds + args.period
            timing = [
                "--t0",
                repr(sched.t0),
                "--period",
                repr(sched.period),
                "--count",
                str(count),
                "--until",
                repr(until),
            ]
            if args.source == "pyav":
                procs.append(
                    child(
                        "hls-source",
                        "--out",
                        str(root / SPACE),
                        "--segment",
                        str(args.segment),
                        "--emitted",
                        str(tmp / "hls.json"),
                        *timing,
                    )
                )
            speaker_token = join_token(
                server.api_key, server.api_secret, room=SPACE, identity="speaker-1", role="host"
            )
            procs.append(
                child(
                    "speaker",
                    "--url",
                    server.ws_url,
                    "--token",
                    speaker_token,
                    "--emitted",
                    str(tmp / "webrtc.json"),
                    *timing,
                )
            )
            listener = join_token(
                server.api_key, server.api_secret, room=SPACE, identity="probe-listener", role="listener"
            )
            with origin_process(root) as origin, nginx_cdn(origin, tmp / "edge") as edge:
                playlist = root / SPACE / names.BROADCAST_PLAYLIST
                while not playlist.exists() and time.time() < until:
                    time.sleep(0.1)
                query = f"hls={edge}/{SPACE}/index.m3u8&lk={server.ws_url}&token={listener}"
                url = f"{edge}/probe/latency.html?{query}"
                result = asyncio.run(probe(url, until))
            for p in procs[-1:]:
                p.wait(timeout=30)
        finally:
            for p in procs:
                if p.poll() is None:
                    p.terminate()
                    p.wait(timeout=15)
            for agent in agents:
                agent.kill()
            server.stop()
        speaker_sent = Emitted.load(tmp / "webrtc.json")
        # With the composer, the speaker's one hand-over to the SDK is the start of both paths.
        hls_sent = Emitted.load(tmp / "hls.json") if args.source == "pyav" else speaker_sent
        emitted = {"hls": hls_sent, "webrtc": speaker_sent}
        lag_file = Path(str(tmp / "webrtc.json") + ".lag")
        result["speaker_lag_s"] = json.loads(lag_file.read_text()) if lag_file.exists() else None
    first_k = math.ceil(args.settle / args.period)
    result["schedule"] = {"t0": sched.t0, "period": sched.period, "count": sched.count, "first_k": first_k}
    result["emitted"] = {p: [[kd, k, t] for (kd, k), t in e.items()] for p, e in emitted.items()}
    result["handover_late_s"] = {
        p: pct([t - (sched.t0 + k * sched.period) for (_, k), t in e.items()], 50) for p, e in emitted.items()
    }
    result["summary"] = summarize(result["events"], emitted, sched.period, first_k)
    return result


def start_pipeline(server: livekit.LiveKitServer, root: Path, args: argparse.Namespace) -> list[Any]:
    """The stage agent and the composer agent, the composer writing into the origin's directory.

    The composer's picture is made smaller than the product's 720p30 (`--composer-size`) so that
    it keeps real time on the shared 2-core machine next to the SFU, the browser and the speaker.
    """
    if not (ROOT / "composer" / "__main__.py").is_file():
        raise SystemExit("--source composer needs the composer agent (composer/__main__.py) in this checkout")
    from composer import settings
    from tests.support.agent_process import start_agent, start_composer

    w, h, fps = args.composer_size.split("x")
    key, secret = server.api_key, server.api_secret
    stage = start_agent(ws_url=server.ws_url, api_key=key, api_secret=secret, name="stage-agent")
    composer = start_composer(
        ws_url=server.ws_url,
        api_key=key,
        api_secret=secret,
        broadcast_dir=root,
        env={
            settings.WIDTH_ENV: w,
            settings.HEIGHT_ENV: h,
            settings.FPS_ENV: fps,
            settings.SEGMENT_SECONDS_ENV: str(args.segment),
        },
    )
    return [stage, composer]


async def open_space(server: livekit.LiveKitServer, *, dispatch: bool) -> None:
    from contract.room_metadata import RoomMetadata

    lkapi = api.LiveKitAPI(server.http_url, server.api_key, server.api_secret)
    try:
        meta = RoomMetadata(space_id=SPACE, video="speakers", pinned=None, title="Latency").to_json()
        await lkapi.room.create_room(api.CreateRoomRequest(name=SPACE, empty_timeout=120, metadata=meta))
        for agent in (names.AGENT_NAME, names.COMPOSER_AGENT_NAME) if dispatch else ():
            await lkapi.agent_dispatch.create_dispatch(
                api.CreateAgentDispatchRequest(agent_name=agent, room=SPACE)
            )
    finally:
        await lkapi.aclose()


def table(summary: dict[str, dict[str, Any]]) -> str:
    lines = [
        "| path | signal | median | p90 | min / max | detected / emitted | goal |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, s in summary.items():
        path, kind = key.split("/")
        goal = "median ≤ 4 s, p90 ≤ 5 s" if path == "hls" else "(beside it)"
        label = "HLS (hls.js via nginx edge)" if path == "hls" else "WebRTC (livekit-client)"
        lines.append(
            f"| {label} | {'white flash' if kind == 'flash' else 'tone burst'} | **{s['p50']:.2f} s** "
            f"| {s['p90']:.2f} s | {s['min']:.2f} / {s['max']:.2f} s | {s['n']} / {s['events']} | {goal} |"
        )
    return "\n".join(lines)


def plot(summary: dict[str, dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for key, s in summary.items():
        vals = sorted(s["values"])
        if vals:
            ax.step(vals, [(i + 1) / len(vals) for i in range(len(vals))], where="post", label=key)
    ax.axvline(4.0, color="grey", ls="--", lw=0.8)
    ax.set_xlabel("glass-to-glass latency (s)")
    ax.set_ylabel("fraction of events")
    ax.set_title("speaker → viewer: HLS through a caching edge vs WebRTC")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--seconds", type=float, default=100.0)
    ap.add_argument(
        "--period",
        type=float,
        default=None,
        help="seconds between events, > the worst latency (7; composer: 12)",
    )
    ap.add_argument("--warmup", type=float, default=8.0, help="no events before this")
    ap.add_argument("--settle", type=float, default=6.0, help="events in the first seconds are not scored")
    ap.add_argument("--segment", type=float, default=1.0)
    ap.add_argument("--source", choices=("pyav", "composer"), default="pyav")
    ap.add_argument(
        "--composer-size", default="640x360x15", help="composer output WxHxFPS (--source composer)"
    )
    ap.add_argument("--node-modules", type=Path, default=None, help="where hls.js and livekit-client are")
    ap.add_argument(
        "--tag", default="", help="suffix of the result block, JSON and plot (a second run kept beside)"
    )
    ap.add_argument("--no-doc", action="store_true")
    ap.add_argument("--resummarize", type=Path, default=None, help="score a saved bench/out JSON again")
    # Internal: the producer processes.
    ap.add_argument("--role", choices=("hls-source", "speaker"), default=None, help=argparse.SUPPRESS)
    for name in ("--t0", "--until"):
        ap.add_argument(name, type=float, help=argparse.SUPPRESS)
    ap.add_argument("--count", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--emitted", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    ap.add_argument("--token", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.period is None:
        args.period = 12.0 if args.source == "composer" else 7.0
    if args.role == "hls-source":
        produce_hls(args)
        return
    if args.role == "speaker":
        produce_webrtc(args)
        return
    if args.resummarize is not None:
        # Score a saved run again (same events, same hand-overs), e.g. after changing the matcher.
        result = json.loads(args.resummarize.read_text())
        em = {p: {(kd, int(k)): float(t) for kd, k, t in rows} for p, rows in result["emitted"].items()}
        if args.source == "composer":
            em["hls"] = em["webrtc"]
        sch = result["schedule"]
        result["summary"] = summarize(result["events"], em, sch["period"], sch["first_k"])
        result["handover_late_s"] = {
            p: pct([t - (sch["t0"] + k * sch["period"]) for (_, k), t in e.items()], 50)
            for p, e in em.items()
        }
    else:
        result = run(args)
    result.setdefault("machine", machine_note())
    OUT.mkdir(parents=True, exist_ok=True)
    name = f"latency-{args.source}" + (f"-{args.tag}" if args.tag else "")
    (OUT / f"{name}.json").write_text(json.dumps(result))
    summary = result["summary"]
    print(
        json.dumps(
            {k: {kk: vv for kk, vv in v.items() if kk != "values"} for k, v in summary.items()}, indent=1
        )
    )
    print(
        "status:",
        result["status"],
        "speaker lag:",
        result["speaker_lag_s"],
        "late:",
        result["handover_late_s"],
    )
    if args.no_doc:
        return
    note = result.setdefault("machine", machine_note())
    size = f" --composer-size {args.composer_size}" if args.source == "composer" else ""
    tag = f" --tag {args.tag}" if args.tag else ""
    rescored = " (scored again from its saved events with `--resummarize`)" if args.resummarize else ""
    behind = [b[1] / 1000 for b in result["behind"]]
    late = ", ".join(f"{p} {v:.2f} s" for p, v in result["handover_late_s"].items())
    body = (
        f"Command: `python -m bench.broadcast.latency --seconds {args.seconds:g} --period {args.period:g} "
        f"--source {args.source}{size}{tag}`{rescored} ({note}). Events every {args.period:g} s, the first "
        f"{args.settle:g} s after the first event not scored (the player's start). hls.js' own view "
        f"(now - PROGRAM-DATE-TIME of the playhead, every 500 ms): median {pct(behind, 50):.2f} s, "
        f"p90 {pct(behind, 90):.2f} s; hls.js stalls (`bufferStalledError`): "
        f"{result['status'].get('hls_stalls', 'not counted')}. Latency is measured from the moment "
        "each event's first frame or samples were handed to the encoder (HLS) or the SDK (WebRTC); "
        "on this loaded machine those "
        f"producers ran behind their schedule by (median) {late}.\n\n" + table(summary)
    )
    update_section(name, body)
    plot(summary, IMG / f"broadcast-{name}.png")


if __name__ == "__main__":
    main()
