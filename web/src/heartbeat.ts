/**
 * The HLS viewer's presence heartbeat (docs/control-plane.md, "Listener count"). HLS viewers never
 * join the room, so the listener count learns about them from a sample: the join answer's
 * `presence_interval_seconds` says whether this viewer is sampled (null: not) and how often to call
 * `POST /spaces/{id}/presence` while the player plays. The first heartbeat goes at a random moment
 * within the first interval (so a crowd arriving at once is spread over the interval, and a page
 * open for a minute usually makes no call), each next one an interval after the last; paused or
 * stalled playback sends none, and resuming never sends sooner than an interval after the last (an
 * overdue one goes at a random moment of the minute after, so a stall every viewer shared does not
 * bring every viewer's heartbeat back at once). A busy store's refusal (503) only skips that beat.
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
/** How far overdue heartbeats are spread when playback resumes. */
const RESUME_SPREAD_MS = 60_000;

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
    const wait = nextDue(this.lastMs, this.firstDueMs, this.intervalMs) - now;
    // Overdue after a pause or a stall: a stall of the broadcast itself resumes every viewer at
    // once, so the overdue heartbeats are spread over the next minute instead of all sent now.
    const spread = Math.min(RESUME_SPREAD_MS, this.intervalMs);
    this.schedule(wait > 0 ? wait : Math.floor(this.deps.random() * spread));
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
      const { status = 0 } = err as { status?: number };
      if (FINAL.has(status)) return this.stop();
      // A network error or a 5xx (503: the store was busy): this window is missed; the next one is
      // tried as usual.
    }
    if (!this.stopped && this.playing) this.schedule(this.intervalMs);
  }
}
