import { DisconnectReason } from "livekit-client";
import { describe, expect, it } from "vitest";

import { type Attempt, BACKOFF_CAP_MS, backoffMs, IN_SPACE_KEY, MAX_ATTEMPTS, Presence, Reconnector, reconnectsAfter, type SeatChannel, TabSeats } from "./rejoin";

class MapStorage {
  items = new Map<string, string>();
  getItem(k: string): string | null {
    return this.items.get(k) ?? null;
  }
  setItem(k: string, v: string): void {
    this.items.set(k, v);
  }
  removeItem(k: string): void {
    this.items.delete(k);
  }
}

describe("Presence (a reload rejoins)", () => {
  it("remembers the Space this tab is in until it is left on purpose", () => {
    const storage = new MapStorage();
    const presence = new Presence(storage);
    expect(presence.wasIn("s1")).toBe(false);
    presence.entered("s1", "2026-12-05T06:00:00.123456Z");
    expect(new Presence(storage).wasIn("s1")).toBe(true); // the reloaded page
    expect(new Presence(storage).since("s1")).toBe("2026-12-05T06:00:00.123456Z");
    expect(presence.wasIn("s2")).toBe(false);
    expect(presence.since("s2")).toBeNull();
    presence.forget();
    expect(presence.wasIn("s1")).toBe(false);
    expect(presence.since("s1")).toBeNull();
  });

  it("remembers a hand lowered as the page went, for that Space, once, across its rejoin", () => {
    const storage = new MapStorage();
    const presence = new Presence(storage);
    presence.handWentDown("s1"); // not in it: nothing to remember
    expect(presence.takeHand("s1")).toBe(false);
    presence.entered("s1", "t1", () => "seat1");
    presence.handWentDown("s2"); // another Space's
    expect(new Presence(storage).takeHand("s1")).toBe(false);
    presence.handWentDown("s1");
    const reloaded = new Presence(storage);
    expect(reloaded.takeHand("s2")).toBe(false);
    reloaded.entered("s1", "t2"); // the rejoin keeps it until it is taken, and the seat
    expect(reloaded.seat("s1")).toBe("seat1");
    expect(reloaded.takeHand("s1")).toBe(true);
    expect(reloaded.takeHand("s1")).toBe(false);
    expect(reloaded.since("s1")).toBe("t2");
    presence.handWentDown("s1");
    presence.entered("s2", "t3"); // in another Space since: not that one's hand
    expect(presence.takeHand("s2")).toBe(false);
    presence.handWentDown("s2");
    presence.forget();
    expect(presence.takeHand("s2")).toBe(false);
  });

  it("reads what an older page stored (a bare Space id) as that Space, with no time", () => {
    for (const id of ["s1", "1234", "5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e", "null", "{"]) {
      const storage = new MapStorage();
      storage.setItem(IN_SPACE_KEY, id);
      expect(new Presence(storage).wasIn(id)).toBe(true);
      expect(new Presence(storage).since(id)).toBeNull();
    }
    const storage = new MapStorage();
    storage.setItem(IN_SPACE_KEY, JSON.stringify({ space: 7, since: "x" }));
    expect(new Presence(storage).since("7")).toBeNull();
  });

  it("works without storage (it throws in some private modes)", () => {
    const broken = {
      getItem: () => {
        throw new Error("denied");
      },
      setItem: () => {
        throw new Error("denied");
      },
      removeItem: () => {
        throw new Error("denied");
      },
    };
    const presence = new Presence(broken);
    presence.entered("s1", null);
    expect(presence.wasIn("s1")).toBe(false);
    presence.forget();
    expect(new Presence(null).wasIn("s1")).toBe(false);
  });
});

describe("reconnectsAfter", () => {
  it("does not come back after a leave, a removal, the end or another tab taking the seat", () => {
    for (const reason of [
      DisconnectReason.CLIENT_INITIATED,
      DisconnectReason.PARTICIPANT_REMOVED,
      DisconnectReason.ROOM_DELETED,
      DisconnectReason.ROOM_CLOSED,
      DisconnectReason.DUPLICATE_IDENTITY,
      DisconnectReason.USER_REJECTED,
    ]) {
      expect(reconnectsAfter(reason), DisconnectReason[reason]).toBe(false);
    }
  });

  it("comes back after anything else the network or the server did", () => {
    for (const reason of [
      undefined,
      DisconnectReason.UNKNOWN_REASON,
      DisconnectReason.SERVER_SHUTDOWN,
      DisconnectReason.STATE_MISMATCH,
      DisconnectReason.JOIN_FAILURE,
      DisconnectReason.MIGRATION,
      DisconnectReason.SIGNAL_CLOSE,
    ]) {
      expect(reconnectsAfter(reason), String(reason)).toBe(true);
    }
  });
});

describe("backoffMs", () => {
  it("tries at once, then doubles from 1 s and never waits more than the cap", () => {
    const mid = () => 0.5; // no jitter
    expect([0, 1, 2, 3, 4, 5, 6, 30].map((n) => backoffMs(n, mid))).toEqual([0, 1000, 2000, 4000, 8000, 10000, 10000, 10000]);
  });

  it("spreads the waits by ±20 % but stays within the cap", () => {
    expect(backoffMs(1, () => 0)).toBe(800);
    expect(backoffMs(1, () => 1)).toBe(1200);
    expect(backoffMs(12, () => 1)).toBe(BACKOFF_CAP_MS);
  });
});

function script(results: Attempt[]): { attempt: () => Promise<Attempt>; calls: () => number } {
  let i = 0;
  return {
    attempt: async () => results[Math.min(i++, results.length - 1)],
    calls: () => i,
  };
}

describe("Reconnector", () => {
  it("retries with the backoff until it is back in", async () => {
    const waits: number[] = [];
    const s = script(["retry", "retry", "retry", "joined"]);
    const r = new Reconnector({ attempt: s.attempt, sleep: async (ms) => void waits.push(ms), random: () => 0.5 });
    expect(await r.run()).toBe("joined");
    expect(s.calls()).toBe(4);
    expect(waits).toEqual([1000, 2000, 4000]);
    expect(r.running).toBe(false);
  });

  it("counts an attempt that throws as one more try, not the end of the loop", async () => {
    let calls = 0;
    const attempt = async (): Promise<Attempt> => {
      calls += 1;
      if (calls === 1) throw new TypeError("Failed to fetch dynamically imported module");
      return "joined";
    };
    const r = new Reconnector({ attempt, sleep: async () => undefined });
    expect(await r.run()).toBe("joined");
    expect(calls).toBe(2);
    expect(r.running).toBe(false);
  });

  it("stops when the API refuses (blocked, ended)", async () => {
    const s = script(["retry", "stop", "joined"]);
    const r = new Reconnector({ attempt: s.attempt, sleep: async () => undefined });
    expect(await r.run()).toBe("stop");
    expect(s.calls()).toBe(2);
  });

  it("gives up after the last attempt", async () => {
    const s = script(["retry"]);
    const r = new Reconnector({ attempt: s.attempt, sleep: async () => undefined });
    expect(await r.run()).toBe("gave-up");
    expect(s.calls()).toBe(MAX_ATTEMPTS);
  });

  it("a leave during a wait cancels it before another attempt", async () => {
    const s = script(["retry"]);
    let r: Reconnector | null = null;
    r = new Reconnector({ attempt: s.attempt, sleep: async () => r?.cancel() });
    expect(await r.run()).toBe("cancelled");
    expect(s.calls()).toBe(1);
  });

  it("one run at a time", async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const r = new Reconnector({
      attempt: async () => {
        await gate;
        return "joined";
      },
    });
    const first = r.run();
    expect(await r.run()).toBe("cancelled");
    release();
    expect(await first).toBe("joined");
  });
});

/** Pages of one origin: what one posts, every other one hears (as BroadcastChannel does). */
class Bus {
  private readonly pages = new Set<(data: unknown) => void>();

  channel(): SeatChannel {
    let mine: ((data: unknown) => void) | null = null;
    return {
      post: (message) => {
        for (const page of this.pages) if (page !== mine) queueMicrotask(() => page(structuredClone(message)));
      },
      listen: (fn) => {
        mine = fn;
        this.pages.add(fn);
      },
      close: () => {
        if (mine) this.pages.delete(mine);
      },
    };
  }
}

describe("TabSeats (a duplicated tab does not take its original's seat)", () => {
  it("keeps the seat id while the tab stays in the Space, and gives a new one after it left", () => {
    const storage = new MapStorage();
    const presence = new Presence(storage);
    let n = 0;
    const next = () => `seat-${++n}`;
    presence.entered("s1", "t1", next);
    presence.entered("s1", "t2", next); // a reconnect: the same seat
    expect(presence.seat("s1")).toBe("seat-1");
    expect(presence.since("s1")).toBe("t2");
    presence.forget();
    presence.entered("s1", "t3", next);
    expect(presence.seat("s1")).toBe("seat-2");
    presence.entered("s2", "t4", next); // another Space: another seat
    expect(presence.seat("s2")).toBe("seat-3");
    expect(presence.seat("s1")).toBeNull();
  });

  it("answers for the seat it holds: the copy of a tab that is in the Space stays out", async () => {
    const bus = new Bus();
    const original = new TabSeats(bus.channel());
    let inSpace = true;
    original.holding(() => (inSpace ? { space: "s1", seat: "seat-1" } : null));
    const copy = new TabSeats(bus.channel());
    expect(await copy.heldElsewhere("s1", "seat-1", 50)).toBe(true);
    // Another seat, another Space, or an original that left: nobody holds it.
    expect(await copy.heldElsewhere("s1", "seat-2", 50)).toBe(false);
    expect(await copy.heldElsewhere("s2", "seat-1", 50)).toBe(false);
    inSpace = false;
    expect(await copy.heldElsewhere("s1", "seat-1", 50)).toBe(false);
  });

  it("finds nobody after a reload (the old page is gone), without a seat id, or without a channel", async () => {
    const bus = new Bus();
    const gone = new TabSeats(bus.channel());
    gone.holding(() => ({ space: "s1", seat: "seat-1" }));
    gone.close();
    const reloaded = new TabSeats(bus.channel());
    expect(await reloaded.heldElsewhere("s1", "seat-1", 50)).toBe(false);
    expect(await reloaded.heldElsewhere("s1", null, 50)).toBe(false);
    expect(await new TabSeats(null).heldElsewhere("s1", "seat-1", 50)).toBe(false);
  });
});
