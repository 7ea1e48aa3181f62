/**
 * A hand-driven clock and timer for unit tests (no DOM, no real time): `setTimer` / `clearTimer`
 * stand in for window.setTimeout / clearTimeout, and `advance` runs every timer that falls due, in
 * order, letting promises settle after each.
 */
export class FakeTimers {
  private timers = new Map<number, { at: number; fn: () => void }>();
  private next = 1;

  constructor(public now = 0) {}

  readonly setTimer = (fn: () => void, ms: number): number => {
    const id = this.next++;
    this.timers.set(id, { at: this.now + ms, fn });
    return id;
  };

  readonly clearTimer = (id: unknown): void => void this.timers.delete(id as number);

  async advance(ms: number): Promise<void> {
    const end = this.now + ms;
    for (;;) {
      const due = [...this.timers.entries()].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.timers.delete(due[0]);
      this.now = due[1].at;
      due[1].fn();
      await Promise.resolve();
      await Promise.resolve();
    }
    this.now = end;
  }
}
