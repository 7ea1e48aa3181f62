import { describe, expect, it } from "vitest";

import { parseRoute } from "./route";

describe("parseRoute", () => {
  it("opens a Space from its deep link, percent-decoded", () => {
    expect(parseRoute("#/spaces/abc123")).toEqual({ kind: "space", spaceId: "abc123" });
    expect(parseRoute("#/spaces/a%7Cb")).toEqual({ kind: "space", spaceId: "a|b" });
  });

  it("shows the lobby for other hashes", () => {
    expect(parseRoute("")).toEqual({ kind: "lobby", problem: null });
    expect(parseRoute("#/")).toEqual({ kind: "lobby", problem: null });
    expect(parseRoute("#/spaces/a/b")).toEqual({ kind: "lobby", problem: null });
    expect(parseRoute("#/spaces/a/replay/x")).toEqual({ kind: "lobby", problem: null });
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
