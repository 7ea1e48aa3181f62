"""MPEG-TS continuity counters that run on from one segment to the next.

Each segment is muxed by a fresh FFmpeg mpegts muxer, so every PID's 4-bit continuity counter
starts again at 0 in every segment. A player that reads the segments as one stream (FFmpeg's HLS
demuxer, a recorder, a stream validator) sees a counter jump at each boundary and flags the first
packet after it, the segment's keyframe, as corrupt. `ContinuityCounters` rewrites each segment's
counters so that every PID continues from where the previous segment of the same encoder left it,
as one long-lived muxer would (ISO/IEC 13818-1 2.4.3.3: the counter increments with each packet
that carries a payload and stays put on an adaptation-field-only packet).

Where the counters cannot carry on (a new encoder after a takeover, a segment dropped after the
encoder had counted through it), `mark_discontinuity` sets the discontinuity indicator on each
stream's first packet, which tells a demuxer that the jump is meant (2.4.3.5), as the playlist's
EXT-X-DISCONTINUITY tells a player.
"""

from __future__ import annotations

import numpy as np

PACKET = 188
SYNC = 0x47
NULL_PID = 0x1FFF
DISCONTINUITY_INDICATOR = 0x80


def _packets(data: bytes) -> np.ndarray:
    if len(data) % PACKET:
        raise ValueError(f"an MPEG-TS segment is whole {PACKET}-byte packets; got {len(data)} bytes")
    packets = np.frombuffer(data, dtype=np.uint8).reshape(-1, PACKET).copy()
    if len(packets) and not (packets[:, 0] == SYNC).all():
        raise ValueError("an MPEG-TS segment's packets must each start with the sync byte 0x47")
    return packets


def _pids(packets: np.ndarray) -> np.ndarray:
    return (packets[:, 1].astype(np.int32) & 0x1F) << 8 | packets[:, 2]


def mark_discontinuity(data: bytes) -> bytes:
    """`data` with the discontinuity indicator set on the first packet of each PID that carries an
    adaptation field there. FFmpeg's muxer gives every stream's first packet in a segment one (the
    keyframe's random-access flag and PCR, the audio's random-access flag); the tables (PAT, PMT,
    SDT) have none and need none, since each fits one packet."""
    packets = _packets(data)
    pids = _pids(packets)
    _, first = np.unique(pids, return_index=True)
    for row in first:
        header = packets[row]
        if pids[row] != NULL_PID and header[3] & 0x20 and header[4] > 0:
            header[5] |= DISCONTINUITY_INDICATOR
    return packets.tobytes()


class ContinuityCounters:
    """The last counter written per PID, carried across the segments of one encoder."""

    def __init__(self) -> None:
        self._last: dict[int, int] = {}

    def carry_on(self, data: bytes) -> bytes:
        """`data` (whole TS packets) with each PID's counters continuing the previous segment's."""
        packets = _packets(data)
        pids = _pids(packets)
        has_payload = ((packets[:, 3] >> 4) & 1).astype(np.int32)
        for pid in np.unique(pids):
            if pid == NULL_PID:
                continue
            rows = np.flatnonzero(pids == pid)
            # With no counter yet, the first payload packet gets 0, as a new muxer would write.
            counters = ((self._last.get(int(pid), -1) + np.cumsum(has_payload[rows])) & 0x0F).astype(np.uint8)
            packets[rows, 3] = (packets[rows, 3] & 0xF0) | counters
            self._last[int(pid)] = int(counters[-1])
        return packets.tobytes()
