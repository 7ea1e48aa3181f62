// @vitest-environment happy-dom
import { describe, expect, it, vi } from "vitest";

import { CHUNK_FAILED, isFetchFailure, lazyView } from "./lazy_view";

describe("lazyView", () => {
  it("is the view its chunk builds", async () => {
    const view = { el: document.createElement("section"), unmount: vi.fn() };
    const chunk = { make: (id: string) => ({ ...view, id }) };
    expect(await lazyView(async () => chunk, (m) => m.make("s1"))).toEqual({ ...view, id: "s1" });
  });

  it("says the page could not be loaded and offers a reload when the chunk cannot be fetched", async () => {
    const reload = vi.fn();
    vi.spyOn(console, "error").mockImplementation(() => undefined);
    const build = vi.fn();
    const view = await lazyView(() => Promise.reject(new TypeError("Failed to fetch dynamically imported module")), build, reload);
    expect(build).not.toHaveBeenCalled();
    expect(view.el.querySelector('[data-testid="load-error"]')?.textContent).toBe(CHUNK_FAILED);
    (view.el.querySelector('[data-testid="reload"]') as HTMLButtonElement).click();
    expect(reload).toHaveBeenCalledTimes(1);
    view.unmount();
  });

  it("lets a module that threw while loading fail as the bug it is", async () => {
    const broken = new SyntaxError("Unexpected token '?.'");
    await expect(lazyView(() => Promise.reject(broken), vi.fn(), vi.fn())).rejects.toBe(broken);
  });

  it("knows each browser's failed-import error", () => {
    expect(isFetchFailure(new TypeError("Failed to fetch dynamically imported module: https://x/a.js"))).toBe(true);
    expect(isFetchFailure(new TypeError("error loading dynamically imported module: https://x/a.js"))).toBe(true);
    expect(isFetchFailure(new TypeError("Importing a module script failed."))).toBe(true);
    expect(isFetchFailure(new TypeError("undefined is not a function"))).toBe(false);
    expect(isFetchFailure(new Error("Failed to fetch dynamically imported module"))).toBe(false);
  });
});
