import { describe, expect, it } from "vitest";
import { FakeTimers } from "./fake_timers";
import { Heartbeat, nextDue } from "./heartbeat";

/** The shared fake timers, with the heartbeat's `send` recorded (and made to fail on demand). */
class FakeTime extends FakeTimers {
  calls: number[] = [];
  failWith: number | null = null;
  failRule: string | null = null;

  constructor() {
    super(1_000_000);
  }

  deps(random = 0.5) {
    return {
      send: async () => {
        this.calls.push(this.now);
        if (this.failWith !== null) throw { status: this.failWith, rule: this.failRule };
      },
      nowMs: () => this.now,
      random: () => random,
      setTimer: this.setTimer,
      clearTimer: this.clearTimer,
    };
  }
}

const S = 1000;

describe("the HLS presence heartbeat", () => {
  it("is due at the random first moment, then one interval after the last", () => {
    expect(nextDue(null, 5_000, 300 * S)).toBe(5_000);
    expect(nextDue(10_000, 5_000, 300 * S)).toBe(310_000);
  });

  it("sends nothing when the viewer is not sampled", async () => {
    const t = new FakeTime();
    const beat = new Heartbeat(null, t.deps());
    beat.setPlaying(true);
    await t.advance(3_600 * S);
    expect(t.calls).toEqual([]);
    expect(beat.active).toBe(false);
  });

  it("sends once per interval while playing, the first at a random moment within the first", async () => {
    const t = new FakeTime();
    const start = t.now;
    const beat = new Heartbeat(300, t.deps(0.25));
    beat.setPlaying(true);
    await t.advance(60 * S);
    expect(t.calls).toEqual([]); // the first is at 75 s: a minute-long visit usually makes no call
    await t.advance(3_600 * S - 60 * S);
    expect(t.calls[0]).toBe(start + 75 * S);
    expect(t.calls.map((at, i) => at - start - i * 300 * S)).toEqual(t.calls.map(() => 75 * S));
    // 0.2 calls a minute for a sampled viewer; half are sampled: 0.1 on average.
    expect(t.calls.length / 60).toBeLessThanOrEqual(0.2);
  });

  it("sends nothing while paused and never sooner than an interval after the last", async () => {
    const t = new FakeTime();
    const start = t.now;
    const beat = new Heartbeat(300, t.deps(0));
    beat.setPlaying(true);
    await t.advance(1);
    expect(t.calls).toEqual([start]);
    beat.setPlaying(false);
    await t.advance(900 * S);
    expect(t.calls).toEqual([start]);
    // Resumed long after: due at once; resumed and paused quickly again: no extra call.
    beat.setPlaying(true);
    await t.advance(1);
    expect(t.calls).toHaveLength(2);
    beat.setPlaying(false);
    beat.setPlaying(true);
    await t.advance(299 * S);
    expect(t.calls).toHaveLength(2);
    await t.advance(1 * S);
    expect(t.calls).toHaveLength(3);
    beat.stop();
    await t.advance(3_600 * S);
    expect(t.calls).toHaveLength(3);
  });

  it("spreads heartbeats that fell due during a stall over the minute after it", async () => {
    const t = new FakeTime();
    const start = t.now;
    const beat = new Heartbeat(300, t.deps(0.5));
    beat.setPlaying(true);
    await t.advance(150 * S);
    expect(t.calls).toEqual([start + 150 * S]);
    beat.setPlaying(false); // the broadcast stalls for everyone...
    await t.advance(600 * S);
    beat.setPlaying(true); // ...and resumes for everyone: this page waits its own 30 s
    const resumed = t.now;
    await t.advance(29 * S);
    expect(t.calls).toHaveLength(1);
    await t.advance(1 * S);
    expect(t.calls).toEqual([start + 150 * S, resumed + 30 * S]);
    beat.stop();
  });

  it("stops on an answer that will not change and keeps going after a network error", async () => {
    const t = new FakeTime();
    const beat = new Heartbeat(300, t.deps(0));
    t.failWith = 0;
    beat.setPlaying(true);
    await t.advance(301 * S);
    expect(t.calls).toHaveLength(2);
    // A busy store (503 `too_much_contention`, Retry-After): only this window is missed.
    t.failWith = 503;
    t.failRule = "too_much_contention";
    await t.advance(300 * S);
    expect(t.calls).toHaveLength(3);
    expect(beat.active).toBe(true);
    t.failWith = 409;
    t.failRule = "space_not_live"; // not live any more (or not sampled, on stage): final
    await t.advance(300 * S);
    expect(t.calls).toHaveLength(4);
    expect(beat.active).toBe(false);
    await t.advance(3_600 * S);
    expect(t.calls).toHaveLength(4);
  });
});
