// @vitest-environment happy-dom
import { describe, expect, it, vi } from "vitest";

import { ApiError, type ListenerEntry, type ListenerPage } from "../../api";
import { HostPanel } from "./host_panel";
import { ListenerList, type ListenerSource } from "./listeners";
import { avatarSource } from "../../people";

const q = (el: Element, testid: string) => [...el.querySelectorAll(`[data-testid="${testid}"]`)] as HTMLElement[];
const entry = (user_id: string, name: string, extra: Partial<ListenerEntry> = {}): ListenerEntry => ({
  user_id,
  name,
  picture: null,
  joined_at: "2026-12-01T20:00:00Z",
  ...extra,
});
const flush = () => new Promise((r) => setTimeout(r, 0));

/** A source that answers from a fixed audience by prefix, `size` per page, recording each call. */
function fakeSource(audience: ListenerEntry[], size = 2) {
  const calls: [string, string | null][] = [];
  const source: ListenerSource = async (query, cursor) => {
    calls.push([query, cursor]);
    const matching = audience.filter((e) => e.name.toLowerCase().startsWith(query.toLowerCase()));
    const start = cursor === null ? 0 : Number(cursor);
    const page: ListenerPage = {
      items: matching.slice(start, start + size),
      next_cursor: start + size < matching.length ? String(start + size) : null,
    };
    return page;
  };
  return { source, calls };
}

/** Timers the test fires by hand: the debounce, and proof that nothing else is scheduled. */
function manualTimers() {
  const pending = new Map<number, () => void>();
  let next = 1;
  return {
    setTimer: (fn: () => void) => {
      pending.set(next, fn);
      return next++;
    },
    clearTimer: (h: number) => void pending.delete(h),
    fire: () => {
      const fns = [...pending.values()];
      pending.clear();
      fns.forEach((fn) => fn());
    },
    get count() {
      return pending.size;
    },
  };
}

const actions = () => ({
  invite: vi.fn(async (_id: string, _name: string) => true),
  remove: vi.fn(async (_id: string, _block: boolean, _name: string) => true),
  withdraw: vi.fn(async (_id: string, _name: string) => true),
});
const people = [entry("u1", "Ann"), entry("u2", "Anna", { hand_raised: true }), entry("u3", "Bob"), entry("u4", "Zoë", { picture: "https://img.example/z.png" })];

describe("ListenerList", () => {
  it("reads nothing until shown, then the first page once", async () => {
    const { source, calls } = fakeSource(people);
    const list = new ListenerList(source, actions());
    await flush();
    expect(calls).toEqual([]);
    list.show();
    list.show();
    await flush();
    expect(calls).toEqual([["", null]]);
    expect(q(list.el, "listener-row").map((r) => r.dataset.identity)).toEqual(["u1", "u2"]);
    expect(q(list.el, "listener-hand")).toHaveLength(1);
  });

  it("says why the list could not be read in the API's words, without the HTTP status", async () => {
    const list = new ListenerList(async () => {
      throw new ApiError(0, "cannot reach the Spaces API at https://api.example");
    }, actions());
    list.show();
    await flush();
    expect(q(list.el, "listener-status")[0].textContent).toBe("Could not load listeners: cannot reach the Spaces API at https://api.example");
  });

  it("pages with More until the last page", async () => {
    const { source, calls } = fakeSource(people);
    const list = new ListenerList(source, actions());
    list.show();
    await flush();
    q(list.el, "listener-more")[0].click();
    await flush();
    expect(calls[1]).toEqual(["", "2"]);
    expect(q(list.el, "listener-row").map((r) => r.dataset.identity)).toEqual(["u1", "u2", "u3", "u4"]);
    expect(q(list.el, "listener-more")[0].hidden).toBe(true);
    expect(q(list.el, "listener-row")[3].querySelector("img")?.getAttribute("src")).toBe(avatarSource("https://img.example/z.png"));
    expect(q(list.el, "listener-row")[0].querySelector('[data-testid="avatar"]')?.getAttribute("title")).toBe("Ann");
  });

  it("searches once per pause in typing, and schedules nothing else", async () => {
    const { source, calls } = fakeSource(people);
    const timers = manualTimers();
    const list = new ListenerList(source, actions(), timers);
    list.show();
    await flush();
    const box = q(list.el, "listener-search")[0] as HTMLInputElement;
    for (const text of ["a", "an", "ann"]) {
      box.value = text;
      box.dispatchEvent(new Event("input"));
    }
    expect(timers.count).toBe(1);
    timers.fire();
    await flush();
    expect(calls).toEqual([["", null], ["ann", null]]);
    expect(q(list.el, "listener-row").map((r) => r.dataset.identity)).toEqual(["u1", "u2"]);
    expect(timers.count).toBe(0);
    box.value = "zz";
    box.dispatchEvent(new Event("input"));
    timers.fire();
    await flush();
    expect(q(list.el, "listener-status")[0].textContent).toContain("zz");
  });

  it("reads the first page again when shown again (a co-host made co-host once more)", async () => {
    const { source, calls } = fakeSource(people);
    const list = new ListenerList(source, actions());
    list.show();
    await flush();
    list.hide();
    list.show();
    await flush();
    expect(calls).toEqual([
      ["", null],
      ["", null],
    ]);
  });

  it("drops a pending search and reads nothing once hidden", async () => {
    const { source, calls } = fakeSource(people);
    const timers = manualTimers();
    const list = new ListenerList(source, actions(), timers);
    list.show();
    await flush();
    const box = q(list.el, "listener-search")[0] as HTMLInputElement;
    box.value = "b";
    box.dispatchEvent(new Event("input"));
    list.hide();
    timers.fire();
    q(list.el, "listener-refresh")[0].click();
    await flush();
    expect(calls).toEqual([["", null]]);
  });

  it("invites from a row, which stays until they accept; removes and blocks, which then leave the list", async () => {
    const { source } = fakeSource(people, 10);
    const a = actions();
    const list = new ListenerList(source, a);
    list.show();
    await flush();
    const row = (id: string) => list.el.querySelector(`[data-testid="listener-row"][data-identity="${id}"]`)!;
    (row("u2").querySelector('[data-testid="listener-invite"]') as HTMLButtonElement).click();
    (row("u3").querySelector('[data-testid="listener-remove"]') as HTMLButtonElement).click();
    (row("u4").querySelector('[data-testid="listener-block"]') as HTMLButtonElement).click();
    await flush();
    expect(a.invite).toHaveBeenCalledWith("u2", "Anna");
    expect(a.remove.mock.calls).toEqual([["u3", false, "Bob"], ["u4", true, "Zoë"]]);
    expect(q(list.el, "listener-row").map((r) => r.dataset.identity)).toEqual(["u1", "u2"]);
  });

  it("marks the rows of people with an invitation waiting, as the Space says, and withdraws one", async () => {
    const { source } = fakeSource(people, 10);
    const a = { ...actions(), withdraw: vi.fn(async (_id: string, _name: string) => true) };
    const list = new ListenerList(source, a);
    list.show();
    await flush();
    const row = (id: string) => list.el.querySelector(`[data-testid="listener-row"][data-identity="${id}"]`)!;
    list.sync(new Set(), new Set(["u2"]), new Set(["u1"]));
    expect(q(list.el, "listener-invited").map((m) => m.closest("li")!.getAttribute("data-identity"))).toEqual(["u1"]);
    expect(row("u1").querySelector('[data-testid="listener-invite"]')).toBeNull();
    (row("u1").querySelector('[data-testid="listener-withdraw"]') as HTMLButtonElement).click();
    await flush();
    expect(a.withdraw).toHaveBeenCalledWith("u1", "Ann");
    expect(q(list.el, "listener-row")).toHaveLength(4); // the row stays, in the audience
    // Declined, withdrawn or lapsed: the Space says none waits, and the row offers an invitation again.
    list.sync(new Set(), new Set(["u2"]), new Set());
    expect(q(list.el, "listener-invited")).toHaveLength(0);
    expect(row("u1").querySelector('[data-testid="listener-invite"]')).not.toBeNull();
  });

  it("takes a row out when an invitation put its person on stage at once, or found the row out of date", async () => {
    const { source } = fakeSource(people, 10);
    const list = new ListenerList(source, { ...actions(), invite: vi.fn(async () => "gone" as const) });
    list.show();
    await flush();
    (q(list.el, "listener-invite")[0] as HTMLButtonElement).click();
    await flush();
    expect(q(list.el, "listener-row").map((r) => r.dataset.identity)).toEqual(["u2", "u3", "u4"]);
  });

  it("moves a keyboard user's focus to the same button on the next row when their row leaves", async () => {
    const { source } = fakeSource(people, 10);
    const list = new ListenerList(source, actions());
    document.body.append(list.el);
    try {
      list.show();
      await flush();
      const button = (id: string) => list.el.querySelector<HTMLButtonElement>(`[data-testid="listener-row"][data-identity="${id}"] [data-testid="listener-remove"]`)!;
      button("u2").focus();
      button("u2").click();
      await flush();
      expect(document.activeElement).toBe(button("u3"));
      // The last row gone: the one before it; none left: the search box.
      button("u4").focus();
      button("u4").click();
      await flush();
      expect(document.activeElement).toBe(button("u3"));
    } finally {
      list.el.remove();
    }
  });

  it("drops the rows of people now on stage and shows the live queue's hands, redrawing only on a change", async () => {
    const { source } = fakeSource(people, 10);
    const list = new ListenerList(source, actions());
    list.show();
    await flush();
    const rows = () => q(list.el, "listener-row").map((r) => r.dataset.identity);
    const raised = () => q(list.el, "listener-hand").map((h) => h.closest("li")!.getAttribute("data-identity"));
    expect(raised()).toEqual(["u2"]);
    // Anna was invited from the requests (on stage now, her hand answered); Bob raised his since.
    list.sync(new Set(["host", "u2"]), new Set(["u3"]));
    expect(rows()).toEqual(["u1", "u3", "u4"]);
    expect(raised()).toEqual(["u3"]);
    const drawn = q(list.el, "listener-row")[0];
    list.sync(new Set(["host", "u2"]), new Set(["u3"]));
    expect(q(list.el, "listener-row")[0]).toBe(drawn);
  });

  it("drops the row of someone another moderator removed since they joined, not of someone back since", async () => {
    const joined = Date.parse("2026-12-01T20:00:00Z");
    const audience = [entry("u1", "Ada", { viewer_tag: "tag1" }), entry("u2", "Bo", { viewer_tag: "tag2" }), entry("u3", "Cy")];
    const list = new ListenerList(fakeSource(audience, 10).source, actions());
    list.show();
    await flush();
    const rows = () => q(list.el, "listener-row").map((r) => r.dataset.identity);
    // Bo's removal came before his join (he came back on purpose): he stays.
    list.sync(new Set(), new Set(), new Set(), { tag1: joined + 5_000, tag2: joined - 60_000 });
    expect(rows()).toEqual(["u2", "u3"]);
    // A Refresh a moment later, from an index that still lists Ada: she stays off.
    await list.load(true);
    expect(rows()).toEqual(["u2", "u3"]);
  });

  it("keeps a keyboard user's focus through a sync, and moves it to the next row when theirs goes on stage", async () => {
    const { source } = fakeSource(people, 10);
    let answer: (ok: boolean) => void = () => undefined;
    const a = { ...actions(), invite: vi.fn(() => new Promise<boolean>((resolve) => (answer = resolve))) };
    const list = new ListenerList(source, a);
    document.body.append(list.el);
    try {
      list.show();
      await flush();
      const button = (id: string, testid = "listener-remove") =>
        list.el.querySelector<HTMLButtonElement>(`[data-testid="listener-row"][data-identity="${id}"] [data-testid="${testid}"]`)!;
      button("u3").focus();
      list.sync(new Set(), new Set(["u1"])); // someone else's hand: rows redrawn, the focus stays
      expect(document.activeElement).toBe(button("u3"));
      list.sync(new Set(["u3"]), new Set(["u1"])); // Bob is on stage now: his row leaves
      expect(document.activeElement).toBe(button("u4"));
      // An invitation whose own pass takes the row away before the answer comes.
      button("u1", "listener-invite").focus();
      button("u1", "listener-invite").click();
      list.sync(new Set(["u3", "u1"]), new Set());
      answer(true);
      await flush();
      expect(document.activeElement).toBe(button("u2", "listener-invite"));
    } finally {
      list.el.remove();
    }
  });

  it("keeps a row the API refused", async () => {
    const { source } = fakeSource(people, 10);
    const list = new ListenerList(source, { invite: async () => false, remove: async () => false, withdraw: async () => false });
    list.show();
    await flush();
    (q(list.el, "listener-invite")[0] as HTMLButtonElement).click();
    await flush();
    expect(q(list.el, "listener-row")).toHaveLength(4);
  });
});

describe("HostPanel with the listener list", () => {
  it("shows it to moderators only and stops it when hidden", async () => {
    const { source, calls } = fakeSource(people);
    const list = new ListenerList(source, actions());
    const a = { setRole: vi.fn(), remove: vi.fn(), mute: vi.fn(), pin: vi.fn() };
    const panel = new HostPanel(a, list);
    const input = {
      me: "h",
      hands: ["u2"],
      members: [{ id: "h", role: "host" as const, micOn: true }],
      pinned: null,
      person: (id: string) => ({ id, name: id, picture: null }),
    };
    panel.update({ ...input, myRole: "listener" });
    await flush();
    expect(calls).toEqual([]);
    panel.update({ ...input, myRole: "host" });
    await flush();
    expect(panel.el.contains(list.el)).toBe(true);
    expect(calls).toHaveLength(1);
    // Remove and block from the raised-hands list too.
    const hand = q(panel.el, "hand")[0];
    (hand.querySelector('[data-testid="block"]') as HTMLButtonElement).click();
    expect(a.remove).toHaveBeenCalledWith("u2", true);
    panel.update({ ...input, myRole: "speaker" });
    expect(list.open).toBe(false);
  });

  it("keeps the search box, its text and its focus while hands and members change", async () => {
    const { source } = fakeSource(people);
    const list = new ListenerList(source, actions());
    const panel = new HostPanel({ setRole: vi.fn(), remove: vi.fn(), mute: vi.fn(), pin: vi.fn() }, list);
    document.body.append(panel.el);
    const input = {
      me: "h",
      myRole: "host" as const,
      hands: ["u2"],
      members: [{ id: "h", role: "host" as const, micOn: true }],
      pinned: null,
      person: (id: string) => ({ id, name: id, picture: null }),
    };
    panel.update(input);
    await flush();
    const search = list.el.querySelector('input[type="search"]') as HTMLInputElement;
    search.focus();
    search.value = "An";
    panel.update({ ...input, hands: ["u2", "u3"] }); // a hand goes up while the host types
    expect(q(panel.el, "hand")).toHaveLength(2);
    expect(list.el.querySelector('input[type="search"]')).toBe(search);
    expect(document.activeElement).toBe(search);
    expect(search.value).toBe("An");
    panel.el.remove();
  });
});

describe("the search box's limit", () => {
  it("is the API's 64 characters in code points, cut before the query is taken", () => {
    const { source } = fakeSource([]);
    const list = new ListenerList(source, { invite: async () => true, remove: async () => true, withdraw: async () => true });
    const search = q(list.el, "listener-search")[0] as HTMLInputElement;
    expect(search.hasAttribute("maxlength")).toBe(false);
    search.value = "é🌟".repeat(40);
    search.dispatchEvent(new InputEvent("input"));
    expect(Array.from(search.value)).toHaveLength(64);
    expect(search.value.length).toBe(96); // 32 é + 32 stars: within the API's limit, beyond maxlength's
  });
});
