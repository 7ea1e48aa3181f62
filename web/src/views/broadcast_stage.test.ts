import { describe, expect, it } from "vitest";

import type { Space } from "../api";
import { stageRoster } from "./broadcast_stage";

const SPACE: Space = {
  id: "s1",
  title: "T",
  state: "live",
  host: "h",
  cohosts: ["c"],
  speakers: ["s", "t", "h"],
  video: "off",
  listener_count: 0,
  raised_hands: ["l"],
  names: { h: "Hana Host", s: "Sam", l: "Lee" },
  pictures: { h: "https://img.example/h.png", t: "http://img.example/t.png", l: "https://img.example/l.png" },
};

describe("the broadcast page's stage roster", () => {
  it("names the host, co-hosts and speakers once each, with their faces (https only)", () => {
    expect(stageRoster(SPACE).map((p) => [p.id, p.role, p.name, p.picture])).toEqual([
      ["h", "host", "Hana Host", "https://img.example/h.png"],
      ["c", "cohost", "c", null],
      ["s", "speaker", "Sam", null],
      ["t", "speaker", "t", null],
    ]);
  });

  it("is empty before the Space is live and after it ends", () => {
    expect(stageRoster(null)).toEqual([]);
    expect(stageRoster({ ...SPACE, state: "ended" })).toEqual([]);
    expect(stageRoster({ ...SPACE, state: "scheduled" })).toEqual([]);
  });
});
