/**
 * The HLS viewer's presence heartbeat (docs/control-plane.md, "Listener count"). HLS viewers never
 * join the room, so the listener count learns about them from a sample: the join answer's
 * `presence_interval_seconds` says whether this viewer is sampled (null: not) and how often to call
 * `POST /spaces/{id}/presence` while the player plays. The first heartbeat goes at a random moment
 * within the first interval (so a crowd arriving at once is spread over the interval, and a page
 * open for a minute usually makes no call), each next one an interval after the last; paused or
 * stalled playback sends none, and resuming never sends sooner than an interval after the last.
 * Pure scheduling: the clock, the timer and the call are given.
 */

export interface HeartbeatDeps {
  /** The call; rejects with `{ status }` on an HTTP error. */
  send: () => Promise<void>;
  nowMs: () => number;
  /** Uniform in [0, 1). */
  random: () => number;
  setTimer: (fn: () => void, ms: number) => unknown;
  clearTimer: (handle: unknown) => void;
}

/** Answers that will not change by asking again: blocked, gone, not live, not sampled, on stage. */
const FINAL = new Set([401, 403, 404, 409, 422]);

/** When the next heartbeat is due (ms since the epoch), given the last one (null: none yet). */
export function nextDue(lastMs: number | null, firstDueMs: number, intervalMs: number): number {
  return lastMs === null ? firstDueMs : lastMs + intervalMs;
}

export class Heartbeat {
  private readonly intervalMs: number;
  private firstDueMs: number | null = null;
  private lastMs: number | null = null;
  private timer: unknown = null;
  private playing = false;
  private stopped: boolean;

  constructor(
    intervalSeconds: number | null | undefined,
    private readonly deps: HeartbeatDeps,
  ) {
    this.intervalMs = (intervalSeconds ?? 0) * 1000;
    // Not sampled (or a control plane without presence): never sends.
    this.stopped = !(this.intervalMs > 0);
  }

  /** Whether it will ever send again. */
  get active(): boolean {
    return !this.stopped;
  }

  /** Follow the player: heartbeats only while it plays. */
  setPlaying(playing: boolean): void {
    if (this.stopped || playing === this.playing) return;
    this.playing = playing;
    if (!playing) return this.cancel();
    const now = this.deps.nowMs();
    this.firstDueMs ??= now + Math.floor(this.deps.random() * this.intervalMs);
    this.schedule(Math.max(0, nextDue(this.lastMs, this.firstDueMs, this.intervalMs) - now));
  }

  stop(): void {
    this.stopped = true;
    this.cancel();
  }

  private schedule(delayMs: number): void {
    this.cancel();
    this.timer = this.deps.setTimer(() => void this.beat(), delayMs);
  }

  private cancel(): void {
    if (this.timer !== null) this.deps.clearTimer(this.timer);
    this.timer = null;
  }

  private async beat(): Promise<void> {
    this.timer = null;
    if (this.stopped || !this.playing) return;
    this.lastMs = this.deps.nowMs();
    try {
      await this.deps.send();
    } catch (err) {
      const status = (err as { status?: number }).status ?? 0;
      if (FINAL.has(status)) return this.stop();
      // A network error or a 5xx: this window is missed; the next one is tried as usual.
    }
    if (!this.stopped && this.playing) this.schedule(this.intervalMs);
  }
}
