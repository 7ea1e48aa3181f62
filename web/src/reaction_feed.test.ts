import { describe, expect, it } from "vitest";

import type { ReactionBurst } from "./contract.gen";
import { FeedFollower, FeedPoller, parseFeed, reactionsUrl, STALE_MS } from "./reaction_feed";

const W = 0.5;
function burst(window: number, counts: Record<string, number> = { "🔥": 1 }, last = window): ReactionBurst {
  return { space_id: "s1", first_window: window, last_window: last, window_seconds: W, counts };
}
const at = (window: number): number => window * W * 1000;

describe("reactions.json", () => {
  it("lives beside the playlist", () => {
    expect(reactionsUrl("https://cdn.example/broadcasts/s1/index.m3u8")).toBe("https://cdn.example/broadcasts/s1/reactions.json");
  });

  it("keeps the well-formed bursts of a feed and nothing of a broken one", () => {
    const text = JSON.stringify({ space_id: "s1", bursts: [burst(10), { counts: 3 }, burst(11, { "🤖": 2, "👏": 2 })] });
    expect(parseFeed(text)).toEqual([burst(10), burst(11, { "👏": 2 })]);
    expect(parseFeed("{")).toEqual([]);
    expect(parseFeed(JSON.stringify({ bursts: 3 }))).toEqual([]);
  });
});

describe("FeedFollower", () => {
  it("floats each burst when playback reaches its window, once", () => {
    const f = new FeedFollower();
    const playing = at(100);
    // A viewer 5 s behind: the room's last bursts are still ahead of their playback.
    const first = f.next([burst(104), burst(110)], playing, at(110));
    expect(first.map((s) => [s.burst.first_window, s.delayMs])).toEqual([
      [104, 2000],
      [110, 5000],
    ]);
    // The next read repeats those and adds one: only the new one is scheduled.
    const second = f.next([burst(104), burst(110), burst(112)], playing + 2000, at(114));
    expect(second.map((s) => [s.burst.first_window, s.delayMs])).toEqual([[112, 4000]]);
  });

  it("skips what playback passed long ago and floats at once what it just passed", () => {
    const f = new FeedFollower();
    const playing = at(200);
    const got = f.next([burst(180), burst(199)], playing, at(204));
    expect(playing - at(180)).toBeGreaterThan(STALE_MS);
    expect(got.map((s) => [s.burst.first_window, s.delayMs])).toEqual([[199, 0]]);
  });

  it("uses the clock when the player reports no PROGRAM-DATE-TIME", () => {
    const f = new FeedFollower();
    expect(f.next([burst(50, { "👏": 4 })], null, at(50) + 200).map((s) => s.delayMs)).toEqual([0]);
  });
});

describe("FeedPoller", () => {
  it("reads while started, floats on time and forgets its timers when stopped", async () => {
    let feed = JSON.stringify({ space_id: "s1", bursts: [burst(104)] });
    const shown: number[] = [];
    const timers = new Map<number, () => void>();
    let next = 1;
    let polls = 0;
    const delays: number[] = [];
    const poller = new FeedPoller("https://cdn.example/s1/reactions.json", {
      fetchText: async () => feed,
      playingDateMs: () => at(100),
      nowMs: () => at(110),
      show: (b) => shown.push(b.first_window),
      setTimer: (fn, ms) => {
        delays.push(ms);
        timers.set(next, fn);
        return next++;
      },
      clearTimer: (h) => timers.delete(h as number),
      every: () => ++polls,
      stopEvery: () => undefined,
    });
    poller.start();
    await Promise.resolve();
    await Promise.resolve();
    expect([polls, timers.size]).toEqual([1, 1]);
    const [[id, fire]] = [...timers.entries()];
    timers.delete(id); // what a real timeout does once it fired
    fire();
    expect(shown).toEqual([104]);
    feed = JSON.stringify({ space_id: "s1", bursts: [burst(104), burst(108)] });
    await poller.read();
    expect([timers.size, delays]).toEqual([1, [2000, 4000]]);
    poller.stop();
    expect(timers.size).toBe(0);
    await poller.read(); // stopped: reads nothing more
    expect(shown).toEqual([104]);
  });
});
