"""Which reported skips `Broadcast` keeps: only those a segment still to come can need."""

from __future__ import annotations

from composer.hls.broadcast import settled_skips


def _skipped_before(skips: list[tuple[float, float]], media_s: float) -> float:
    """What Broadcast._skipped_before answers from `skips` (the last running total at or before)."""
    return next((total for at, total in reversed(skips) if at <= media_s + 1e-6), 0.0)


def test_skips_before_a_submitted_segment_collapse_into_the_last_one() -> None:
    skips = [(0.5, 1.0), (1.2, 3.0), (2.0, 3.5), (2.7, 4.0)]
    assert settled_skips(skips, 2.0) == [(2.0, 3.5), (2.7, 4.0)]  # one at the start counts for it
    assert settled_skips(skips, 1.9) == [(1.2, 3.0), (2.0, 3.5), (2.7, 4.0)]
    assert settled_skips(skips, 0.1) == skips  # none settled yet
    assert settled_skips(skips, 9.0) == [(2.7, 4.0)]  # the running total is kept
    assert settled_skips([], 5.0) == []


def test_pruning_never_changes_the_time_of_a_later_segment() -> None:
    # A starved composer can report a skip every pacer tick (10 a second), here for 6 minutes.
    full: list[tuple[float, float]] = []
    kept: list[tuple[float, float]] = []
    total = 0.0
    for tick in range(3600):
        total += 0.05
        full.append((tick * 0.1, total))
        kept.append((tick * 0.1, total))
        if tick % 10 == 9:  # a segment starts every second of media time
            start = (tick - 9) * 0.1
            assert _skipped_before(kept, start) == _skipped_before(full, start)
            kept = settled_skips(kept, start)
            assert len(kept) <= 11
    for start in (359.0, 359.5, 400.0):
        assert _skipped_before(kept, start) == _skipped_before(full, start)
