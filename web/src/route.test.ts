import { describe, expect, it } from "vitest";

import { parseRoute } from "./route";

describe("parseRoute", () => {
  it("opens a Space from its deep link, percent-decoded", () => {
    expect(parseRoute("#/spaces/abc123")).toEqual({ kind: "space", spaceId: "abc123" });
    expect(parseRoute("#/spaces/a%7Cb")).toEqual({ kind: "space", spaceId: "a|b" });
  });

  it("shows the lobby for an empty hash, and says so for a link that names no Space", () => {
    for (const hash of ["", "#", "#/", "#//", "#/?utm_source=chat"]) expect(parseRoute(hash)).toEqual({ kind: "lobby", problem: null });
    for (const hash of ["#/spaces/a/b", "#/spaces/a/replay/x", "#/spaces/", "#/spaces", "#/space/a", "#/lobby"]) {
      const route = parseRoute(hash);
      expect(route.kind).toBe("lobby");
      expect(route.kind === "lobby" && route.problem).toContain(`The link “${hash}” does not name a Space`);
    }
  });

  it("opens what a link names despite the tails chats and mail add", () => {
    for (const hash of ["#/spaces/abc123/", "#/spaces/abc123//", "#/spaces/abc123?utm_source=x&b=1", "#/spaces/abc123/?x=1", "#spaces/abc123", "#//spaces/abc123", "#/spaces//abc123"]) {
      expect(parseRoute(hash)).toEqual({ kind: "space", spaceId: "abc123" });
    }
    expect(parseRoute("#/spaces/abc123/replay/")).toEqual({ kind: "replay", spaceId: "abc123" });
    expect(parseRoute("#/spaces/abc123/replay?ref=mail")).toEqual({ kind: "replay", spaceId: "abc123" });
  });

  it("opens a Space whose id was retyped in capitals, and keeps other ids as they are", () => {
    const id = "f2b5d1604e0c4b5f9a6d7c8e9f0a1b2c";
    expect(parseRoute(`#/spaces/${id.toUpperCase()}`)).toEqual({ kind: "space", spaceId: id });
    expect(parseRoute(`#/spaces/${id.toUpperCase()}/replay`)).toEqual({ kind: "replay", spaceId: id });
    expect(parseRoute("#/spaces/ABC123")).toEqual({ kind: "space", spaceId: "ABC123" }); // not an id: the API says so
  });

  it("opens a recording from its replay link", () => {
    expect(parseRoute("#/spaces/abc123/replay")).toEqual({ kind: "replay", spaceId: "abc123" });
    expect(parseRoute("#/spaces/a%7Cb/replay")).toEqual({ kind: "replay", spaceId: "a|b" });
    expect(parseRoute("#/spaces/%zz/replay").kind).toBe("lobby");
  });

  it("shows the lobby with a message for a malformed percent-escape or a dot segment", () => {
    // A dot segment would be resolved away in the API's URL (`/spaces/..` is `/`).
    for (const hash of ["#/spaces/%", "#/spaces/abc%zz", "#/spaces/%E0%A4%A", "#/spaces/..", "#/spaces/%2E%2E", "#/spaces/./replay"]) {
      const route = parseRoute(hash);
      expect(route.kind).toBe("lobby");
      expect(route.kind === "lobby" && route.problem).toContain("does not name a Space");
    }
  });
  it("opens the replay of a Space", () => {
    expect(parseRoute("#/spaces/a%20b/replay")).toEqual({ kind: "replay", spaceId: "a b" });
    expect(parseRoute("#/spaces/%zz/replay").kind).toBe("lobby");
  });
});
