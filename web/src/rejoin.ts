/**
 * Coming back by itself: after a reload of a Space this tab was in, and after a dropped connection.
 * No DOM and no LiveKit room here; space.ts wires it and the views only show it (docs/web.md,
 * "Rejoin"). The role is never remembered: every (re)join asks the API for a fresh token, whose
 * grants follow the role the store holds now.
 */
import { DisconnectReason } from "livekit-client";
import { spread } from "./jitter";

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

/** This tab's presence in a Space, as stored. */
type Held = { space: string; since: string | null; seat: string | null; hand: boolean };

/**
 * Which Space this tab is in, across a reload, and when its last grant was issued (the API's
 * `issued_at`, sent back as `rejoin_since` so that a removal the page was away for is told).
 * Stored as JSON; a bare Space id (written by an older page) reads as that Space with no time.
 * Storage errors (private modes, quotas) are ignored.
 */
export class Presence {
  constructor(private readonly storage: KeyValue | null) {}

  /**
   * In the Space (connected to its room or its broadcast) with a grant issued at `since`. The tab's
   * seat id is kept while the tab stays in the Space, and new after it left (TabSeats).
   */
  entered(spaceId: string, since: string | null, newSeat: () => string = randomSeat): void {
    const held = this.held();
    const same = held?.space === spaceId;
    const seat = same && held.seat ? held.seat : newSeat();
    this.write({ space: spaceId, since, seat, hand: same && held.hand });
  }

  /**
   * The page goes (a reload, the tab closed) with its hand up in `spaceId`, and lowers it on its
   * way out: a reload puts it back up once in again (takeHand). A closed tab's storage goes with it.
   */
  handWentDown(spaceId: string): void {
    const held = this.held();
    if (held?.space === spaceId) this.write({ ...held, hand: true });
  }

  /** Whether the hand was up in `spaceId` when the page last went (handWentDown); asked once. */
  takeHand(spaceId: string): boolean {
    const held = this.held();
    if (held?.space !== spaceId || !held.hand) return false;
    this.write({ ...held, hand: false });
    return true;
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

  /** This tab's seat id in `spaceId` (TabSeats), if it is in it. */
  seat(spaceId: string): string | null {
    const held = this.held();
    return held?.space === spaceId ? held.seat : null;
  }

  private write(held: Held): void {
    const { space, since, seat, hand } = held;
    this.safely(() => this.storage?.setItem(IN_SPACE_KEY, JSON.stringify(hand ? { space, since, seat, hand } : { space, since, seat })));
  }

  private held(): Held | null {
    let raw: string | null | undefined = null;
    this.safely(() => (raw = this.storage?.getItem(IN_SPACE_KEY)));
    if (!raw) return null;
    const text = (v: unknown) => (typeof v === "string" && v ? v : null);
    try {
      const parsed: unknown = JSON.parse(raw);
      if (parsed && typeof parsed === "object") {
        const { space, since, seat, hand } = parsed as Record<string, unknown>;
        if (typeof space !== "string") return null;
        return { space, since: text(since), seat: text(seat), hand: hand === true };
      }
    } catch {
      // not JSON: a bare id
    }
    return { space: raw, since: null, seat: null, hand: false };
  }

  private safely(fn: () => void): void {
    try {
      fn();
    } catch {
      // No storage: no automatic rejoin after a reload; nothing else depends on it.
    }
  }
}

function randomSeat(): string {
  return globalThis.crypto?.randomUUID?.() ?? `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

/** The BroadcastChannel on which this origin's pages ask whether a tab still holds a seat. */
export const SEATS_CHANNEL = "spaces.seats";
/** How long a page about to come back by itself waits for another tab to say it holds the seat (ms). */
export const SEAT_ASK_MS = 150;

/** What TabSeats needs of a BroadcastChannel (one in the page, a fake bus in tests). */
export interface SeatChannel {
  post(message: unknown): void;
  /** Calls `fn` with each message another page posted. */
  listen(fn: (data: unknown) => void): void;
  close(): void;
}

/**
 * A duplicated tab copies `sessionStorage`, so the copy would come back into the Space by itself and
 * take its original's seat (the SFU keeps one session per identity). Each tab's presence carries a
 * seat id, copied too: a page about to come back by itself asks this origin's other pages whether one
 * of them holds that seat in that Space. The original answers and the copy stays out (it shows the
 * card, and takes a new seat id if it joins). After a reload no other page is left to answer, and
 * without BroadcastChannel nobody asks.
 */
export class TabSeats {
  private holds: () => { space: string; seat: string } | null = () => null;
  private readonly waiting = new Set<(data: unknown) => void>();

  constructor(private readonly channel: SeatChannel | null) {
    channel?.listen((data) => this.receive(data));
  }

  /** What this page holds now (it answers for it): the Space and seat while it is in one. */
  holding(holds: () => { space: string; seat: string } | null): void {
    this.holds = holds;
  }

  /** Whether another page of this origin holds `seat` in `spaceId` (an answer within `waitMs`). */
  heldElsewhere(spaceId: string, seat: string | null, waitMs = SEAT_ASK_MS): Promise<boolean> {
    const channel = this.channel;
    if (!channel || !seat) return Promise.resolve(false);
    return new Promise((resolve) => {
      const heard = (data: unknown) => {
        const m = data as { held?: unknown; seat?: unknown } | null;
        if (m && m.held === spaceId && m.seat === seat) finish(true);
      };
      const timer = setTimeout(() => finish(false), waitMs);
      const finish = (held: boolean) => {
        clearTimeout(timer);
        this.waiting.delete(heard);
        resolve(held);
      };
      this.waiting.add(heard);
      channel.post({ ask: spaceId, seat });
    });
  }

  close(): void {
    this.channel?.close();
  }

  private receive(data: unknown): void {
    for (const heard of [...this.waiting]) heard(data);
    const m = data as { ask?: unknown; seat?: unknown } | null;
    if (!m || typeof m.ask !== "string") return;
    const mine = this.holds();
    if (mine && mine.space === m.ask && mine.seat === m.seat) this.channel?.post({ held: mine.space, seat: mine.seat });
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
  const jittered = spread(base, random, BACKOFF_JITTER);
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

  /** Cancelled since its run began: an attempt still under way gives way. */
  get isCancelled(): boolean {
    return this.cancelled;
  }
}
