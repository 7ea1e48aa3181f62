"""MPEG-TS continuity counters carried from one segment to the next (composer/hls/continuity.py)."""

from __future__ import annotations

import pytest

from composer.hls.continuity import PACKET, ContinuityCounters, mark_discontinuity

VIDEO, AUDIO, NULL = 0x100, 0x101, 0x1FFF
PAYLOAD, ADAPTATION_ONLY, BOTH = 0x1, 0x2, 0x3


def _packet(pid: int, control: int = PAYLOAD, counter: int = 0) -> bytes:
    header = bytes([0x47, 0x40 | pid >> 8, pid & 0xFF, control << 4 | counter])
    return header + bytes(PACKET - len(header))


def _counters(data: bytes) -> list[tuple[int, int]]:
    packets = [data[i : i + PACKET] for i in range(0, len(data), PACKET)]
    return [((p[1] & 0x1F) << 8 | p[2], p[3] & 0x0F) for p in packets]


def test_the_first_segment_counts_from_zero_per_pid_and_the_next_carries_on() -> None:
    counters = ContinuityCounters()
    first = counters.carry_on(_packet(VIDEO) + _packet(AUDIO) + _packet(VIDEO, BOTH) + _packet(VIDEO))
    assert _counters(first) == [(VIDEO, 0), (AUDIO, 0), (VIDEO, 1), (VIDEO, 2)]
    second = counters.carry_on(_packet(AUDIO) + _packet(VIDEO))  # a new muxer wrote 0 for both
    assert _counters(second) == [(AUDIO, 1), (VIDEO, 3)]


def test_a_packet_without_payload_repeats_the_counter_and_the_counter_wraps_at_16() -> None:
    counters = ContinuityCounters()
    data = b"".join(_packet(VIDEO) for _ in range(15)) + _packet(VIDEO, ADAPTATION_ONLY) + _packet(VIDEO)
    assert [c for _, c in _counters(counters.carry_on(data))] == [*range(15), 14, 15]
    assert _counters(counters.carry_on(_packet(VIDEO))) == [(VIDEO, 0)]


def test_the_rest_of_each_packet_is_kept_and_null_packets_are_left_alone() -> None:
    marked = bytearray(_packet(VIDEO, counter=9))
    marked[100] = 0xAB
    data = _packet(NULL, counter=7) + bytes(marked)
    out = ContinuityCounters().carry_on(data)
    assert _counters(out) == [(NULL, 7), (VIDEO, 0)]
    assert out[PACKET + 100] == 0xAB and out[PACKET + 3] & 0xF0 == PAYLOAD << 4


@pytest.mark.parametrize(
    ("data", "message"),
    [(_packet(VIDEO)[:-1], "188-byte packets"), (b"\x00" + _packet(VIDEO)[1:], "sync byte")],
)
def test_what_is_not_whole_ts_packets_is_refused(data: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ContinuityCounters().carry_on(data)


def test_an_empty_segment_is_empty() -> None:
    assert ContinuityCounters().carry_on(b"") == b""


def test_a_discontinuity_is_marked_on_each_streams_first_packet_that_has_an_adaptation_field() -> None:
    keyframe = bytearray(_packet(VIDEO, BOTH))
    keyframe[4:6] = bytes([7, 0x50])  # adaptation field: random access + PCR
    audio = bytearray(_packet(AUDIO, BOTH))
    audio[4:6] = bytes([1, 0x40])
    later = bytearray(keyframe)
    table = _packet(0x0000)  # the PAT: no adaptation field, left alone
    data = table + bytes(keyframe) + bytes(audio) + bytes(later)
    out = mark_discontinuity(data)
    assert [out[i * PACKET + 5] for i in (1, 2, 3)] == [0xD0, 0xC0, 0x50]
    assert out[:PACKET] == table and len(out) == len(data)
