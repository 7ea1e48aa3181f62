/**
 * Reactions for a broadcast viewer: the composer writes the room's recent aggregated reactions to
 * reactions.json beside the playlist (contract ReactionFeed); the page reads it through the CDN and
 * floats each burst when its playback reaches the moment the burst was counted (the frame's
 * PROGRAM-DATE-TIME), so a viewer ~10 s behind the room sees the room react to what they hear.
 */
import { BROADCAST_REACTIONS, BROADCAST_REACTIONS_SECONDS, REACTIONS_TOPIC, type ReactionBurst } from "./contract.gen";
import { parseBurst } from "./views/reactions";

/** How often the page reads the feed (the CDN keeps it for 1 s; a burst stays in it for 30 s). */
export const REACTIONS_POLL_MS = 2000;
/** A burst the playback passed more than this long ago is not floated (a page that just opened). */
export const STALE_MS = 3000;
/** A burst further ahead of playback than the feed is long is not read against this playback clock. */
export const AHEAD_LIMIT_MS = BROADCAST_REACTIONS_SECONDS * 1000;

/** Where reactions.json lives: beside the playlist. */
export function reactionsUrl(playlistUrl: string): string {
  return new URL(BROADCAST_REACTIONS, playlistUrl).toString();
}

/** The feed's bursts, checked one by one (a malformed one is dropped, not the feed). */
export function parseFeed(text: string): ReactionBurst[] {
  try {
    const doc = JSON.parse(text) as { bursts?: unknown };
    if (!Array.isArray(doc.bursts)) return [];
    return doc.bursts
      .map((b) => parseBurst(JSON.stringify(b), REACTIONS_TOPIC))
      .filter((b): b is ReactionBurst => b !== null && Number.isInteger(b.first_window) && Number.isInteger(b.last_window));
  } catch {
    return [];
  }
}

/** Epoch ms of the room's moment a burst answered: the start of its first window. */
function momentMs(burst: ReactionBurst): number {
  return burst.first_window * burst.window_seconds * 1000;
}

/**
 * Which bursts to float, and when: on the playback clock (the PROGRAM-DATE-TIME of the frame on
 * screen), never on timers, so a paused or stalled player floats nothing and a burst waits for the
 * moment it answered however late it was read. Each burst (keyed by its first window) floats once,
 * whatever order the reads bring them in.
 */
export class FeedFollower {
  /** Read, and waiting for playback to reach them. */
  private readonly waiting = new Map<number, ReactionBurst>();
  /** Floated or passed: not taken again from a later read. */
  private readonly handled = new Map<number, number>();

  /** One read of the feed, against the playback clock (epoch ms). */
  add(bursts: readonly ReactionBurst[], playingMs: number): void {
    for (const burst of bursts) {
      const key = burst.first_window;
      if (this.waiting.has(key) || this.handled.has(key)) continue;
      const at = momentMs(burst);
      // Passed long ago: a page that just opened does not replay the last 30 s.
      if (at < playingMs - STALE_MS) continue;
      // Further ahead than the feed is long: the playback clock is not at the live edge yet (hls.js
      // reports the first segment's date until it has sought there); a later read takes it.
      if (at > playingMs + AHEAD_LIMIT_MS) continue;
      this.waiting.set(key, burst);
    }
  }

  /** The bursts playback has reached, oldest first, each once; what it passed too long ago is dropped. */
  due(playingMs: number): ReactionBurst[] {
    const out: ReactionBurst[] = [];
    for (const [key, burst] of this.waiting) {
      const at = momentMs(burst);
      if (at > playingMs) continue;
      this.waiting.delete(key);
      this.handled.set(key, at);
      if (at >= playingMs - STALE_MS) out.push(burst);
    }
    // A handled burst older than anything a read can still bring back fresh is forgotten.
    for (const [key, at] of this.handled) {
      if (at < playingMs - STALE_MS - AHEAD_LIMIT_MS) this.handled.delete(key);
    }
    return out.sort((a, b) => a.first_window - b.first_window);
  }
}

export interface FeedDeps {
  fetchText(url: string): Promise<string | null>;
  /** The playback clock: the room's time of the frame on screen, epoch ms; null while not playing. */
  playingDateMs(): number | null;
  /** Calls `fn` whenever playback moves (the video's timeupdate); returns the unsubscribe. */
  onPlayback(fn: () => void): () => void;
  show(burst: ReactionBurst): void;
  every(fn: () => void, ms: number): unknown;
  stopEvery(handle: unknown): void;
}

/** Reads the feed every REACTIONS_POLL_MS while the broadcast is watched and floats what playback reaches. */
export class FeedPoller {
  private readonly follower = new FeedFollower();
  private poll: unknown = null;
  private unsubscribe: (() => void) | null = null;

  constructor(
    private readonly url: string,
    private readonly deps: FeedDeps,
  ) {}

  start(): void {
    if (this.poll !== null) return;
    this.poll = this.deps.every(() => void this.read(), REACTIONS_POLL_MS);
    this.unsubscribe = this.deps.onPlayback(() => this.tick());
    void this.read();
  }

  stop(): void {
    if (this.poll !== null) this.deps.stopEvery(this.poll);
    this.poll = null;
    this.unsubscribe?.();
    this.unsubscribe = null;
  }

  async read(): Promise<void> {
    const text = await this.deps.fetchText(this.url).catch(() => null);
    const playing = this.deps.playingDateMs();
    // Not playing (or no clock yet): the feed holds 30 s, a later read takes what is still ahead.
    if (text === null || this.poll === null || playing === null) return;
    this.follower.add(parseFeed(text), playing);
    this.tick();
  }

  tick(): void {
    const playing = this.deps.playingDateMs();
    if (this.poll === null || playing === null) return;
    for (const burst of this.follower.due(playing)) this.deps.show(burst);
  }
}
