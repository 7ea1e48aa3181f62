/**
 * Reactions for a broadcast viewer: the composer writes the room's recent aggregated reactions to
 * reactions.json beside the playlist (contract ReactionFeed); the page reads it through the CDN and
 * floats each burst when its playback reaches the moment the burst was counted (the frame's
 * PROGRAM-DATE-TIME), so a viewer ~10 s behind the room sees the room react to what they hear.
 */
import { BROADCAST_REACTIONS, REACTIONS_TOPIC, type ReactionBurst } from "./contract.gen";
import { parseBurst } from "./views/reactions";

/** How often the page reads the feed (the CDN keeps it for 1 s; a burst stays in it for 30 s). */
export const REACTIONS_POLL_MS = 2000;
/** A burst the playback passed more than this long ago is not floated (a page that just opened). */
export const STALE_MS = 3000;

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

export interface Scheduled {
  burst: ReactionBurst;
  delayMs: number;
}

/** Which bursts of each read are new, and when to float them. */
export class FeedFollower {
  /** The newest window already scheduled (null: nothing read yet). */
  private through: number | null = null;

  next(bursts: ReactionBurst[], playingDateMs: number | null, nowMs: number): Scheduled[] {
    const out: Scheduled[] = [];
    const sorted = [...bursts].sort((a, b) => a.first_window - b.first_window);
    for (const burst of sorted) {
      if (this.through !== null && burst.last_window <= this.through) continue;
      this.through = Math.max(this.through ?? burst.last_window, burst.last_window);
      const atMs = burst.first_window * burst.window_seconds * 1000;
      // Without a PROGRAM-DATE-TIME (a player that reports none) the room's time is the clock.
      const delayMs = atMs - (playingDateMs ?? nowMs);
      if (delayMs < -STALE_MS) continue;
      out.push({ burst, delayMs: Math.max(0, delayMs) });
    }
    return out;
  }
}

export interface FeedDeps {
  fetchText(url: string): Promise<string | null>;
  /** The PROGRAM-DATE-TIME of the frame on screen, epoch ms (null: unknown). */
  playingDateMs(): number | null;
  nowMs(): number;
  show(burst: ReactionBurst): void;
  setTimer(fn: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
  every(fn: () => void, ms: number): unknown;
  stopEvery(handle: unknown): void;
}

/** Reads the feed every REACTIONS_POLL_MS while the broadcast is watched and floats what is new. */
export class FeedPoller {
  private readonly follower = new FeedFollower();
  private readonly pending = new Set<unknown>();
  private poll: unknown = null;

  constructor(
    private readonly url: string,
    private readonly deps: FeedDeps,
  ) {}

  start(): void {
    if (this.poll !== null) return;
    this.poll = this.deps.every(() => void this.read(), REACTIONS_POLL_MS);
    void this.read();
  }

  stop(): void {
    if (this.poll !== null) this.deps.stopEvery(this.poll);
    this.poll = null;
    for (const handle of this.pending) this.deps.clearTimer(handle);
    this.pending.clear();
  }

  async read(): Promise<void> {
    const text = await this.deps.fetchText(this.url).catch(() => null);
    if (text === null || this.poll === null) return;
    for (const { burst, delayMs } of this.follower.next(parseFeed(text), this.deps.playingDateMs(), this.deps.nowMs())) {
      const handle = this.deps.setTimer(() => {
        this.pending.delete(handle);
        this.deps.show(burst);
      }, delayMs);
      this.pending.add(handle);
    }
  }
}
