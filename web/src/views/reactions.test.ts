// @vitest-environment happy-dom
import { describe, expect, it } from "vitest";

import { ApiError } from "../api";
import { REACTION_EMOJI, REACTIONS_TOPIC } from "../contract.gen";
import { MAX_BUBBLES, parseBurst, ReactionsOverlay, reactionsBar, scaleFor } from "./reactions";

const burst = (counts: Record<string, number>) =>
  JSON.stringify({ space_id: "s", first_window: 1, last_window: 1, window_seconds: 0.5, counts });

describe("parseBurst", () => {
  it("reads the control plane's message on its topic only", () => {
    const data = new TextEncoder().encode(burst({ "👏": 3 }));
    expect(parseBurst(data, REACTIONS_TOPIC)?.counts).toEqual({ "👏": 3 });
    expect(parseBurst(data, "other")).toBeNull();
    expect(parseBurst(data, undefined)).toBeNull();
  });
  it("drops unknown emoji and bad counts, refuses garbage", () => {
    expect(parseBurst(burst({ "👏": 2, "🍕": 4, "🔥": 0, "😮": 1.5 }), REACTIONS_TOPIC)?.counts).toEqual({ "👏": 2 });
    expect(parseBurst("{", REACTIONS_TOPIC)).toBeNull();
    expect(parseBurst("[]", REACTIONS_TOPIC)).toBeNull();
  });
});

describe("ReactionsOverlay", () => {
  it("floats bubbles scaled by count, with a badge, and removes them", () => {
    const timers: Array<() => void> = [];
    const overlay = new ReactionsOverlay(() => false, (fn) => void timers.push(fn));
    overlay.show({ space_id: "s", first_window: 1, last_window: 1, window_seconds: 0.5, counts: { "🔥": 40, "👍": 1 } });
    const fire = overlay.el.querySelectorAll('[data-emoji="🔥"]');
    expect(fire.length).toBe(MAX_BUBBLES);
    expect(fire[0].classList.contains("float")).toBe(true);
    expect(fire[0].querySelector(".reaction-count")?.textContent).toBe("×40");
    expect(overlay.el.dataset.total).toBe("41");
    timers.forEach((t) => t());
    expect(overlay.el.children.length).toBe(0);
  });
  it("does not animate under prefers-reduced-motion", () => {
    const overlay = new ReactionsOverlay(() => true, () => undefined);
    overlay.show({ space_id: "s", first_window: 1, last_window: 1, window_seconds: 0.5, counts: { "👏": 1 } });
    const b = overlay.el.querySelector(".reaction-bubble");
    expect(b?.classList.contains("still")).toBe(true);
    expect(b?.classList.contains("float")).toBe(false);
  });
  it("scales with the count, capped", () => {
    expect(scaleFor(1)).toBe(1);
    expect(scaleFor(16)).toBeGreaterThan(scaleFor(2));
    expect(scaleFor(1e9)).toBe(2.5);
  });
});

describe("reactionsBar", () => {
  it("has every allowed emoji, posts the clicked one and pauses on 429", async () => {
    const sent: string[] = [];
    const timers: Array<[() => void, number]> = [];
    const bar = reactionsBar(
      async (e) => {
        sent.push(e);
        throw new ApiError(429, "too many reactions", "reaction_rate_limited", 3);
      },
      (fn, ms) => void timers.push([fn, ms]),
    );
    const buttons = [...bar.querySelectorAll("button")];
    expect(buttons.map((b) => b.textContent)).toEqual([...REACTION_EMOJI]);
    buttons[2].click();
    await Promise.resolve();
    await Promise.resolve();
    expect(sent).toEqual([REACTION_EMOJI[2]]);
    const paused = () => buttons.map((b) => b.getAttribute("aria-disabled"));
    expect(paused().every((p) => p === "true")).toBe(true);
    buttons[1].click(); // a paused button sends nothing
    await Promise.resolve();
    expect(sent).toEqual([REACTION_EMOJI[2]]);
    expect(timers.map(([, ms]) => ms)).toEqual([1000, 3000]);
    timers[0][0](); // the click's own second is up, the 429's Retry-After is not
    expect(paused().every((p) => p === "true")).toBe(true);
    timers[1][0]();
    expect(paused().every((p) => p === "false")).toBe(true);
    // Never `disabled`: a disabled button loses keyboard focus.
    expect(buttons.some((b) => b.disabled)).toBe(false);
  });

  it("drops a tap the gateway throttled (a 429 naming no rule) quietly: sent once, paused its second", async () => {
    const sent: string[] = [];
    const timers: Array<[() => void, number]> = [];
    const bar = reactionsBar(
      async (e) => {
        sent.push(e);
        throw new ApiError(429, "Too Many Requests", null, null);
      },
      (fn, ms) => void timers.push([fn, ms]),
    );
    const buttons = [...bar.querySelectorAll("button")];
    buttons[0].click();
    for (let i = 0; i < 5; i++) await Promise.resolve();
    expect(sent).toEqual([REACTION_EMOJI[0]]);
    // Nothing to say and nothing sent again: the click's own second, and a second for the refusal.
    expect(timers.map(([, ms]) => ms)).toEqual([1000, 1000]);
    expect(bar.querySelector('[role="alert"]')).toBeNull();
    timers[0][0]();
    timers[1][0]();
    expect(buttons.every((b) => b.getAttribute("aria-disabled") === "false")).toBe(true);
    expect(sent).toHaveLength(1);
  });
});
