import { describe, expect, it, vi } from "vitest";
import { API_CHECK_AFTER_START_MS, API_CHECK_MS, START_WATCH_MS, StartWatch, type StartWatchDeps, startedIn } from "./start_watch";

const URL_ = "https://cdn.example/b/space1/state.json";

/** A watch on fake timers: `due()` runs the armed timer, `answer` is what the CDN says next. */
function harness(answers: Array<string | null | Error>, opts: { visible?: boolean; random?: number; startsAt?: number | null } = {}) {
  const timers: Array<{ fn: () => void; ms: number; cleared: boolean }> = [];
  const reads: string[] = [];
  let visible = opts.visible ?? true;
  const clock = { now: 0 };
  const asked: number[] = [];
  const deps: StartWatchDeps = {
    fetchText: vi.fn(async (url: string) => {
      reads.push(url);
      const next = answers.shift() ?? null;
      if (next instanceof Error) throw next;
      return next;
    }),
    started: vi.fn(),
    visible: () => visible,
    askApi: () => void asked.push(clock.now),
    startsAt: opts.startsAt ?? null,
    now: () => clock.now,
    random: () => opts.random ?? 0.5,
    setTimer: (fn, ms) => {
      const t = { fn, ms, cleared: false };
      timers.push(t);
      return t;
    },
    clearTimer: (handle) => {
      (handle as { cleared: boolean }).cleared = true;
    },
  };
  const watch = new StartWatch(URL_, deps);
  const armed = () => timers.filter((t) => !t.cleared);
  const due = async () => {
    const t = armed().at(-1);
    if (!t) throw new Error("no timer armed");
    t.cleared = true;
    t.fn();
    await new Promise((r) => setTimeout(r, 0));
  };
  return { watch, deps, reads, timers, armed, due, clock, asked, setVisible: (v: boolean) => (visible = v) };
}

describe("StartWatch", () => {
  it("reads the CDN every interval until a document says the Space is live, and hands that document over", async () => {
    const h = harness([null, null, '{"state":"live","title":"t"}']);
    h.watch.start();
    expect(h.reads).toEqual([]); // the page has just read the Space itself
    expect(h.armed()[0].ms).toBe(START_WATCH_MS);
    await h.due();
    await h.due();
    expect(h.deps.started).not.toHaveBeenCalled();
    await h.due();
    expect(h.reads).toEqual([URL_, URL_, URL_]);
    expect(h.deps.started).toHaveBeenCalledExactlyOnceWith('{"state":"live","title":"t"}');
    expect(h.armed()).toEqual([]); // stopped: nothing more is read
  });

  it("spreads an audience's reads over a fifth either side of the interval", () => {
    const low = harness([], { random: 0 });
    low.watch.start();
    const high = harness([], { random: 1 });
    high.watch.start();
    expect(low.armed()[0].ms).toBe(START_WATCH_MS * 0.8);
    expect(high.armed()[0].ms).toBe(START_WATCH_MS * 1.2);
  });

  it("reads nothing while the tab is hidden, and at once when it is shown again", async () => {
    const h = harness(['{"state":"ended"}']);
    h.setVisible(false);
    h.watch.start();
    await h.due();
    expect(h.reads).toEqual([]);
    expect(h.armed()).toEqual([]); // nothing armed while hidden
    h.setVisible(true);
    h.watch.shown();
    await new Promise((r) => setTimeout(r, 0));
    expect(h.reads).toEqual([URL_]);
    expect(h.deps.started).toHaveBeenCalledTimes(1); // ended since (a short Space): read it too
  });

  it("keeps watching through errors, a scheduled document and a body that is not the document", async () => {
    const h = harness([new Error("offline"), '{"state":"scheduled"}', "<html>Forbidden</html>", '{"state":"live"}']);
    h.watch.start();
    for (let i = 0; i < 3; i++) await h.due();
    expect(h.deps.started).not.toHaveBeenCalled();
    expect(h.armed().length).toBe(1);
    await h.due();
    expect(h.deps.started).toHaveBeenCalledTimes(1);
  });

  it("stops for good: a read in flight when the page leaves changes nothing", async () => {
    let release: (text: string) => void = () => {};
    const h = harness([]);
    h.deps.fetchText = () => new Promise((r) => (release = r));
    h.watch.start();
    const pending = h.due();
    h.watch.stop();
    release('{"state":"live"}');
    await pending;
    await new Promise((r) => setTimeout(r, 0));
    expect(h.deps.started).not.toHaveBeenCalled();
    expect(h.armed()).toEqual([]);
    h.watch.shown();
    expect(h.armed()).toEqual([]);
  });
});

describe("startedIn", () => {
  it("is true for a live or ended document only", () => {
    expect(startedIn('{"state":"live"}')).toBe(true);
    expect(startedIn('{"state":"ended"}')).toBe(true);
    expect(startedIn('{"state":"scheduled"}')).toBe(false);
    expect(startedIn("{}")).toBe(false);
    expect(startedIn("null")).toBe(false);
    expect(startedIn("not json")).toBe(false);
    expect(startedIn(null)).toBe(false);
  });
});

describe("StartWatch and a Space cancelled before its start", () => {
  it("asks the API when the tab is shown again, at most every API_CHECK_MS (± a fifth)", async () => {
    const h = harness([], { startsAt: 10 * 60_000, random: 0.5 }); // 0.5: exactly API_CHECK_MS
    h.watch.start();
    await h.due();
    expect(h.asked).toEqual([]); // before its time, a read asks nothing of the API
    h.watch.shown();
    h.clock.now = API_CHECK_MS - 1;
    h.watch.shown();
    expect(h.asked).toEqual([0]);
    h.clock.now = API_CHECK_MS;
    h.watch.shown();
    expect(h.asked).toEqual([0, API_CHECK_MS]);
  });

  it("asks the API on its reads once the start is late, from the tab's own moment within API_CHECK_MS", async () => {
    const startsAt = 5 * 60_000;
    const late = startsAt + API_CHECK_AFTER_START_MS;
    for (const random of [0, 0.25, 0.99]) {
      const h = harness([], { startsAt, random });
      h.watch.start();
      const own = late + random * API_CHECK_MS; // this tab's moment
      h.clock.now = own - 1;
      await h.due();
      expect(h.asked).toEqual([]);
      h.clock.now = own;
      await h.due();
      expect(h.asked).toEqual([own]);
      const next = own + API_CHECK_MS * (0.8 + 0.4 * random); // then every API_CHECK_MS ± a fifth
      h.clock.now = next - 1;
      await h.due();
      expect(h.asked).toHaveLength(1);
      h.clock.now = next;
      await h.due();
      expect(h.asked).toEqual([own, next]);
    }
  });

  it("never asks without a scheduled start but when shown, nor once stopped", async () => {
    const h = harness([], { startsAt: null });
    h.watch.start();
    h.clock.now = 1e12;
    await h.due();
    expect(h.asked).toEqual([]);
    h.watch.stop();
    h.watch.shown();
    expect(h.asked).toEqual([]);
  });
});
