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
