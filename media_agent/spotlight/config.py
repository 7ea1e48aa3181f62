"""The engine's tunables, each named with the reason for its default.

Defaults come from the benchmark (bench/spotlight, docs/bench/spotlight.md); change them there first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class EngineConfig:
    # Analysis hop. 10 ms is the WebRTC VAD's smallest frame and the finest step the decisions need.
    hop_s: float = 0.01

    # Extra voice activity detector on top of the energy gate and the periodicity check: "none" or
    # "webrtc" (the WebRTC GMM VAD). The benchmark shows it changes no outcome that matters once
    # periodicity is on and adds 40-60 % to a talking frame, so it is off; docs/spotlight.md has the
    # numbers, and why Silero was not taken either.
    vad: Literal["webrtc", "none"] = "none"
    # WebRTC VAD aggressiveness 0..3; 3 rejects the most non-speech.
    vad_mode: int = 3
    # Require a pitch-like periodicity (70-400 Hz, below 1 kHz) for a hop to count as speech.
    # Coughs, clicks, keyboards and mug clinks are not periodic in that band; voiced speech is.
    periodicity: bool = True
    periodicity_threshold: float = 0.5
    # ... and at least this share of the hop's energy below 1 kHz, where a vowel's pitch and first
    # formant are. A mug's thud is periodic in that band, but its clink and impact noise put most of
    # the energy above: in the tuning half 99.5 % of mug hops that passed the periodicity check had
    # under half their energy there, while 91 % of speech hops had more (recorded voices from Debian
    # packages keep 76-100 % of their voiced hops, median 95 %). This is what lets onset_s be short.
    # 0.45, not 0.5: some recorded voices are bright (a close or high-passed mic puts much of a
    # vowel's energy above 1 kHz), and at 0.5 their first syllable often failed the test, so a clean
    # turn waited ~0.6 s for a darker vowel. Chosen on both draws of both tuning halves: recorded
    # voices +0.57 / +0.76 % accuracy, synthetic +0.02 / +0.03 %, no backchannel or noise switch
    # more, and still no transient past 0.02 s of evidence (0.4 let mugs reach 0.04 s, the onset).
    voiced_low_fraction: float = 0.45
    # Periodicity is read at a true peak of the autocorrelation only: noise with most of its energy
    # at low frequencies (brown noise, rumble) also correlates strongly at short lags, but falls off
    # from lag 0, so its maximum sits at the shortest pitch lag. Counted as voiced, such noise peaks
    # chained runs of speech before a backchannel's first word (see takeover_min_run_s).
    pitch_peak_only: bool = True

    # Energy gate: a hop is a candidate only this far above the speaker's own noise floor ...
    gate_snr_db: float = 9.0
    # ... and above this absolute level (a digital-silence track has no floor to speak of).
    min_level_dbfs: float = -70.0
    # The floor follows quiet hops down quickly and creeps up slowly, so speech (which always has
    # gaps) never lifts it, but a louder room lifts it within seconds.
    floor_rise_db_per_s: float = 3.0
    floor_fall_fraction: float = 0.25

    # Speech evidence: voiced time in the current burst of speech. Silent hops inside the burst
    # leak it at this fraction of their duration; a gap longer than burst_gap_s ends the burst.
    evidence_leak: float = 0.25
    # Weight of speech-like but aperiodic hops inside a burst (consonants) in the talk measure.
    unvoiced_weight: float = 0.5
    burst_gap_s: float = 0.8
    # Only a voiced streak (run_min_streak hops, below) keeps a burst going, as only a streak makes a
    # run: lone voiced hops are mostly noise peaks. Counted, a few of them 0.5-0.8 s apart kept a
    # finished backchannel's burst, and its leaking evidence, alive for over a second, and the last
    # one took a free floor on it (found on the recorded held-out half with voiced_low_fraction at
    # 0.45, which lets a few more noise peaks through; no outcome of the tuning halves moved).
    burst_by_streaks: bool = True
    evidence_cap_s: float = 3.0
    # A voiced hop adds evidence only within envelope_drop_db of the burst's peak, which decays at
    # envelope_decay_db_per_s. Speech keeps coming back to its peak syllable after syllable; an
    # impact (a mug set down, a knock) rings periodically but decays ~150 dB/s, so it stops counting
    # after a few hops.
    envelope_drop_db: float = 12.0
    envelope_decay_db_per_s: float = 20.0
    # Optional, off: a burst's voiced hops earn evidence only once one of its sounds has built up (a
    # hop, from the build_up_hop-th of an unbroken streak of speech-like hops on, no more than
    # build_up_fall_db below the hop before it; 0 is off, 1 acts as 2), and only once one of its
    # voiced hops was clearly pitched (periodicity >= clear_pitch; the voicing test asks 0.5). An
    # impact that only decays never builds up; the low "thock" of real keystrokes is pitched at
    # 0.5-0.55. Tried at this stop with a 0.03 s onset and not shipped: with build-up alone the unseen
    # parts gained 0.06-0.08 points, but real typing (livekit-agents' recordings) took a free floor
    # in 51 of 80 trials against 27 for the shipped engine; with clear_pitch 0.7 as well, in none, but
    # unseen recorded voices lost 0.17 points against the shipped engine (docs/bench/spotlight.md).
    build_up_hop: int = 0
    build_up_fall_db: float = 0.5
    clear_pitch: float = 0.0
    # The looser "talk" measure used for takeovers: more of the envelope, and consonants inside a
    # burst at unvoiced_weight.
    talk_envelope_drop_db: float = 18.0

    # Evidence needed to take a free floor (holder silent for holder_release_s, or nobody holds it):
    # four voiced hops near the burst's peak. With voiced_low_fraction and pitch_peak_only no
    # transient of the tuning halves gets past 0.02 s of evidence (before them, a mug's thud reached
    # 0.11 s and the onset had to be 0.13 s). Chosen on the tuning halves: 0.13 -> 0.04 s took them
    # from 93.9 % to 96.5 % (synthetic voices) and 92.5 % to 95.3 % (recorded voices), most of it in
    # clean-turn latency; 0.03 s gains 0.1-0.3 % more with no margin left over the transients (and
    # over real typing: see build_up_hop).
    onset_s: float = 0.04
    # Talk needed to take the floor while the holder still talks. The run below is what refuses
    # backchannels; this only asks that the run carried some voice (0.2-0.3 s give the same results
    # on the tuning halves; 0.55 s, the value before the run existed, delayed takeovers by ~0.04 s).
    takeover_s: float = 0.3
    # ... and a run of speech that has gone on this long (first to latest voiced hop, no gap over
    # run_gap_s). A single-word backchannel ("yeah", "mm-hm", "exactly") lasts 0.2-0.8 s however
    # loud it is said, so no backchannel can take a talking holder's floor; an interruption that
    # keeps going does. Measured on the run, not the burst, so a word said soon after one's own
    # earlier speech is still one word. 0.85 s: the longest backchannel (0.8 s) plus 0.05 s of
    # measurement margin; a run is never longer than its word (streaks and run_lead_s, below), and
    # on the tuning halves the longest backchannel run was 0.84 s, for a 0.84 s word. (0.9 s until
    # runs were bridged by consonants.)
    takeover_min_run_s: float = 0.85
    run_gap_s: float = 0.3
    # ... made of streaks of at least this many consecutive voiced hops (30 ms: a vowel nucleus). A
    # lone voiced hop is usually a noise peak; counted, such hops within run_gap_s of a word made its
    # run up to 0.2-0.34 s longer than the word on the tuning halves (a 0.8 s "yeah" measured 0.9 s).
    # With streaks the run never exceeded its word there, at 0.03-0.08 % of accuracy.
    run_min_streak: int = 3
    # A run starts at its word's first sound: the unbroken speech-like hops (an onset consonant)
    # just before its first voiced streak count, up to this long. The backchannel bound is a word's
    # whole length, and the takeover waited for that length of voicing on top of the consonant
    # (a word opening on "s", "th" or "f"). Tuning halves: takeover medians -0.02 to -0.10 s,
    # accuracy +0.04 to +0.08 %, the longest backchannel run 0.84 s (a 0.84 s word; the corpus draws
    # a few just past 0.8 s). 0.15-0.2 s change nothing more.
    run_lead_s: float = 0.1
    # Speech-like but aperiodic hops (consonants, breathy syllables) carry a run across a gap: only
    # a gap of run_gap_s without any speech ends it. Connected speech has stretches of consonants
    # longer than run_gap_s ("sixths street"); without this they cut an interruption's run in two
    # and its takeover waited for a second 0.9 s run (tuning halves: takeover p90 1.26 -> 1.08 s,
    # no backchannel run got longer, since a word ends in its speaker's silence).
    run_bridge_speechlike: bool = True
    # ... but never across more than this without a voiced streak: the longest consonant clusters
    # of speech last ~0.3-0.4 s, and a word said half a second after one's own earlier words is a
    # word of its own (a backchannel), whatever noise passed the gate in between. Added after the
    # held-out run of the bridged run showed a backchannel chained to its speaker's turn 1.5 s
    # earlier through sporadic noise hops (docs/bench/spotlight.md).
    run_bridge_max_s: float = 0.5
    # The holder counts as talking until silent this long; pauses between sentences are longer, but
    # a pause alone never moves the spotlight, only someone else's speech does.
    holder_release_s: float = 0.45
    # ... and while they still make unvoiced speech sounds: a streak of run_min_streak speech-like
    # hops of their burst (a fricative, a breathy or whispered tail, a creaky syllable the voicing
    # test misses) within this. Recorded voices often trail off so, and a word said over that tail
    # took a "free" floor: on the tuning halves these were 8 of the 8 backchannel switches (0 with
    # it at 0.2-0.3 s, accuracy +0.00 / +0.05 / +0.07 / +0.14 %). A lone speech-like hop does not
    # count: a noisy mic makes them every 0.1-0.2 s, and each would delay the next clean turn
    # (counted singly, clean-turn medians rose up to 0.05 s). 0 turns it off.
    holder_unvoiced_s: float = 0.2
    # A speaker who lost the floor while still talking cannot win it back in that same burst of
    # speech unless the new holder has been silent this long (no ping-pong in double talk).
    yield_release_s: float = 1.0
    # On a free floor, the first to speak gets it: among strong challengers the one whose burst began
    # first, and a challenger who started after another one who is still talking (voiced or
    # consonants within run_gap_s, onset_s of talk) waits for that one to show onset_s of evidence,
    # at most until that one's burst ends (burst_gap_s after its last voiced streak). An answer that
    # opens on consonants is not overtaken by a backchannel said over it (recorded tuning half:
    # 6 -> 3 backchannel switches, no other outcome changed).
    first_come: bool = True
    # On a free floor, onset_s counts as reached if the current run of speech reached it (its last
    # voiced streak within challenger_recent_s), not only if the leaky evidence holds it right now:
    # an answer that began while the holder's last words faded keeps its claim through a weak
    # syllable (tuning halves: +0.03 / +0.05 % accuracy, from clean-turn latency). Per run, not per
    # burst: a burst's peak outlived its word and let a lone noise hop a second after a backchannel
    # take a free floor (found on the fresh recorded half, docs/bench/spotlight.md).
    onset_peak: bool = True
    # An answer begun on a free floor keeps its free-floor claim when the old holder speaks up after
    # it began (a "yeah" to the answer, or both starting after a pause): the challenger's run began
    # while the floor was free (the holder's latest free stretch, by the test above) and before the
    # holder's current run. Without it, the holder's word made the floor taken again, and an answer
    # whose first syllables had not yet shown onset_s waited for the holder to fall silent once more. Tuning
    # parts: two answers of one breathy recorded voice 0.6 s sooner (+0.06 % on that draw), nothing
    # else moved; "inside the free floor" is the engine's own test, as the holder's last vowel alone
    # let words said over the holder's unvoiced tail through (2 backchannel switches).
    answer_first: bool = True
    # A challenger must have been voiced this recently.
    challenger_recent_s: float = 0.15

    # "speaking": voiced within this hangover and at least speaking_min_s of evidence.
    speaking_hangover_s: float = 0.4
    speaking_min_s: float = 0.08
    # Level-only changes of "speaking" are published at most this often (each change is a
    # participant-attribute update fanned out to every listener).
    level_update_s: float = 0.25
    # Levels are rounded to this step (what the stage publishes: noise in the last digits is no change).
    level_step: float = 0.1
    # SNR (dB) that maps to level 1.0.
    level_full_snr_db: float = 40.0

    # No audio from a speaker for this long (packet loss, DTX, unsubscribed) means silence.
    stale_audio_s: float = 0.3
