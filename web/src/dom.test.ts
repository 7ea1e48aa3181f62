// @vitest-environment happy-dom
import { afterEach, describe, expect, it, vi } from "vitest";

import { dockAtBottom, h, hideToast, toast } from "./dom";

describe("toast", () => {
  afterEach(() => vi.useRealTimers());

  it("slides out after 5 s and leaves no old text for a screen reader to come upon", () => {
    vi.useFakeTimers();
    toast("Hand raised");
    const el = document.getElementById("toast")!;
    expect(el.getAttribute("role")).toBe("status");
    expect(el.classList.contains("show")).toBe(true);
    vi.advanceTimersByTime(5000);
    expect(el.classList.contains("show")).toBe(false);
    expect(el.textContent).toBe("Hand raised"); // still sliding out
    vi.advanceTimersByTime(250);
    expect(el.textContent).toBe("");
  });

  it("keeps a new message that comes while the last one slides out", () => {
    vi.useFakeTimers();
    toast("first");
    hideToast();
    toast("second", "error");
    vi.advanceTimersByTime(300);
    const el = document.getElementById("toast")!;
    expect(el.textContent).toBe("second");
    expect(el.className).toBe("toast toast-error show");
  });

  it("stands above the controls while they are in view, and at the bottom once they are gone", () => {
    const dock = h("div", {});
    document.body.append(dock);
    const undock = dockAtBottom(dock);
    const at = (top: number, height: number) =>
      vi.spyOn(dock, "getBoundingClientRect").mockReturnValue({ top, bottom: top + height, height, left: 0, right: 0, width: 0, x: 0, y: top, toJSON: () => ({}) });
    const lift = () => document.getElementById("toast")!.style.getPropertyValue("--toast-lift");
    at(window.innerHeight - 112, 112); // stuck to the bottom
    toast("You are on stage");
    expect(lift()).toBe("112px");
    at(window.innerHeight - 150, 112); // a short page: the controls end 38 px above the bottom
    toast("Invite link copied");
    expect(lift()).toBe("150px");
    at(window.innerHeight - 300, 112); // mid-screen, 188 px above the bottom: the toast fits under them
    toast("Invite link copied");
    expect(lift()).toBe("0px");
    at(window.innerHeight + 40, 112); // scrolled out of view below
    toast("Hand raised");
    expect(lift()).toBe("0px");
    undock();
    dock.remove();
    toast("Left");
    expect(lift()).toBe("0px");
  });
});
