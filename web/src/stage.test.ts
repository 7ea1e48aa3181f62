import { describe, expect, it } from "vitest";

import { layoutFor, parseStage, StageTracker, stageOrder, type StageState } from "./stage";

const state = (seq: number, over: Partial<StageState> = {}): StageState => ({
  seq,
  spotlight: null,
  video_spotlight: null,
  video_source: "camera",
  speaking: [],
  video_on: [],
  pinned: null,
  t: 0,
  ...over,
});

describe("parseStage", () => {
  it("reads the agent's JSON", () => {
    const s = parseStage(
      JSON.stringify({
        seq: 7,
        spotlight: "alice",
        video_spotlight: "bob",
        speaking: [{ identity: "alice", level: 0.4 }],
        video_on: ["bob"],
        pinned: null,
        t: 12.5,
      }),
    );
    expect(s).toEqual(
      state(7, { spotlight: "alice", video_spotlight: "bob", speaking: [{ identity: "alice", level: 0.4 }], video_on: ["bob"], t: 12.5 }),
    );
  });

  it("refuses what is not a stage state", () => {
    expect(parseStage(undefined)).toBeNull();
    expect(parseStage("")).toBeNull();
    expect(parseStage("{not json")).toBeNull();
    expect(parseStage(JSON.stringify({ spotlight: "alice" }))).toBeNull(); // no seq
    expect(parseStage("null")).toBeNull();
  });

  it("clamps levels and drops speaking entries without an identity", () => {
    const s = parseStage(JSON.stringify({ seq: 1, speaking: [{ identity: "a", level: 3 }, { level: 0.5 }, null] }));
    expect(s?.speaking).toEqual([{ identity: "a", level: 1 }]);
  });

  it("reads the big tile's source, and an older agent's state (no source) as a camera", () => {
    expect(parseStage(JSON.stringify({ seq: 1, video_spotlight: "h", video_source: "screen_share" }))?.video_source).toBe("screen_share");
    expect(parseStage(JSON.stringify({ seq: 1, video_spotlight: "h" }))?.video_source).toBe("camera");
    expect(parseStage(JSON.stringify({ seq: 1, video_spotlight: "h", video_source: "window" }))?.video_source).toBe("camera");
  });

  it("treats empty identities as nobody", () => {
    expect(parseStage(JSON.stringify({ seq: 1, spotlight: "", video_spotlight: 5 }))?.spotlight).toBeNull();
  });
});

describe("StageTracker", () => {
  it("takes newer states and drops late older ones", () => {
    const t = new StageTracker();
    expect(t.offer("agent", state(5))).toBe(true);
    expect(t.offer("agent", state(4))).toBe(false);
    expect(t.offer("agent", state(5))).toBe(false);
    expect(t.offer("agent", state(6, { spotlight: "bob" }))).toBe(true);
    expect(t.current?.spotlight).toBe("bob");
  });

  it("accepts a successor agent's states whatever their seq once the old agent left", () => {
    const t = new StageTracker();
    t.offer("agent-1", state(40));
    expect(t.offer("agent-2", state(3))).toBe(false); // the old agent is still there
    t.forget("agent-1");
    expect(t.offer("agent-2", state(3, { spotlight: "carol" }))).toBe(true);
    expect(t.offer("agent-2", state(2))).toBe(false);
    expect(t.current?.spotlight).toBe("carol");
  });

  it("keeps a departed agent's spotlight but not who it heard talking", () => {
    const t = new StageTracker();
    t.offer("agent-1", state(40, { spotlight: "alice", speaking: [{ identity: "alice", level: 0.8 }] }));
    t.forget("agent-2"); // another agent: nothing changes
    expect(t.current?.speaking).toHaveLength(1);
    t.forget("agent-1");
    expect(t.current?.spotlight).toBe("alice");
    expect(t.current?.speaking).toEqual([]);
  });

  it("ignores malformed input", () => {
    const t = new StageTracker();
    expect(t.offer("agent", null)).toBe(false);
    expect(t.current).toBeNull();
  });
});

describe("layoutFor", () => {
  const members = ["hana", "alice", "bob"];

  it("puts the video spotlight in the big tile and everybody else in the strip", () => {
    const l = layoutFor(state(1, { spotlight: "alice", video_spotlight: "bob", speaking: [{ identity: "alice", level: 0.3 }] }), members);
    expect(l.big).toBe("bob");
    expect(l.bigVideo).toBe(true);
    expect(l.strip).toEqual(["hana", "alice"]);
    expect(l.speaking.get("alice")).toBe(0.3);
  });

  it("falls back to the audio spotlight's avatar when no camera is on", () => {
    const l = layoutFor(state(1, { spotlight: "alice" }), members);
    expect(l).toMatchObject({ big: "alice", bigVideo: false, strip: ["hana", "bob"] });
  });

  it("shows nobody large before the agent has spoken", () => {
    expect(layoutFor(null, members)).toMatchObject({ big: null, bigVideo: false, strip: members, pinned: null });
  });

  it("shows a pinned screen share large and keeps its presenter's camera in the strip", () => {
    const l = layoutFor(state(1, { spotlight: "hana", video_spotlight: "hana", video_source: "screen_share", pinned: "hana" }), members);
    expect(l).toMatchObject({ big: "hana", bigVideo: true, bigSource: "screen_share", pinned: "hana" });
    expect(l.strip).toEqual(["hana", "alice", "bob"]);
    // A camera on the big tile is not repeated in the strip.
    expect(layoutFor(state(2, { spotlight: "hana", video_spotlight: "hana" }), members)).toMatchObject({ bigSource: "camera", strip: ["alice", "bob"] });
  });

  it("never claims a screen for a big tile without video", () => {
    expect(layoutFor(state(1, { spotlight: "alice", video_source: "screen_share" }), members)).toMatchObject({ bigVideo: false, bigSource: "camera" });
  });

  it("carries the pin", () => {
    expect(layoutFor(state(1, { spotlight: "bob", pinned: "bob" }), members)).toMatchObject({ pinned: "bob", pinHolds: true });
  });

  it("says a screen pin holds the stage only while its share is on the big tile", () => {
    const shared = state(1, { spotlight: "hana", video_spotlight: "hana", video_source: "screen_share", pinned: "hana" });
    expect(layoutFor(shared, members, "screen_share")).toMatchObject({ pinned: "hana", pinHolds: true });
    // The share stopped: the stage follows the speakers, and Hana's camera is large only because
    // she was the last on camera. The pin stays (the host panel offers "Unpin screen").
    const stopped = state(2, { spotlight: "alice", video_spotlight: "hana", pinned: "hana" });
    expect(layoutFor(stopped, members, "screen_share")).toMatchObject({ big: "hana", pinned: "hana", pinHolds: false });
    expect(layoutFor(null, members, "screen_share").pinHolds).toBe(false);
  });
});

describe("stageOrder", () => {
  it("orders host, co-hosts, speakers, then by identity", () => {
    const order = stageOrder([
      { identity: "zed", role: "speaker" },
      { identity: "amy", role: "speaker" },
      { identity: "cora", role: "cohost" },
      { identity: "hana", role: "host" },
    ]);
    expect(order).toEqual(["hana", "cora", "amy", "zed"]);
  });

  it("keeps the order people took their seats, then anyone unlisted by plain string order", () => {
    const members = [
      { identity: "abe", role: "speaker" },
      { identity: "Zed", role: "speaker" },
      { identity: "aaron", role: "speaker" },
      { identity: "alice", role: "speaker" },
      { identity: "bob", role: "speaker" },
      { identity: "zoe", role: "cohost" },
      { identity: "hana", role: "host" },
    ];
    // bob came on stage before alice, aaron last; abe and Zed are not in the stored stage.
    const order = stageOrder(members, ["hana", "zoe", "bob", "alice", "aaron"]);
    // "Zed" before "abe" as Python sorts (composer/layout.py), not as a locale would.
    expect(order).toEqual(["hana", "zoe", "bob", "alice", "aaron", "Zed", "abe"]);
  });

  it("takes someone listed twice at their first seat, and the unlisted after every seat (as the composer does)", () => {
    const members = ["aa", "b", "x"].map((identity) => ({ identity, role: "speaker" }));
    expect(stageOrder(members, ["h", "x", "x", "b"])).toEqual(["x", "b", "aa"]);
  });
});
