"""The pacer's schedule: time order, and drops that keep audio and video in step under overload."""

from __future__ import annotations

from fractions import Fraction

import pytest

from composer.pacing import MAX_BACKLOG_S, Schedule, common_unit

CHUNK = Fraction(20, 1000)  # the mixer's 20 ms


@pytest.mark.parametrize(
    ("fps", "unit"),
    [(30, Fraction(1, 10)), (25, Fraction(1, 25)), (24, Fraction(1, 2)), (15, Fraction(1, 5)), (None, CHUNK)],
)
def test_the_drop_unit_is_a_whole_number_of_chunks_and_of_frames(fps: int | None, unit: Fraction) -> None:
    frame = Fraction(1, fps) if fps else None
    assert common_unit(CHUNK, frame) == unit
    assert (unit / CHUNK).denominator == 1
    if frame is not None:
        assert (unit / frame).denominator == 1


def test_one_second_is_fifty_chunks_and_thirty_frames_in_time_order() -> None:
    schedule = Schedule(CHUNK, 30)
    steps = list(schedule.steps(1.0, backlog_s=0.0))
    assert [s.kind for s in steps].count("audio") == 50
    assert [s.kind for s in steps].count("video") == 30
    times, audio, video = [], 0, 0
    for step in steps:
        if step.kind == "audio":
            times.append(audio * CHUNK)
            audio += 1
        else:
            times.append(Fraction(video, 30))
            video += 1
    assert times == sorted(times)
    assert list(schedule.steps(1.0, backlog_s=0.0)) == []  # nothing more is due
    assert schedule.next_due() == pytest.approx(1.02)


def _media_gap(audio: int, video: int, fps: int) -> Fraction:
    """How far apart the two streams' media times are (each stamped by count)."""
    return abs(audio * CHUNK - Fraction(video, fps))


@pytest.mark.parametrize("fps", [30, 25, 24])
@pytest.mark.parametrize("speed", [0.97, 0.7])
def test_an_encoder_slower_than_real_time_for_minutes_keeps_audio_and_video_in_step(
    fps: int, speed: float
) -> None:
    """The encoder gets through `speed` seconds of media a second (audio and video alike). The
    pacer drops spans in whole units: the media times of the two streams never drift apart, the
    backlog stays bounded, and media plus drops account for the wall clock."""
    frame = Fraction(1, fps)
    schedule = Schedule(CHUNK, fps)
    queued: list[tuple[str, Fraction]] = []  # (kind, media duration), in the feeder's order
    waiting = {"audio": Fraction(0), "video": Fraction(0)}  # media queued per stream
    audio = video = 0
    skipped = Fraction(0)
    worst_gap = Fraction(0)
    credit = Fraction(0)  # encoding work the encoder can do now, in seconds of media of one stream
    tick = Fraction(1, 100)
    for n in range(1, 18_000 + 1):  # 3 minutes of 10 ms wakes
        backlog = max(waiting.values())
        for step in schedule.steps(float(n * tick), float(backlog)):
            if step.kind == "skip":
                skipped += Fraction(step.seconds).limit_denominator(10_000)
                continue
            span = CHUNK if step.kind == "audio" else frame
            audio += step.kind == "audio"
            video += step.kind == "video"
            queued.append((step.kind, span))
            waiting[step.kind] += span
            worst_gap = max(worst_gap, _media_gap(audio, video, fps))
        credit += 2 * Fraction(speed).limit_denominator(100) * tick  # both streams' worth
        while queued and credit >= queued[0][1]:
            kind, span = queued.pop(0)
            credit -= span
            waiting[kind] -= span
        if not queued:
            credit = Fraction(0)  # an idle encoder banks nothing
    elapsed = 18_000 * tick
    assert skipped > 0, "the overload never made the pacer drop anything"
    assert worst_gap <= frame, f"audio and video drifted {float(worst_gap):.3f} s apart"
    assert max(waiting.values()) <= MAX_BACKLOG_S + 1
    # Every second of the wall clock is either media or a drop (up to what is due and unsent).
    assert abs(elapsed - audio * CHUNK - skipped) <= schedule.unit + CHUNK
    # What was dropped is what the encoder could not do (within the backlog it holds).
    assert abs(skipped - (1 - Fraction(speed).limit_denominator(100)) * elapsed) <= MAX_BACKLOG_S + 1


def test_a_wake_long_after_the_last_drops_whole_units_and_sends_the_rest_in_step() -> None:
    schedule = Schedule(CHUNK, 30)
    list(schedule.steps(1.0, 0.0))
    steps = list(schedule.steps(6.05, 0.0))  # the process was stopped for 5 s
    skips = [s.seconds for s in steps if s.kind == "skip"]
    assert len(skips) == 1 and skips[0] == pytest.approx(5.0)
    audio = 50 + sum(s.kind == "audio" for s in steps)
    video = 30 + sum(s.kind == "video" for s in steps)
    assert _media_gap(audio, video, 30) <= Fraction(1, 30)
    assert audio == int(Fraction(6.05) / CHUNK) - 250


def test_an_audio_only_broadcast_drops_whole_chunks() -> None:
    schedule = Schedule(CHUNK, None)
    assert [s.kind for s in schedule.steps(0.1, 0.0)] == ["audio"] * 5
    steps = list(schedule.steps(0.2, backlog_s=MAX_BACKLOG_S + 1))
    assert [s.kind for s in steps] == ["skip"] and steps[0].seconds == pytest.approx(0.1)


def test_an_overloaded_encoder_gets_nothing_more_until_its_backlog_clears() -> None:
    schedule = Schedule(CHUNK, 30)
    list(schedule.steps(1.0, 0.0))
    assert list(schedule.steps(1.05, backlog_s=MAX_BACKLOG_S + 0.5)) == []  # under one unit: waits
    steps = list(schedule.steps(1.1, backlog_s=MAX_BACKLOG_S + 0.5))
    assert [s.kind for s in steps] == ["skip"] and steps[0].seconds == pytest.approx(0.1)
    assert [s.kind for s in schedule.steps(1.2, backlog_s=0.0)].count("audio") == 5


@pytest.mark.parametrize("fps", [30, 24])
def test_an_overloaded_schedule_is_next_due_at_the_next_whole_unit_not_at_once(fps: int) -> None:
    """While the backlog lasts, a pacer that slept until next_due() must not find the same
    nothing-to-do again: it would spin on the event loop while the encoder needs the CPU."""
    schedule = Schedule(CHUNK, fps)
    list(schedule.steps(1.0, 0.0))
    elapsed, wakes = 1.0, 0
    while elapsed < 3.0:
        list(schedule.steps(elapsed, backlog_s=MAX_BACKLOG_S + 1))
        due = schedule.next_due()
        assert due > elapsed
        elapsed = due
        wakes += 1
    assert wakes <= 2.0 / float(schedule.unit) + 1  # one wake a unit, not one a chunk or more
    assert schedule.dropped >= 2.0 - float(schedule.unit) * 2
