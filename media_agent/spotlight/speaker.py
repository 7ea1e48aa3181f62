"""One speaker's speech evidence: how long, and how clearly, they have been talking in this burst."""

from __future__ import annotations

import math

import numpy as np

from media_agent.spotlight.analysis import FrameAnalyzer, Hop
from media_agent.spotlight.config import EngineConfig


class Speaker:
    def __init__(self, identity: str, config: EngineConfig) -> None:
        self.identity = identity
        self._config = config
        self._analyzer = FrameAnalyzer(config)
        self.muted = False
        # Voiced time in the current burst near its envelope peak, leaked by silent hops (seconds):
        # strict, so no transient reaches onset_s.
        self.evidence = 0.0
        # The same, looser (weaker syllables and consonants count): for takeovers, where the
        # challenger has to keep it up for takeover_s anyway.
        self.talk = 0.0
        # The most evidence this run of speech has had (never below `evidence`): a speaker who
        # showed onset_s of it keeps that claim while the run goes on, though weak syllables leak
        # it (engine.py, free floor).
        self.evidence_peak = 0.0
        self.last_voiced_t = -math.inf
        # Latest hop that keeps the burst going: a voiced hop, or with burst_by_streaks a voiced streak.
        self._burst_alive_t = -math.inf
        # Latest hop of the current burst that was voiced or speech-like (a consonant counts here).
        self.last_speech_t = -math.inf
        # Latest hop that ended a streak of run_min_streak speech-like hops (voiced or not) in the
        # current burst: the speaker is still making speech sounds, if not voiced ones.
        self.last_sound_streak_t = -math.inf
        self._sound_streak = 0
        # Start of the unbroken speech-like hops up to now: a word's first sound (run_lead_s).
        self._sound_start_t = -math.inf
        self.last_audio_t = -math.inf
        self.burst_start_t = -math.inf
        # Start of the current run of speech: voiced hops with no gap longer than run_gap_s. A burst
        # can hold several runs (a word, a pause, another word); a single word is one run.
        self.run_start_t = -math.inf
        # Runs are made of streaks of consecutive voiced hops (a syllable's vowel), so an isolated
        # voiced hop (a noise peak) neither starts nor extends one.
        self.run_end_t = -math.inf
        # Latest speech-like hop that carries the run on (run_bridge_speechlike).
        self._run_carried_t = -math.inf
        self._streak = 0
        self._streak_start_t = -math.inf
        # Loudest recent hop of the burst, decaying: impacts (mugs, knocks) fall away from it fast.
        self.peak_db = -math.inf
        # The burst during which this speaker lost the floor while still talking (see engine.py).
        self.yielded_burst_t = math.nan
        # Smoothed SNR (dB) of voiced hops, for the published level.
        self.snr_db = 0.0
        # Level of the previous hop, and whether the current streak of speech-like hops has built
        # up (see build_up_hop); whether the current burst has (only then does it earn evidence).
        self._last_level_db = -math.inf
        self._sound_built_up = False
        self._burst_built_up = False
        # Whether the current burst has had a clearly pitched hop (clear_pitch).
        self._burst_clear = False

    def push(self, t: float, pcm: np.ndarray, sample_rate: int) -> None:
        if self.muted:
            # A muted microphone never counts, whatever the track still carries.
            self.last_audio_t = t + len(pcm) / sample_rate
            return
        for hop in self._analyzer.feed(t, pcm, sample_rate):
            self._update(hop)

    def set_muted(self, muted: bool) -> None:
        self.muted = muted
        self._end_burst()
        self._forget_sound()

    def expire(self, t: float) -> None:
        """No audio for a while is silence: end the burst so stale evidence never wins."""
        if t - self.last_audio_t > self._config.stale_audio_s and (self.evidence > 0.0 or self.talk > 0.0):
            self._end_burst()
            self._forget_sound()

    def voiced_within(self, t: float, window_s: float) -> bool:
        return not self.muted and t - self.last_voiced_t <= window_s

    def sounding_within(self, t: float, window_s: float) -> bool:
        """A streak of speech sounds, voiced or not, ended less than window_s ago."""
        return not self.muted and t - self.last_sound_streak_t < window_s

    def speaking_within(self, t: float, window_s: float) -> bool:
        """Voiced, or a consonant of the current burst, this recently."""
        return not self.muted and t - self.last_speech_t <= window_s

    def _update(self, hop: Hop) -> None:
        config = self._config
        self.last_audio_t = hop.t_end
        previous_db, self._last_level_db = self._last_level_db, hop.level_db
        self._sound_streak = self._sound_streak + 1 if hop.speechlike else 0
        if self._sound_streak == 1:
            self._sound_start_t = hop.t_end - config.hop_s
            self._sound_built_up = False
        elif self._sound_streak >= config.build_up_hop:
            self._sound_built_up |= hop.level_db >= previous_db - config.build_up_fall_db
        if hop.voiced:
            new_burst = hop.t_end - self._burst_alive_t > config.burst_gap_s
            if new_burst:
                self._end_burst()
                self.burst_start_t = hop.t_end - config.hop_s
                self.peak_db = hop.level_db
            if hop.t_end - self.last_voiced_t > config.hop_s * 1.5:
                self._streak = 0
                self._streak_start_t = hop.t_end - config.hop_s
            self._streak += 1
            if self._streak >= config.run_min_streak:
                if not self._run_goes_on(self._streak_start_t):
                    self.run_start_t = max(self._sound_start_t, self._streak_start_t - config.run_lead_s)
                    self.evidence_peak = self.evidence
                self.run_end_t = hop.t_end
            if new_burst or self._streak >= config.run_min_streak or not config.burst_by_streaks:
                self._burst_alive_t = hop.t_end
            self.last_voiced_t = hop.t_end
            # ~100 ms attack so the level follows syllables without jittering per hop.
            self.snr_db += (hop.snr_db - self.snr_db) * 0.1
        elif hop.t_end - self._burst_alive_t > config.burst_gap_s:
            self._end_burst()
            return
        elif not hop.speechlike:
            self._leak()
            return
        elif (
            config.run_bridge_speechlike
            and hop.t_end - config.hop_s - max(self.run_end_t, self._run_carried_t) <= config.run_gap_s
        ):
            # A consonant within run_gap_s of the run (or of the consonants carrying it): the run
            # goes on across it, though it does not get longer until the next voiced streak.
            self._run_carried_t = hop.t_end
        # A voiced hop, or a consonant inside a burst (speech-like but aperiodic; it does not make
        # the speaker "recently voiced", since a noisy mic passes that test on its own noise).
        self.last_speech_t = hop.t_end
        if self._sound_streak >= config.run_min_streak:
            self.last_sound_streak_t = hop.t_end
        step = config.hop_s
        self._burst_built_up = self._burst_built_up or self._sound_built_up
        self._burst_clear = self._burst_clear or (hop.voiced and hop.periodicity >= config.clear_pitch)
        self.peak_db = max(hop.level_db, self.peak_db - config.envelope_decay_db_per_s * step)
        below_peak = self.peak_db - hop.level_db
        # Far below the burst's peak is the tail of an impact (or a weak syllable): it leaks.
        if below_peak > config.envelope_drop_db:
            self.evidence = max(0.0, self.evidence - step * config.evidence_leak)
        elif hop.voiced and self._burst_clear and (self._burst_built_up or config.build_up_hop == 0):
            self.evidence = min(self.evidence + step, config.evidence_cap_s)
            self.evidence_peak = max(self.evidence_peak, self.evidence)
        if below_peak > config.talk_envelope_drop_db:
            self.talk = max(0.0, self.talk - step * config.evidence_leak)
        else:
            weight = 1.0 if hop.voiced else config.unvoiced_weight
            self.talk = min(self.talk + step * weight, config.evidence_cap_s)

    def _run_goes_on(self, streak_start_t: float) -> bool:
        """Whether a voiced streak starting now continues the current run."""
        config = self._config
        unvoiced = streak_start_t - self.run_end_t
        if unvoiced <= config.run_gap_s:
            return True
        # Across a longer gap only if consonants filled it, and never across run_bridge_max_s.
        return (
            config.run_bridge_speechlike
            and unvoiced <= config.run_bridge_max_s
            and streak_start_t - self._run_carried_t <= config.run_gap_s
        )

    def _leak(self) -> None:
        step = self._config.hop_s * self._config.evidence_leak
        self.evidence = max(0.0, self.evidence - step)
        self.talk = max(0.0, self.talk - step)

    def _forget_sound(self) -> None:
        """After a mute or a gap in the audio, the next sound starts afresh: it must build up again."""
        self._sound_streak = 0
        self._sound_built_up = False
        self._last_level_db = -math.inf

    def _end_burst(self) -> None:
        self._run_carried_t = -math.inf
        self._burst_built_up = False
        self._burst_clear = False
        self.evidence = 0.0
        self.evidence_peak = 0.0
        self.talk = 0.0
        self.snr_db = 0.0
