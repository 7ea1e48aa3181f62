"""Baseline (c): Jitsi's dominant speaker identification (Volfin & Cohen 2013), re-stated.

As jitsi-utils implements the paper on RFC 6464 levels rather than a spectrum: each speaker keeps the
last 50 packet levels (loudness 0..127). "Immediates" quantise each level into 13 sub-units (levels
below the speaker's own minimum + one sub-unit count as silence); "mediums" count immediates above 7
per block of 5; "longs" count mediums above 4 over 10 blocks. Each time scale's speech activity
score is log C(n, v) + v log p + (n - v) log(1 - p) - log(lambda) + lambda v with p = 0.5 and
lambda = 0.78 / 24 / 47. Every 300 ms a challenger replaces the dominant speaker when the log-ratios
of its scores to the dominant's exceed 3, 2 and 0; several challengers compete on the medium ratio.
The per-speaker minimum level rises to the geometric mean of itself and the minimum of the last 15 s.
"""

from __future__ import annotations

import math

from bench.spotlight.baselines.packets import PacketEngine

N1, N2, N3 = 13, 5, 10
MEDIUM_THRESHOLD, LONG_THRESHOLD = 7, 4
LAMBDAS = (0.78, 24.0, 47.0)
C1, C2, C3 = 3.0, 2.0, 0.0
DECISION_S = 0.3
MAX_LEVEL = 127
SUBUNIT = (MAX_LEVEL + N1 - 1) // N1
HISTORY = N2 * N3
MIN_LEVEL_WINDOW = int(15.0 / 0.02)
MIN_SCORE = 1e-10
LEVEL_IDLE_S = 0.04


def _activity_score(v: int, n: int, lam: float) -> float:
    score = math.log(math.comb(n, v)) + n * math.log(0.5) - math.log(lam) + lam * v
    return max(score, MIN_SCORE)


class _Speaker:
    def __init__(self) -> None:
        self.levels = [0] * HISTORY  # newest first
        self.min_level = 0
        self.next_min = 0
        self.next_min_count = 0
        self.last_t = -math.inf
        self.scores = (MIN_SCORE, MIN_SCORE, MIN_SCORE)

    def level(self, t: float, level: int) -> None:
        self.last_t = t
        self.levels.insert(0, level)
        self.levels.pop()
        if level == 0:
            return
        if self.min_level == 0 or level < self.min_level:
            self.min_level, self.next_min, self.next_min_count = level, 0, 0
            return
        self.next_min = level if self.next_min == 0 else min(self.next_min, level)
        self.next_min_count += 1
        if self.next_min_count >= MIN_LEVEL_WINDOW:
            self.min_level = int(math.sqrt(self.min_level * self.next_min))
            self.next_min, self.next_min_count = 0, 0

    def evaluate(self) -> tuple[float, float, float]:
        floor = self.min_level + SUBUNIT
        immediates = [(level if level >= floor else 0) // SUBUNIT for level in self.levels]
        mediums = [
            sum(1 for x in immediates[b * N2 : (b + 1) * N2] if x > MEDIUM_THRESHOLD) for b in range(N3)
        ]
        longs = sum(1 for x in mediums if x > LONG_THRESHOLD)
        self.scores = (
            _activity_score(immediates[0], N1, LAMBDAS[0]),
            _activity_score(mediums[0], N2, LAMBDAS[1]),
            _activity_score(longs, N3, LAMBDAS[2]),
        )
        return self.scores


class JitsiDominantSpeaker(PacketEngine):
    def __init__(self) -> None:
        super().__init__()
        self._speakers: dict[str, _Speaker] = {}
        self._next_decision = DECISION_S

    def on_packet(self, identity: str, t: float, level_dbov: int) -> None:
        # Jitsi's levels grow with loudness: 127 - (-dBov).
        self._speakers.setdefault(identity, _Speaker()).level(t, MAX_LEVEL - level_dbov)

    def dominant(self, t: float) -> str | None:
        for speaker in self._speakers.values():
            # No level for a while (muted, DTX): the speaker is silent in that frame.
            while t - speaker.last_t > LEVEL_IDLE_S:
                speaker.level(speaker.last_t + 0.02, 0)
        if t + 1e-9 < self._next_decision:
            return self.holder
        self._next_decision += DECISION_S
        present = [i for i in self.identities if i in self._speakers]
        if not present:
            return None
        if len(present) == 1:
            return present[0]
        dominant = self.holder if self.holder in present else present[0]
        reference = self._speakers[dominant].evaluate()
        best, best_c2 = dominant, C2
        for identity in present:
            if identity == dominant:
                continue
            scores = self._speakers[identity].evaluate()
            c1, c2, c3 = (math.log(s / r) for s, r in zip(scores, reference, strict=True))
            if c1 > C1 and c2 > C2 and c3 > C3 and c2 > best_c2:
                best, best_c2 = identity, c2
        return best
