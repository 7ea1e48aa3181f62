/**
 * The host's listener list (host and co-hosts): the audience from the API, in name order, with a
 * search box, "More" paging, and invite (or, once invited, withdraw) / remove / block per row. It reads only while it is open
 * and when the user acts (opening, typing, "More", "Refresh"); never on a timer (issue 9).
 */
import { ApiError, type ListenerEntry, type ListenerPage } from "../../api";
import { avatar, clear, h, limitCodePoints, rebuildKeepingFocus } from "../../dom";

/** One page: the name prefix typed (may be empty) and the cursor of the previous page. */
export type ListenerSource = (q: string, cursor: string | null) => Promise<ListenerPage>;

export interface ListenerActions {
  /** Each resolves true when the API accepted the action. A removed row leaves the list; an invited
   * one stays, marked, until its person accepts (then the stage's push takes it out). */
  invite(id: string, name: string): Promise<boolean | "gone">;
  remove(id: string, block: boolean, name: string): Promise<boolean>;
  /** Take back an invitation not yet answered. */
  withdraw(id: string, name: string): Promise<boolean>;
}

export interface ListenerListOptions {
  /** Milliseconds of no typing before a search is sent. */
  debounceMs?: number;
  setTimer?: (fn: () => void, ms: number) => number;
  clearTimer?: (handle: number) => void;
}

/** The longest query the API takes (functions/domain/audience.py QUERY_MAX_CHARS), in code points. */
export const SEARCH_MAX_CHARS = 64;

/** A search waits for a pause in typing: one request per pause, not one per key. */
export const SEARCH_DEBOUNCE_MS = 300;

export class ListenerList {
  readonly el = h("section", { class: "listener-list", "data-testid": "listener-list" });
  private readonly search = h("input", {
    type: "search",
    placeholder: "Search by name",
    "aria-label": "Search listeners by name",
    "data-testid": "listener-search",
  });
  private readonly rows = h("ul", { class: "people", "data-testid": "listener-rows" });
  private readonly status = h("p", { class: "muted small", "data-testid": "listener-status", role: "status" });
  private readonly more = h("button", { class: "btn small", "data-testid": "listener-more", hidden: true }, "More");
  private items: ListenerEntry[] = [];
  /** Who has an invitation to speak waiting, as the page's Space says (`sync`). */
  private invited: ReadonlySet<string> = new Set();
  /** Who is on stage and who was removed, as the last `sync` said: a page read later (Refresh,
   * More) is filtered by them too, since the audience index lags a removal by about a second. */
  private onStage: ReadonlySet<string> = new Set();
  private removed: Readonly<Record<string, number>> = {};
  private cursor: string | null = null;
  private query = "";
  private isOpen = false;
  /** Answers to an older query or page are dropped. */
  private generation = 0;
  private timer: number | undefined;
  private readonly debounceMs: number;
  private readonly setTimer: (fn: () => void, ms: number) => number;
  private readonly clearTimer: (handle: number) => void;

  constructor(
    private readonly source: ListenerSource,
    private readonly actions: ListenerActions,
    options: ListenerListOptions = {},
  ) {
    this.debounceMs = options.debounceMs ?? SEARCH_DEBOUNCE_MS;
    this.setTimer = options.setTimer ?? ((fn, ms) => window.setTimeout(fn, ms));
    this.clearTimer = options.clearTimer ?? ((handle) => window.clearTimeout(handle));
    const refresh = h("button", { class: "btn small", "data-testid": "listener-refresh", onclick: () => void this.load(true) }, "Refresh");
    // The API takes a query of up to 64 characters, counted in code points (before this listener
    // reads it, so a search never asks for more).
    limitCodePoints(this.search, SEARCH_MAX_CHARS);
    this.search.addEventListener("input", () => this.typed());
    this.more.addEventListener("click", () => void this.load(false));
    this.el.append(h("h2", {}, "Audience"), h("div", { class: "listener-tools" }, this.search, refresh), this.rows, this.status, this.more);
  }

  get open(): boolean {
    return this.isOpen;
  }

  /** The panel is shown: read the first page, once per showing (later reads are the user's). A
   * panel shown again (a co-host demoted and made co-host again) reads afresh: what it showed
   * before may be minutes old. */
  show(): void {
    if (this.isOpen) return;
    this.isOpen = true;
    void this.load(true);
  }

  /** What the page knows since the list was read (roles, hands and removals are pushed to it):
   * someone now on stage is no longer in the audience, nor is someone another moderator removed
   * after the joined time the row shows (`removed`: viewer tag -> when), and the ✋ is the live
   * queue's. Redrawn only on a change, so the search box and a focused row keep the focus. */
  sync(
    onStage: ReadonlySet<string>,
    hands: ReadonlySet<string>,
    invited: ReadonlySet<string> = new Set(),
    removed: Readonly<Record<string, number>> = {},
  ): void {
    this.onStage = onStage;
    this.removed = removed;
    const kept = this.items.filter((i) => this.listed(i));
    const marks = this.items.some((i) => this.invited.has(i.user_id) !== invited.has(i.user_id));
    this.invited = invited;
    const stale = marks || kept.length !== this.items.length || kept.some((i) => !!i.hand_raised !== hands.has(i.user_id));
    if (!stale) return;
    this.replace(kept.map((i) => ({ ...i, hand_raised: hands.has(i.user_id) })));
  }

  /** Whether `i` is still in the audience as far as the page knows: not on stage, and not removed
   * after the joined time its row shows (a removal as the room's documents name it: the same
   * "after" as contract/room_metadata.py). */
  private listed(i: ListenerEntry): boolean {
    if (this.onStage.has(i.user_id)) return false;
    const tag = i.viewer_tag;
    return !tag || !Object.prototype.hasOwnProperty.call(this.removed, tag) || this.removed[tag] <= Date.parse(i.joined_at);
  }

  /** The panel is hidden: nothing more is read, a pending search is dropped. */
  hide(): void {
    this.isOpen = false;
    this.generation++;
    if (this.timer !== undefined) this.clearTimer(this.timer);
    this.timer = undefined;
  }

  private typed(): void {
    if (this.timer !== undefined) this.clearTimer(this.timer);
    this.timer = this.setTimer(() => {
      this.timer = undefined;
      if (this.search.value.trim() !== this.query) void this.load(true);
    }, this.debounceMs);
  }

  /** The first page for the search box's text (`fresh`), or the next page of the current one. */
  async load(fresh: boolean): Promise<void> {
    if (!this.isOpen) return;
    const query = fresh ? this.search.value.trim() : this.query;
    const cursor = fresh ? null : this.cursor;
    const generation = ++this.generation;
    this.status.textContent = "Loading…";
    let page: ListenerPage;
    try {
      page = await this.source(query, cursor);
    } catch (err) {
      const why = err instanceof ApiError ? err.detail : (err as Error).message; // the API's words, not "0: ..."
      if (generation === this.generation) this.status.textContent = `Could not load listeners: ${why}`;
      return;
    }
    if (generation !== this.generation) return;
    this.query = query;
    const read = page.items.filter((i) => this.listed(i));
    this.items = fresh ? read : [...this.items, ...read.filter((i) => !this.items.some((o) => o.user_id === i.user_id))];
    this.cursor = page.next_cursor;
    this.draw();
  }

  private draw(): void {
    clear(this.rows);
    this.fillRows();
    this.drawStatus();
  }

  private fillRows(): void {
    this.rows.append(...this.items.map((item) => this.row(item)));
  }

  private drawStatus(): void {
    this.more.hidden = this.cursor === null;
    this.status.textContent =
      this.items.length > 0
        ? ""
        : this.query
          ? `No listener's name starts with “${this.query}”.`
          : // Read when the panel opened, not live (100,000 listeners cannot be pushed): the header's
            // count may have moved on since.
            "No listeners when this list was read. Refresh to read it again.";
  }

  /** The rows become `items`. A focused button stays focused in its row; if its row left, the same
   * button on the row that took its place (the next one, or the last), else the search box, rather
   * than the top of the page. */
  private replace(items: ListenerEntry[]): void {
    const active = document.activeElement;
    const button = active instanceof HTMLElement && this.rows.contains(active) ? active : null;
    const id = button?.closest<HTMLElement>("[data-identity]")?.dataset.identity;
    const at = id === undefined ? -1 : this.items.findIndex((i) => i.user_id === id);
    this.items = items;
    rebuildKeepingFocus(this.rows, () => this.fillRows());
    this.drawStatus();
    if (button && at >= 0 && !items.some((i) => i.user_id === id)) this.focusAt(at, button.dataset.testid);
  }

  /** The focus on the button `testid` of the row now at `at` (the last, if fewer), else the search box. */
  private focusAt(at: number, testid: string | undefined): void {
    const next = this.rows.children[Math.min(at, this.rows.children.length - 1)];
    (next?.querySelector<HTMLElement>(`[data-testid="${testid}"]`) ?? this.search).focus();
  }

  private row(item: ListenerEntry): HTMLElement {
    // The shared face: the picture (https only) or initials of the name (dom.ts).
    const picture = avatar(item.user_id, "s", { name: item.name, picture: item.picture });
    /** `keep`: the row stays when the API took it (an invitation sent or withdrawn). */
    const act = (button: HTMLButtonElement, run: () => Promise<boolean | "gone">, keep = false) => async () => {
      // Read before disabling it: a disabled button loses the focus.
      const focused = document.activeElement === button ? button.dataset.testid : undefined;
      // Where the row is now: a push may take it out of the list before the answer comes (a raised
      // hand's invitation puts them on stage at once), and the focus then goes to the row after it.
      const at = this.items.findIndex((i) => i.user_id === item.user_id);
      button.disabled = true;
      const ok = await run();
      button.disabled = false;
      if (!ok) return;
      if (!keep || ok === "gone") return this.drop(item.user_id, focused, at);
      // The row stays, redrawn with its mark by the answer: the focus goes to its first button, or
      // to the row after it if the person went on stage meanwhile.
      if (focused === undefined) return;
      const row = this.rows.querySelector<HTMLElement>(`[data-identity="${CSS.escape(item.user_id)}"]`);
      if (row) row.querySelector<HTMLElement>("button")?.focus();
      else if (at >= 0) this.focusAt(at, focused);
    };
    const invite = h("button", { class: "btn small btn-primary", "data-testid": "listener-invite" }, "Invite to speak");
    const withdraw = h("button", { class: "btn small", "data-testid": "listener-withdraw", title: "Take the invitation back: they stay in the audience" }, "Withdraw");
    const remove = h("button", { class: "btn small btn-danger", "data-testid": "listener-remove" }, "Remove");
    const block = h("button", { class: "btn small btn-danger", "data-testid": "listener-block" }, "Block");
    invite.addEventListener("click", act(invite, () => this.actions.invite(item.user_id, item.name), true));
    withdraw.addEventListener("click", act(withdraw, () => this.actions.withdraw(item.user_id, item.name), true));
    remove.addEventListener("click", act(remove, () => this.actions.remove(item.user_id, false, item.name)));
    block.addEventListener("click", act(block, () => this.actions.remove(item.user_id, true, item.name)));
    // Invited, waiting for their answer: the row says so and offers to take it back.
    const waiting = this.invited.has(item.user_id);
    const mark = waiting ? h("span", { class: "muted small", "data-testid": "listener-invited" }, " · Invited") : null;
    return h(
      "li",
      { "data-testid": "listener-row", "data-identity": item.user_id, role: "group", "aria-label": item.name },
      picture,
      h("span", { class: "who" }, item.name, item.hand_raised ? h("span", { class: "muted small", "data-testid": "listener-hand" }, " ✋") : null, mark),
      h("span", { class: "actions" }, waiting ? withdraw : invite, remove, block),
    );
  }

  /** `focused`: the testid of the row's button that had the focus when it was clicked; `at`: the
   * row's place then. The same button on the row that took its place gets the focus. */
  private drop(id: string, focused: string | undefined, at: number): void {
    if (this.items.some((i) => i.user_id === id)) this.replace(this.items.filter((i) => i.user_id !== id));
    if (focused !== undefined && at >= 0) this.focusAt(at, focused);
  }
}
