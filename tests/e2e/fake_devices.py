"""The files Chromium's fake capture devices play: one microphone WAV and one camera Y4M per speaker.

Chromium loops the WAV from the moment the page opens the microphone. Every speaker's file has the
same period and talks in its own slot, so speakers whose microphones open together take turns:

    speaker 0: [ speech ][        silence          ]
    speaker 1: [    silence    ][ speech ][ silence ]

The camera file is a still frame in the speaker's colour with their initial, so a screenshot shows
whose video fills the big tile.
"""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tests.support.synthetic_speakers import espeak_clip

SAMPLE_RATE = 48000
# One turn slot: long enough for a sentence and a clear pause, short enough that a test sees several
# turns within a minute. The loop period is slot * number of speakers.
SLOT_SECONDS = 7.0
VIDEO_SIZE = (320, 240)  # width, height: small, since every frame of the file is held in memory
VIDEO_FPS = 15

LINES = (
    "Welcome everyone. Today we talk about self hosted audio rooms and how the stage follows the speaker.",
    "Thanks. I think the hard part is deciding quickly who holds the floor without flickering.",
)
VOICES = ("en-us", "en-gb")
COLOURS = ((0.93, 0.36, 0.33), (0.25, 0.52, 0.96))


@dataclass(frozen=True)
class FakeDevices:
    identity: str
    wav: Path
    y4m: Path

    def chromium_args(self) -> list[str]:
        return [
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-audio-capture={self.wav}",
            f"--use-file-for-fake-video-capture={self.y4m}",
        ]


def turn_taking_wavs(identities: list[str], folder: Path) -> list[Path]:
    """One looping WAV per speaker; speaker i talks in slot i of every period."""
    slot = int(SLOT_SECONDS * SAMPLE_RATE)
    period = slot * len(identities)
    paths = []
    for i, identity in enumerate(identities):
        speech = espeak_clip(LINES[i % len(LINES)], VOICES[i % len(VOICES)], sample_rate=SAMPLE_RATE)
        speech = speech[: slot - SAMPLE_RATE]  # leave at least a second of silence before the next turn
        pcm = np.zeros(period, dtype=np.int16)
        pcm[i * slot : i * slot + len(speech)] = speech
        path = folder / f"{identity}.wav"
        with wave.open(str(path), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(SAMPLE_RATE)
            w.writeframes(pcm.tobytes())
        paths.append(path)
    return paths


def _frame(rgb: tuple[float, float, float], label: str) -> np.ndarray:
    """A WxHx3 uint8 image: the colour with the label drawn large (matplotlib, headless)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    w, h = VIDEO_SIZE
    fig = Figure(figsize=(w / 100, h / 100), dpi=100)
    FigureCanvasAgg(fig)
    fig.patch.set_facecolor(rgb)
    fig.text(0.5, 0.5, label, ha="center", va="center", fontsize=90, color="white", weight="bold")
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[:, :, :3].copy()


def write_y4m(path: Path, rgb: np.ndarray) -> None:
    """A one-frame YUV 4:2:0 Y4M (BT.601), which Chromium's file capture device loops."""
    h, w, _ = rgb.shape
    f = rgb.astype(np.float32)
    r, g, b = f[..., 0], f[..., 1], f[..., 2]
    y = 16 + 0.257 * r + 0.504 * g + 0.098 * b
    u = 128 - 0.148 * r - 0.291 * g + 0.439 * b
    v = 128 + 0.439 * r - 0.368 * g - 0.071 * b

    def sub(c: np.ndarray) -> np.ndarray:
        return c.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))

    planes = [np.clip(p, 0, 255).astype(np.uint8).tobytes() for p in (y, sub(u), sub(v))]
    with open(path, "wb") as out:
        out.write(f"YUV4MPEG2 W{w} H{h} F{VIDEO_FPS}:1 Ip A1:1 C420jpeg\n".encode())
        out.write(b"FRAME\n" + b"".join(planes))


def make_fake_devices(identities: list[str], folder: Path) -> list[FakeDevices]:
    folder.mkdir(parents=True, exist_ok=True)
    wavs = turn_taking_wavs(identities, folder)
    devices = []
    for i, (identity, wav) in enumerate(zip(identities, wavs, strict=True)):
        y4m = folder / f"{identity}.y4m"
        write_y4m(y4m, _frame(COLOURS[i % len(COLOURS)], identity[:1].upper()))
        devices.append(FakeDevices(identity=identity, wav=wav, y4m=y4m))
    return devices
