import { describe, expect, it } from "vitest";
import { STALL_CHECK_JITTER_MS, STALL_CHECK_MS, STALL_RECHECK_MS, StallCheck, stuck } from "./stall_check";

/** A hand-driven timer: `advance` runs every timer that falls due, in order. */
class FakeTimers {
  now = 0;
  checks: number[] = [];
  private timers = new Map<number, { at: number; fn: () => void }>();
  private next = 1;

  deps(random = 0) {
    return {
      check: () => void this.checks.push(this.now),
      random: () => random,
      setTimer: (fn: () => void, ms: number) => {
        const id = this.next++;
        this.timers.set(id, { at: this.now + ms, fn });
        return id;
      },
      clearTimer: (id: unknown) => void this.timers.delete(id as number),
    };
  }

  advance(ms: number): void {
    const until = this.now + ms;
    for (;;) {
      const due = [...this.timers.entries()].filter(([, t]) => t.at <= until).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.timers.delete(due[0]);
      this.now = due[1].at;
      due[1].fn();
    }
    this.now = until;
  }
}

describe("the stalled broadcast check", () => {
  it("reads the Space once a player has waited long enough, then now and then while it still waits", () => {
    const time = new FakeTimers();
    const check = new StallCheck(time.deps(0));
    check.update("waiting");
    time.advance(STALL_CHECK_MS - 1);
    expect(time.checks).toEqual([]);
    time.advance(1);
    expect(time.checks).toEqual([STALL_CHECK_MS]);
    time.advance(STALL_RECHECK_MS);
    expect(time.checks).toEqual([STALL_CHECK_MS, STALL_CHECK_MS + STALL_RECHECK_MS]);
  });

  it("does nothing while the stream plays, and a short stall (a composer replaced) asks nothing", () => {
    const time = new FakeTimers();
    const check = new StallCheck(time.deps(0));
    check.update("playing");
    time.advance(10 * STALL_CHECK_MS);
    check.update("waiting");
    time.advance(30_000);
    check.update("playing");
    time.advance(10 * STALL_CHECK_MS);
    expect(time.checks).toEqual([]);
  });

  it("spreads an audience's first reads over the jitter", () => {
    const early = new FakeTimers();
    const late = new FakeTimers();
    new StallCheck(early.deps(0)).update("waiting");
    new StallCheck(late.deps(0.999)).update("waiting");
    early.advance(2 * STALL_CHECK_MS);
    late.advance(2 * STALL_CHECK_MS);
    expect(late.checks[0] - early.checks[0]).toBeGreaterThan(0.99 * STALL_CHECK_JITTER_MS);
  });

  it("keeps one timer through repeated stuck states, and stop cancels it", () => {
    const time = new FakeTimers();
    const check = new StallCheck(time.deps(0));
    check.update("loading");
    time.advance(STALL_CHECK_MS / 2);
    check.update("waiting"); // still stuck: the first check is not pushed back
    time.advance(STALL_CHECK_MS / 2);
    expect(time.checks).toEqual([STALL_CHECK_MS]);
    check.stop();
    time.advance(10 * STALL_RECHECK_MS);
    expect(time.checks).toEqual([STALL_CHECK_MS]);
  });

  it("counts a failed player as stuck, a paused or ended one not", () => {
    expect(stuck("failed") && stuck("waiting") && stuck("loading")).toBe(true);
    expect(stuck("paused") || stuck("ended") || stuck("playing")).toBe(false);
  });
});
