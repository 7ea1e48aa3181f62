/**
 * A video Space's sound alone, for a player whose page is only heard (a phone's locked screen, a
 * tab in the background): its own hls.js on an <audio> element, playing the audio-only window, or
 * on a replay the recording's audio-only playlist (~83 kb/s where the smallest picture is
 * ~0.75 Mb/s; docs/broadcast.md, "Renditions").
 *
 * It starts muted, catches up with the moment the video shows (both carry the same
 * PROGRAM-DATE-TIME), and says when it is ready; the player then makes it the one heard and stops
 * the video (hls_player.ts). It says it failed when it cannot start within HANDOVER_PATIENCE_MS,
 * when hls.js gives up on it, or when it waits for data that long: the player goes back to the
 * video then. The sound alone is the same AAC as the video's, cut at the same boundaries, so the
 * handover is a swap of two elements playing the same samples.
 */
import type Hls from "hls.js";

/** How long a page stays hidden before its player plays the sound alone: a glance at another tab keeps the video. */
export const SOUND_ONLY_AFTER_MS = 10_000;
/** A sound-only player that has not started, or that waits for data, this long is given up. */
export const HANDOVER_PATIENCE_MS = 8_000;
/** Two players this close (ms of PROGRAM-DATE-TIME) are in step; further apart, the newcomer seeks. */
export const IN_STEP_MS = 120;
/**
 * Seeks a newcomer makes towards the other player's moment before it is taken as in step anyway: a
 * seek can land short (the end of what is buffered or seekable) and be tried again from there, but
 * a moment the window does not hold would be chased for ever.
 */
export const MAX_STEPS = 3;

/**
 * A live player whose link cannot carry even the lowest picture plays the sound alone instead, the
 * way Apple's players fall back to an audio-only variant: a Space is to be heard first. Its waits
 * with a segment downloading tell it: one (a stall, or the start) that lasts THIN_LINK_STALL_MS, or
 * THIN_LINK_STALLS stalls at the lowest rendition within THIN_LINK_WINDOW_MS.
 */
export const THIN_LINK_STALL_MS = 6_000;
/** ...during which segments were downloading this share of the time (a late segment on a good link: a moment). */
export const THIN_LINK_BUSY_SHARE = 0.8;
export const THIN_LINK_STALLS = 2;
export const THIN_LINK_WINDOW_MS = 60_000;
/** A link's sound alone that could not play is not tried again for this long (the video is watched meanwhile). */
export const THIN_LINK_REST_MS = 60_000;

/**
 * A link's sound alone gives the picture back by itself once its own segments show that the link
 * carries the lowest picture with room to spare: RECOVERY_SAMPLES of them in a row, each saying a
 * picture segment of its duration would come in at most 1 / RECOVERY_MARGIN of that duration
 * (`pictureFetchMs`: its first byte as late as theirs, its bytes at the rate theirs came). No
 * picture segment is fetched to find out: a thin link would carry one (~90 KB) only by starving
 * the sound.
 */
export const RECOVERY_MARGIN = 1.5;
export const RECOVERY_SAMPLES = 5;
/**
 * How long the link's sound is heard at least before the picture comes back by itself: after a
 * switch to it, then after each return of the picture that did not hold (the picture did not play,
 * or the link went back to the sound within RECOVERY_HELD_MS): a link that keeps failing the
 * picture is tried ever less often, at most every half hour.
 */
export const RECOVERY_AFTER_MS = [10_000, 60_000, 300_000, 1_800_000] as const;
/** A return of the picture that held this long: the next switch to the sound waits RECOVERY_AFTER_MS[0] again. */
export const RECOVERY_HELD_MS = 10 * 60_000;
/** A segment that came this fast (ms from its request to its last byte) came from the browser's cache: it says nothing of the link. */
export const CACHED_MS = 1;

/** One of the sound's segments as it came: its bytes, ms from its request to its first byte and from there to its last, seconds of media. */
export interface SegmentTiming {
  bytes: number;
  firstByteMs: number;
  restMs: number;
  durationS: number;
}

/**
 * How long (ms) a picture segment of `pictureKbps` and the same duration would take on the link
 * `segment` came through: its first byte as late, its bytes at the rate the segment's came after
 * its first byte (the link's rate when the segment's bytes trickled in; on a fast link they come
 * at once, and the round trip is what counts).
 */
export function pictureFetchMs(segment: SegmentTiming, pictureKbps: number): number {
  const bitsPerMs = (segment.bytes * 8) / Math.max(segment.restMs, 1);
  return segment.firstByteMs + (pictureKbps * segment.durationS * 1000) / bitsPerMs;
}

/** Whether a link's sound alone may give the picture back by itself (RECOVERY_MARGIN and after). */
export class LinkRecovery {
  /** Returns of the picture that did not hold since the last one that did: which RECOVERY_AFTER_MS applies. */
  private failedReturns = 0;
  private lastReturn = -Infinity;
  /** Since when the link's sound is heard (null: it is not). */
  private heardSince: number | null = null;
  /** The sound's latest segments, RECOVERY_SAMPLES at most, in a row. */
  private segments: SegmentTiming[] = [];

  /**
   * The link's sound is heard from `nowMs`: the link could not carry the picture. Within
   * RECOVERY_HELD_MS of the picture's last return, that return did not hold.
   */
  switched(nowMs: number): void {
    this.failedReturns = nowMs - this.lastReturn < RECOVERY_HELD_MS ? this.failedReturns + 1 : 0;
    this.listen(nowMs);
  }

  /** The picture asked for did not play: the sound stays heard, and the next try waits longer. */
  notReturned(nowMs: number): void {
    this.failedReturns += 1;
    this.listen(nowMs);
  }

  /** The picture took the sound back at `nowMs`. */
  returned(nowMs: number): void {
    this.lastReturn = nowMs;
    this.heardSince = null;
    this.segments = [];
  }

  /** One of the sound's segments came, or (null) failed to: a failure breaks the run. */
  downloaded(segment: SegmentTiming | null): void {
    if (segment === null) {
      this.segments = [];
      return;
    }
    const { bytes, firstByteMs, restMs, durationS } = segment;
    if (!(bytes > 0) || !(durationS > 0) || !(firstByteMs >= 0) || !(restMs >= 0)) return;
    if (firstByteMs + restMs < CACHED_MS) return;
    this.segments = [...this.segments.slice(1 - RECOVERY_SAMPLES), segment];
  }

  /** Whether the picture (`pictureKbps`: the lowest rendition's bandwidth) may come back at `nowMs`. */
  recovered(nowMs: number, pictureKbps: number): boolean {
    if (this.heardSince === null || !(pictureKbps > 0) || this.segments.length < RECOVERY_SAMPLES) return false;
    const after = RECOVERY_AFTER_MS[Math.min(this.failedReturns, RECOVERY_AFTER_MS.length - 1)];
    if (nowMs - this.heardSince < after) return false;
    return this.segments.every((s) => pictureFetchMs(s, pictureKbps) * RECOVERY_MARGIN <= s.durationS * 1000);
  }

  private listen(nowMs: number): void {
    this.heardSince = nowMs;
    this.segments = [];
  }
}

/** The link's stalls at the lowest picture, counted over THIN_LINK_WINDOW_MS. */
export class ThinLink {
  private stalls: number[] = [];

  /** A stall at `nowMs`: whether the link is too thin for the picture now. */
  stalled(nowMs: number): boolean {
    this.stalls = [...this.stalls.filter((t) => nowMs - t < THIN_LINK_WINDOW_MS), nowMs];
    return this.stalls.length >= THIN_LINK_STALLS;
  }

  /** The picture is tried afresh: the count starts again. */
  reset(): void {
    this.stalls = [];
  }
}

/**
 * Where a newcomer stands against the player it takes over from, by PROGRAM-DATE-TIME (epoch ms):
 * the seconds to seek by, or 0 when in step (or when either moment is unknown).
 */
export function stepSeconds(oursMs: number | null, theirsMs: number | null): number {
  const gapMs = oursMs !== null && theirsMs !== null ? theirsMs - oursMs : 0;
  return Math.abs(gapMs) <= IN_STEP_MS ? 0 : gapMs / 1000;
}

/**
 * The live settings for the sound alone: the video's hold-back (`latency`: hls.js' seconds behind
 * its estimate of the live edge, the same estimate the new instance places itself by), so that it starts at the picture's moment rather than seeking to it (a
 * seek forward ends at the live edge, and one back past `liveMaxLatencyDuration` is pulled to the
 * edge again by hls.js), within the live settings' own bounds.
 */
export function soundOnlyConfig<T extends { liveSyncDuration: number; liveMaxLatencyDuration: number }>(
  live: T,
  latency: number | null,
): T {
  // The video is never further behind than its own maximum (hls.js jumps it back then).
  const known = latency !== null && Number.isFinite(latency) ? latency : live.liveSyncDuration;
  const sync = Math.min(Math.max(known, live.liveSyncDuration), live.liveMaxLatencyDuration);
  return { ...live, liveSyncDuration: sync, liveMaxLatencyDuration: sync + live.liveMaxLatencyDuration };
}

export interface SoundOnlyEvents {
  /** It plays (muted) in step with the player: make it the one heard. */
  ready(): void;
  /** It cannot play: go back to the video. */
  failed(): void;
  /** Its stream ended (#EXT-X-ENDLIST): the Space ended, or the replay came to its end. */
  ended(): void;
  /** One of its segments came, or (null) failed to (LinkRecovery). */
  downloaded(segment: SegmentTiming | null): void;
}

export class SoundOnly {
  readonly audio: HTMLAudioElement = document.createElement("audio");
  private readonly hls: Hls;
  private isReady = false;
  private done = false;
  private patience: number | undefined;
  private steps = 0;

  constructor(
    HlsClass: typeof Hls,
    readonly url: string,
    config: Partial<Hls["config"]>,
    /** The PROGRAM-DATE-TIME (epoch ms) of what the player shows now, to start in step with. */
    private readonly inStepWith: () => number | null,
    private readonly events: SoundOnlyEvents,
  ) {
    const hls = (this.hls = new HlsClass(config));
    const a = this.audio;
    a.muted = true;
    hls.on(HlsClass.Events.ERROR, (_event, data) => {
      if (data.frag && !this.done) this.events.downloaded(null); // a segment that did not come (in time)
      if (data.fatal) this.fail();
    });
    hls.on(HlsClass.Events.MANIFEST_PARSED, () => void a.play().catch(() => this.fail()));
    hls.on(HlsClass.Events.FRAG_LOADED, (_event, data) => {
      const { loaded, loading } = data.frag.stats;
      const timing = { bytes: loaded, firstByteMs: loading.first - loading.start, restMs: loading.end - loading.first };
      if (!this.done) this.events.downloaded({ ...timing, durationS: data.frag.duration });
    });
    // A step is judged once it has landed: after the first one, by its "seeked" alone (a seek
    // outside the buffer also ends with "playing", which must not count it twice).
    a.addEventListener("playing", () => {
      window.clearTimeout(this.patience);
      if (!this.isReady && this.steps === 0) this.catchUp();
    });
    a.addEventListener("seeked", () => !this.isReady && this.steps > 0 && !a.seeking && this.catchUp());
    a.addEventListener("waiting", () => this.wait());
    a.addEventListener("ended", () => !this.done && this.events.ended());
    this.wait(); // the start counts as a wait
    hls.attachMedia(a);
    hls.loadSource(url);
  }

  /** The PROGRAM-DATE-TIME (epoch ms) of what it plays, or null. */
  playingDateMs(): number | null {
    return this.hls.playingDate?.getTime() ?? null;
  }

  /** Play again from hls.js' live edge (a live one paused by the person: "Resume live"). */
  async resumeLive(): Promise<void> {
    const edge = this.hls.liveSyncPosition;
    if (edge !== null && Number.isFinite(edge)) this.audio.currentTime = edge;
    await this.audio.play().catch(() => undefined);
  }

  /** Seconds from what it plays to hls.js' estimate of the live edge (`latency`), or null. */
  edgeLatency(): number | null {
    const latency = this.hls.latency;
    return latency > 0 ? latency : null;
  }

  destroy(): void {
    this.done = true;
    window.clearTimeout(this.patience);
    this.hls.destroy();
    this.audio.pause();
    this.audio.removeAttribute("src");
    this.audio.load();
  }

  /** Playing (or after a step): seek towards the player's moment, or say it is ready. */
  private catchUp(): void {
    const by = stepSeconds(this.playingDateMs(), this.inStepWith());
    if (by === 0 || this.steps >= MAX_STEPS) return this.becomeReady();
    this.steps += 1;
    this.audio.currentTime += by;
  }

  private becomeReady(): void {
    if (this.done || this.isReady) return;
    this.isReady = true;
    this.events.ready();
  }

  private wait(): void {
    window.clearTimeout(this.patience);
    this.patience = window.setTimeout(() => this.fail(), HANDOVER_PATIENCE_MS);
  }

  private fail(): void {
    if (this.done) return;
    this.done = true;
    window.clearTimeout(this.patience);
    this.events.failed();
  }
}
