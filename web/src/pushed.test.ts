import { describe, expect, it } from "vitest";

import type { Space } from "./api";
import type { RoomMetadata } from "./contract.gen";
import { mergeMetadata, parseHands, parseRoomMetadata, removedSince, stateUrl } from "./pushed";

const DOC: RoomMetadata = {
  space_id: "s1",
  video: "speakers",
  record: true,
  pinned: "h",
  pinned_source: "camera",
  title: "Morning",
  state: "live",
  host: "h",
  cohosts: ["c"],
  speakers: ["a", "b"],
  names: { h: "Hana", a: "Ann" },
  pictures: { a: "https://img.example/ann.png" },
  listener_count: 1200,
  version: 7,
  host_away_until: null,
  removed_viewers: {},
  invited: {},
};

const SPACE: Space = {
  id: "s1",
  title: "Old",
  state: "live",
  host: "h",
  cohosts: [],
  speakers: [],
  video: "off",
  listener_count: 3,
  raised_hands: ["x"],
};

describe("parseRoomMetadata", () => {
  it("reads what the control plane writes", () => {
    expect(parseRoomMetadata(JSON.stringify(DOC))).toEqual(DOC);
    expect(parseRoomMetadata(JSON.stringify({ ...DOC, record: false })).record).toBe(false);
  });

  it("reads a document without `record`, or with anything but false, as recorded", () => {
    for (const record of [undefined, null, "false", 0, true]) {
      expect(parseRoomMetadata(JSON.stringify({ ...DOC, record })).record).toBe(true);
    }
  });

  it("reads malformed documents and fields as defaults", () => {
    const empty = parseRoomMetadata(undefined);
    expect(empty).toMatchObject({ space_id: "", host: "", state: "live", cohosts: [], version: 0 });
    expect(parseRoomMetadata("{nope")).toEqual(empty);
    expect(parseRoomMetadata("[]")).toEqual(empty);
    expect(
      parseRoomMetadata(JSON.stringify({ video: "all", pinned: 3, state: "paused", cohosts: ["a", 1, ""], listener_count: -1, version: 1.5 })),
    ).toEqual({ ...empty, cohosts: ["a"] });
  });

  it("reads the removed viewers, dropping entries that are not a tag to a version", () => {
    const raw = { ...DOC, removed_viewers: { a: 3, b: "4", c: -1, d: 1.5, e: true, "": 2, constructor: 5 } };
    const read = parseRoomMetadata(JSON.stringify(raw));
    expect(read.removed_viewers).toEqual({ a: 3, constructor: 5 });
    expect(removedSince(read, "a", 2)).toBe(true);
    expect(removedSince(read, "a", 3)).toBe(false);
    expect(removedSince(read, "b", 0)).toBe(false);
    expect(removedSince(read, null, 0)).toBe(false);
    // A tag that happens to name an Object member is not taken for an entry.
    expect(removedSince(parseRoomMetadata(JSON.stringify(DOC)), "toString", 0)).toBe(false);
    expect(parseRoomMetadata(JSON.stringify({ ...DOC, removed_viewers: [1] })).removed_viewers).toEqual({});
  });

  it("reads the invitations, dropping entries that are not a tag to a time", () => {
    const raw = { ...DOC, invited: { a: 3, b: "4", c: -1, "": 2 } };
    expect(parseRoomMetadata(JSON.stringify(raw)).invited).toEqual({ a: 3 });
    expect(parseRoomMetadata(JSON.stringify({ ...DOC, invited: null })).invited).toEqual({});
  });

  it("reads an older document without the pushed fields", () => {
    expect(parseRoomMetadata(JSON.stringify({ space_id: "s1", video: "host", pinned: null, title: "T" }))).toMatchObject({
      space_id: "s1",
      video: "host",
      host: "",
      pinned_source: "camera",
    });
  });

  it("reads a pinned screen share, and anything but a known source as the camera", () => {
    expect(parseRoomMetadata(JSON.stringify({ ...DOC, pinned_source: "screen_share" })).pinned_source).toBe("screen_share");
    expect(parseRoomMetadata(JSON.stringify({ ...DOC, pinned_source: "window" })).pinned_source).toBe("camera");
    expect(mergeMetadata(SPACE, 0, { ...DOC, pinned_source: "screen_share" })?.pinned_source).toBe("screen_share");
  });
});

describe("host_away_until", () => {
  it("reads when the Space ends while its host is away, anything malformed as null, and merges it", () => {
    expect(parseRoomMetadata(JSON.stringify({ ...DOC, host_away_until: 1_800_000_000_000 })).host_away_until).toBe(1_800_000_000_000);
    for (const bad of ["soon", -5, 0, true, null]) {
      expect(parseRoomMetadata(JSON.stringify({ ...DOC, host_away_until: bad })).host_away_until).toBeNull();
    }
    expect(parseRoomMetadata(JSON.stringify(DOC)).host_away_until).toBeNull();
    expect(mergeMetadata(SPACE, 0, { ...DOC, host_away_until: 42_000 })?.host_away_until).toBe(42_000);
    expect(mergeMetadata({ ...SPACE, host_away_until: 42_000 }, 0, DOC)?.host_away_until).toBeNull();
  });
});

describe("parseHands", () => {
  it("reads the moderators' message and refuses anything else", () => {
    expect(parseHands('{"space_id":"s1","version":3,"hands":["a",2,"b"]}')).toEqual({ space_id: "s1", version: 3, hands: ["a", "b"], names: {}, pictures: {} });
    expect(parseHands('{"space_id":"s1","version":3,"hands":["a"],"names":{"a":"Ann"},"pictures":{"a":"https://img.example/a.png","b":7}}')).toMatchObject({
      names: { a: "Ann" },
      pictures: { a: "https://img.example/a.png" },
    });
    expect(parseHands('{"version":3,"hands":[]}')).toBeNull();
    expect(parseHands('{"space_id":"s1"}')).toBeNull();
    expect(parseHands("nope")).toBeNull();
  });
});

describe("mergeMetadata", () => {
  it("takes roles, state, title and count from a newer document and keeps the hands", () => {
    const merged = mergeMetadata(SPACE, 5, DOC);
    expect(merged).toMatchObject({ title: "Morning", cohosts: ["c"], speakers: ["a", "b"], listener_count: 1200, pinned: "h", video: "speakers" });
    expect(merged?.raised_hands).toEqual(["x"]);
    expect(merged?.pictures).toEqual({ a: "https://img.example/ann.png" });
    // The stage's faces are the document's: one it no longer has was removed; a hand's stays.
    const held = { ...SPACE, pictures: { h: "https://img.example/old-h.png", x: "https://img.example/x.png" } };
    expect(mergeMetadata(held, 5, DOC)?.pictures).toEqual({ x: "https://img.example/x.png", a: "https://img.example/ann.png" });
  });

  it("ignores an older document, another Space's, and one from a control plane that does not push", () => {
    expect(mergeMetadata(SPACE, 8, DOC)).toBeNull();
    expect(mergeMetadata(SPACE, 0, { ...DOC, space_id: "s2" })).toBeNull();
    expect(mergeMetadata(SPACE, 0, { ...DOC, host: "" })).toBeNull();
    expect(mergeMetadata(SPACE, 7, DOC)).not.toBeNull(); // equal versions: only the count differs, newer wins
  });
});

describe("mergeMetadata's invitations", () => {
  const until = Date.parse("2026-12-07T18:00:00Z");
  const me = { id: "lee", tag: "leeTag01" };

  it("gives me mine by my tag, and nobody else's", () => {
    const merged = mergeMetadata(SPACE, 0, { ...DOC, invited: { leeTag01: until, otherTag: until } }, me)!;
    expect(merged.invitations).toEqual({ lee: "2026-12-07T18:00:00.000Z" });
    // Without a tag (an older API's grant) nothing is mine; without the reader, nothing at all.
    expect(mergeMetadata(SPACE, 0, { ...DOC, invited: { leeTag01: until } }, { id: "lee", tag: null })!.invitations).toEqual({});
    // A tag named like an Object member is not an entry.
    expect(mergeMetadata(SPACE, 0, DOC, { id: "lee", tag: "toString" })!.invitations).toEqual({});
  });

  it("keeps a moderator's known invitations while some wait and their people are not on stage", () => {
    const held = { ...SPACE, invitations: { ann: "2026-12-07T18:00:00Z", bob: "2026-12-07T18:00:00Z" } };
    const host = { id: "h", tag: "hostTag1" };
    // Ann accepted (a speaker now); one invitation still waits: Bob's, as far as this page knows.
    expect(mergeMetadata(held, 0, { ...DOC, speakers: ["ann"], invited: { someTag: until } }, host)!.invitations).toEqual({
      bob: "2026-12-07T18:00:00Z",
    });
    // None waits: none is held.
    expect(mergeMetadata(held, 0, { ...DOC, invited: {} }, host)!.invitations).toEqual({});
  });
});

describe("stateUrl", () => {
  it("is beside the playlist", () => {
    expect(stateUrl("https://cdn.example/broadcasts/s1/index.m3u8")).toBe("https://cdn.example/broadcasts/s1/state.json");
    expect(stateUrl("http://127.0.0.1:8000/broadcast/s1/index.m3u8")).toBe("http://127.0.0.1:8000/broadcast/s1/state.json");
  });
});
