import { describe, expect, it } from "vitest";
import { FakeTimers } from "./fake_timers";
import { STALL_CHECK_JITTER_MS, STALL_CHECK_MS, STALL_RECHECK_MS, StallCheck, stuck } from "./stall_check";

/** The shared fake timers, with the checks recorded. */
class FakeTime extends FakeTimers {
  checks: number[] = [];

  deps(random = 0) {
    return { check: () => void this.checks.push(this.now), random: () => random, setTimer: this.setTimer, clearTimer: this.clearTimer };
  }
}

describe("the stalled broadcast check", async () => {
  it("reads the Space once a player has waited long enough, then now and then while it still waits", async () => {
    const time = new FakeTime();
    const check = new StallCheck(time.deps(0));
    check.update("waiting");
    await time.advance(STALL_CHECK_MS - 1);
    expect(time.checks).toEqual([]);
    await time.advance(1);
    expect(time.checks).toEqual([STALL_CHECK_MS]);
    await time.advance(STALL_RECHECK_MS);
    expect(time.checks).toEqual([STALL_CHECK_MS, STALL_CHECK_MS + STALL_RECHECK_MS]);
  });

  it("does nothing while the stream plays, and a short stall (a composer replaced) asks nothing", async () => {
    const time = new FakeTime();
    const check = new StallCheck(time.deps(0));
    check.update("playing");
    await time.advance(10 * STALL_CHECK_MS);
    check.update("waiting");
    await time.advance(30_000);
    check.update("playing");
    await time.advance(10 * STALL_CHECK_MS);
    expect(time.checks).toEqual([]);
  });

  it("spreads an audience's first reads over the jitter", async () => {
    const early = new FakeTime();
    const late = new FakeTime();
    new StallCheck(early.deps(0)).update("waiting");
    new StallCheck(late.deps(0.999)).update("waiting");
    await early.advance(2 * STALL_CHECK_MS);
    await late.advance(2 * STALL_CHECK_MS);
    expect(late.checks[0] - early.checks[0]).toBeGreaterThan(0.99 * STALL_CHECK_JITTER_MS);
  });

  it("keeps one timer through repeated stuck states, and stop cancels it", async () => {
    const time = new FakeTime();
    const check = new StallCheck(time.deps(0));
    check.update("loading");
    await time.advance(STALL_CHECK_MS / 2);
    check.update("waiting"); // still stuck: the first check is not pushed back
    await time.advance(STALL_CHECK_MS / 2);
    expect(time.checks).toEqual([STALL_CHECK_MS]);
    check.stop();
    await time.advance(10 * STALL_RECHECK_MS);
    expect(time.checks).toEqual([STALL_CHECK_MS]);
  });

  it("counts a failed player as stuck, and one at the stream's end the page was not told of; a paused one not", async () => {
    expect(stuck("failed") && stuck("waiting") && stuck("loading") && stuck("ended")).toBe(true);
    expect(stuck("paused") || stuck("playing")).toBe(false);
  });
});
