// @vitest-environment happy-dom
import { afterEach, describe, expect, it } from "vitest";

import { avatarUrlOf } from "./config";
import { AVATAR_PATH } from "./contract.gen";
import { avatar } from "./dom";
import { avatarSource, useAvatarProxy } from "./people";

describe("avatars through the proxy", () => {
  afterEach(() => useAvatarProxy(AVATAR_PATH));

  it("points an https picture at the proxy, the whole URL in one parameter", () => {
    useAvatarProxy("https://cdn.example/avatars");
    const picture = "https://lh3.googleusercontent.com/a/x=s96-c?sz=1&v=2#f";
    const source = avatarSource(picture);
    expect(source).not.toBeNull();
    const url = new URL(source as string);
    expect(url.origin + url.pathname).toBe("https://cdn.example/avatars");
    expect(url.searchParams.get("url")).toBe(picture);
    expect([...url.searchParams.keys()]).toEqual(["url"]);
  });

  it("loads nothing that is not an https picture", () => {
    for (const bad of ["http://img.example/a.png", "javascript:alert(1)", "data:image/png;base64,AA", "", null, 7]) {
      expect(avatarSource(bad)).toBeNull();
    }
  });

  it("draws the <img> from the proxy, never from the picture's host", () => {
    useAvatarProxy("https://api.example/avatars");
    const el = avatar("u1", "s", { name: "Lee Park", picture: "https://img.example/lee.png" });
    const img = el.querySelector("img") as HTMLImageElement;
    expect(img.getAttribute("src")).toBe("https://api.example/avatars?url=https%3A%2F%2Fimg.example%2Flee.png");
    expect(el.outerHTML).not.toContain('src="https://img.example');
    expect(avatar("u2", "s", { name: "No Face", picture: null }).querySelector("img")).toBeNull();
  });

  it("takes the config's avatarUrl when it is an https base, else the API's proxy", () => {
    expect(avatarUrlOf("https://cdn.example/avatars/", "https://api.example")).toBe("https://cdn.example/avatars");
    expect(avatarUrlOf("https://cdn.example/avatars?", "https://api.example")).toBe("https://cdn.example/avatars");
    expect(avatarUrlOf("https://cdn.example/avatars#", "https://api.example")).toBe("https://cdn.example/avatars");
    for (const bad of ["javascript:alert(1)", "http://cdn.example/avatars", "https://cdn.example/a?x=1", "no", 3, null]) {
      expect(avatarUrlOf(bad, "https://api.example")).toBe(`https://api.example${AVATAR_PATH}`);
    }
  });
});

describe("avatarStyle's hue", () => {
  it("is the composer's for the same person (contract/identity_hues.json pins both)", async () => {
    const { hues } = (await import("../../contract/identity_hues.json")).default as { hues: Record<string, number> };
    const { avatarStyle } = await import("./dom");
    expect(Object.keys(hues).length).toBeGreaterThanOrEqual(8);
    for (const [identity, hue] of Object.entries(hues)) expect(avatarStyle(identity).hue, identity).toBe(hue);
  });
});
