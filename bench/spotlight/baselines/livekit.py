"""Baseline (b): livekit-server v1.13.5 active speakers (its source's pkg/sfu/audio/audiolevel.go), re-stated.

Per track: packets louder than -35 dBov are active. Every 400 ms of observed audio, if active packets
covered >= 40 % of it, the window's level is the loudest active packet lowered by 20*log10(1/active
fraction) dB, converted to linear and smoothed by an EMA with alpha = 2/3; otherwise the smoothed
level resets to 0. A track with no packets for two windows resets too. A track is active while its
smoothed level >= 10^(-35/20). The spotlight (a "speaker" layout) is the loudest active track, and
stays where it is while nobody is active.
"""

from __future__ import annotations

import math

from bench.spotlight.baselines.packets import PACKET_S, SILENT_DBOV, PacketEngine

ACTIVE_LEVEL = 35
MIN_PERCENTILE = 40
UPDATE_INTERVAL_S = 0.4
SMOOTH_INTERVALS = 2
ALPHA = 2.0 / (SMOOTH_INTERVALS + 1)
ACTIVE_THRESHOLD = 10 ** (-ACTIVE_LEVEL / 20)


class _TrackLevel:
    def __init__(self) -> None:
        self.smoothed = 0.0
        self.loudest = SILENT_DBOV
        self.active_s = 0.0
        self.observed_s = 0.0
        self.last_t = -math.inf

    def observe(self, t: float, level: int) -> None:
        self.last_t = t
        self.observed_s += PACKET_S
        if level <= ACTIVE_LEVEL:
            self.active_s += PACKET_S
            self.loudest = min(self.loudest, level)
        if self.observed_s >= UPDATE_INTERVAL_S - 1e-9:
            smoothed = 0.0
            if self.active_s >= UPDATE_INTERVAL_S * MIN_PERCENTILE / 100 - 1e-9:
                weight = 20 * math.log10(self.active_s / UPDATE_INTERVAL_S)
                linear = 10 ** (-(self.loudest - weight) / 20)
                smoothed = self.smoothed + (linear - self.smoothed) * ALPHA
            self._reset(smoothed)

    def level(self, t: float) -> float:
        if t - self.last_t >= 2 * UPDATE_INTERVAL_S:
            self._reset(0.0)
        return self.smoothed

    def _reset(self, smoothed: float) -> None:
        self.smoothed = smoothed
        self.loudest = SILENT_DBOV
        self.active_s = 0.0
        self.observed_s = 0.0


class LiveKitActiveSpeakers(PacketEngine):
    def __init__(self) -> None:
        super().__init__()
        self._tracks: dict[str, _TrackLevel] = {}
        self._next_update = UPDATE_INTERVAL_S
        self._active: list[str] = []

    def on_packet(self, identity: str, t: float, level_dbov: int) -> None:
        self._tracks.setdefault(identity, _TrackLevel()).observe(t, level_dbov)

    def dominant(self, t: float) -> str | None:
        # The server publishes speaker updates every UpdateInterval, so the layout moves that often.
        if t + 1e-9 < self._next_update:
            return self.holder
        self._next_update += UPDATE_INTERVAL_S
        levels = {
            identity: track.level(t)
            for identity, track in self._tracks.items()
            if identity in self.identities
        }
        self._active = sorted(
            (i for i, level in levels.items() if level >= ACTIVE_THRESHOLD), key=levels.__getitem__
        )
        return self._active[-1] if self._active else self.holder

    def speaking(self, t: float) -> list[str]:
        return list(self._active)
