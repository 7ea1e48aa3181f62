// @vitest-environment happy-dom
import { afterEach, describe, expect, it, vi } from "vitest";

import { hideToast, toast } from "./dom";

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
});
