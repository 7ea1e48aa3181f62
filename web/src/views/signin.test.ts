// @vitest-environment happy-dom
import { describe, expect, it, vi } from "vitest";

import type { Api } from "../api";
import type { App } from "../app";
import { signInView } from "./signin";

const q = (el: Element, testid: string) => el.querySelector(`[data-testid="${testid}"]`);

function app(cloudSignIn: App["cloudSignIn"]): App {
  return { api: {} as Api, session: null, signIn: vi.fn(), signOut: vi.fn(), navigate: vi.fn(), cloudSignIn };
}

describe("signInView", () => {
  it("in the cloud: one Sign in button to managed login instead of the dev form, paste still offered", () => {
    const start = vi.fn(async () => {});
    const { el } = signInView(app(start), "State mismatch");
    expect(q(el, "signin-user")).toBeNull();
    expect(q(el, "signin-token")).not.toBeNull();
    expect(q(el, "signin-error")?.textContent).toBe("State mismatch");
    (q(el, "signin-cloud") as HTMLButtonElement).click();
    expect(start).toHaveBeenCalledTimes(1);
    expect(q(el, "signin-error")?.textContent).toBe("");
  });

  it("in local mode: the dev form, no cloud button", () => {
    const { el } = signInView(app(null));
    expect(q(el, "signin-cloud")).toBeNull();
    expect(q(el, "signin-user")).not.toBeNull();
  });
});

describe("the dev sign-in with a display name", () => {
  it("asks the API for a token carrying the chosen name and avatar", async () => {
    const token = `e30.${btoa(JSON.stringify({ sub: "alice", exp: Date.now() / 1000 + 600, name: "Alice L." })).replace(/=+$/, "")}.sig`;
    const devToken = vi.fn(async () => ({ token }));
    const a: App = { api: { devToken } as unknown as Api, session: null, signIn: vi.fn(), signOut: vi.fn(), navigate: vi.fn(), cloudSignIn: null };
    const { el } = signInView(a);
    (q(el, "signin-user") as HTMLInputElement).value = "alice";
    (q(el, "signin-name") as HTMLInputElement).value = "  Alice L. ";
    (q(el, "signin-picture") as HTMLInputElement).value = "https://img.example/a.png";
    (q(el, "signin-submit") as HTMLButtonElement).form!.dispatchEvent(new Event("submit", { cancelable: true }));
    await vi.waitFor(() => expect(a.signIn).toHaveBeenCalled());
    expect(devToken).toHaveBeenCalledWith("alice", { name: "Alice L.", picture: "https://img.example/a.png" });
    expect(vi.mocked(a.signIn).mock.calls[0][0].name).toBe("Alice L.");
  });

  it("refuses an avatar that is not a web link before asking", async () => {
    const devToken = vi.fn();
    const a: App = { api: { devToken } as unknown as Api, session: null, signIn: vi.fn(), signOut: vi.fn(), navigate: vi.fn(), cloudSignIn: null };
    const { el } = signInView(a);
    (q(el, "signin-user") as HTMLInputElement).value = "alice";
    (q(el, "signin-picture") as HTMLInputElement).value = "javascript:alert(1)";
    (q(el, "signin-submit") as HTMLButtonElement).form!.dispatchEvent(new Event("submit", { cancelable: true }));
    await vi.waitFor(() => expect(q(el, "signin-error")?.textContent).toContain("https://"));
    expect(devToken).not.toHaveBeenCalled();
  });
});

describe("the display name's limit", () => {
  it("counts characters as the API does (code points), so a name with emoji is not cut early", async () => {
    const token = `e30.${btoa(JSON.stringify({ sub: "carol", exp: Date.now() / 1000 + 600 })).replace(/=+$/, "")}.sig`;
    const devToken = vi.fn(async () => ({ token }));
    const a: App = { api: { devToken } as unknown as Api, session: null, signIn: vi.fn(), signOut: vi.fn(), navigate: vi.fn(), cloudSignIn: null };
    const { el } = signInView(a);
    const name = q(el, "signin-name") as HTMLInputElement;
    expect(name.hasAttribute("maxlength")).toBe(false); // maxlength counts UTF-16 units: an emoji is two
    // 40 stars are 80 UTF-16 units but 40 characters: kept whole.
    name.value = "🌟".repeat(40);
    name.dispatchEvent(new InputEvent("input"));
    expect(Array.from(name.value)).toHaveLength(40);
    // 70 characters: cut at 64, never inside an emoji.
    name.value = "Carol " + "🌟".repeat(64);
    name.dispatchEvent(new InputEvent("input"));
    expect(Array.from(name.value)).toHaveLength(64);
    expect(name.value.endsWith("🌟")).toBe(true);
    // What is sent is what the API keeps: one line, trimmed, 64 characters, no space left last.
    (q(el, "signin-user") as HTMLInputElement).value = "carol";
    name.value = "  Carol\n  " + "x".repeat(57) + " 🌟🌟";
    (q(el, "signin-submit") as HTMLButtonElement).form!.dispatchEvent(new Event("submit", { cancelable: true }));
    await vi.waitFor(() => expect(devToken).toHaveBeenCalled());
    expect(devToken).toHaveBeenCalledWith("carol", { name: `Carol ${"x".repeat(57)}`, picture: null });
  });
});
