/**
 * Coming back by itself: after a reload of a Space this tab was in, and after a dropped connection.
 * No DOM and no LiveKit room here; space.ts wires it and the views only show it (docs/web.md,
 * "Rejoin"). The role is never remembered: every (re)join asks the API for a fresh token, whose
 * grants follow the role the store holds now.
 */
import { DisconnectReason } from "livekit-client";

/** sessionStorage key: the Space this tab is in (per tab; gone when the tab closes). */
export const IN_SPACE_KEY = "spaces.in-space";

/** The first retry waits this long (ms); each next one twice as long, up to CAP. */
export const BACKOFF_FIRST_MS = 1000;
/**
 * Never more than this between two attempts (ms): a network that came back is used within 10 s, and
 * the retries of a whole audience after an SFU restart are spread instead of synchronised (jitter).
 */
export const BACKOFF_CAP_MS = 10_000;
/** ±20 % around each wait, so that listeners dropped together do not come back together. */
export const BACKOFF_JITTER = 0.2;
/**
 * Attempts before the page stops and offers a Rejoin button: 1 at once, then 1, 2, 4, 8 s and 10 s
 * apart, about 3 minutes in all, longer than the host's grace period (120 s by default), after which
 * the Space the page would come back to has ended anyway.
 */
export const MAX_ATTEMPTS = 22;

/** The bit of Storage this needs (sessionStorage in the page, a Map in tests). */
export interface KeyValue {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/**
 * Which Space this tab is in, across a reload, and when its last grant was issued (the API's
 * `issued_at`, sent back as `rejoin_since` so that a removal the page was away for is told).
 * Stored as JSON; a bare Space id (written by an older page) reads as that Space with no time.
 * Storage errors (private modes, quotas) are ignored.
 */
export class Presence {
  constructor(private readonly storage: KeyValue | null) {}

  /** In the Space (connected to its room or its broadcast) with a grant issued at `since`. */
  entered(spaceId: string, since: string | null): void {
    this.safely(() => this.storage?.setItem(IN_SPACE_KEY, JSON.stringify({ space: spaceId, since })));
  }

  /** Left on purpose, removed, or the Space ended: a reload shows the card again. */
  forget(): void {
    this.safely(() => this.storage?.removeItem(IN_SPACE_KEY));
  }

  /** Whether the page opening `spaceId` should join again without a click. */
  wasIn(spaceId: string): boolean {
    return this.held()?.space === spaceId;
  }

  /** When the grant of this tab's last join of `spaceId` was issued, if it is known. */
  since(spaceId: string): string | null {
    const held = this.held();
    return held?.space === spaceId ? held.since : null;
  }

  private held(): { space: string; since: string | null } | null {
    let raw: string | null | undefined = null;
    this.safely(() => (raw = this.storage?.getItem(IN_SPACE_KEY)));
    if (!raw) return null;
    try {
      const parsed: unknown = JSON.parse(raw);
      if (parsed && typeof parsed === "object") {
        const { space, since } = parsed as Record<string, unknown>;
        if (typeof space !== "string") return null;
        return { space, since: typeof since === "string" && since ? since : null };
      }
    } catch {
      // not JSON: a bare id
    }
    return { space: raw, since: null };
  }

  private safely(fn: () => void): void {
    try {
      fn();
    } catch {
      // No storage: no automatic rejoin after a reload; nothing else depends on it.
    }
  }
}

/**
 * Whether the page reconnects by itself after the room disconnected with `reason`. Not when the person
 * left, a host removed them, the Space ended, or another tab of the same person took the seat (two
 * tabs would otherwise take it from each other forever).
 */
export function reconnectsAfter(reason: DisconnectReason | undefined): boolean {
  switch (reason) {
    case DisconnectReason.CLIENT_INITIATED:
    case DisconnectReason.PARTICIPANT_REMOVED:
    case DisconnectReason.ROOM_DELETED:
    case DisconnectReason.ROOM_CLOSED:
    case DisconnectReason.DUPLICATE_IDENTITY:
    case DisconnectReason.USER_REJECTED:
      return false;
    default:
      return true;
  }
}

/** How long to wait before attempt `n` (0: the first, at once). */
export function backoffMs(n: number, random: () => number = Math.random): number {
  if (n <= 0) return 0;
  const base = Math.min(BACKOFF_CAP_MS, BACKOFF_FIRST_MS * 2 ** (n - 1));
  const jittered = base * (1 - BACKOFF_JITTER + 2 * BACKOFF_JITTER * random());
  return Math.round(Math.min(BACKOFF_CAP_MS, jittered));
}

/**
 * What one attempt came to: in again, try later (network, SFU or API unavailable), or stop (the API
 * says no: blocked, not live any more, gone).
 */
export type Attempt = "joined" | "retry" | "stop";

export type Outcome = Attempt | "cancelled" | "gave-up";

export interface ReconnectorOptions {
  attempt: () => Promise<Attempt>;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  maxAttempts?: number;
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Retries `attempt` with capped, jittered exponential backoff until it joins, is refused or cancelled. */
export class Reconnector {
  /** Attempts made in the current run. */
  attempts = 0;
  running = false;
  private cancelled = false;

  constructor(private readonly opts: ReconnectorOptions) {}

  async run(): Promise<Outcome> {
    if (this.running) return "cancelled";
    const { attempt, sleep = realSleep, random = Math.random, maxAttempts = MAX_ATTEMPTS } = this.opts;
    this.running = true;
    this.cancelled = false;
    this.attempts = 0;
    try {
      while (this.attempts < maxAttempts) {
        const wait = backoffMs(this.attempts, random);
        if (wait > 0) await sleep(wait);
        if (this.cancelled) return "cancelled";
        this.attempts += 1;
        let result: Attempt;
        try {
          result = await attempt();
        } catch {
          result = "retry"; // an attempt that broke (a player that could not load) is one more try
        }
        if (this.cancelled) return "cancelled";
        if (result !== "retry") return result;
      }
      return "gave-up";
    } finally {
      this.running = false;
    }
  }

  cancel(): void {
    this.cancelled = true;
  }
}
