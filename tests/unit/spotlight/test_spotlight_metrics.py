"""The scorer on hand-made timelines: each metric of the replay manifest (docs/spotlight.md), by hand."""

from __future__ import annotations

import pytest

from bench.spotlight.metrics import holder_changes, score

TRUTH = [
    {"start": 1.0, "end": 5.0, "identity": "a", "kind": "turn"},
    {"start": 6.0, "end": 10.0, "identity": "b", "kind": "turn"},
    {"start": 8.0, "end": 12.0, "identity": "c", "kind": "interrupt"},
]


def manifest(**extra: object) -> dict:
    return {"truth": TRUTH, "transients": [], "pins": [], **extra}


def test_latencies_of_turns_and_interruptions() -> None:
    timeline = [(0.0, None), (1.3, "a"), (6.4, "b"), (8.9, "c")]
    result = score(timeline, manifest(), duration_s=12.0)
    assert result.switch_latencies == pytest.approx([0.3, 0.4])
    assert result.takeover_latencies == pytest.approx([0.9])
    assert result.false_switches == 0 and result.flickers == 0 and result.switch_misses == 0


def test_a_switch_that_comes_after_the_interval_ends_is_a_miss() -> None:
    timeline = [(0.0, None), (1.2, "a"), (12.5, "c")]
    result = score(timeline, manifest(), duration_s=13.0)
    assert result.switch_misses == 1  # b never
    assert result.takeover_misses == 1  # c only after its interval ended


def test_false_switches_and_the_one_second_grace() -> None:
    # d never holds: false. b at 5.5 becomes holder at 6.0 (within 1 s): not false.
    timeline = [(0.0, None), (1.2, "a"), (3.0, "d"), (3.5, "a"), (5.5, "b"), (8.5, "c")]
    result = score(timeline, manifest(), duration_s=12.0)
    assert result.false_switches == 1
    assert result.false_switches_per_min == pytest.approx(1 / (12.0 / 60.0))


def test_transient_false_switches_are_counted_by_kind_within_one_and_a_half_seconds() -> None:
    transients = [
        {"at": 2.0, "identity": "d", "kind": "cough", "duration_s": 0.2},
        {"at": 9.0, "identity": "e", "kind": "mug", "duration_s": 0.2},
    ]
    # d's switch 1.2 s after the cough counts; e's switch 2 s after the mug is false but not transient.
    timeline = [(0.0, None), (1.2, "a"), (3.2, "d"), (3.4, "a"), (6.3, "b"), (8.5, "c"), (11.0, "e")]
    result = score(timeline, manifest(transients=transients), duration_s=12.0)
    assert result.false_switches == 2
    assert result.transient_false_switches == {"cough": 1}
    assert result.transients == {"cough": 1, "mug": 1}


def test_flicker_is_leaving_and_returning_while_the_holder_stayed() -> None:
    timeline = [(0.0, None), (1.2, "a"), (2.0, "d"), (2.5, "a"), (3.0, "e"), (5.5, "a")]
    result = score(timeline, manifest(), duration_s=6.0)
    # a -> d -> a within 0.5 s: flicker. a -> e ... -> a after 2.5 s: not a flicker.
    assert result.flickers == 1


def test_accuracy_counts_time_with_the_right_holder_after_the_first_truth_start() -> None:
    # Holder: a 1-6 (the 5-6 gap keeps a), b 6-8, c 8-12. Right: a 1.5-6, b 7-8, c 9-12 of 1-12.
    timeline = [(0.0, None), (1.5, "a"), (7.0, "b"), (9.0, "c")]
    result = score(timeline, manifest(), duration_s=12.0)
    assert result.scored_s == pytest.approx(11.0)
    assert result.accuracy == pytest.approx((4.5 + 1.0 + 3.0) / 11.0)


def test_pins_override_truth_and_turns_under_a_pin_are_not_scored() -> None:
    pins: list[dict] = [{"at": 5.5, "identity": "a"}, {"at": 7.0, "identity": None}]
    assert holder_changes(TRUTH, pins) == [(1.0, "a"), (7.0, "b"), (8.0, "c")]
    timeline = [(0.0, None), (1.0, "a"), (7.2, "b"), (8.5, "c")]
    result = score(timeline, manifest(pins=pins), duration_s=12.0)
    assert result.pinned_turns == 1  # b's turn started under the pin
    assert result.takeover_latencies == pytest.approx([0.5])
    assert result.false_switches == 0
    assert result.accuracy == pytest.approx((11.0 - 0.2 - 0.5) / 11.0)
