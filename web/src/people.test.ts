import { describe, expect, it } from "vitest";

import { sessionFromToken } from "./auth";
import { PICTURE_ATTRIBUTE } from "./contract.gen";
import { initialsOf, mergeNames, personOf, safePicture } from "./people";
import { parseHands, parseRoomMetadata } from "./pushed";

describe("people", () => {
  it("takes the name from the room, then the Space's names, then the id", () => {
    expect(personOf("u1", { name: "Room Name", attributes: {} }, { u1: "Stored" }).name).toBe("Room Name");
    expect(personOf("u1", { name: "", attributes: {} }, { u1: "Stored" }).name).toBe("Stored");
    expect(personOf("u1", undefined, {}).name).toBe("u1");
  });

  it("keeps an https picture only", () => {
    expect(safePicture("https://img.example/a.png")).toBe("https://img.example/a.png");
    for (const bad of ["http://img.example/a.png", "javascript:alert(1)", "data:image/png;base64,AA", "//img.example/a", "", 7, null]) {
      expect(safePicture(bad)).toBeNull();
    }
    expect(safePicture(`https://img.example/${"a".repeat(1100)}`)).toBeNull();
    const p = personOf("u1", { name: "A", attributes: { [PICTURE_ATTRIBUTE]: "https://img.example/a.png" } }, {});
    expect(p.picture).toBe("https://img.example/a.png");
  });

  it("takes the face from the room for those in it, else from the Space's pictures, https only", () => {
    const pictures = { u1: "https://img.example/stored.png", u2: "javascript:alert(1)" };
    const seen = { name: "A", attributes: { [PICTURE_ATTRIBUTE]: "https://img.example/room.png" } };
    expect(personOf("u1", seen, {}, pictures).picture).toBe("https://img.example/room.png");
    expect(personOf("u1", undefined, {}, pictures).picture).toBe("https://img.example/stored.png");
    // Someone in the room without the attribute has no avatar now, whatever the map remembers.
    expect(personOf("u1", { name: "A", attributes: {} }, {}, pictures).picture).toBeNull();
    expect(personOf("u2", undefined, {}, pictures).picture).toBeNull();
    expect(personOf("u3", undefined, {}, pictures).picture).toBeNull();
  });

  it("makes initials from the name", () => {
    expect(initialsOf("Ada Lovelace")).toBe("AL");
    expect(initialsOf("Ada King Lovelace")).toBe("AL");
    expect(initialsOf("zoë")).toBe("ZO");
    expect(initialsOf("   ")).toBe("?");
    // Letters only: an emoji or a symbol is no initial, wherever it stands.
    expect(initialsOf("😀 Smile")).toBe("SM");
    expect(initialsOf("كارول Carol 🌟")).toBe("كC");
    expect(initialsOf("Ana 🌟")).toBe("AN");
    expect(initialsOf("★ Bo ✨ Li")).toBe("BL");
    expect(initialsOf("🌟🎉")).toBe("?");
    expect(initialsOf("R2-D2")).toBe("RD");
  });

  it("merges names maps, later first, text only", () => {
    expect(mergeNames({ a: "A", b: "B" }, { b: "B2", c: 3 } as Record<string, unknown>, undefined)).toEqual({ a: "A", b: "B2" });
  });

  it("reads names from the pushed documents, and documents from before names as none", () => {
    expect(parseRoomMetadata('{"space_id":"s","host":"h","names":{"h":"Hana","x":1}}').names).toEqual({ h: "Hana" });
    expect(parseRoomMetadata('{"space_id":"s","host":"h"}').names).toEqual({});
    expect(parseHands('{"space_id":"s","version":1,"hands":["l"],"names":{"l":"Lee"}}')?.names).toEqual({ l: "Lee" });
    expect(parseHands('{"space_id":"s","version":1,"hands":["l"]}')?.names).toEqual({});
  });

  it("greets a signed-in user by the token's name (UTF-8) and ignores a non-https picture", () => {
    const b64 = (o: object) => btoa(String.fromCharCode(...new TextEncoder().encode(JSON.stringify(o)))).replace(/=+$/, "");
    const token = `e30.${b64({ sub: "u1", exp: Date.now() / 1000 + 600, name: "Zoë Ōkubo", picture: "http://x/a.png" })}.sig`;
    const session = sessionFromToken(token)!;
    expect(session.name).toBe("Zoë Ōkubo");
    expect(session.picture).toBeNull();
  });
});

describe("ids that are also Object.prototype's keys", () => {
  it("are names of their own, not lookups of the prototype", () => {
    for (const id of ["constructor", "toString", "__proto__", "hasOwnProperty"]) {
      expect(personOf(id, undefined, {}).name).toBe(id);
      expect(personOf(id, undefined, {}, {}).picture).toBeNull();
    }
    expect(personOf("constructor", undefined, { constructor: "Con" }).name).toBe("Con");
  });
});
