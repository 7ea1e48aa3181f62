"""A live HLS stream that keeps growing, for the fan-out and latency benchmarks.

A test pattern (moving bars, a frame counter) and a tone are encoded in real time with PyAV
(libx264 + AAC, or AAC only) and segmented by FFmpeg's own HLS muxer into an EVENT playlist with
`#EXT-X-PROGRAM-DATE-TIME` on every segment, the layout of docs/broadcast (segment before the
playlist that names it; the playlist is replaced atomically through a temporary file).

It stands in for the composer (branch composer-hls) where only the shape of the stream matters:
segment length, sizes, the playlist growing once per segment.

    python -m bench.broadcast.live_source --out /tmp/live --segment 1 --video 426x240
"""

from __future__ import annotations

import argparse
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

SAMPLE_RATE = 48_000
AUDIO_FRAME = 1024  # AAC frame size


@dataclass(frozen=True)
class SourceConfig:
    out: Path
    segment_seconds: float = 1.0
    width: int = 426
    height: int = 240
    fps: int = 15
    video: bool = True
    video_kbps: int = 300
    audio_kbps: int = 64
    playlist: str = "index.m3u8"


def pattern(width: int, height: int, n: int) -> np.ndarray:
    """Moving vertical bars and a block that walks with the frame count (cheap to draw)."""
    x = (np.arange(width, dtype=np.int32) + 4 * n) % width
    row = np.stack([(x * 255 // width), ((x * 7) % 256), (255 - x * 255 // width)], axis=-1)
    img = np.broadcast_to(row.astype(np.uint8), (height, width, 3)).copy()
    bx = (n * 8) % max(1, width - 32)
    img[height // 2 - 16 : height // 2 + 16, bx : bx + 32] = 255
    return img


def tone(start_sample: int, count: int, hz: float = 440.0) -> np.ndarray:
    t = (np.arange(start_sample, start_sample + count) / SAMPLE_RATE).astype(np.float64)
    return (0.2 * 32767 * np.sin(2 * np.pi * hz * t)).astype(np.int16)


def open_hls(cfg: SourceConfig) -> av.container.OutputContainer:
    cfg.out.mkdir(parents=True, exist_ok=True)
    epoch_ms = int(time.time() * 1000)
    options = {
        "hls_time": str(cfg.segment_seconds),
        "hls_list_size": "0",
        "hls_playlist_type": "event",
        "hls_flags": "program_date_time+temp_file+independent_segments",
        "hls_segment_type": "mpegts",
        "hls_segment_filename": str(cfg.out / f"{epoch_ms}-%d.ts"),
    }
    return av.open(str(cfg.out / cfg.playlist), "w", format="hls", options=options)


def run(
    cfg: SourceConfig,
    *,
    seconds: float | None = None,
    frame_hook: Callable[[int, float], np.ndarray | None] | None = None,
    audio_hook: Callable[[float, np.ndarray], np.ndarray] | None = None,
) -> int:
    """Encode at wall-clock pace until `seconds` elapse (or SIGTERM). Returns segments written.

    `frame_hook(n, wall)` may return a replacement picture for frame n, captured at epoch time
    `wall` (the latency benchmark paints its flash there); `audio_hook(wall, pcm)` may replace the
    audio whose first sample is captured at `wall`.
    """
    stop = False

    def _stop(*_: object) -> None:
        nonlocal stop
        stop = True

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _stop)
    out = open_hls(cfg)
    vstream = None
    if cfg.video:
        vstream = out.add_stream("libx264", rate=cfg.fps)
        vstream.width, vstream.height = cfg.width, cfg.height
        vstream.pix_fmt = "yuv420p"
        vstream.bit_rate = cfg.video_kbps * 1000
        gop = max(1, round(cfg.fps * cfg.segment_seconds))
        vstream.codec_context.gop_size = gop
        vstream.codec_context.options = {
            "preset": "ultrafast",
            "tune": "zerolatency",
            "sc_threshold": "0",
            "keyint_min": str(gop),
            "bf": "0",
        }
    astream = out.add_stream("aac", rate=SAMPLE_RATE, layout="mono")
    astream.bit_rate = cfg.audio_kbps * 1000

    start = time.time()
    frames = 0
    samples = 0
    try:
        while not stop:
            now = time.time() - start
            if seconds is not None and now >= seconds:
                break
            # Audio first, up to now (whole AAC frames), then the video frames that are due.
            while samples + AUDIO_FRAME <= now * SAMPLE_RATE:
                pcm = tone(samples, AUDIO_FRAME)
                if audio_hook is not None:
                    pcm = audio_hook(start + samples / SAMPLE_RATE, pcm)
                af = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
                af.sample_rate = SAMPLE_RATE
                af.pts = samples
                af.time_base = Fraction(1, SAMPLE_RATE)
                for pkt in astream.encode(af):
                    out.mux(pkt)
                samples += AUDIO_FRAME
            while vstream is not None and frames <= now * cfg.fps:
                img = frame_hook(frames, start + frames / cfg.fps) if frame_hook else None
                if img is None:
                    img = pattern(cfg.width, cfg.height, frames)
                vf = av.VideoFrame.from_ndarray(img, format="rgb24")
                vf.pts = frames
                vf.time_base = Fraction(1, cfg.fps)
                for pkt in vstream.encode(vf):
                    out.mux(pkt)
                frames += 1
            next_audio = (samples + AUDIO_FRAME) / SAMPLE_RATE
            next_video = frames / cfg.fps if vstream is not None else next_audio
            time.sleep(max(0.0, min(next_audio, next_video) - (time.time() - start)))
    finally:
        for stream in [s for s in (vstream, astream) if s is not None]:
            for pkt in stream.encode(None):
                out.mux(pkt)
        out.close()
    return len(list(cfg.out.glob("*.ts")))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--segment", type=float, default=1.0, help="segment length, seconds")
    ap.add_argument("--video", default="426x240", help="WxH, or 'none' for audio only")
    ap.add_argument("--fps", type=int, default=15)
    ap.add_argument("--video-kbps", type=int, default=300)
    ap.add_argument("--seconds", type=float, default=None)
    args = ap.parse_args()
    video = args.video != "none"
    w, h = (int(v) for v in args.video.split("x")) if video else (0, 0)
    cfg = SourceConfig(
        out=args.out,
        segment_seconds=args.segment,
        width=w,
        height=h,
        fps=args.fps,
        video=video,
        video_kbps=args.video_kbps,
    )
    run(cfg, seconds=args.seconds)


if __name__ == "__main__":
    main()
