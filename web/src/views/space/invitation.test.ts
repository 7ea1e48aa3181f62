// @vitest-environment happy-dom
import { describe, expect, it, vi } from "vitest";

import { InvitationPrompt } from "./invitation";

const flush = () => new Promise((resolve) => setTimeout(resolve, 0));

function prompt(answer: (accept: boolean) => Promise<boolean> = async () => true) {
  let now = 1_000_000;
  const timers: { fn: () => void; at: number }[] = [];
  const actions = {
    answer: vi.fn(answer),
    setTimer: (fn: () => void, ms: number) => timers.push({ fn, at: now + ms }),
    clearTimer: vi.fn(),
    now: () => now,
  };
  const view = new InvitationPrompt(actions);
  const advance = (ms: number) => {
    now += ms;
    for (const t of timers.splice(0)) (t.at <= now ? t.fn() : timers.push(t));
  };
  const button = (testid: string) => view.el.querySelector<HTMLButtonElement>(`[data-testid="${testid}"]`)!;
  return { view, actions, advance, button, now: () => now };
}

describe("InvitationPrompt", () => {
  it("asks only while an invitation waits, and says what going on stage means", () => {
    const { view, now } = prompt();
    expect(view.el.hidden).toBe(true);
    view.update(now() + 120_000);
    expect(view.el.hidden).toBe(false);
    expect(view.el.getAttribute("role")).toBe("alertdialog");
    expect(view.el.textContent).toContain("The broadcast and its recording include you.");
    // A Space whose host keeps no recording says so, on the same prompt.
    view.update(now() + 120_000, false);
    expect(view.el.textContent).toContain("this Space keeps no recording");
    expect(view.el.textContent).not.toContain("its recording include");
    // No broadcast at all (a deployment without the tier): neither is mentioned.
    view.update(now() + 120_000, null);
    expect(view.el.textContent).not.toContain("broadcast");
    view.update(null); // withdrawn, or on stage
    expect(view.el.hidden).toBe(true);
    view.update(now() - 1); // lapsed already
    expect(view.el.hidden).toBe(true);
  });

  it("goes when the invitation lapses, though no document says so, and says so", () => {
    const { view, advance, now, actions } = prompt();
    const lapsed = vi.fn();
    (actions as { lapsed?: () => void }).lapsed = lapsed;
    view.update(now() + 120_000);
    advance(119_000);
    expect(view.el.hidden).toBe(false);
    expect(lapsed).not.toHaveBeenCalled();
    advance(1_000);
    expect(view.el.hidden).toBe(true);
    expect(lapsed).toHaveBeenCalledTimes(1);
    // Answered, or gone with a document, before its lapse: nothing is said.
    view.update(now() + 10_000);
    view.update(null);
    advance(10_000);
    expect(lapsed).toHaveBeenCalledTimes(1);
  });

  it("answers yes or no once, and does not ask again for the invitation answered", async () => {
    const { view, actions, button, now } = prompt();
    const until = now() + 120_000;
    view.update(until);
    button("invitation-accept").click();
    button("invitation-accept").click(); // a double click sends one answer
    await flush();
    expect(actions.answer.mock.calls).toEqual([[true]]);
    expect(view.el.hidden).toBe(true);
    view.update(until); // a document written before the answer still carries it
    expect(view.el.hidden).toBe(true);
    view.update(until + 5_000); // a new invitation (sent again) is asked
    expect(view.el.hidden).toBe(false);
    button("invitation-decline").click();
    await flush();
    expect(actions.answer.mock.calls).toEqual([[true], [false]]);
    expect(view.el.hidden).toBe(true);
  });

  it("stays, its buttons usable again, when the answer did not go through", async () => {
    const { view, button, now } = prompt(async () => false);
    view.update(now() + 120_000);
    button("invitation-accept").click();
    // Marked busy, not disabled: the keyboard stays on it.
    expect(button("invitation-accept").getAttribute("aria-disabled")).toBe("true");
    expect(button("invitation-accept").disabled).toBe(false);
    await flush();
    expect(view.el.hidden).toBe(false);
    expect(button("invitation-accept").getAttribute("aria-disabled")).toBe("false");
  });

  it("takes the keyboard to its first answer once it is in the page, and gives it back when it goes", async () => {
    const { view, button, now, actions } = prompt();
    const before = document.createElement("button");
    document.body.append(before);
    before.focus();
    view.update(now() + 120_000); // drawn before it is in the page (a reload while invited)
    expect(document.activeElement).toBe(before);
    document.body.append(view.el);
    try {
      view.update(now() + 120_000); // the next draw, in the page
      expect(document.activeElement).toBe(button("invitation-accept"));
      button("invitation-decline").focus();
      button("invitation-decline").click();
      await flush();
      expect(actions.answer).toHaveBeenCalledWith(false);
      expect(document.activeElement).toBe(before);
      // What had it is gone (the stage was rebuilt): the page says where the keyboard goes.
      const focusAfter = vi.fn();
      const second = prompt();
      (second.actions as { focusAfter?: () => void }).focusAfter = focusAfter;
      document.body.append(second.view.el);
      second.view.update(second.now() + 120_000);
      before.remove();
      second.button("invitation-accept").click();
      await flush();
      expect(focusAfter).toHaveBeenCalledTimes(1);
      second.view.el.remove();
    } finally {
      view.el.remove();
      before.remove();
    }
  });
});
