/**
 * The broadcast in a <video>: hls.js (loaded only when a broadcast is played) on Media Source
 * Extensions, or the browser's own HLS where there is no MSE (iOS Safari). Live or replay; the
 * view decides what to draw around it.
 */
import type Hls from "hls.js";
import type { ErrorData } from "hls.js";

import {
  LIVE_HLS_CONFIG,
  PlayableSource,
  recordingSource,
  REPLAY_HLS_CONFIG,
  secondsBehind,
  soundOnlyUri,
} from "./broadcast";
import { BROADCAST_LIVE_PLAYLIST, BROADCAST_LIVE_VARIANTS, BROADCAST_VARIANTS } from "./contract.gen";
import { h } from "./dom";
import { RenditionGuard } from "./rendition_guard";
import {
  HANDOVER_PATIENCE_MS,
  LinkRecovery,
  MAX_STEPS,
  type SegmentTiming,
  SOUND_ONLY_AFTER_MS,
  SoundOnly,
  soundOnlyConfig,
  stepSeconds,
  THIN_LINK_BUSY_SHARE,
  THIN_LINK_REST_MS,
  THIN_LINK_STALL_MS,
  ThinLink,
} from "./sound_only";
import type { PdtAnchor } from "./timeline";

export type PlayerState = "loading" | "playing" | "waiting" | "paused" | "ended" | "failed";

/** How long to wait before asking again for a playlist that is not there yet (the Space just started). */
const RETRY_MS = 2000;
/** Media errors this far apart (ms) are unrelated: each gets the full recovery again. */
export const MEDIA_RECOVERY_RESET_MS = 60_000;

/** MediaError codes (the element's `error.code`), named here: not every DOM has the MediaError class. */
const MEDIA_ERR_ABORTED = 1;
const MEDIA_ERR_NETWORK = 2;
const MEDIA_ERR_DECODE = 3;
const MEDIA_ERR_SRC_NOT_SUPPORTED = 4;
/**
 * The browser's own HLS refusing a source whose playlist is there this many times in a row cannot
 * play its format (a missing playlist is refused the same way, so one refusal says nothing).
 */
const NATIVE_REFUSALS_LIMIT = 3;
/**
 * ...and over at least this long (ms): a playlist that answers while its newest segments are not
 * there yet (a live edge, a CDN's cached miss) is refused for a few seconds, not for half a minute.
 */
const NATIVE_REFUSALS_SPAN_MS = 30_000;

/** A stalled live player on a single window looks again for the Space's renditions at most this often. */
export const VARIANTS_LOOK_MS = 30_000;

/** A playlist's text, or null (an error answer, no answer). */
async function fetchText(url: string): Promise<string | null> {
  try {
    const response = await fetch(url, { cache: "no-store", signal: AbortSignal.timeout(5_000) });
    return response.ok ? await response.text() : null;
  } catch {
    return null;
  }
}

/** Whether `url` answers a HEAD with 2xx (a network failure: no). */
async function headOk(url: string): Promise<boolean> {
  try {
    return (await fetch(url, { method: "HEAD", cache: "no-store" })).ok;
  } catch {
    return false;
  }
}

/** A media playlist's fragment as hls.js gives it (`LevelDetails.fragments`). */
interface PlaylistFragment {
  readonly start: number;
  readonly duration: number;
  readonly programDateTime: number | null;
}

/**
 * The media time at which a playlist's fragments show `pdtMs` (PROGRAM-DATE-TIME, epoch ms): in
 * the fragment that holds it; the first fragment's start when it is older than them all; "later"
 * when it is newer (the playlist is behind); null when unknown.
 */
export function positionOf(fragments: readonly PlaylistFragment[], pdtMs: number | null): number | "later" | null {
  const dated = fragments.filter((f) => f.programDateTime !== null && Number.isFinite(f.programDateTime));
  if (pdtMs === null || dated.length === 0) return null;
  const holding = dated.find((f) => pdtMs >= f.programDateTime! && pdtMs < f.programDateTime! + f.duration * 1000);
  if (holding) return holding.start + (pdtMs - holding.programDateTime!) / 1000;
  return pdtMs < dated[0].programDateTime! ? dated[0].start : "later";
}

/** A segment's key for the guard's download count: its level and sequence number. */
function segmentKey(frag: { level?: number; sn?: number | string }): string {
  return `${frag.level}:${frag.sn}`;
}

export class BroadcastPlayer {
  readonly video = h("video", { playsinline: true, "data-testid": "broadcast-video" });
  /** The hls.js instance (null on native HLS): the e2e tests read its levels and audio tracks. */
  hls: Hls | null = null;
  state: PlayerState = "loading";
  /** Whether it has played at all: a wait before that is the start, not a stall. */
  started = false;
  /** Why playback failed, for the person watching. */
  error = "";
  /**
   * Why the last load failed while the player keeps asking ("HTTP 403", "no answer"), until it
   * plays again: a replay whose playlist does not come says so instead of staying blank.
   */
  loadProblem: string | null = null;
  /** The browser refused to start sound without a click: playing muted until `unmute()`. */
  needsGesture = false;
  /** The person muted the broadcast (`setMuted`): kept across the player's own reloads. */
  userMuted = false;
  /**
   * The codecs of the stream's elementary streams, once the first segment is parsed (null: no such
   * stream, e.g. no video in an audio-only Space). Undefined until then.
   */
  tracks: { audio: string | null; video: string | null } | undefined;

  /** Whether the stream holds no picture at all (an audio-only Space), once its first segment is parsed. */
  get audioOnlyStream(): boolean {
    return !!this.tracks && this.tracks.video === null;
  }
  private listeners = new Set<() => void>();
  private retry: number | undefined;
  private mediaRecoveries = 0;
  /** Whether the first missing live playlist made it look for an older composer's whole playlist. */
  private probed = false;
  private lastMediaErrorMs = -Infinity;
  /** Native sources refused in a row while their playlist answered (NATIVE_REFUSALS_LIMIT). */
  private refusedWhilePresent = 0;
  /** When the first of those refusals came (Date.now()). */
  private firstRefusalMs = 0;
  /** Times it started playing: a refusal judged across one belongs to the time before it. */
  private plays = 0;
  /** A live hls.js player's watch over its renditions (rendition_guard.ts). */
  private guard: RenditionGuard | null = null;
  /** When a stalled live player on a single window last looked for the renditions. */
  private variantsLookedAt = -Infinity;
  /** The hls.js class, for its error-type constants (the module is loaded on demand). */
  private Hls: typeof Hls | null = null;
  private destroyed = false;
  /** Which playlist a live player loads, looked at again on each retry. */
  private readonly source: PlayableSource;
  /**
   * The Space's sound alone (sound_only.ts), from SOUND_ONLY_AFTER_MS after the page was hidden
   * until it is shown again: while `soundOnly`, it is what is heard and the video is stopped.
   */
  private sound: SoundOnly | null = null;
  /** Whether what is heard is `sound` (the video stopped): a hidden page of a video Space. */
  soundOnly = false;
  /**
   * Why `sound` is there (warming up or heard): the page is hidden, or the link cannot carry the
   * lowest picture (then it stays until the person asks for the picture, or the link shows it can
   * carry it again: `showPicture`).
   */
  soundReason: "hidden" | "link" | null = null;
  /** The link's stalls at the lowest picture (sound_only.ts). */
  private readonly thinLink = new ThinLink();
  /** Whether the link's sound alone may give the picture back by itself (sound_only.ts). */
  private readonly recovery = new LinkRecovery();
  /** Who last asked for the picture on the link's sound: the person, or the link's recovery (the tests read it). */
  pictureAskedBy: "person" | "link" | null = null;
  /** A live player's wait (its start, or a stall) being watched: THIN_LINK_STALL_MS of it is enough. */
  private thinTimer: number | undefined;
  /** A link's sound alone that failed: none is tried again before this (Date.now()). */
  private thinLinkRestUntil = 0;
  /** The sound alone's element while there is one (warming up or heard): the tests read it. */
  get soundAudio(): HTMLAudioElement | null {
    return this.sound?.audio ?? null;
  }
  private hiddenTimer: number | undefined;
  /** The sound alone failed while the page was hidden: not tried again until it is shown. */
  private soundGaveUp = false;
  /** The video warming up to take the sound back (page shown again), given up after HANDOVER_PATIENCE_MS. */
  private handBackTimer: number | undefined;
  /** Seeks the warming video made towards the sound's moment (at most MAX_STEPS). */
  private handBackSteps = 0;
  /**
   * At each handover (to the sound alone and back), the sound's PROGRAM-DATE-TIME less the video's,
   * ms (null: one was unknown); the last ten. What a person would hear twice (< 0) or miss (> 0).
   */
  readonly handoverGapsMs: (number | null)[] = [];

  private constructor(
    readonly url: string,
    readonly live: boolean,
  ) {
    this.source = new PlayableSource(url);
    const v = this.video;
    const set = (state: PlayerState) => () => this.setState(state);
    v.addEventListener("playing", () => {
      window.clearTimeout(this.thinTimer);
      this.thinTimer = undefined;
      if (this.soundOnly) return this.handBackSteps === 0 ? this.videoWarm() : undefined;
      if (document.visibilityState === "hidden") this.armSoundOnly(); // hidden before it played
      this.source.reset();
      this.loadProblem = null;
      this.refusedWhilePresent = 0;
      this.plays += 1;
      if (!this.destroyed) this.started = true;
      this.setState("playing");
    });
    v.addEventListener("waiting", () => {
      if (this.soundOnly) return;
      this.setState("waiting");
      this.watchThinLink();
    });
    v.addEventListener("seeked", () => this.soundOnly && this.handBackSteps > 0 && this.videoWarm());
    v.addEventListener("pause", () => {
      // A replay's video paused by the person (its own controls) while it takes the sound back: it
      // takes it back paused.
      if (this.soundOnly && !this.live && this.handBackTimer !== undefined) {
        this.setState("paused");
        return this.hearVideo();
      }
      // The browser's own HLS stops the element when it fails: that is a wait (onNativeError), not a
      // pause. The video stopped for the sound alone is no pause either.
      if ((!this.hls && v.error) || this.soundOnly) return;
      this.setState(v.ended ? "ended" : "paused");
    });
    v.addEventListener("error", () => this.onNativeError());
    v.addEventListener("ended", set("ended"));
    v.addEventListener("timeupdate", () => this.emit());
  }

  /** Start playing `url`: live (near the edge) or a replay (from its first segment). */
  static async open(url: string, { live }: { live: boolean }): Promise<BroadcastPlayer> {
    const player = new BroadcastPlayer(url, live);
    // A player starts on the Space's renditions when there are two (PlayableSource, recordingSource).
    const [{ default: HlsClass }, first] = await Promise.all([
      import("hls.js/light"),
      live ? player.source.choose(headOk) : recordingSource(url, headOk),
    ]);
    if (HlsClass.isSupported()) {
      const hls = new HlsClass(live ? { ...LIVE_HLS_CONFIG } : { ...REPLAY_HLS_CONFIG });
      player.hls = hls;
      player.Hls = HlsClass;
      hls.on(HlsClass.Events.ERROR, (_event, data) => player.onError(data));
      hls.on(HlsClass.Events.MANIFEST_PARSED, () => {
        player.capWhileHidden(); // a load starts uncapped
        player.watchThinLink(); // a start that does not come is a wait too
        if (!player.soundOnly) void player.play();
      });
      document.addEventListener("visibilitychange", player.onVisibility);
      if (live) {
        const guard = (player.guard = new RenditionGuard(hls, fetchText));
        hls.on(HlsClass.Events.LEVEL_LOADED, (_event, data) => guard.levelLoaded(data.level, data.details.endSN));
        const main = (frag: { type: string }) => frag.type === "main";
        hls.on(HlsClass.Events.FRAG_LOADING, (_event, data) => main(data.frag) && guard.download(segmentKey(data.frag), true));
        hls.on(HlsClass.Events.FRAG_LOADED, (_event, data) => main(data.frag) && guard.download(segmentKey(data.frag), false));
        hls.on(
          HlsClass.Events.FRAG_LOAD_EMERGENCY_ABORTED,
          (_event, data) => main(data.frag) && guard.download(segmentKey(data.frag), false),
        );
      }
      hls.on(HlsClass.Events.LEVEL_UPDATED, () => player.emit());
      hls.on(HlsClass.Events.BUFFER_CODECS, (_event, data) => {
        const audio = data.audio ?? data.audiovideo;
        const video = data.video ?? data.audiovideo;
        player.tracks = { audio: audio ? (audio.codec ?? "") : null, video: video ? (video.codec ?? "") : null };
        player.emit();
      });
      hls.attachMedia(player.video);
      hls.loadSource(first);
    } else if (player.video.canPlayType("application/vnd.apple.mpegurl")) {
      player.video.src = first;
      window.addEventListener("online", player.nativeOnline);
      void player.play();
    } else {
      player.fail("This browser cannot play the broadcast (no Media Source Extensions, no native HLS).");
    }
    return player;
  }

  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private emit(): void {
    for (const fn of this.listeners) fn();
  }

  private setState(state: PlayerState): void {
    if (this.destroyed || this.state === "failed") return;
    this.state = state;
    this.emit();
  }

  private fail(message: string): void {
    this.error = message;
    this.state = "failed";
    // The sound alone goes too: nothing plays behind "cannot be played".
    const sound = this.sound;
    if (sound) {
      this.dropSound(sound);
      window.clearTimeout(this.handBackTimer);
      this.handBackTimer = undefined;
      this.stopFresh();
    }
    this.emit();
  }

  /** Play with sound (unless the person muted it); if the browser wants a click first, play muted and say so. */
  async play(): Promise<void> {
    const v = this.video;
    v.muted = this.userMuted || this.soundOnly; // while the sound alone is heard, it alone is

    try {
      await v.play();
      this.needsGesture = false;
    } catch (err) {
      if ((err as DOMException).name !== "NotAllowedError" || this.destroyed) return;
      this.needsGesture = true;
      v.muted = true;
      await v.play().catch(() => undefined);
    }
    this.emit();
  }

  /** What is heard: the video, or the sound alone while the page is hidden. */
  private get heard(): HTMLMediaElement {
    return this.soundOnly && this.sound ? this.sound.audio : this.video;
  }

  /** Called from a click: sound on. */
  async unmute(): Promise<void> {
    this.needsGesture = false;
    this.userMuted = false;
    this.heard.muted = false;
    await this.heard.play().catch(() => undefined);
    this.emit();
  }

  /** The person's Mute (the broadcast plays on, silent) or Unmute (a click: sound on). */
  async setMuted(muted: boolean): Promise<void> {
    if (!muted) return this.unmute();
    this.userMuted = true;
    this.heard.muted = true;
    this.emit();
  }

  private onError(data: ErrorData): void {
    const hls = this.hls;
    if (!hls || !this.Hls || this.destroyed) return;
    // A segment's download that failed, fatal or not (it may be tried again, as a new download).
    if (data.frag?.type === "main" && data.details !== this.Hls.ErrorDetails.BUFFER_STALLED_ERROR) {
      this.guard?.download(segmentKey(data.frag), false);
    }
    if (!data.fatal) {
      if (data.details === this.Hls.ErrorDetails.BUFFER_STALLED_ERROR && this.live) {
        if (this.guard?.stalled()) this.linkStalled();
        void this.lookForVariants(hls);
      }
      // The first playlist that did not load and that hls.js retries (a timeout, a 5xx, no answer:
      // up to ~25 s before giving up; a 4xx it never retries, that is fatal at once and handled
      // below): an older composer's Space has no live window, so start looking whether only the
      // whole playlist is there (PlayableSource decides after looks in a row).
      if (this.live && !this.probed && data.details === this.Hls.ErrorDetails.MANIFEST_LOAD_ERROR && hls.levels.length === 0) {
        this.probed = true;
        void this.reload(hls, false);
      }
      return;
    }
    const types = this.Hls.ErrorTypes;
    if (data.type === types.NETWORK_ERROR) {
      // The playlist or a segment is not reachable (yet): keep trying, the broadcast may start late.
      // A viewer who paused stays paused (no "playing" would end the wait, and "Resume live" goes).
      const code = data.response?.code;
      this.loadProblem = code ? `HTTP ${code}` : "no answer";
      // While the sound alone is heard (a return under way), the state is the sound's.
      if (this.state !== "paused" && !this.soundOnly) this.setState("waiting");
      window.clearTimeout(this.retry);
      this.retry = window.setTimeout(() => void this.reload(hls), RETRY_MS);
    } else if (data.type === types.MEDIA_ERROR && this.mediaRecovery(Date.now())) {
      // A decode or append error: hls.js rebuilds the MediaSource; the second time, it also swaps
      // the AAC flavour it declared, the documented recovery for a mis-signalled audio codec.
      if (this.mediaRecoveries++ === 1) hls.swapAudioCodec();
      hls.recoverMediaError();
      // The recovery re-attaches the element and loads it, which pauses it without a "pause"
      // event, and MANIFEST_PARSED (where playing starts) does not come again: start it here.
      void this.play();
    } else {
      this.fail(`The broadcast cannot be played (${data.details}).`);
      hls.destroy();
    }
  }

  /**
   * The browser's own HLS failed. A missing playlist (the Space just started, a CDN's 403 or 404
   * reads as MEDIA_ERR_SRC_NOT_SUPPORTED) or the network: the element stops for good, so ask again
   * every RETRY_MS, as hls.js's path does. A decode error stops the player with the reason, and so
   * do NATIVE_REFUSALS_LIMIT refusals in a row, over NATIVE_REFUSALS_SPAN_MS, of a playlist that
   * is there (a format it cannot play).
   */
  private onNativeError(): void {
    const code = this.video.error?.code;
    if (this.hls || this.destroyed || this.state === "failed" || code === undefined || code === MEDIA_ERR_ABORTED) return;
    if (code === MEDIA_ERR_DECODE) return this.fail("The broadcast cannot be played (the browser could not decode it).");
    this.loadProblem = code === MEDIA_ERR_NETWORK ? "network error" : "no playlist";
    this.setState("waiting");
    window.clearTimeout(this.retry);
    this.retry = window.setTimeout(() => void this.reloadNative(), RETRY_MS);
    if (code === MEDIA_ERR_SRC_NOT_SUPPORTED) void this.judgeRefusal(this.video.src);
  }

  /** A refused source: counted when its playlist answers, and the player stops at the limit. */
  private async judgeRefusal(src: string): Promise<void> {
    const plays = this.plays;
    const present = await headOk(src);
    if (this.hls || this.destroyed || this.plays !== plays || this.state !== "waiting" || this.video.src !== src) return;
    this.refusedWhilePresent = present ? this.refusedWhilePresent + 1 : 0;
    if (this.refusedWhilePresent === 1) this.firstRefusalMs = Date.now();
    if (this.refusedWhilePresent < NATIVE_REFUSALS_LIMIT) return;
    if (Date.now() - this.firstRefusalMs < NATIVE_REFUSALS_SPAN_MS) return;
    window.clearTimeout(this.retry);
    this.fail("This browser cannot play the broadcast's format.");
    this.video.removeAttribute("src"); // and stops asking for it
    this.video.load();
  }

  /** Back online while the browser's own HLS waits: it may never ask again by itself (Chromium's does not). */
  private readonly nativeOnline = (): void => {
    if (this.hls || this.destroyed || (this.state !== "waiting" && this.state !== "loading")) return;
    window.clearTimeout(this.retry);
    void this.reloadNative();
  };

  /** Load the browser's own HLS again: a live player the playable playlist (at its live edge), a replay where it was. */
  private async reloadNative(): Promise<void> {
    const url = this.live ? await this.source.choose(headOk) : this.url;
    if (this.destroyed || this.state === "failed") return; // it stopped for good while it looked
    const v = this.video;
    const at = this.live ? 0 : v.currentTime;
    v.src = url;
    v.load();
    if (at > 0) v.addEventListener("loadedmetadata", () => void (v.currentTime = at), { once: true });
    await this.play();
  }

  /**
   * Ask again: the playlist if none was ever loaded (live: the window, or an older composer's whole
   * one). `always`: load even if it is the same URL (after hls.js gave up); else only a switch.
   */
  private async reload(hls: Hls, always = true): Promise<void> {
    // The video is stopped for the sound alone, which loads by itself (until it is taken back).
    if (this.soundOnly && this.handBackTimer === undefined) return;
    if (hls.levels.length > 0) return hls.startLoad();
    const url = this.live ? await this.source.choose(headOk) : this.url;
    if (this.destroyed || this.hls !== hls || hls.levels.length > 0) return;
    if (always || url !== this.url) hls.loadSource(url);
  }

  /**
   * A live player that plays a single window looks again, when it stalls, whether the Space has
   * renditions: a look at its start can miss them (a CDN's cached 404 racing their first write, a
   * failed HEAD), and a slow link would otherwise stall on the big rendition for the whole Space.
   */
  private async lookForVariants(hls: Hls): Promise<void> {
    const now = Date.now();
    if (!hls.url?.endsWith(`/${BROADCAST_LIVE_PLAYLIST}`) || now - this.variantsLookedAt < VARIANTS_LOOK_MS) return;
    this.variantsLookedAt = now;
    const url = await this.source.choose(headOk);
    if (this.destroyed || this.hls !== hls || this.state !== "waiting") return; // it plays again
    if (url !== hls.url && url.endsWith(`/${BROADCAST_LIVE_VARIANTS}`)) hls.loadSource(url);
  }

  /**
   * Whether a media error may still be recovered from: twice in a row at most (the second swaps the
   * audio codec), counted afresh once MEDIA_RECOVERY_RESET_MS have passed since the last one, so a
   * Space of many hours (each composer replacement is a discontinuity) never runs out of them.
   */
  private mediaRecovery(nowMs: number): boolean {
    if (nowMs - this.lastMediaErrorMs > MEDIA_RECOVERY_RESET_MS) this.mediaRecoveries = 0;
    this.lastMediaErrorMs = nowMs;
    return this.mediaRecoveries < 2;
  }

  /**
   * The PROGRAM-DATE-TIME of the frame on screen (epoch ms), or null when the player has none:
   * hls.js `playingDate`, or natively (Safari) the stream's start date plus the playing position.
   */
  playingDateMs(): number | null {
    if (this.soundOnly && this.sound) return this.sound.playingDateMs();
    if (this.hls) return this.hls.playingDate?.getTime() ?? null;
    const start = (this.video as HTMLVideoElement & { getStartDate?: () => Date }).getStartDate?.().getTime();
    return start !== undefined && Number.isFinite(start) && start > 0 ? start + this.video.currentTime * 1000 : null;
  }

  /**
   * The room's time of the frame on screen (epoch ms) while playing, for what must happen with the
   * picture (reactions): the PROGRAM-DATE-TIME, else the viewer's clock minus how far behind the
   * player says it is (edge distance only: a few seconds early). Null while not playing.
   */
  playbackClockMs(nowMs = Date.now()): number | null {
    if (this.state !== "playing") return null;
    const pdt = this.playingDateMs();
    if (pdt !== null) return pdt;
    const behind = this.secondsBehind(nowMs);
    return behind === null ? null : nowMs - behind * 1000;
  }

  /** Seconds behind real life, for the live indicator. */
  secondsBehind(nowMs = Date.now()): number | null {
    if (this.soundOnly && this.sound) {
      return secondsBehind({ nowMs, playingDateMs: this.sound.playingDateMs(), edgeLatency: this.sound.edgeLatency() });
    }
    if (this.hls) {
      const latency = this.hls.latency;
      return secondsBehind({
        nowMs,
        playingDateMs: this.hls.playingDate?.getTime() ?? null,
        edgeLatency: latency > 0 ? latency : null,
      });
    }
    const v = this.video;
    if (v.seekable.length === 0) return null;
    return secondsBehind({ nowMs, playingDateMs: null, edgeLatency: v.seekable.end(v.seekable.length - 1) - v.currentTime });
  }

  /** Every segment's media time and PROGRAM-DATE-TIME, from the playlist hls.js loaded. */
  anchors(): PdtAnchor[] {
    const hls = this.hls;
    if (!hls) return [];
    const level = hls.levels[Math.max(0, hls.currentLevel)];
    const out: PdtAnchor[] = [];
    for (const f of level?.details?.fragments ?? []) {
      if (f.programDateTime !== null && Number.isFinite(f.programDateTime)) {
        out.push({ start: f.start, duration: f.duration, pdt: f.programDateTime });
      }
    }
    return out;
  }

  /** Seconds of media in the playlist hls.js loaded (0 before one is read, or natively). */
  mediaSeconds(): number {
    const hls = this.hls;
    const fragments = hls?.levels[Math.max(0, hls.currentLevel)]?.details?.fragments ?? [];
    return fragments.reduce((sum, f) => sum + (Number.isFinite(f.duration) ? f.duration : 0), 0);
  }

  /** Whether a playlist has been read (hls.js parsed one; natively, the element knows the stream). */
  get loaded(): boolean {
    const hls = this.hls;
    if (hls) return !!hls.levels[Math.max(0, hls.currentLevel)]?.details;
    return this.video.readyState >= HTMLMediaElement.HAVE_METADATA;
  }

  /** Whether the playlist is closed (`#EXT-X-ENDLIST`): the Space ended, this is its recording. */
  get closed(): boolean {
    const hls = this.hls;
    const details = hls?.levels[Math.max(0, hls.currentLevel)]?.details;
    return !!details && !details.live;
  }

  /**
   * Play a paused live broadcast again from its live edge (hls.js's sync position, natively the end
   * of what is seekable): where it stopped may have left the playlist's window meanwhile.
   */
  async resumeLive(): Promise<void> {
    if (this.soundOnly && this.sound && this.handBackTimer === undefined) return this.sound.resumeLive();
    const v = this.video;
    const edge = this.hls ? this.hls.liveSyncPosition : v.seekable.length > 0 ? v.seekable.end(v.seekable.length - 1) : null;
    if (edge !== null && Number.isFinite(edge)) v.currentTime = edge;
    await this.play();
  }

  seek(mediaTime: number): void {
    this.video.currentTime = mediaTime;
    if (this.video.paused) void this.play();
  }

  /**
   * A hidden page (a phone's locked screen, a tab in the background) is only heard: hls.js keeps to
   * the lowest rendition, whose sound is the same (~0.7 Mb/s of a video Space's ~2.7); shown again,
   * it climbs as its link allows. hls.js forgets the cap at each load, so it is set again then.
   */
  readonly capWhileHidden = (): void => {
    if (this.hls && !this.destroyed) this.hls.autoLevelCapping = document.visibilityState === "hidden" ? 0 : -1;
  };

  /**
   * Hidden: the lowest rendition at once, and after SOUND_ONLY_AFTER_MS the sound alone. Shown: the
   * video takes the sound back.
   */
  readonly onVisibility = (): void => {
    this.capWhileHidden();
    window.clearTimeout(this.hiddenTimer);
    this.hiddenTimer = undefined;
    if (document.visibilityState === "hidden") return this.armSoundOnly();
    this.soundGaveUp = false;
    if (this.soundReason !== "link") this.toVideo(); // the link's sound stays until the person asks
  };

  /**
   * A live player's link stalled at the lowest picture: the sound alone once it did so
   * THIN_LINK_STALLS times within THIN_LINK_WINDOW_MS (sound_only.ts).
   */
  private linkStalled(): void {
    if (this.sound || this.destroyed) return;
    if (this.thinLink.stalled(Date.now())) void this.toSoundOnly("link");
  }

  /**
   * A live player waits (its start, or a stall): if it still waits THIN_LINK_STALL_MS from now,
   * with segments downloading THIN_LINK_BUSY_SHARE of that time, the link cannot carry the picture
   * it loads (hls.js may keep abandoning segments at the live edge and never finish one, with a
   * single stall event), and the sound alone is played. A wait with little downloading (a composer
   * replacement, a segment published late) is not the link's: it is looked at again as long as it
   * lasts.
   */
  private watchThinLink(): void {
    const guard = this.guard;
    if (!this.live || !guard || this.thinTimer !== undefined || this.sound || this.destroyed) return;
    const busyFrom = guard.downloadingMs();
    this.thinTimer = window.setTimeout(() => {
      this.thinTimer = undefined;
      if ((this.state !== "waiting" && this.state !== "loading") || this.sound || this.destroyed) return;
      const thin = guard.downloadingMs() - busyFrom >= THIN_LINK_BUSY_SHARE * THIN_LINK_STALL_MS;
      if (thin && Date.now() >= this.thinLinkRestUntil) void this.toSoundOnly("link");
      else this.watchThinLink(); // still waiting: looked at again (after a failed sound's rest too)
    }, THIN_LINK_STALL_MS);
  }

  /**
   * The person asks for the picture while the link's sound alone is heard (or the link showed it
   * can carry it again: `soundDownloaded`): the video takes it back as for a page shown again, and
   * the link's stalls are counted afresh.
   */
  showPicture(by: "person" | "link" = "person"): void {
    if (this.soundReason !== "link" || !this.sound || this.handBackTimer !== undefined) return; // or on its way
    this.pictureAskedBy = by;
    this.thinLink.reset();
    this.toVideo();
  }

  /** In a hidden page, the sound alone SOUND_ONLY_AFTER_MS from now (or from when it plays, if it does not yet). */
  private armSoundOnly(): void {
    if (this.hiddenTimer !== undefined || this.sound || this.soundGaveUp || !this.hls) return;
    this.hiddenTimer = window.setTimeout(() => {
      this.hiddenTimer = undefined;
      void this.toSoundOnly("hidden");
    }, SOUND_ONLY_AFTER_MS);
  }

  /**
   * An hls.js player on a video Space's renditions, playing, starts the audio-only playlist the
   * variants name (the page is hidden: nobody sees the picture), muted: live, its window; a replay,
   * the recording's. Once it plays in step, it is heard and the video stops loading
   * (sound_only.ts). A Space without one (audio-only, or a composer without it) keeps the lowest
   * rendition. `reason`: the page is hidden (a playing player), or a live player's link is too thin
   * for the lowest picture (a stalled one; `linkStalled`).
   */
  private async toSoundOnly(reason: "hidden" | "link"): Promise<void> {
    const hls = this.hls;
    const HlsClass = this.Hls;
    const ready = (): boolean =>
      reason === "hidden"
        ? this.state === "playing" && document.visibilityState === "hidden" && !this.soundGaveUp
        : (this.state === "waiting" || this.state === "loading" || this.state === "playing") && Date.now() >= this.thinLinkRestUntil;
    if (!hls || !HlsClass || this.sound || this.destroyed || !ready()) return;
    if (!hls.url?.endsWith(`/${this.live ? BROADCAST_LIVE_VARIANTS : BROADCAST_VARIANTS}`)) return;
    const variants = hls.url;
    const text = await fetchText(variants);
    const url = text === null ? null : soundOnlyUri(text, variants);
    if (url === null || this.hls !== hls || this.destroyed || this.sound || !ready()) return;
    // Live, at the video's hold-back; a replay, where the video is (both playlists hold the same
    // segments with the same durations, so one media time is the other's).
    const config = this.live
      ? soundOnlyConfig(LIVE_HLS_CONFIG, hls.latency > 0 ? hls.latency : null)
      : { ...REPLAY_HLS_CONFIG, startPosition: this.video.currentTime };
    const sound: SoundOnly = new SoundOnly(HlsClass, url, config, () => this.playingDateMs(), {
      ready: () => this.hearSoundOnly(sound),
      failed: () => {
        if (this.sound !== sound) return;
        // A hidden page's: not again until shown. A link's: not again for a while, the video watched.
        if (reason === "hidden") this.soundGaveUp = true;
        else this.thinLinkRestUntil = Date.now() + THIN_LINK_REST_MS;
        this.toVideo();
        if (this.state === "waiting" || this.state === "loading") this.watchThinLink();
      },
      ended: () => this.sound === sound && this.soundOnly && this.setState("ended"),
      downloaded: (segment) => this.soundDownloaded(sound, segment),
    });
    this.sound = sound;
    this.soundReason = reason;
    this.emit();
  }

  /** The sound alone plays in step: hear it, stop the video. */
  private hearSoundOnly(sound: SoundOnly): void {
    const hls = this.hls;
    if (this.sound !== sound || !hls || this.destroyed) return;
    if (this.soundReason === "hidden" && document.visibilityState !== "hidden") return this.toVideo();
    this.noteHandover(sound);
    if (this.soundReason === "link") this.recovery.switched(Date.now());
    const heard = sound.audio;
    heard.muted = this.video.muted;
    this.video.muted = true;
    this.soundOnly = true;
    hls.stopLoad();
    this.guard?.forgetDownloads();
    this.video.pause();
    // The person pausing and playing it from the lock screen's controls (which act on what plays).
    const mine = () => this.sound === sound && this.soundOnly;
    heard.addEventListener("pause", () => mine() && !heard.ended && this.setState("paused"));
    heard.addEventListener("playing", () => mine() && this.setState("playing"));
    heard.addEventListener("waiting", () => mine() && this.setState("waiting")); // the sound's own stall
    // Ready means it plays (after its "playing" or a step's "seeked"): a stalled video's sound goes on.
    if (this.state === "waiting" || this.state === "loading") {
      this.started = true;
      this.setState("playing");
    }
    this.emit();
  }

  /**
   * Back to the video (the page is shown, or the sound alone failed). Before it was heard, the sound
   * alone just goes. After, the video loads again, muted. Live, hls.js resumes where the video
   * stopped, tens of seconds back: once its playlist is fresh, the video is put at the sound's
   * moment; a replay's playlist is all there, so it is put there at once. Then it plays, and takes
   * the sound back once it plays in step with it (`videoWarm`), or after HANDOVER_PATIENCE_MS
   * whatever it does.
   */
  private toVideo(): void {
    const sound = this.sound;
    const hls = this.hls;
    const HlsClass = this.Hls;
    if (!sound || this.destroyed) return;
    if (!this.soundOnly || !hls || !HlsClass) {
      this.dropSound(sound);
      this.emit();
      return;
    }
    if (this.handBackTimer !== undefined) return; // already on its way back
    if (!this.live) return this.replayToVideo(sound, hls);
    hls.startLoad();
    // Paused by the person: the video takes over paused, and "Resume live" plays it from its edge.
    if (this.state === "paused") return this.hearVideo();
    this.handBackSteps = 0;
    this.handBackTimer = window.setTimeout(() => this.handBackDue(), HANDOVER_PATIENCE_MS);
    // The playlist just loaded (whichever level hls.js loads now that the page is shown: every
    // level is on one media timeline), until one holds the sound's moment.
    const fresh = (_event: unknown, data: { details?: { fragments: readonly PlaylistFragment[] } }) => {
      if (this.sound !== sound || !this.soundOnly || this.handBackTimer === undefined) return this.stopFresh();
      const at = positionOf(data.details?.fragments ?? [], sound.playingDateMs());
      if (at === "later") return; // the sound is ahead of this playlist: the next reload
      this.stopFresh();
      if (at !== null) this.video.currentTime = at;
      if (this.state !== "paused") this.video.play().catch(() => undefined);
    };
    this.stopFresh = () => {
      hls.off(HlsClass.Events.LEVEL_UPDATED, fresh);
      this.stopFresh = () => undefined;
    };
    hls.on(HlsClass.Events.LEVEL_UPDATED, fresh);
  }

  /**
   * A replay's video back at the sound's moment, found in the playlist it already has (the
   * sound's own position if the dates say nothing); paused or ended, it takes over as it is.
   */
  private replayToVideo(sound: SoundOnly, hls: Hls): void {
    const details = hls.levels[Math.max(0, hls.currentLevel)]?.details;
    const at = positionOf(details?.fragments ?? [], sound.playingDateMs());
    const position = typeof at === "number" ? at : sound.audio.currentTime;
    this.video.currentTime = position;
    hls.startLoad(position);
    if (this.state === "paused" || this.state === "ended") return this.hearVideo();
    this.handBackSteps = 0;
    this.handBackTimer = window.setTimeout(() => this.hearVideo(), HANDOVER_PATIENCE_MS);
    this.video.play().catch(() => undefined);
  }

  /**
   * The video has not taken the sound back within HANDOVER_PATIENCE_MS: it is heard whatever it
   * does, except on a link that could not carry it where it does not play yet: the sound alone
   * stays then (the link is no better).
   */
  private handBackDue(): void {
    const hls = this.hls;
    const plays = !this.video.paused && this.video.readyState >= HTMLMediaElement.HAVE_FUTURE_DATA;
    if (this.soundReason !== "link" || plays || !hls || !this.sound) return this.hearVideo();
    window.clearTimeout(this.handBackTimer);
    this.handBackTimer = undefined;
    this.stopFresh();
    hls.stopLoad();
    this.guard?.forgetDownloads();
    this.video.pause();
    this.recovery.notReturned(Date.now()); // the link is still too thin: tried again later by itself
    this.emit();
  }

  /**
   * One of the link's sound's segments came. Once they show that the link carries the lowest
   * picture with room to spare (LinkRecovery), a page in view gets the picture back by itself, as
   * if the person had asked (a hidden one would only go to the sound alone again).
   */
  private soundDownloaded(sound: SoundOnly, segment: SegmentTiming | null): void {
    if (this.sound !== sound || this.soundReason !== "link") return;
    this.recovery.downloaded(segment);
    const rates = (this.hls?.levels ?? []).map((level) => level.bitrate).filter((bps) => bps > 0);
    if (document.visibilityState === "hidden" || rates.length === 0) return;
    if (this.recovery.recovered(Date.now(), Math.min(...rates) / 1000)) this.showPicture("link");
  }

  /** The sound alone goes, warming up or heard (a video stopped for it takes the sound's mute). */
  private dropSound(sound: SoundOnly): void {
    if (this.soundOnly) this.video.muted = sound.audio.muted;
    sound.destroy();
    this.sound = null;
    this.soundOnly = false;
    this.soundReason = null;
  }

  /** Stops the hand-back's wait for a fresh playlist (`toVideo`). */
  private stopFresh: () => void = () => undefined;

  /**
   * The video plays again (or ended a step) while the sound alone is heard: step it towards the
   * sound's moment, MAX_STEPS times at most, then hear it.
   */
  private videoWarm(): void {
    // A step is judged once it has landed: after the first one, by its "seeked" alone (a seek
    // outside the buffer also ends with "playing", which must not count it twice).
    if (this.handBackTimer === undefined || this.video.seeking) return;
    // A replay's video was put at the sound's moment from the whole playlist: it plays there, or
    // where the person moved it meanwhile (its controls, the timeline), which must not be undone.
    if (!this.live) return this.hearVideo();
    const by = stepSeconds(this.hls?.playingDate?.getTime() ?? null, this.sound?.playingDateMs() ?? null);
    if (by === 0 || this.handBackSteps >= MAX_STEPS) return this.hearVideo();
    this.handBackSteps += 1;
    this.video.currentTime += by;
  }

  /** The video is heard again; the sound alone goes. */
  private hearVideo(): void {
    const sound = this.sound;
    window.clearTimeout(this.handBackTimer);
    this.handBackTimer = undefined;
    this.stopFresh();
    if (!sound || !this.soundOnly || this.destroyed) return;
    const still = this.state === "paused" || this.state === "ended";
    if (!still) this.noteHandover(sound);
    if (this.soundReason === "link") this.recovery.returned(Date.now());
    this.dropSound(sound);
    if (still) {
      this.video.pause(); // paused by the person while it came back, or a replay that ended
      this.emit();
    } else if (this.video.paused) void this.play();
    else this.setState(this.video.readyState >= HTMLMediaElement.HAVE_FUTURE_DATA ? "playing" : "waiting");
    if (this.state === "waiting") this.watchThinLink(); // back on a link that may still be too thin
    if (document.visibilityState === "hidden") this.armSoundOnly(); // hidden again while it came back
  }

  private noteHandover(sound: SoundOnly): void {
    const ours = this.hls?.playingDate?.getTime() ?? null;
    const theirs = sound.playingDateMs();
    this.handoverGapsMs.push(ours !== null && theirs !== null ? theirs - ours : null);
    if (this.handoverGapsMs.length > 10) this.handoverGapsMs.shift();
  }

  destroy(): void {
    this.destroyed = true;
    window.clearTimeout(this.hiddenTimer);
    window.clearTimeout(this.thinTimer);
    window.clearTimeout(this.handBackTimer);
    this.sound?.destroy();
    this.sound = null;
    document.removeEventListener("visibilitychange", this.onVisibility);
    window.clearTimeout(this.retry);
    window.removeEventListener("online", this.nativeOnline);
    this.listeners.clear();
    this.hls?.destroy();
    this.hls = null;
    this.video.pause();
    this.video.removeAttribute("src");
    this.video.load();
    this.video.remove();
  }
}
