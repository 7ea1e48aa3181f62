"""The mixer: tones summed, jitter absorbed, silence for missing or dry tracks, no clicks where a
track starts, runs dry, is cut short or goes."""

from __future__ import annotations

import numpy as np
import pytest

from composer.mixer import CEILING, FADE_MS, LIMIT_KNEE, Mixer, soft_limit

RATE = 48000
CHUNK = 960  # 20 ms
FADE = RATE * FADE_MS // 1000


def exact(**options: int) -> Mixer:
    """A mixer without its fades, for the tests that compare samples one for one."""
    return Mixer(fade_ms=0, **options)


def tone(freq: float, seconds: float, amplitude: int = 8000, start: int = 0) -> np.ndarray:
    t = (np.arange(int(RATE * seconds)) + start) / RATE
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def spectrum_peaks(pcm: np.ndarray, count: int) -> set[int]:
    """The `count` strongest frequencies (Hz, 1 Hz bins over one second of audio)."""
    magnitude = np.abs(np.fft.rfft(pcm.astype(np.float64)))
    freqs = np.fft.rfftfreq(len(pcm), 1 / RATE)
    return {int(round(freqs[i])) for i in np.argsort(magnitude)[-count:]}


def largest_step(pcm: np.ndarray) -> int:
    return int(np.abs(np.diff(pcm.astype(np.int32))).max())


# A 440 Hz tone at 18000 (below the limiter's knee) moves at most ~1040 between two samples at
# 48 kHz: anything far above is a jump in the waveform, a click.
SMOOTH = 1500


def test_no_tracks_is_silence_of_the_chunk_length() -> None:
    chunk = Mixer().pull()
    assert chunk.dtype == np.int16 and chunk.shape == (CHUNK,)
    assert not chunk.any()


def test_two_tones_are_both_in_the_mix() -> None:
    mixer = exact(jitter_ms=0)
    a, b = tone(440, 1.0), tone(1000, 1.0)
    chunks = []
    for i in range(0, len(a), CHUNK):
        mixer.push("alice", a[i : i + CHUNK])
        mixer.push("bob", b[i : i + CHUNK])
        chunks.append(mixer.pull())
    out = np.concatenate(chunks)
    assert spectrum_peaks(out, 2) == {440, 1000}
    # Summed sample by sample, not averaged or dropped.
    np.testing.assert_array_equal(out, a.astype(np.int32) + b)


def test_the_sum_saturates_instead_of_wrapping() -> None:
    mixer = exact(jitter_ms=0)
    loud = np.full(CHUNK, 30000, dtype=np.int16)
    mixer.push("a", loud)
    mixer.push("b", loud)
    out = mixer.pull()
    # Close to the ceiling (-1.5 dBFS), never past it: the encoder's overshoot stays under -1 dBTP.
    assert (out > CEILING - 100).all() and (out <= CEILING).all()


def test_the_limiter_leaves_the_usual_levels_alone_and_bends_the_peaks_smoothly() -> None:
    quiet = np.arange(-LIMIT_KNEE, LIMIT_KNEE + 1, 7, dtype=np.int32)
    np.testing.assert_array_equal(soft_limit(quiet), quiet.astype(np.int16))
    ramp = np.arange(-200_000, 200_001, 5, dtype=np.int32)
    out = soft_limit(ramp).astype(np.int32)
    assert out.max() <= CEILING and out.min() >= -CEILING
    assert (np.diff(out) >= 0).all()  # monotonic: louder in, never quieter out
    assert np.abs(np.diff(out)).max() <= 5  # continuous: no step where the curve starts
    np.testing.assert_array_equal(out, -out[::-1])  # symmetric
    # Where hard clipping would flatten two speakers' 0.9 FS peaks, the limiter keeps the shape.
    assert soft_limit(np.array([29_490 * 2], dtype=np.int32))[0] < CEILING


def test_a_track_waits_for_its_jitter_target_then_plays_evenly() -> None:
    mixer = exact(jitter_ms=60)
    source = tone(440, 0.3, start=1)  # no zero sample at the start, so silence is unambiguous
    frames = [source[i : i + CHUNK] for i in range(0, len(source), CHUNK)]
    # One frame per tick at first, then bursts of three frames every third tick.
    arrivals = {0: [0], 1: [1], 2: [2]}
    for tick in range(5, len(frames) + 2, 3):
        arrivals[tick] = [i for i in (tick - 2, tick - 1, tick) if i < len(frames)]
    out = []
    for tick in range(len(frames) + 3):
        for index in arrivals.get(tick, []):
            mixer.push("alice", frames[index])
        out.append(mixer.pull())
    played = np.concatenate(out)
    start = np.flatnonzero(played)[0]
    assert start == 2 * CHUNK  # silent until 60 ms were buffered
    np.testing.assert_array_equal(played[start : start + len(source)], source)  # then gapless
    assert mixer.underruns == 1  # only once the clip had ended


def test_a_dry_track_is_silence_and_rebuffers() -> None:
    mixer = Mixer(jitter_ms=40)
    mixer.push("alice", tone(440, 0.04))
    first, second = mixer.pull(), mixer.pull()
    assert first.any() and second.any()
    assert not mixer.pull().any()  # nothing arrived: silence, not a stall
    mixer.push("alice", tone(440, 0.02))
    assert not mixer.pull().any()  # one frame is below the jitter target again
    mixer.push("alice", tone(440, 0.02))
    assert mixer.pull().any()
    assert mixer.underruns == 1


def test_a_silent_track_does_not_hold_back_the_others() -> None:
    mixer = exact(jitter_ms=0)
    mixer.push("muted", np.zeros(0, dtype=np.int16))
    mixer.push("alice", tone(440, 0.02))
    np.testing.assert_array_equal(mixer.pull(), tone(440, 0.02))


def test_an_overfull_buffer_is_trimmed_to_the_newest_audio() -> None:
    mixer = exact(jitter_ms=60, max_buffer_ms=300)
    burst = tone(440, 0.5)
    mixer.push("alice", burst)
    assert mixer.buffered("alice") == RATE * 60 // 1000
    np.testing.assert_array_equal(mixer.pull(), burst[-3 * CHUNK : -2 * CHUNK])


def frames_of(pcm: np.ndarray) -> list[np.ndarray]:
    """20 ms frames, one chunk each, as the composer's microphones deliver them (the last may be short)."""
    return [pcm[i : i + CHUNK] for i in range(0, len(pcm), CHUNK)]


# 3 whole chunks (how a microphone's 20 ms frames leave a buffer: it empties on a chunk's end) and
# 2.5 chunks; both start and end away from a zero crossing.
HELD = [pytest.param(0.06, id="whole-chunks"), pytest.param(0.05, id="part-of-a-chunk")]


@pytest.mark.parametrize("seconds", HELD)
def test_a_removed_track_plays_out_what_it_held_then_fades_and_is_gone(seconds: float) -> None:
    held = tone(440, seconds, amplitude=18000, start=7)
    outs = {}
    for fade_ms in (0, FADE_MS):
        mixer = Mixer(jitter_ms=40, fade_ms=fade_ms)
        for frame in frames_of(held):
            mixer.push("alice", frame)
        mixer.remove("alice")
        # What she said before she went still plays.
        outs[fade_ms] = np.concatenate([mixer.pull() for _ in range(4)])
        assert mixer.tracks == [] and mixer.underruns == 0  # gone, and its end is not an underrun
    played = outs[FADE_MS]
    np.testing.assert_array_equal(played[FADE : len(held) - FADE], held[FADE:-FADE])
    assert not played[len(held) :].any()
    assert largest_step(outs[0]) > 5000  # the check can fail: cut at its end, it clicks
    assert largest_step(played) < SMOOTH  # faded, not cut


def test_a_track_pushed_again_before_it_played_out_goes_on() -> None:
    mixer = Mixer(jitter_ms=0)
    mixer.push("bob", tone(440, 0.1))
    mixer.remove("bob")
    mixer.push("bob", tone(440, 0.1))  # subscribed again
    for _ in range(8):
        mixer.pull()
    assert mixer.tracks == ["bob"]


@pytest.mark.parametrize("seconds", HELD)
def test_a_start_and_running_dry_are_faded_not_cut(seconds: float) -> None:
    loud = tone(440, seconds, amplitude=18000, start=7)
    cut = exact(jitter_ms=20)
    faded = Mixer(jitter_ms=20)
    for mixer in (cut, faded):
        for frame in frames_of(loud):
            mixer.push("alice", frame)
    played = {id(m): np.concatenate([m.pull() for _ in range(5)]) for m in (cut, faded)}
    # Including the step from the silence before and to the silence after.
    around = {key: np.concatenate([[0], pcm, [0]]) for key, pcm in played.items()}
    assert largest_step(around[id(cut)]) > 5000  # the check can fail: without fades it clicks
    assert largest_step(around[id(faded)]) < SMOOTH
    # Only the first and last FADE_MS are touched.
    body = slice(FADE, len(loud) - FADE)
    np.testing.assert_array_equal(played[id(faded)][body], loud[body])


def test_audio_arriving_just_after_a_buffer_emptied_ramps_back_in() -> None:
    """A buffer emptied on a chunk's end is faded out as an end; a frame that comes before the
    next pull was no end after all: it fades back in rather than jump from the faded sample."""
    source = tone(440, 0.1, amplitude=18000, start=7)
    frames = frames_of(source)
    mixer = Mixer(jitter_ms=20)
    out = []
    mixer.push("alice", frames[0])
    out.append(mixer.pull())  # emptied: faded out
    for frame in frames[1:]:
        mixer.push("alice", frame)
        out.append(mixer.pull())
    assert largest_step(np.concatenate([[0], *out])) < SMOOTH


def test_a_drop_shorter_than_the_fade_is_crossfaded_over_its_own_length() -> None:
    source = tone(440, 0.2, amplitude=18000, start=1)
    outs = {}
    for fade_ms in (0, FADE_MS):
        mixer = Mixer(jitter_ms=40, max_buffer_ms=40, fade_ms=fade_ms)
        mixer.push("alice", source[: 2 * CHUNK])
        first = mixer.pull()
        mixer.push("alice", source[2 * CHUNK : 3 * CHUNK + 3])  # 3 samples over the bound: dropped
        outs[fade_ms] = np.concatenate([first, mixer.pull(), mixer.pull()])
        assert mixer.dropped_samples == 3
    start = FADE  # past the start's own fade
    assert largest_step(outs[FADE_MS][start:]) < SMOOTH
    # The 3 samples skipped are the only change: no jump of the kind a cut makes (it is small here).
    assert largest_step(outs[0][start:]) < 5000


def test_audio_dropped_from_a_playing_track_is_crossfaded() -> None:
    source = tone(440, 1.0, amplitude=18000, start=1)
    frames = [source[i : i + CHUNK] for i in range(0, len(source), CHUNK)]
    outs = {}
    for fade_ms in (0, FADE_MS):
        mixer = Mixer(jitter_ms=60, max_buffer_ms=100, fade_ms=fade_ms)
        out, sent = [], 0
        for tick in range(30):
            count = 7 if tick == 10 else 1  # a burst: over the 100 ms bound, trimmed mid-stream
            for frame in frames[sent : sent + count]:
                mixer.push("alice", frame)
            sent += count
            out.append(mixer.pull())
        assert mixer.dropped_samples > 0
        outs[fade_ms] = np.concatenate(out)
    start = np.flatnonzero(outs[FADE_MS])[0] + FADE  # past the start's own fade
    assert largest_step(outs[0][start:]) > 5000  # the cut lands away from a zero crossing
    assert largest_step(outs[FADE_MS][start:]) < SMOOTH


def test_rejects_samples_that_are_not_mono_int16() -> None:
    with pytest.raises(ValueError, match="int16"):
        Mixer().push("alice", np.zeros(CHUNK, dtype=np.float32))


def test_a_standing_delay_after_a_burst_is_dropped_back_to_the_jitter_target() -> None:
    mixer = Mixer(jitter_ms=60, max_buffer_ms=300, steer_window_ms=1000, steer_margin_ms=40)
    source = tone(440, 4.0, start=1)
    frames = [source[i : i + CHUNK] for i in range(0, len(source), CHUNK)]
    sent = 3
    for frame in frames[:sent]:
        mixer.push("alice", frame)
    for tick in range(len(frames) - sent - 10):
        if tick == 20:
            # A stall: ten frames held up arrive at once (200 ms more, under the 300 ms bound),
            # then one frame per tick again: the track now sits 200 ms late for good.
            for frame in frames[sent : sent + 10]:
                mixer.push("alice", frame)
            sent += 10
        mixer.push("alice", frames[sent])
        sent += 1
        mixer.pull()
        if tick == 25:
            assert mixer.buffered("alice") >= RATE * 240 // 1000
    # Within a window or two it is back at the target, with one drop.
    assert mixer.buffered("alice") <= RATE * 60 // 1000 + CHUNK
    assert mixer.steered == 1 and mixer.underruns == 0


def test_jitter_alone_is_never_steered() -> None:
    mixer = exact(jitter_ms=60, steer_window_ms=1000, steer_margin_ms=40)
    source = tone(440, 4.0, start=1)
    frames = [source[i : i + CHUNK] for i in range(0, len(source), CHUNK)]
    out = []
    for tick in range(len(frames)):
        # Bursts of seven frames every seventh tick: the buffer swings from 120 ms (over the 100 ms
        # a standing excess would have to hold) down to nothing, and only its low counts.
        if tick % 7 == 0:
            for frame in frames[tick : tick + 7]:
                mixer.push("alice", frame)
        out.append(mixer.pull())
    assert mixer.steered == 0 and mixer.dropped_samples == 0
    played = np.concatenate(out)
    start = np.flatnonzero(played)[0]
    np.testing.assert_array_equal(played[start:], source[: len(played) - start])
