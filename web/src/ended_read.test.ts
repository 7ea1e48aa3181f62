import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import {
  ENDED_READ_ATTEMPTS,
  ENDED_READ_MAX_SPREAD_MS,
  ENDED_READ_MIN_SPREAD_MS,
  endedReadSpreadMs,
  readEndedSpread,
} from "./ended_read";

type Answer = { state: string } | null;

/** A read that records when (on the fake clock) it was made and answers from `answers` in turn. */
function reads(answers: Answer[]) {
  const at: number[] = [];
  const read = async () => {
    at.push(Date.now());
    return answers.length > 1 ? answers.shift()! : answers[0];
  };
  return { at, read };
}

describe("endedReadSpreadMs", () => {
  it("grows with the audience between its floor and its cap", () => {
    expect(endedReadSpreadMs(0)).toBe(ENDED_READ_MIN_SPREAD_MS);
    expect(endedReadSpreadMs(250)).toBe(ENDED_READ_MIN_SPREAD_MS);
    expect(endedReadSpreadMs(25_000)).toBe(10_000);
    expect(endedReadSpreadMs(75_000)).toBe(ENDED_READ_MAX_SPREAD_MS);
    expect(endedReadSpreadMs(100_000)).toBe(ENDED_READ_MAX_SPREAD_MS);
  });
});

describe("readEndedSpread", () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("waits a random moment within the audience's window before the one read", async () => {
    const { at, read } = reads([{ state: "ended" }]);
    const done = readEndedSpread(read, { listeners: 100_000, stopped: () => false, random: () => 0.5 });
    await vi.advanceTimersByTimeAsync(14_999);
    expect(at).toEqual([]); // nothing read at the stream's end, with everyone else
    await vi.advanceTimersByTimeAsync(1);
    expect(at).toEqual([15_000]);
    await done;
    await vi.advanceTimersByTimeAsync(60_000);
    expect(at).toHaveLength(1); // ended: read once
  });

  it("spreads a 100k audience's first reads evenly over 30 s instead of one instant", async () => {
    const firsts: number[] = [];
    for (let i = 0; i < 1000; i++) {
      const { at, read } = reads([{ state: "ended" }]);
      void readEndedSpread(read, { listeners: 100_000, stopped: () => false, random: () => i / 1000 }).then(() => firsts.push(at[0]));
    }
    await vi.advanceTimersByTimeAsync(ENDED_READ_MAX_SPREAD_MS);
    expect(firsts).toHaveLength(1000);
    const perSecond = new Map<number, number>();
    for (const t of firsts) perSecond.set(Math.floor(t / 1000), (perSecond.get(Math.floor(t / 1000)) ?? 0) + 1);
    expect(Math.max(...perSecond.values())).toBeLessThanOrEqual(34); // ~1000/30 a second, not 1000 at once
  });

  it("repeats a read the API answered before it stored the end, 2 to 4 s apart, at most 3 times", async () => {
    const randoms = [0, 0, 0.99];
    const { at, read } = reads([{ state: "live" }]);
    const done = readEndedSpread(read, { listeners: 300, stopped: () => false, random: () => randoms.shift() ?? 0 });
    await vi.advanceTimersByTimeAsync(60_000);
    await done;
    expect(at).toEqual([0, 2000, 2000 + 3980]);
    expect(at).toHaveLength(ENDED_READ_ATTEMPTS);
  });

  it("stops repeating once the API says ended, and after a failed read", async () => {
    const ended = reads([{ state: "live" }, { state: "ended" }]);
    await Promise.all([readEndedSpread(ended.read, { listeners: 300, stopped: () => false, random: () => 0 }), vi.advanceTimersByTimeAsync(60_000)]);
    expect(ended.at).toHaveLength(2);
    const failed = reads([null]);
    await Promise.all([readEndedSpread(failed.read, { listeners: 300, stopped: () => false, random: () => 0 }), vi.advanceTimersByTimeAsync(60_000)]);
    expect(failed.at).toHaveLength(1);
  });

  it("reads nothing once the page is gone", async () => {
    let gone = false;
    const { at, read } = reads([{ state: "ended" }]);
    const done = readEndedSpread(read, { listeners: 100_000, stopped: () => gone, random: () => 0.5 });
    await vi.advanceTimersByTimeAsync(5_000);
    gone = true; // Back to Spaces while the read waited
    await vi.advanceTimersByTimeAsync(60_000);
    await done;
    expect(at).toEqual([]);
  });
});
