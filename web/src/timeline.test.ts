import { describe, expect, it } from "vitest";

import { clock, mediaTimeAt, parseEntries, parseTimeline, recordingSpan, spotlightAt, stageSegments, type TimelineEntry, wallClockAt } from "./timeline";

const T0 = 1_800_000_000;

function entry(t: number, spotlight: string | null, extra: Partial<TimelineEntry> = {}): TimelineEntry {
  return { t: T0 + t, spotlight, video_spotlight: null, pinned: null, names: {}, ...extra };
}

describe("timeline.json", () => {
  it("keeps well-formed entries in time order and drops the rest", () => {
    const tl = parseTimeline({
      space_id: "s1",
      started_at: T0,
      ended: true,
      entries: [
        { t: T0 + 5, spotlight: "bob", video_spotlight: "bob", pinned: null, names: { bob: "Bob", x: 3 } },
        { t: "soon", spotlight: "eve" },
        null,
        { t: T0 + 1, spotlight: "alice", names: { alice: "Alice" } },
      ],
    });
    expect(tl?.ended).toBe(true);
    expect(tl?.entries.map((e) => [e.t - T0, e.spotlight, e.video_spotlight])).toEqual([
      [1, "alice", null],
      [5, "bob", "bob"],
    ]);
    expect(tl?.entries[1].names).toEqual({ bob: "Bob" });
  });

  it("refuses something that is not a timeline", () => {
    expect(parseTimeline(null)).toBeNull();
    expect(parseTimeline({ entries: [] })).toBeNull();
    expect(parseTimeline({ started_at: T0 })).toBeNull();
  });
});

describe("the spotlight at a moment (state.json's recent changes)", () => {
  const entries = parseEntries([
    { t: 20, spotlight: "b", video_spotlight: null, pinned: null, names: {} },
    { t: 10, spotlight: "a", video_spotlight: null, pinned: null, names: {} },
    { spotlight: "x" },
    "junk",
  ]);

  it("reads the entries in time order, dropping those without a time", () => {
    expect(entries.map((e) => [e.t, e.spotlight])).toEqual([[10, "a"], [20, "b"]]);
    expect(parseEntries(undefined)).toEqual([]);
  });

  it("is the latest change at or before the moment, and nobody before the first or without a moment", () => {
    expect(spotlightAt(entries, 9_999)).toBeNull();
    expect(spotlightAt(entries, 10_000)).toBe("a");
    expect(spotlightAt(entries, 19_999)).toBe("a");
    expect(spotlightAt(entries, 25_000)).toBe("b");
    expect(spotlightAt(entries, null)).toBeNull();
  });
});

describe("stage segments", () => {
  const names = { alice: "Alice A.", bob: "Bob B." };

  it("gives one segment per holder, with names, clipped to the recording", () => {
    const segs = stageSegments(
      [entry(2, "alice", { names }), entry(10, "bob", { names }), entry(20, "alice", { names })],
      T0,
      T0 + 30,
    );
    expect(segs.map((s) => [s.start - T0, s.end - T0, s.holder, s.name])).toEqual([
      [0, 2, null, "Nobody speaking"],
      [2, 10, "alice", "Alice A."],
      [10, 20, "bob", "Bob B."],
      [20, 30, "alice", "Alice A."],
    ]);
  });

  it("merges entries that keep the same holder (speaking levels changed, not the stage)", () => {
    const segs = stageSegments([entry(0, "alice"), entry(3, "alice"), entry(6, "bob")], T0, T0 + 9);
    expect(segs.map((s) => [s.start - T0, s.holder])).toEqual([[0, "alice"], [6, "bob"]]);
  });

  it("shows the video spotlight, who fills the big tile, over the audio spotlight", () => {
    const segs = stageSegments([entry(0, "alice", { video_spotlight: "bob" })], T0, T0 + 5);
    expect(segs[0].holder).toBe("bob");
  });

  it("starts with the entry in force when the recording starts, and ignores entries after it ends", () => {
    const segs = stageSegments([entry(-5, "alice"), entry(4, "bob"), entry(50, "carol")], T0, T0 + 10);
    expect(segs.map((s) => [s.start - T0, s.end - T0, s.holder])).toEqual([[0, 4, "alice"], [4, 10, "bob"]]);
  });

  it("marks a pinned holder, and a pin is its own segment", () => {
    const segs = stageSegments(
      [entry(0, "alice"), entry(5, "bob", { pinned: "bob" }), entry(8, "bob")],
      T0,
      T0 + 10,
    );
    expect(segs.map((s) => [s.start - T0, s.holder, s.pinned])).toEqual([[0, "alice", false], [5, "bob", true], [8, "bob", false]]);
  });

  it("uses the id when no entry names the holder, and the latest name given", () => {
    const segs = stageSegments(
      [entry(0, "alice", { names: { alice: "Al" } }), entry(2, "dan"), entry(4, "alice", { names: { alice: "Alice" } })],
      T0,
      T0 + 6,
    );
    expect(segs.map((s) => s.name)).toEqual(["Alice", "dan", "Alice"]);
  });

  it("folds slivers into the next turn (the first stage arrives just after the first segment)", () => {
    const segs = stageSegments([entry(0.02, "alice"), entry(5, "bob"), entry(5.1, "alice"), entry(5.3, "bob")], T0, T0 + 9);
    expect(segs.map((s) => [s.start - T0, s.end - T0, s.holder])).toEqual([
      [0, 5, "alice"],
      [5, 9, "bob"],
    ]);
  });

  it("folds a sliver at the very end into the turn before it", () => {
    const segs = stageSegments([entry(0, "alice"), entry(8.8, "bob")], T0, T0 + 9);
    expect(segs.map((s) => [s.start - T0, s.end - T0, s.holder])).toEqual([[0, 9, "alice"]]);
  });

  it("keeps a recording shorter than a sliver as one segment", () => {
    const segs = stageSegments([entry(0, "alice")], T0, T0 + 0.25);
    expect(segs.map((s) => [s.start - T0, s.end - T0, s.holder])).toEqual([[0, 0.25, "alice"]]);
  });

  it("is empty for an empty recording", () => {
    expect(stageSegments([entry(0, "alice")], T0, T0)).toEqual([]);
  });
});

describe("PROGRAM-DATE-TIME mapping", () => {
  // Three 1 s segments, then a replacement composer continues 2.5 s later (a discontinuity).
  const anchors = [
    { start: 0, duration: 1, pdt: T0 * 1000 },
    { start: 1, duration: 1, pdt: T0 * 1000 + 1000 },
    { start: 2, duration: 1, pdt: T0 * 1000 + 2000 },
    { start: 3, duration: 1, pdt: T0 * 1000 + 5500 },
  ];

  it("maps a wall-clock time inside a segment to its media time", () => {
    expect(mediaTimeAt(T0 + 1.25, anchors)).toBeCloseTo(1.25);
    expect(mediaTimeAt(T0 + 5.75, anchors)).toBeCloseTo(3.25);
  });

  it("maps a time in the gap to the next segment, and clamps outside the recording", () => {
    expect(mediaTimeAt(T0 + 4, anchors)).toBe(3);
    expect(mediaTimeAt(T0 - 60, anchors)).toBe(0);
    expect(mediaTimeAt(T0 + 600, anchors)).toBe(4);
    expect(mediaTimeAt(T0, [])).toBeNull();
  });

  it("maps back from media time to the wall clock", () => {
    expect(wallClockAt(3.5, anchors)).toBeCloseTo(T0 + 6);
    expect(wallClockAt(9, anchors)).toBeNull();
  });

  it("spans from the first PROGRAM-DATE-TIME to the end of the last segment", () => {
    expect(recordingSpan(anchors)).toEqual({ from: T0, to: T0 + 6.5 });
    expect(recordingSpan([])).toBeNull();
  });

  it("prints media times", () => {
    expect(clock(0)).toBe("0:00");
    expect(clock(75.9)).toBe("1:15");
    expect(clock(3725)).toBe("1:02:05");
  });
});
