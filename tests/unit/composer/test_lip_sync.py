"""A sound and a picture that reach the composer together are stamped together in its broadcast.

The composer's own pacer, mixer and encoder run on a simulated clock: a microphone sends 20 ms frames
of silence and a camera a black picture; at one instant the picture turns white and a beep starts.
The encoded segments are read back, as a player would, and the flash's and the beep's
presentation times compared. The instant is one at which a frame falls due: a picture that arrives
later waits for the next frame, a sampling delay of up to a frame that no composer avoids.
"""

from __future__ import annotations

import io
from fractions import Fraction

import av
import numpy as np
import pytest

from composer.hls import BroadcastConfig
from composer.hls.encoder import SegmentEncoder
from composer.hls.stats import StatsRecorder
from composer.mixer import Mixer
from composer.pacing import Schedule
from composer.worker import lip_sync

WIDTH, HEIGHT = 64, 36
MIC_FRAME = Fraction(20, 1000)  # what MicStreams delivers
EVENT_AT = Fraction(2)  # on the mic frames' grid and on every frame rate's
SECONDS = 3


def _broadcast(fps: int) -> bytes:
    """The segments of SECONDS of a flash and a beep at EVENT_AT, as one MPEG-TS stream."""
    mixer = Mixer()
    config = lip_sync(BroadcastConfig(width=WIDTH, height=HEIGHT, fps=fps), mixer)
    encoder = SegmentEncoder(config, StatsRecorder())
    schedule = Schedule(Fraction(mixer.chunk_samples, mixer.sample_rate), fps)
    samples = int(MIC_FRAME * mixer.sample_rate)
    beep = (0.5 * 32767 * np.sin(2 * np.pi * 1000 * np.arange(samples) / mixer.sample_rate)).astype(np.int16)
    black = np.zeros((HEIGHT, WIDTH, 3), dtype=np.uint8)
    white = np.full((HEIGHT, WIDTH, 3), 255, dtype=np.uint8)
    # Every instant at which a mic frame arrives or a chunk or frame falls due.
    instants = sorted(
        {MIC_FRAME * i for i in range(int(SECONDS / MIC_FRAME) + 1)}
        | {Fraction(i, fps) for i in range(SECONDS * fps + 1)}
    )
    data: list[bytes] = []
    picture = black
    for now in instants:
        # What arrives at an instant is there when the pacer runs at it.
        if now == EVENT_AT:
            picture = white
        if (now / MIC_FRAME).denominator == 1:
            mixer.push("mic", beep if now >= EVENT_AT else np.zeros(samples, dtype=np.int16))
        for step in schedule.steps(float(now), backlog_s=0.0):
            if step.kind == "audio":
                data += [s.data for s in encoder.push_audio(mixer.pull())]
            elif step.kind == "video":
                data += [s.data for s in encoder.push_video(picture)]
    data += [s.data for s in encoder.flush()]
    return b"".join(data)


def _flash_and_beep(stream: bytes) -> tuple[float, float]:
    """Presentation times of the first white frame and of the first loud millisecond."""
    flash = beep = None
    with av.open(io.BytesIO(stream), format="mpegts") as container:
        for frame in container.decode(*container.streams.video, *container.streams.audio):
            assert frame.pts is not None and frame.time_base is not None
            start = float(frame.pts * frame.time_base)
            if isinstance(frame, av.VideoFrame):
                if flash is None and frame.to_ndarray(format="gray").mean() > 128:
                    flash = start
            elif beep is None:
                pcm = frame.to_ndarray().reshape(-1)
                rate = frame.sample_rate
                ms = rate // 1000
                for i in range(0, len(pcm) - ms + 1, ms):
                    # Half the beep's RMS: AAC's pre-echo before the onset stays well under it.
                    if np.sqrt(np.mean(pcm[i : i + ms] ** 2)) > 0.5 * 0.5 / np.sqrt(2):
                        beep = start + i / rate
                        break
    assert flash is not None and beep is not None
    return flash, beep


@pytest.mark.parametrize("fps", [15, 30])
def test_a_sound_and_a_picture_that_arrive_together_are_stamped_within_a_frame(fps: int) -> None:
    flash, beep = _flash_and_beep(_broadcast(fps))
    # The mixer's jitter buffer alone put the beep 40 ms after the flash, and the pacer's drawing
    # of a frame when it falls due another frame: 107 ms at 15 fps, 73 at 30.
    assert abs(beep - flash) < 1 / fps, f"beep {beep:.4f} s, flash {flash:.4f} s"
