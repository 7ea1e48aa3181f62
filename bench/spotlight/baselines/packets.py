"""The shared front end of the baselines: 20 ms packets with RFC 6464 levels."""

from __future__ import annotations

import math

import numpy as np

from media_agent.spotlight.engine import as_samples
from media_agent.spotlight.state import StageComposer, StageState

PACKET_S = 0.02
SILENT_DBOV = 127


def rfc6464_level(samples: np.ndarray) -> int:
    """The packet's level as the header extension carries it: -dBov, 0 (loudest) .. 127 (silence)."""
    x = samples.astype(np.float64) / 32768.0
    rms = math.sqrt(float(np.dot(x, x)) / len(x)) if len(x) else 0.0
    if rms <= 0.0:
        return SILENT_DBOV
    return int(min(SILENT_DBOV, max(0, round(-20.0 * math.log10(rms)))))


class PacketEngine:
    """Engine API on top of per-packet levels; subclasses implement on_packet and dominant."""

    def __init__(self) -> None:
        self._composer = StageComposer()
        self._pending: dict[str, np.ndarray] = {}
        self._muted: set[str] = set()
        self.identities: list[str] = []
        self.holder: str | None = None
        self._state = StageState()

    @property
    def state(self) -> StageState:
        return self._state

    def push_audio(self, identity: str, t: float, pcm_int16: np.ndarray | bytes, sample_rate: int) -> None:
        if identity not in self.identities:
            self.identities.append(identity)
        if identity in self._muted:
            return
        packet = round(sample_rate * PACKET_S)
        samples = as_samples(pcm_int16)
        pending = self._pending.get(identity)
        if pending is not None and len(pending):
            t -= len(pending) / sample_rate
            samples = np.concatenate((pending, samples))
        n = len(samples) // packet
        for i in range(n):
            level = rfc6464_level(samples[i * packet : (i + 1) * packet])
            self.on_packet(identity, t + (i + 1) * PACKET_S, level)
        self._pending[identity] = samples[n * packet :]

    def set_muted(self, identity: str, t: float, muted: bool) -> None:
        if muted:
            self._muted.add(identity)
            self._pending.pop(identity, None)
        else:
            self._muted.discard(identity)

    def set_video(self, identity: str, t: float, on: bool) -> None:
        self._composer.set_video(identity, t, on)

    def set_pin(self, identity: str | None, t: float) -> None:
        self._composer.set_pin(identity)

    def remove(self, identity: str, t: float) -> None:
        if identity in self.identities:
            self.identities.remove(identity)
        self._composer.remove(identity)

    def advance(self, t: float) -> StageState | None:
        self.holder = self.dominant(t)
        state = self._composer.compose(self.holder, tuple((i, 1.0) for i in sorted(self.speaking(t))))
        if state == self._state:
            return None
        self._state = state
        return state

    def on_packet(self, identity: str, t: float, level_dbov: int) -> None:
        raise NotImplementedError

    def dominant(self, t: float) -> str | None:
        raise NotImplementedError

    def speaking(self, t: float) -> list[str]:
        return [self.holder] if self.holder else []
