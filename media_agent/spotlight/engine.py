"""The spotlight decision: who dominates the conversation, and when the floor changes hands.

The rule, in one place (docs/spotlight.md has the reasoning and the benchmark behind it):
- Per speaker (speaker.py), a burst of speech carries two measures: `evidence`, strict voiced time
  near the burst's envelope peak, and `talk`, looser (weaker syllables, consonants at half weight).
  A hop is voiced if it clears the speaker's own noise floor and the periodicity check (analysis.py).
- Free floor (nobody holds it, or the holder is muted, or has been unvoiced for holder_release_s and
  made no unvoiced speech sound for holder_unvoiced_s): the first challenger with onset_s of evidence
  takes it. Transients never carry that much. Someone who started talking earlier and still talks
  goes first: a backchannel said over an answer that opens on consonants waits for that answer.
  An answer begun on a free floor keeps it when the old holder speaks up after it ("yeah").
- Holder still talking: a challenger who started after the holder needs takeover_s of talk (longer
  than a backchannel) and onset_s of evidence. One who lost the floor while talking cannot win it
  back in the same burst (no ping-pong in double talk).
- Silence alone never moves the spotlight, so pauses inside a turn cost nothing.
"""

from __future__ import annotations

import math

import numpy as np

from media_agent.spotlight.config import EngineConfig
from media_agent.spotlight.speaker import Speaker
from media_agent.spotlight.state import StageComposer, StageState


def as_samples(pcm: np.ndarray | bytes) -> np.ndarray:
    if isinstance(pcm, bytes | bytearray | memoryview):
        return np.frombuffer(pcm, dtype=np.int16)
    return np.asarray(pcm)


class SpotlightEngine:
    def __init__(self, config: EngineConfig | None = None) -> None:
        self.config = config or EngineConfig()
        self._speakers: dict[str, Speaker] = {}
        self._composer = StageComposer()
        self._holder: str | None = None
        self._state = StageState()
        self._speaking: tuple[tuple[str, float], ...] = ()
        self._levels_at = -float("inf")
        # The holder's latest free floor, from when it became free to when they spoke up again
        # (inf while it lasts): an answer begun in it keeps it (answer_first).
        self._free_from = -math.inf
        self._free_until = -math.inf

    @property
    def state(self) -> StageState:
        return self._state

    # Inputs ------------------------------------------------------------------------------------

    def push_audio(self, identity: str, t: float, pcm_int16: np.ndarray | bytes, sample_rate: int) -> None:
        """One mono int16 frame of any length whose first sample is at time t."""
        self._speaker(identity).push(t, as_samples(pcm_int16), sample_rate)

    def set_muted(self, identity: str, t: float, muted: bool) -> None:
        self._speaker(identity).set_muted(muted)

    def set_video(self, identity: str, t: float, on: bool) -> None:
        self._composer.set_video(identity, t, on)

    def set_screen(self, identity: str, t: float, on: bool) -> None:
        """Whether `identity` has a screen share published (and unmuted)."""
        self._composer.set_screen(identity, on)

    def set_pin(self, identity: str | None, t: float, source: str = "camera") -> None:
        """The host pin: `identity`'s camera, or with source "screen_share" their screen share."""
        self._composer.set_pin(identity, source)

    def remove(self, identity: str, t: float) -> None:
        self._speakers.pop(identity, None)
        self._composer.remove(identity)
        if self._holder == identity:
            # The floor falls back to whoever held it before, rather than to nobody.
            previous = self._composer.previous_holder()
            self._holder = previous if previous in self._speakers else None
            self._free_from = self._free_until = -math.inf

    # Decision ----------------------------------------------------------------------------------

    def advance(self, t: float) -> StageState | None:
        """Decide with everything pushed up to time t; returns the new state if it changed."""
        for speaker in self._speakers.values():
            speaker.expire(t)
        self._holder = self._dominant(t)
        speaking = self._speaking_now(t)
        state = self._composer.compose(self._holder, speaking)
        if state == self._state:
            return None
        self._state = state
        return state

    def _dominant(self, t: float) -> str | None:
        config = self.config
        holder = self._speakers.get(self._holder) if self._holder is not None else None
        silence = math.inf if holder is None or holder.muted else t - holder.last_voiced_t
        # The holder talks while voiced within holder_release_s or still making unvoiced speech sounds.
        free = holder is None or (
            silence >= config.holder_release_s and not holder.sounding_within(t, config.holder_unvoiced_s)
        )
        if free and self._free_until != math.inf:
            self._free_from, self._free_until = t, math.inf
        elif not free and self._free_until == math.inf:
            self._free_until = t
        best: Speaker | None = None
        best_free = free
        for speaker in self._speakers.values():
            if speaker is holder or not speaker.voiced_within(t, config.challenger_recent_s):
                continue
            # The floor is free to a speaker who began on a free floor before the holder spoke up.
            open_floor = free or (holder is not None and self._answered(t, holder, speaker))
            if holder is not None and not open_floor and speaker.burst_start_t <= holder.burst_start_t:
                # Only a newcomer interrupts: in a long double talk the one who was talking first
                # does not win the floor back every takeover_s (that would be flicker).
                continue
            if speaker.burst_start_t == speaker.yielded_burst_t and silence < config.yield_release_s:
                continue
            if open_floor:
                # An onset once shown holds through weak syllables, while its run goes on.
                claim = config.onset_peak and t - speaker.run_end_t <= config.challenger_recent_s
                evidence = speaker.evidence_peak if claim else speaker.evidence
                strong = evidence >= config.onset_s
            else:
                strong = (
                    speaker.evidence >= config.onset_s
                    and speaker.talk >= config.takeover_s
                    and speaker.run_end_t - speaker.run_start_t >= config.takeover_min_run_s
                )
            if strong and (best is None or self._ahead(speaker, best, open_floor)):
                best, best_free = speaker, open_floor
        if best is None or (best_free and config.first_come and self._earlier_rival(t, holder, best)):
            return self._holder
        if holder is not None and not best_free:
            holder.yielded_burst_t = holder.burst_start_t
        self._free_from = self._free_until = -math.inf
        return best.identity

    def _answered(self, t: float, holder: Speaker, speaker: Speaker) -> bool:
        """`speaker`'s run goes on, began on a free floor, and the holder's current run only after it."""
        return (
            self.config.answer_first
            and t - speaker.run_end_t <= self.config.challenger_recent_s
            and self._free_from <= speaker.run_start_t <= self._free_until
            and speaker.run_start_t < holder.run_start_t
        )

    def _ahead(self, speaker: Speaker, best: Speaker, free: bool) -> bool:
        """Whether `speaker` goes before `best`: on a free floor the first to speak (first_come),
        otherwise (and on a tie) the one with more talk."""
        if free and self.config.first_come and speaker.burst_start_t != best.burst_start_t:
            return speaker.burst_start_t < best.burst_start_t
        return speaker.talk > best.talk

    def _earlier_rival(self, t: float, holder: Speaker | None, best: Speaker) -> bool:
        """Someone else started talking before `best`, is still talking and has onset_s of talk."""
        window = self.config.run_gap_s
        return any(
            speaker is not holder
            and speaker.burst_start_t < best.burst_start_t
            and speaker.speaking_within(t, window)
            and speaker.talk >= self.config.onset_s
            for speaker in self._speakers.values()
        )

    def _speaking_now(self, t: float) -> tuple[tuple[str, float], ...]:
        config = self.config
        now = tuple(
            sorted(
                (speaker.identity, self._level(speaker))
                for speaker in self._speakers.values()
                if speaker.voiced_within(t, config.speaking_hangover_s)
                and speaker.evidence >= config.speaking_min_s
            )
        )
        same_people = [identity for identity, _ in now] == [identity for identity, _ in self._speaking]
        if same_people and t - self._levels_at < config.level_update_s:
            return self._speaking
        self._speaking = now
        self._levels_at = t
        return now

    def _level(self, speaker: Speaker) -> float:
        config = self.config
        level = min(1.0, max(0.0, speaker.snr_db / config.level_full_snr_db))
        return round(round(level / config.level_step) * config.level_step, 2)

    def _speaker(self, identity: str) -> Speaker:
        speaker = self._speakers.get(identity)
        if speaker is None:
            speaker = self._speakers[identity] = Speaker(identity, self.config)
        return speaker
