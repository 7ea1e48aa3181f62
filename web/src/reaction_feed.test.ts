import { describe, expect, it } from "vitest";

import type { ReactionBurst } from "./contract.gen";
import { AHEAD_LIMIT_MS, FeedFollower, FeedPoller, parseFeed, reactionsUrl, STALE_MS } from "./reaction_feed";

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
  it("floats each burst once, when playback reaches its window", () => {
    const f = new FeedFollower();
    // A viewer 5 s behind: the room's last bursts are still ahead of their playback.
    f.add([burst(104), burst(110)], at(100));
    expect(f.due(at(100))).toEqual([]);
    expect(f.due(at(104) + 10)).toEqual([burst(104)]);
    // The next read repeats those and adds one: nothing is floated twice.
    f.add([burst(104), burst(110), burst(112)], at(105));
    expect(f.due(at(111))).toEqual([burst(110)]);
    expect(f.due(at(112))).toEqual([burst(112)]);
    expect(f.due(at(130))).toEqual([]);
  });

  it("skips what playback passed long ago and floats at once what it just passed", () => {
    const f = new FeedFollower();
    const playing = at(200);
    expect(playing - at(180)).toBeGreaterThan(STALE_MS);
    f.add([burst(180), burst(199)], playing);
    expect(f.due(playing)).toEqual([burst(199)]);
  });

  it("takes bursts in any order: one read late is still floated", () => {
    const f = new FeedFollower();
    f.add([burst(12)], at(10));
    expect(f.due(at(12))).toEqual([burst(12)]);
    // A burst of an earlier window written after the later one (two publishers) is not lost.
    f.add([burst(11), burst(12)], at(12));
    expect(f.due(at(12))).toEqual([burst(11)]);
  });

  it("leaves bursts far ahead of a playback clock that is not at the live edge yet for a later read", () => {
    const f = new FeedFollower();
    const live = at(10_000);
    // hls.js reports the first segment's date (40 min ago) before it has sought to the live edge.
    const firstSegment = live - 40 * 60 * 1000;
    expect(live - firstSegment).toBeGreaterThan(AHEAD_LIMIT_MS);
    f.add([burst(10_000)], firstSegment);
    expect(f.due(firstSegment)).toEqual([]);
    f.add([burst(10_000)], live - 5000);
    expect(f.due(live)).toEqual([burst(10_000)]);
  });

  it("drops what playback left behind while it was paused, and forgets old bursts", () => {
    const f = new FeedFollower();
    f.add([burst(100), burst(106)], at(99));
    // Paused for a minute, then playing again far on (a seek to live): neither is floated late.
    expect(f.due(at(230))).toEqual([]);
    // What is forgotten is long past, so a later read cannot bring it back fresh.
    f.add([burst(100), burst(106)], at(230));
    expect(f.due(at(231))).toEqual([]);
  });
});

describe("FeedPoller", () => {
  function harness(playing: { ms: number | null }, text: { feed: string }) {
    const shown: number[] = [];
    const playback = new Set<() => void>();
    let polls = 0;
    let stopped = 0;
    const poller = new FeedPoller("https://cdn.example/s1/reactions.json", {
      fetchText: async () => text.feed,
      playingDateMs: () => playing.ms,
      onPlayback: (fn) => {
        playback.add(fn);
        return () => playback.delete(fn);
      },
      show: (b) => shown.push(b.first_window),
      every: () => ++polls,
      stopEvery: () => ++stopped,
    });
    const moved = (ms: number | null): void => {
      playing.ms = ms;
      for (const fn of playback) fn();
    };
    return { poller, shown, playback, moved, polls: () => polls, stopped: () => stopped };
  }
  const feedOf = (...windows: number[]): string => JSON.stringify({ space_id: "s1", bursts: windows.map((w) => burst(w)) });

  it("floats on the playback clock while started, and nothing after stop", async () => {
    const playing = { ms: at(100) as number | null };
    const text = { feed: feedOf(104) };
    const h = harness(playing, text);
    h.poller.start();
    await h.poller.read();
    expect([h.polls(), h.playback.size, h.shown]).toEqual([1, 1, []]);
    h.moved(at(103));
    expect(h.shown).toEqual([]);
    h.moved(at(104));
    expect(h.shown).toEqual([104]);
    text.feed = feedOf(104, 108);
    await h.poller.read();
    h.moved(at(108) + 100);
    expect(h.shown).toEqual([104, 108]);
    h.poller.stop();
    expect([h.stopped(), h.playback.size]).toEqual([1, 0]);
    text.feed = feedOf(104, 108, 110);
    await h.poller.read(); // stopped: reads nothing more
    h.poller.tick();
    expect(h.shown).toEqual([104, 108]);
  });

  it("takes nothing from a read while the player is not playing; a later read catches up", async () => {
    const playing = { ms: null as number | null };
    const text = { feed: feedOf(104) };
    const h = harness(playing, text);
    h.poller.start();
    await h.poller.read();
    h.moved(null); // paused or stalled: no clock
    expect(h.shown).toEqual([]);
    playing.ms = at(103);
    await h.poller.read();
    h.moved(at(104));
    expect(h.shown).toEqual([104]);
  });
});
