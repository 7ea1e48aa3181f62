"""Composer CPU per Space at real time: audio-only, 720p30 alone and 720p30 with its 360p rendition
(docs/broadcast.md, "Renditions"), with the breakdown.

One simulated Space is fed in real time for `--seconds`: three speakers' microphones (Opus, 20 ms
packets) and the spotlight speaker's camera (VP8 1280x720 at 30 fps, what LiveKit's web client
publishes by default), through the composer's own parts:

- **decode**: PyAV's libopus and libvpx decoders plus the conversion to RGB. In the composer agent
  the LiveKit SDK decodes in libwebrtc with the same libraries, so this is a stand-in for that
  part, measured the same way;
- **mix**: composer/mixer.py (per-track jitter buffers summed into 48 kHz mono);
- **compose**: composer/layout.py + composer/render.py (the stage's picture, the camera scaled
  into the big tile, a stage change every 5 s);
- **encode, mux, upload**: composer.hls.Broadcast's own per-stage counters (`Broadcast.stats`:
  RGB->YUV conversion, libx264, AAC, MPEG-TS muxing, the DiskSink write);
- **other**: the process' CPU time (getrusage) minus all of the above: the real-time loop, Python,
  GC, the publisher thread's waiting.

    python -m bench.broadcast.composer_cpu --seconds 60

Result: the `composer-cpu` block of docs/bench/broadcast.md.
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import av
import numpy as np

from bench.broadcast.live_source import pattern
from bench.broadcast.report import OUT, machine_note, update_section
from composer.hls.broadcast import Broadcast
from composer.hls.config import BroadcastConfig, LowRendition
from composer.hls.sinks import DiskSink
from composer.layout import Geometry, Speaker, compose
from composer.mixer import Mixer
from composer.render import Renderer
from contract.stage import Speaking, StageState

SR = 48_000
MIC_FRAME = 960  # 20 ms
SPEAKERS = (
    Speaker("host-ana", "Ana Host", "host", has_camera=True),
    Speaker("bo", "Bo Speaker", "speaker", has_camera=True),
    Speaker("cy", "Cy Speaker", "speaker", has_camera=False),
)
CAMERA = (1280, 720, 30)
STAGE_EVERY_S = 5.0


@dataclass
class Timers:
    cpu: dict[str, float] = field(default_factory=lambda: {"decode": 0.0, "mix": 0.0, "compose": 0.0})

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        t0 = time.thread_time()
        try:
            yield
        finally:
            self.cpu[name] += time.thread_time() - t0


def voice(seconds: float, hz: float, seed: int) -> np.ndarray:
    """A speech-like test signal: a pitched tone with syllable-rate amplitude and some noise."""
    t = np.arange(int(seconds * SR)) / SR
    env = 0.5 + 0.5 * np.sin(2 * np.pi * 4 * t) ** 2
    rng = np.random.default_rng(seed)
    sig = env * (0.25 * np.sin(2 * np.pi * hz * t) + 0.02 * rng.standard_normal(len(t)))
    return (sig * 32767).astype(np.int16)


def opus_packets(pcm: np.ndarray) -> list[av.Packet]:
    enc = av.CodecContext.create("libopus", "w")
    enc.sample_rate, enc.layout, enc.format = SR, "mono", "s16"
    enc.bit_rate = 32_000
    enc.time_base = Fraction(1, SR)
    packets: list[av.Packet] = []
    for i in range(0, len(pcm) - MIC_FRAME + 1, MIC_FRAME):
        f = av.AudioFrame.from_ndarray(pcm[i : i + MIC_FRAME].reshape(1, -1), format="s16", layout="mono")
        f.sample_rate, f.pts, f.time_base = SR, i, Fraction(1, SR)
        packets += enc.encode(f)
    return packets


def vp8_packets(seconds: float) -> list[av.Packet]:
    w, h, fps = CAMERA
    out = av.open(io.BytesIO(), "w", format="webm")
    s = out.add_stream("libvpx", rate=fps)
    s.width, s.height, s.pix_fmt, s.bit_rate = w, h, "yuv420p", 1_700_000
    s.codec_context.options = {"deadline": "realtime", "cpu-used": "8", "g": str(fps * int(seconds))}
    packets: list[av.Packet] = []
    for n in range(int(seconds * fps)):
        vf = av.VideoFrame.from_ndarray(pattern(w, h, n), format="rgb24")
        vf.pts = n
        packets += s.encode(vf)
    packets += s.encode(None)
    return packets


def stage_at(k: int, video: bool) -> StageState:
    holder = SPEAKERS[k % 2].identity
    return StageState(
        seq=k,
        spotlight=holder,
        video_spotlight=holder if video else None,
        speaking=(Speaking(holder, 0.8),),
        video_on=("host-ana", "bo") if video else (),
    )


def run(video: bool, seconds: float, low: bool = True, sound: bool = True) -> dict[str, Any]:
    timers = Timers()
    mics = [opus_packets(voice(4.0, 110 + 40 * i, i)) for i in range(len(SPEAKERS))]
    cam = vp8_packets(2.0) if video else []
    mic_dec = [av.CodecContext.create("libopus", "r") for _ in SPEAKERS]
    for d in mic_dec:
        d.sample_rate, d.layout = SR, "mono"
    cam_dec = av.CodecContext.create("libvpx", "r") if video else None
    mixer = Mixer(chunk_ms=MIC_FRAME * 1000 // SR)
    cfg = BroadcastConfig(video=video, low_rendition=LowRendition() if low else None, audio_rendition=sound)
    geometry = Geometry.for_size(cfg.width, cfg.height)
    renderer = Renderer(geometry)
    camera_rgb: np.ndarray | None = None
    layout = None
    k_stage = -1

    with tempfile.TemporaryDirectory(prefix="composer-cpu-") as tmp:
        bc = Broadcast(cfg, DiskSink(tmp), space_id="bench", epoch_ms=int(time.time() * 1000))
        ru0 = resource.getrusage(resource.RUSAGE_SELF)
        start = time.perf_counter()
        n_audio = n_video = 0
        late_max = 0.0
        while True:
            now = time.perf_counter() - start
            media = n_video / CAMERA[2] if video else n_audio * MIC_FRAME / SR
            # Stop on media time: on a machine too busy to keep real time, the run still covers
            # `seconds` of input and the CPU per media second is what a dedicated core would need.
            if media >= seconds:
                break
            # Audio never runs ahead of the video by more than a frame: when the machine cannot give
            # the process real time, both streams slow down together, as one composer's would.
            audio_until = now if not video else min(now, n_video / CAMERA[2])
            # 20 ms of every microphone: decode, mix, push.
            while n_audio * MIC_FRAME <= audio_until * SR:
                with timers.stage("decode"):
                    for i, dec in enumerate(mic_dec):
                        pkt = mics[i][n_audio % len(mics[i])]
                        for fr in dec.decode(pkt):
                            mixer.push(SPEAKERS[i].identity, fr.to_ndarray().reshape(-1).astype(np.int16))
                with timers.stage("mix"):
                    # The output clock pulls one chunk per 20 ms, as the composer's audio loop does.
                    mix = mixer.pull()
                bc.push_audio(mix)
                n_audio += 1
            if video:
                while n_video <= now * CAMERA[2] and n_video < seconds * CAMERA[2]:
                    k = int(n_video / CAMERA[2] / STAGE_EVERY_S)
                    with timers.stage("compose"):
                        if k != k_stage:
                            k_stage = k
                            layout = compose(
                                stage_at(k, True),
                                SPEAKERS,
                                title="Bench Space",
                                video="speakers",
                                geometry=geometry,
                            )
                    assert cam_dec is not None
                    with timers.stage("decode"):
                        for vfr in cam_dec.decode(cam[n_video % len(cam)]):
                            assert isinstance(vfr, av.VideoFrame)
                            rgb = vfr.to_ndarray(format="rgb24")
                    with timers.stage("compose"):
                        camera_rgb = renderer.fit_camera(rgb)
                        assert layout is not None
                        frame = renderer.render(layout, camera_rgb)
                    bc.push_video(frame)
                    n_video += 1
                late_max = max(late_max, now - n_video / CAMERA[2])
            nxt = min((n_audio * MIC_FRAME) / SR, n_video / CAMERA[2] if video else 1e9)
            time.sleep(max(0.0, nxt - (time.perf_counter() - start)))
        wall = time.perf_counter() - start
        ru1 = resource.getrusage(resource.RUSAGE_SELF)
        bc.close(ended=True)
        stats = bc.stats
    total = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
    media = n_video / CAMERA[2] if video else n_audio * MIC_FRAME / SR
    stages = {name: s.cpu_s for name, s in stats.stages.items()}
    parts = {
        "decode": timers.cpu["decode"],
        "mix": timers.cpu["mix"],
        "compose": timers.cpu["compose"],
        "convert (RGB→YUV)": stages.get("convert_video", 0.0),
        "encode video": stages.get("encode_video", 0.0),
        "scale low": stages.get("scale_low", 0.0),
        "encode low": stages.get("encode_low", 0.0),
        "encode audio": stages.get("encode_audio", 0.0),
        "mux": stages.get("mux", 0.0),
        "upload": stages.get("upload", 0.0),
    }
    parts["other"] = max(0.0, total - sum(parts.values()))
    return {
        "video": video,
        "low": video and low,
        "sound": video and low and sound,
        "wall_s": wall,
        "cpu_s": total,
        "media_s": media,
        "realtime": media / wall,
        "cores": total / media,
        "parts_cores": {k: v / media for k, v in parts.items()},
        "frames": n_video,
        "fps": n_video / wall,
        "audio_rt": n_audio * MIC_FRAME / SR / wall,
        "late_max_s": late_max,
        "segments": stats.segments_written,
        "bytes": stats.bytes_written,
    }


def table(results: list[dict[str, Any]]) -> str:
    names = list(results[0]["parts_cores"])
    cols = ["broadcast", "goal", "**cores**", *names, "media s / wall s", "segments", "kbit/s written", "run"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in results:
        goal = "≤ 1" if r["video"] else "≤ 0.05"
        label = "audio-only AAC"
        if r["video"]:
            label = "720p30 H.264 + AAC, one rendition"
            if r.get("low"):
                label = (
                    "720p30 + 360p30 + the sound alone" if r.get("sound") else "720p30 + 360p30 H.264 + AAC"
                )
        cells = " | ".join(f"{r['parts_cores'][n]:.3f}" for n in names)
        kbps = r["bytes"] * 8 / 1000 / r["media_s"]
        rt = f"{r['media_s']:.0f} / {r['wall_s']:.0f}"
        note = r.get("note")
        when = f"{note.split(',')[0]}, load {note.split('load average ')[-1].split(' (')[0]}" if note else "–"
        tail = f"| {rt} | {r['segments']} | {kbps:.0f} | {when} |"
        lines.append(f"| {label} | {goal} | **{r['cores']:.3f}** | {cells} {tail}")
    return "\n".join(lines)


def ratio(results: list[dict[str, Any]]) -> str:
    """The low rendition's cost, from the two video rows of the same run."""
    one = next((r for r in results if r["video"] and not r.get("low")), None)
    two = next((r for r in results if r.get("low") and not r.get("sound")), None)
    three = next((r for r in results if r.get("low") and r.get("sound")), None)
    text = ""
    if one is not None and two is not None:
        text += (
            f"\n\nThe 360p rendition's cost, same run: {two['cores'] / one['cores']:.2f}x the cores of "
            f"720p alone ({two['cores'] - one['cores']:+.3f} cores), {two['bytes'] / one['bytes']:.2f}x "
            "the bytes written."
        )
    if two is not None and three is not None:
        text += (
            f" The sound alone's, over both pictures: {three['cores'] - two['cores']:+.3f} cores "
            f"(mux {three['parts_cores']['mux'] - two['parts_cores']['mux']:+.3f}), "
            f"{three['bytes'] / two['bytes']:.2f}x the bytes written."
        )
    return text


def render(seconds: float, results: list[dict[str, Any]]) -> None:
    body = (
        f"Command: `python -m bench.broadcast.composer_cpu --seconds {seconds:g}` (2 shared cores; the "
        "run column gives when each row ran and the 1 / 5 / 15 min load average at its end; both ran at "
        "niceness -10, a higher CPU priority than the other work on the machine). Cores = process CPU time "
        "(getrusage, user + system) per second of media fed, i.e. what one Space needs to run in real "
        "time; the columns split it per stage (thread CPU time of each call). Input is paced at real "
        "time; when the shared machine does not give the process enough CPU, media s / wall s drops "
        "below 1 and the run lasts longer, the CPU per media second stays. kbit/s written includes the "
        "playlist rewrites.\n\n" + table(results) + ratio(results)
    )
    update_section("composer-cpu", body)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--only", choices=("audio", "video"), default=None, help="video: both video rows")
    ap.add_argument("--no-doc", action="store_true")
    args = ap.parse_args()
    modes = [
        (video, low, sound)
        for video, low, sound in (
            (False, False, False),
            (True, False, False),
            (True, True, False),
            (True, True, True),
        )
        if args.only is None or args.only == ("video" if video else "audio")
    ]
    results = []
    for video, low, sound in modes:
        r = run(video, args.seconds, low=low, sound=sound)
        r["note"] = machine_note()
        print(json.dumps(r), flush=True)
        results.append(r)
    OUT.mkdir(parents=True, exist_ok=True)
    store = OUT / "composer-cpu.json"
    if args.only is not None and store.exists():
        # Rerun one mode: keep the other mode's last result (each row names its own run).
        kept = [r for r in json.loads(store.read_text()) if r["video"] != (args.only == "video")]
        results = sorted(
            kept + results, key=lambda r: (r["video"], r.get("low", False), r.get("sound", False))
        )
    store.write_text(json.dumps(results))
    if args.no_doc:
        return
    render(args.seconds, results)


if __name__ == "__main__":
    main()
