"""Baseline (a): the loudest packet wins, no hysteresis.

Between talk spurts (everyone below the speech threshold) the spotlight stays put; without that the
baseline would follow whichever background hiss is loudest, which no product would ship.
"""

from __future__ import annotations

from bench.spotlight.baselines.packets import PacketEngine

# -50 dBov: above every corpus noise floor, below every corpus speaker's speech.
SPEECH_DBOV = 50


class LoudestSpeaker(PacketEngine):
    def __init__(self) -> None:
        super().__init__()
        self._latest: dict[str, tuple[float, int]] = {}

    def on_packet(self, identity: str, t: float, level_dbov: int) -> None:
        self._latest[identity] = (t, level_dbov)

    def dominant(self, t: float) -> str | None:
        best, best_level = self.holder, SPEECH_DBOV + 1
        for identity, (at, level) in self._latest.items():
            if identity in self.identities and t - at <= 0.04 and level < best_level:
                best, best_level = identity, level
        return best

    def set_muted(self, identity: str, t: float, muted: bool) -> None:
        super().set_muted(identity, t, muted)
        if muted:
            self._latest.pop(identity, None)
