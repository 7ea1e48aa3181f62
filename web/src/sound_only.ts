/**
 * A video Space's sound alone, for a live player whose page is only heard (a phone's locked screen,
 * a tab in the background): its own hls.js on an <audio> element, playing the audio-only window
 * (~83 kb/s where the smallest picture is ~0.75 Mb/s; docs/broadcast.md, "Renditions").
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
 * Seek `el` by the distance from `oursMs` to `theirsMs` (PROGRAM-DATE-TIME, epoch ms) when they are
 * more than IN_STEP_MS apart, then call `then` (once it has seeked). Once only: a live window may
 * not hold the moment exactly, and a second seek would only chase it.
 */
export function stepInto(el: HTMLMediaElement, oursMs: number | null, theirsMs: number | null, then: () => void): void {
  const gapMs = oursMs !== null && theirsMs !== null ? theirsMs - oursMs : 0;
  if (Math.abs(gapMs) <= IN_STEP_MS) return then();
  el.addEventListener("seeked", then, { once: true });
  el.currentTime += gapMs / 1000;
}

export interface SoundOnlyEvents {
  /** It plays (muted) in step with the player: make it the one heard. */
  ready(): void;
  /** It cannot play: go back to the video. */
  failed(): void;
  /** Its stream ended (#EXT-X-ENDLIST): the Space ended. */
  ended(): void;
}

export class SoundOnly {
  readonly audio: HTMLAudioElement = document.createElement("audio");
  private readonly hls: Hls;
  private isReady = false;
  private done = false;
  private patience: number | undefined;

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
    hls.on(HlsClass.Events.ERROR, (_event, data) => data.fatal && this.fail());
    hls.on(HlsClass.Events.MANIFEST_PARSED, () => void a.play().catch(() => this.fail()));
    a.addEventListener("playing", () => {
      window.clearTimeout(this.patience);
      if (!this.isReady) this.catchUp();
    });
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

  /** Seconds from what it plays to the newest segment it knows (hls.js `latency`), or null. */
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

  /** Playing: in step with the player's moment, then say it is ready. */
  private catchUp(): void {
    stepInto(this.audio, this.playingDateMs(), this.inStepWith(), () => this.becomeReady());
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
