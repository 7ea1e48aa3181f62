/**
 * The broadcast tier as the page sees it: which way the token endpoint sends a person in (WebRTC
 * or the HLS broadcast), how far behind live an HLS viewer is, and how hls.js is tuned for our
 * 1 s segments. Pure: no DOM, no hls.js import (the player module brings hls.js).
 */
import type { Role } from "./api";
import { BROADCAST_LIVE_PLAYLIST, BROADCAST_LIVE_VARIANTS, BROADCAST_PLAYLIST, BROADCAST_VARIANTS } from "./contract.gen";

/** A place on the stage, or a seat in the room: the token endpoint's WebRTC answer. */
export interface WebRtcGrant {
  mode: "webrtc";
  url: string;
  token: string;
  identity: string;
  role: Role;
  /** When the API issued it (its clock): what a comeback sends as `rejoin_since`; null from an older API. */
  issued_at: string | null;
  expires_at: string | number;
  /** Where the room metadata tells me of an invitation to speak: my tag in `invited` (null from an
   * older API: none is told). */
  viewer_tag?: string | null;
}

/** A listener beyond the interactive threshold: watch the broadcast instead of joining the room. */
export interface HlsGrant {
  mode: "hls";
  playlist_url: string;
  identity: string;
  role: "listener";
  issued_at: string | null;
  expires_at: null;
  /** Seconds between presence heartbeats while playing; null: not sampled, send none (heartbeat.ts). */
  presence_interval_seconds?: number | null;
  /** Where state.json tells this viewer of a removal after `issued_at`, and of an invitation to
   * speak: their tag in `removed_viewers` and `invited` (null from an older API: neither is told). */
  viewer_tag: string | null;
  /** What this viewer's presence heartbeats name: only an HLS answer carries it (absent from an
   * older API, whose heartbeats named `viewer_tag`: none are sent then). */
  presence_tag?: string;
}

export type JoinGrant = WebRtcGrant | HlsGrant;

const ROLES: ReadonlySet<string> = new Set(["host", "cohost", "speaker", "listener"]);

/** An optional text field: absent (or not text) from a control plane that predates it. */
function maybeText(raw: Record<string, unknown>, key: string): string | null {
  const v = raw[key];
  return typeof v === "string" && v ? v : null;
}

function text(raw: Record<string, unknown>, key: string): string {
  const v = raw[key];
  if (typeof v !== "string" || !v) throw new Error(`the join answer has no ${key}`);
  return v;
}

/**
 * The token endpoint's answer, checked. An answer without `mode` comes from a control plane that
 * predates the broadcast tier and is WebRTC. Throws, naming the missing field, on anything else
 * malformed: the page shows that instead of connecting to nowhere.
 */
export function parseGrant(raw: unknown): JoinGrant {
  if (!raw || typeof raw !== "object") throw new Error("the join answer is not an object");
  const r = raw as Record<string, unknown>;
  const mode = r.mode ?? "webrtc";
  if (mode === "hls") {
    const interval = r.presence_interval_seconds;
    return {
      mode,
      playlist_url: text(r, "playlist_url"),
      identity: text(r, "identity"),
      role: "listener",
      issued_at: maybeText(r, "issued_at"),
      expires_at: null,
      // Absent from control planes without presence: no heartbeats.
      presence_interval_seconds: typeof interval === "number" && interval > 0 ? interval : null,
      viewer_tag: maybeText(r, "viewer_tag"),
      ...(typeof r.presence_tag === "string" && r.presence_tag ? { presence_tag: r.presence_tag } : {}),
    };
  }
  if (mode !== "webrtc") throw new Error(`the join answer has an unknown mode ${JSON.stringify(mode)}`);
  const role = text(r, "role");
  if (!ROLES.has(role)) throw new Error(`the join answer has an unknown role ${JSON.stringify(role)}`);
  const expires = r.expires_at;
  return {
    mode,
    url: text(r, "url"),
    token: text(r, "token"),
    identity: text(r, "identity"),
    role: role as Role,
    issued_at: maybeText(r, "issued_at"),
    expires_at: typeof expires === "number" || typeof expires === "string" ? expires : "",
    viewer_tag: maybeText(r, "viewer_tag"),
  };
}

/**
 * How far a wall clock may disagree with the composer's before the PROGRAM-DATE-TIME reading is
 * not believed. A viewer on a CDN is never this far behind the playlist's own edge, so a larger gap
 * is a wrong clock, not latency.
 */
export const CLOCK_SKEW_LIMIT_S = 30;

export interface LiveReading {
  /** The viewer's wall clock, epoch ms. */
  nowMs: number;
  /** The PROGRAM-DATE-TIME of the frame on screen (hls.js `playingDate`), epoch ms. */
  playingDateMs: number | null;
  /** Seconds from the playing position to the end of the newest segment in the playlist (hls.js `latency`). */
  edgeLatency: number | null;
}

/**
 * Seconds between the frame on screen and real life. PROGRAM-DATE-TIME says when the composer
 * captured the frame, so `now - playingDate` is the whole delay (composing, segmenting, CDN,
 * buffer), which is what a person means by "behind". It needs the viewer's clock to agree with the
 * composer's; when it cannot be right (less than the distance to the playlist's edge, which is
 * part of it, or more than the skew limit beyond it) the edge distance alone is shown.
 */
export function secondsBehind({ nowMs, playingDateMs, edgeLatency }: LiveReading): number | null {
  const edge = edgeLatency !== null && Number.isFinite(edgeLatency) && edgeLatency >= 0 ? edgeLatency : null;
  if (playingDateMs !== null && Number.isFinite(playingDateMs)) {
    const byClock = (nowMs - playingDateMs) / 1000;
    const floor = edge ?? 0;
    if (byClock >= floor && byClock <= floor + CLOCK_SKEW_LIMIT_S) return byClock;
  }
  return edge;
}

/** The indicator's words: "LIVE · 3 s behind", or just "LIVE" before the first reading. */
export function liveLabel(behind: number | null, paused = false): string {
  if (paused) return "LIVE · paused"; // the Space is live; this page is not playing it
  return behind === null ? "LIVE" : `LIVE · ${Math.max(0, Math.round(behind))} s behind`;
}

interface RetryPolicy {
  maxNumRetry: number;
  retryDelayMs: number;
  maxRetryDelayMs: number;
}

/** After an error, a few retries spaced out (a CDN hiccup passes in a second or two). */
const SPACED_RETRY: RetryPolicy = { maxNumRetry: 6, retryDelayMs: 500, maxRetryDelayMs: 2000 };

/** An hls.js load policy: deadlines for the first byte and the whole load; a timed-out load is asked again at once. */
function loadPolicy(maxTimeToFirstByteMs: number, maxLoadTimeMs: number, errorRetry: RetryPolicy) {
  return {
    default: {
      maxTimeToFirstByteMs,
      maxLoadTimeMs,
      timeoutRetry: { maxNumRetry: 4, retryDelayMs: 0, maxRetryDelayMs: 0 },
      errorRetry,
    },
  } as const;
}

/**
 * hls.js settings for the live broadcast, for the composer's 1 s segments (docs/web.md has the
 * numbers behind each; docs/bench/broadcast.md measures them).
 * - Start and stay 1.5 s behind the newest segment the player knows. The edge serves a playlist at
 *   most 1 s old and the player reloads it every second, so a segment reaches the player 0.6-0.9 s
 *   after its end at the median, ~1 s at p90 (docs/bench/broadcast.md §5): 1.5 s of hold-back covers
 *   that; 2 s (the former 2 segments) only added half a second.
 * - A stall raises that target by 0.25 s (hls.js adds 1 s by default, up to one target duration,
 *   and never takes it back): one late playlist should not cost the rest of the Space a second.
 * - Past 4 s behind the known edge (a long stall) jump back to the sync point; closer than that,
 *   catch up by playing up to 10 % faster, which speech tolerates unnoticed. hls.js only adjusts
 *   the playback rate in its low-latency mode, so that mode is on; the composer writes whole
 *   segments (no LL-HLS parts or blocking reloads in the playlist), so it changes nothing else.
 */
export const LIVE_HLS_CONFIG = {
  liveSyncDuration: 1.5,
  liveMaxLatencyDuration: 4,
  liveSyncOnStallIncrease: 0.25,
  maxLiveSyncPlaybackRate: 1.1,
  lowLatencyMode: true,
  // A live viewer never seeks back: keep 10 s behind the playhead, not the whole Space.
  backBufferLength: 10,
  // One stuck request must not stall a viewer longer than the hold-back absorbs: hls.js waits 10 s
  // for a first byte by default (it shortens that only for LL-HLS parts, which these playlists do
  // not have). A segment is ~330 KB (1 s of 720p at 2.5 Mbps), up to ~550 KB right after a still
  // picture (the encoder's VBV, docs/broadcast.md): 6 s is a link slower than half the stream's
  // rate, which could not keep up anyway.
  playlistLoadPolicy: loadPolicy(3_000, 5_000, SPACED_RETRY),
  fragLoadPolicy: loadPolicy(3_000, 6_000, SPACED_RETRY),
  // A playlist that times out, answers a 5xx or nothing: keep asking. (hls.js never retries a 4xx:
  // the 404 of a playlist not written yet is fatal at once, and the player asks again every 2 s.)
  manifestLoadPolicy: loadPolicy(10_000, 20_000, { maxNumRetry: 10, retryDelayMs: 1000, maxRetryDelayMs: 4000 }),
} as const;

/** hls.js settings for a replay: a finished recording, played from its first segment. */
export const REPLAY_HLS_CONFIG = {
  startPosition: 0,
  lowLatencyMode: false,
} as const;

/**
 * How long a live player sees the live window missing while the Space's whole playlist is there,
 * on looks at most LOOK_GAP_MS apart, before it plays the whole one instead. A composer started
 * before the window existed (a deploy in progress: a running composer keeps its Space until it
 * ends) writes only the whole playlist, and its viewers play that until they join again. A current
 * composer writes the whole playlist just before the window: a CDN keeps each file's 403 or 404 for
 * up to a second (infrastructure/constructs/broadcast_delivery.py), and one slow S3 write can take
 * ~15 s (composer/settings.py), so at a Space's start a look could see the one and not yet the
 * other. A review's simulation of 300 viewers waiting for a start sent 3-40 % of them to the whole
 * playlist for the rest of the Space (972 kB at 3 h, reloaded every second) when one look decided.
 */
export const WHOLE_PLAYLIST_AFTER_MS = 20_000;
/** Looks further apart than this (the player's retries are 2 s apart) start the wait over. */
export const LOOK_GAP_MS = 5_000;

/**
 * The playlist a live player should load, asked before it first loads and again on every retry:
 * the multivariant playlist beside the live window it was given when both are there (a video Space
 * whose composer writes the low rendition: the player picks the rendition its link can follow; the
 * composer writes it before the first window); else the live window, unless that has been missing
 * for WHOLE_PLAYLIST_AFTER_MS of looks in a row while the whole playlist was there each time.
 * Neither there yet (the Space just started): the window, asked for again. `exists` answers a HEAD
 * request. `reset` (the player plays) forgets the looks.
 */
export class PlayableSource {
  private wholeOnlySince: number | null = null;
  private lastLook = -Infinity;

  constructor(
    readonly url: string,
    private readonly now: () => number = Date.now,
  ) {}

  reset(): void {
    this.wholeOnlySince = null;
  }

  async choose(exists: (url: string) => Promise<boolean>): Promise<string> {
    if (!this.url.endsWith(`/${BROADCAST_LIVE_PLAYLIST}`)) return this.url;
    const whole = new URL(BROADCAST_PLAYLIST, this.url).toString();
    const variants = new URL(BROADCAST_LIVE_VARIANTS, this.url).toString();
    const [live, full, renditions] = await Promise.all([exists(this.url), exists(whole), exists(variants)]);
    const now = this.now();
    const inARow = now - this.lastLook <= LOOK_GAP_MS;
    this.lastLook = now;
    if (live || !full) {
      this.wholeOnlySince = null;
      return live && renditions ? variants : this.url;
    }
    if (this.wholeOnlySince === null || !inARow) this.wholeOnlySince = now;
    return now - this.wholeOnlySince >= WHOLE_PLAYLIST_AFTER_MS ? whole : this.url;
  }
}

/**
 * The audio-only rendition a multivariant playlist names (a video Space's sound alone,
 * docs/broadcast.md "Renditions"): the first variant with no picture (no RESOLUTION) whose codecs
 * are all audio, resolved against the playlist's URL; null when there is none. hls.js drops such a
 * variant from its levels when others have pictures, so the player reads it here.
 */
export function soundOnlyUri(text: string, base: string): string | null {
  const lines = text.split("\n").map((line) => line.trim());
  if (lines[0] !== "#EXTM3U") return null;
  for (let i = 0; i < lines.length - 1; i++) {
    if (!lines[i].startsWith("#EXT-X-STREAM-INF:")) continue;
    const attributes = lines[i].slice("#EXT-X-STREAM-INF:".length);
    const codecs = /(?:^|,)CODECS="([^"]*)"/.exec(attributes)?.[1];
    const uri = lines.slice(i + 1).find((line) => line && !line.startsWith("#"));
    if (!uri || /(?:^|,)RESOLUTION=/.test(attributes) || !codecs) continue;
    if (codecs.split(",").every((c) => /^(mp4a|ac-3|ec-3|opus|flac)\b/.test(c.trim()))) {
      try {
        return new URL(uri, base).toString();
      } catch {
        return null;
      }
    }
  }
  return null;
}

/**
 * What a replay plays: the recording's multivariant playlist when it is there (a video Space whose
 * last composer wrote the low rendition, when it ended), so a slow link gets the 360p recording;
 * else the whole playlist it was given.
 */
export async function recordingSource(url: string, exists: (url: string) => Promise<boolean>): Promise<string> {
  if (!url.endsWith(`/${BROADCAST_PLAYLIST}`)) return url;
  const variants = new URL(BROADCAST_VARIANTS, url).toString();
  return (await exists(variants)) ? variants : url;
}

/** Whether an ended Space can be replayed now: it had a broadcast and its recording is still kept. */
export function replayAvailable(
  space: { state: string; broadcast?: unknown; recording_available_until?: string | null },
  nowMs = Date.now(),
): boolean {
  if (space.state !== "ended" || !space.broadcast || !space.recording_available_until) return false;
  const until = Date.parse(space.recording_available_until);
  return Number.isFinite(until) && until > nowMs;
}

/**
 * What a listener watching the broadcast does after each poll of the Space: keep watching, switch
 * to the room (promoted to a stage role, which always gets a WebRTC token), or stop (ended).
 */
export function afterPoll(
  space: { state: string; host: string; cohosts: readonly string[]; speakers: readonly string[] },
  me: string,
): "watch" | "join-room" | "ended" {
  if (space.state === "ended") return "ended";
  const onStage = space.host === me || space.cohosts.includes(me) || space.speakers.includes(me);
  return onStage ? "join-room" : "watch";
}
