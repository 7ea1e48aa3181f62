// @vitest-environment happy-dom
import { describe, expect, it, vi } from "vitest";

import type { App } from "../app";
import { ApiError, type Space, type SpaceCreate } from "../api";
import { LOBBY_POLL_MS, LOBBY_SLOW_MS } from "../names";
import { createErrorText, localMinute, lobbyPollDelay, lobbyView, metaItems, SlowLists, Submission } from "./lobby";

describe("the create form", () => {
  it("says what to change for a refused title or time, not the schema's pattern", () => {
    const pattern = "title: String should match pattern '[^\\u0000-\\u0020]'";
    expect(createErrorText(new ApiError(422, pattern))).toMatch(/^Give the Space a title/);
    expect(createErrorText(new ApiError(422, "scheduled_start: Input should be a valid datetime"))).toBe("Choose a valid start time.");
    expect(createErrorText(new ApiError(422, "video: Input should be 'off', 'host' or 'speakers'"))).toContain("video");
    expect(createErrorText(new ApiError(429, "slow down"))).toBe("slow down");
  });

  it("offers no start time already past", () => {
    expect(localMinute(new Date(2026, 11, 3, 9, 5, 59))).toBe("2026-12-03T09:05");
  });
});

describe("the lobby's refresh", () => {
  it("waits the poll period give or take a fifth, spread by the random draw", () => {
    expect(lobbyPollDelay(() => 0)).toBe(Math.round(LOBBY_POLL_MS * 0.8));
    expect(lobbyPollDelay(() => 0.5)).toBe(LOBBY_POLL_MS);
    expect(lobbyPollDelay(() => 0.999)).toBeLessThan(LOBBY_POLL_MS * 1.2);
    expect(lobbyPollDelay(() => 0.999)).toBeGreaterThan(LOBBY_POLL_MS * 1.19);
  });
});

describe("the lists that change slowly", () => {
  const space = (id: string, state: Space["state"]) =>
    ({ id, state, title: id, host: "hana", video: "off", names: {}, pictures: {}, listener_count: 0, scheduled_start: null }) as unknown as Space;

  it("are read on the first refresh and once they are LOBBY_SLOW_MS old, again right after a failure", () => {
    let now = 0;
    const slow = new SlowLists(() => now);
    expect(slow.due()).toBe(true);
    slow.read([], []);
    now = LOBBY_SLOW_MS - 1;
    expect(slow.due()).toBe(false);
    now = LOBBY_SLOW_MS;
    expect(slow.due()).toBe(true); // a tab shown again after an hour hidden: at once
    slow.read([], []);
    slow.failed();
    expect(slow.due()).toBe(true);
  });

  it("leave out of the scheduled list a Space the live list has shown since: started, and maybe ended too", () => {
    const slow = new SlowLists(() => 0);
    slow.read([space("a", "scheduled"), space("b", "scheduled"), space("c", "scheduled")], [space("old", "ended")]);
    expect(slow.scheduledBeside([space("b", "live")]).map((s) => s.id)).toEqual(["a", "c"]);
    expect(slow.scheduledBeside([]).map((s) => s.id)).toEqual(["a", "c"]); // b ended: not scheduled again
    expect(slow.recordings.map((s) => s.id)).toEqual(["old"]);
    slow.read([space("b", "scheduled")], []); // what the next read says holds
    expect(slow.scheduledBeside([]).map((s) => s.id)).toEqual(["b"]);
  });

  it("cost a visible lobby tab one request per refresh between their reads, three with them", async () => {
    vi.useFakeTimers();
    vi.spyOn(Math, "random").mockReturnValue(0.5); // every poll exactly LOBBY_POLL_MS apart
    try {
      const listSpaces = vi.fn(async (state: string) => (state === "scheduled" ? [space("later", "scheduled")] : []));
      const app = { api: { listSpaces, createSpace: vi.fn() }, session: { userId: "vic" }, navigate: vi.fn(), signOut: vi.fn() } as unknown as App;
      const view = lobbyView(app);
      document.body.append(view.el);
      const polls = LOBBY_SLOW_MS / LOBBY_POLL_MS + 1;
      for (let n = 0; n < polls; n++) await vi.advanceTimersByTimeAsync(LOBBY_POLL_MS);
      const reads = (state: string) => listSpaces.mock.calls.filter(([s]) => s === state).length;
      // The view's first read, then one per poll; the slow lists at the start and LOBBY_SLOW_MS on.
      expect(reads("live")).toBe(polls + 1);
      expect(reads("scheduled")).toBe(2);
      expect(reads("ended")).toBe(2);
      // Between its reads the scheduled list is still shown as last read, and nothing failed.
      expect(view.el.querySelector('[data-space-id="later"]')).not.toBeNull();
      expect(view.el.querySelector('[data-testid="lobby-error"]')?.textContent).toBe("");
      view.unmount();
      view.el.remove();
    } finally {
      vi.useRealTimers();
      vi.restoreAllMocks();
    }
  });
});

describe("a card's facts", () => {
  // What the stylesheet draws between them, and hides at a wrapped line's start, is asserted where it
  // is laid out: tests/e2e/test_layout.py.
  it("carry no dot of their own: one list of the facts, the separators the stylesheet's", () => {
    const host = document.createElement("span");
    host.textContent = "Hosted by كارول Carol 🌟";
    const count = document.createElement("span");
    count.textContent = "12 listening";
    const el = metaItems(host, count, false);
    // A wrapped line starts with its fact: no "·" in the text, one list the stylesheet separates.
    expect(el.textContent).not.toContain("·");
    const list = el.querySelector(".meta-list") as HTMLElement;
    expect([...list.children]).toEqual([host, count]);
  });
});

describe("creating a Space", () => {
  it("keeps one Idempotency-Key per submission: the same one tried again, a new one once edited or done", () => {
    let n = 0;
    const submission = new Submission(() => `k${++n}`);
    const input: SpaceCreate = { title: "Night shift", video: "off" };
    expect(submission.keyFor(input)).toBe("k1");
    expect(submission.keyFor({ ...input })).toBe("k1"); // tried again after an error
    expect(submission.keyFor({ ...input, title: "Night shift 2" })).toBe("k2"); // edited: another Space
    submission.done();
    expect(submission.keyFor({ ...input, title: "Night shift 2" })).toBe("k3"); // made: the next is new
  });

  it("keeps a recording unless the host unticks it, and only then sends `record`", async () => {
    const createSpace = vi.fn(async (_input: SpaceCreate, _key: string) => ({ id: "s1" }) as Space);
    const app = { api: { listSpaces: async () => [], createSpace }, session: { userId: "hana" }, navigate: vi.fn(), signOut: vi.fn() } as unknown as App;
    const view = lobbyView(app);
    const form = view.el.querySelector('[data-testid="create-form"]') as HTMLFormElement;
    const title = view.el.querySelector('[data-testid="create-title"]') as HTMLInputElement;
    const record = view.el.querySelector('[data-testid="create-record"]') as HTMLInputElement;
    expect(record.type).toBe("checkbox");
    expect(record.checked).toBe(true);
    title.value = "Kept";
    form.dispatchEvent(new Event("submit", { cancelable: true }));
    await vi.waitFor(() => expect(createSpace).toHaveBeenCalledTimes(1));
    // The API's default: an API from before the choice would refuse a field it does not know.
    expect(createSpace.mock.calls[0][0]).toEqual({ title: "Kept", video: "speakers" });
    record.checked = false;
    title.value = "Off the record";
    form.dispatchEvent(new Event("submit", { cancelable: true }));
    await vi.waitFor(() => expect(createSpace).toHaveBeenCalledTimes(2));
    expect(createSpace.mock.calls[1][0]).toEqual({ title: "Off the record", video: "speakers", record: false });
    view.unmount();
  });

  it("sends one create for a double click, and the same key when the same submission is tried again", async () => {
    const answers: { resolve: (s: Space) => void; reject: (e: unknown) => void }[] = [];
    const createSpace = vi.fn((_input: SpaceCreate, _key: string) => new Promise<Space>((resolve, reject) => answers.push({ resolve, reject })));
    const app = { api: { listSpaces: async () => [], createSpace }, session: { userId: "hana" }, navigate: vi.fn(), signOut: vi.fn() } as unknown as App;
    const view = lobbyView(app);
    const form = view.el.querySelector('[data-testid="create-form"]') as HTMLFormElement;
    const submit = view.el.querySelector('[data-testid="create-submit"]') as HTMLButtonElement;
    const title = view.el.querySelector('[data-testid="create-title"]') as HTMLInputElement;
    const send = () => form.dispatchEvent(new Event("submit", { cancelable: true }));
    title.value = "Night shift";
    send();
    send(); // the double click
    expect(createSpace).toHaveBeenCalledTimes(1);
    expect(submit.getAttribute("aria-busy")).toBe("true");
    answers[0].reject(new ApiError(0, "cannot reach the Spaces API"));
    await vi.waitFor(() => expect(submit.hasAttribute("aria-busy")).toBe(false));
    send(); // tried again, unchanged: the same submission
    expect(createSpace).toHaveBeenCalledTimes(2);
    expect(createSpace.mock.calls[1][1]).toBe(createSpace.mock.calls[0][1]);
    answers[1].reject(new ApiError(0, "cannot reach the Spaces API"));
    await vi.waitFor(() => expect(submit.hasAttribute("aria-busy")).toBe(false));
    title.value = "Night shift, take two";
    send(); // edited: a new submission
    expect(createSpace.mock.calls[2][1]).not.toBe(createSpace.mock.calls[0][1]);
    answers[2].resolve({ id: "s9" } as Space);
    await vi.waitFor(() => expect(app.navigate).toHaveBeenCalledWith("#/spaces/s9"));
    view.unmount();
  });
});
