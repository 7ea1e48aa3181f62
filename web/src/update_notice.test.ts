// @vitest-environment happy-dom
import { afterEach, describe, expect, it, vi } from "vitest";

import { Api } from "./api";
import { PAGE_GENERATION, PAGE_GENERATION_HEADER } from "./contract.gen";
import { servesNewerPage, showUpdateNotice, UPDATE_TEXT } from "./update_notice";

const headers = (value: string | null) => ({ get: (name: string) => (name === PAGE_GENERATION_HEADER ? value : null) });

describe("the page generation", () => {
  afterEach(() => {
    vi.unstubAllGlobals();
    document.body.replaceChildren();
  });

  it("is newer only when the API names a whole number above this page's", () => {
    expect(servesNewerPage(headers(String(PAGE_GENERATION + 1)))).toBe(true);
    for (const value of [String(PAGE_GENERATION), String(PAGE_GENERATION - 1), null, "", "2.5", "soon"]) {
      expect(servesNewerPage(headers(value))).toBe(false);
    }
  });

  it("shows one notice under the top bar, whose button reloads", () => {
    const bar = document.createElement("nav");
    bar.className = "topbar";
    document.body.append(bar, document.createElement("main"));
    const reload = vi.fn();
    showUpdateNotice(document, reload);
    showUpdateNotice(document, reload);
    const notices = document.querySelectorAll('[data-testid="update-notice"]');
    expect(notices).toHaveLength(1);
    expect(bar.nextElementSibling).toBe(notices[0]);
    expect(notices[0].textContent).toContain(UPDATE_TEXT.trim());
    (document.querySelector('[data-testid="update-reload"]') as HTMLButtonElement).click();
    expect(reload).toHaveBeenCalledTimes(1);
  });

  it("is read from every answer the API gives, a refusal too", async () => {
    const answers = [
      new Response("[]", { status: 200, headers: { [PAGE_GENERATION_HEADER]: String(PAGE_GENERATION) } }),
      new Response('{"detail":"no","rule":"x"}', { status: 409, headers: { [PAGE_GENERATION_HEADER]: String(PAGE_GENERATION + 1) } }),
    ];
    vi.stubGlobal("fetch", vi.fn(async () => answers.shift()!));
    const api = new Api("https://api.example", () => "t");
    const newer = vi.fn();
    api.onNewerPage = newer;
    await api.listSpaces("live");
    expect(newer).not.toHaveBeenCalled();
    await expect(api.listSpaces("live")).rejects.toMatchObject({ status: 409 });
    expect(newer).toHaveBeenCalledTimes(1);
  });
});
