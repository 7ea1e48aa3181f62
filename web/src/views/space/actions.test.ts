// @vitest-environment happy-dom
/** The Space page's small actions, with a fake controller: what each tells, and one hand request at a time. */
import { afterEach, describe, expect, it, vi } from "vitest";

import { HAND_RATE_LIMITED_RULE, ROLE_CHANGED_RULE, TARGET_REMOVED_RULE, USER_BLOCKED_RULE } from "../../contract.gen";
import type { DevicePreferences } from "../../devices";
import type { ActResult, SpaceController } from "../../space_controller";
import { confirmRemoval, SpaceActions } from "./actions";

const toastText = () => document.getElementById("toast")?.textContent;

function actions(answer: ActResult, hand?: Promise<ActResult>) {
  let redraws = 0;
  const ctl = { act: async () => answer, raiseHand: () => hand ?? Promise.resolve(answer) } as unknown as SpaceController;
  const made = new SpaceActions({ spaceId: "s1", ctl, room: () => null, devicePrefs: { set: () => undefined } as unknown as DevicePreferences, redraw: () => (redraws += 1) });
  return { made, redraws: () => redraws };
}

afterEach(() => document.body.replaceChildren());

describe("SpaceActions", () => {
  it("tells an action done, and a refusal that speaks of 'they' with the name of whom it was done to", async () => {
    await actions({ ok: true }).made.act(async () => undefined, "sam muted");
    expect(toastText()).toBe("sam muted");
    await actions({ ok: false, message: "They left the audience.", rule: ROLE_CHANGED_RULE }).made.act(async () => undefined, "done", "Sam");
    expect(toastText()).toBe("Sam: They left the audience.");
    await actions({ ok: false, message: "a blocked user cannot be put on stage", rule: USER_BLOCKED_RULE }).made.act(async () => undefined, "done", "Sam");
    expect(toastText()).toBe("A blocked user cannot be put on stage");
    await actions({ ok: false, message: "they were removed from this Space by a host", rule: TARGET_REMOVED_RULE }).made.act(async () => undefined, "done", "Carl");
    expect(toastText()).toBe("Carl: they were removed from this Space by a host");
  });

  it("words a hand limit for a person, not in the API's rule language", async () => {
    await actions({ ok: false, message: "too many hand raises and lowers: at most 5 in each 5 s window of the clock; retry in 1.6 s", rule: HAND_RATE_LIMITED_RULE }).made.raiseHand(true);
    expect(toastText()).toBe("Too many hand raises and lowers in a few seconds. Try again in a moment.");
  });

  it("counts a listener row as done with when the person had left the audience meanwhile", async () => {
    expect(await actions({ ok: false, message: "gone", rule: ROLE_CHANGED_RULE }).made.listAct(async () => undefined, "invited")).toBe(true);
    expect(await actions({ ok: false, message: "gone", rule: TARGET_REMOVED_RULE }).made.listAct(async () => undefined, "invited")).toBe(false);
    expect(await actions({ ok: false, message: "gone", rule: USER_BLOCKED_RULE }).made.listAct(async () => undefined, "invited")).toBe(true);
    expect(await actions({ ok: false, message: "no", rule: "forbidden" }).made.listAct(async () => undefined, "invited")).toBe(false);
    expect(await actions({ ok: false, message: "unreachable", rule: null }).made.listAct(async () => undefined, "invited")).toBe(false);
  });

  it("sends one raise at a time: a second click while the first is on its way sends nothing", async () => {
    let answer: (r: ActResult) => void = () => undefined;
    const { made, redraws } = actions({ ok: true }, new Promise((resolve) => (answer = resolve)));
    const first = made.raiseHand(true);
    expect(made.handPending).toBe(true);
    await made.raiseHand(true);
    answer({ ok: true });
    await first;
    expect(made.handPending).toBe(false);
    expect(redraws()).toBe(2);
    expect(toastText()).toBe("Hand raised");
  });
});

describe("confirmRemoval", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("asks before a removal as before a block, and says which it is", () => {
    const asked = vi.fn().mockReturnValue(false);
    vi.stubGlobal("confirm", asked);
    expect(confirmRemoval("Sam", false)).toBe(false);
    expect(asked).toHaveBeenLastCalledWith(expect.stringMatching(/^Remove Sam from this Space\?/));
    asked.mockReturnValue(true);
    expect(confirmRemoval("Sam", true)).toBe(true);
    expect(asked).toHaveBeenLastCalledWith(expect.stringMatching(/^Block Sam\? .*cannot join this Space again/));
  });
});
