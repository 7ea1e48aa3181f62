/** The lobby: live and scheduled Spaces, recordings of ended ones, and a form to create one. */
import type { App, View } from "../app";
import type { Space, SpaceCreate, VideoPolicy } from "../api";
import { ApiError } from "../api";
import { replayAvailable } from "../broadcast";
import { avatar, h, isBusy, limitCodePoints, localTime, markBusy, rebuildKeepingFocus, stale } from "../dom";
import { spread } from "../jitter";
import { personOf } from "../people";
import { LOBBY_POLL_MS, LOBBY_SLOW_MS } from "../names";

const VIDEO_LABEL: Record<VideoPolicy, string> = {
  off: "Audio only",
  host: "Host video",
  speakers: "Speaker video",
};

const when = localTime;

/** The API's limit on a title, in characters (code points: functions/api/schemas.py). */
export const TITLE_MAX_CHARS = 120;

/**
 * A card's facts side by side, a "·" between two on the same line (style.css draws it): a card that
 * wraps starts its next line with the fact, never with a stray dot.
 */
export function metaItems(...items: (HTMLElement | false)[]): HTMLElement {
  return h("span", { class: "meta-items" }, h("span", { class: "meta-list" }, ...items));
}

function spaceCard(app: App, space: Space): HTMLElement {
  const live = space.state === "live";
  const ended = space.state === "ended";
  const host = personOf(space.host, undefined, space.names, space.pictures);
  const page = `#/spaces/${encodeURIComponent(space.id)}${ended ? "/replay" : ""}`;
  const time = when(ended ? space.started_at : space.scheduled_start);
  return h(
    "a",
    {
      class: `space-card ${space.state}`,
      href: page,
      "data-testid": "space-card",
      "data-space-id": space.id,
      "data-state": space.state,
    },
    h(
      "div",
      { class: "space-card-top" },
      live
        ? h("span", { class: "badge live" }, "LIVE")
        : ended
          ? h("span", { class: "badge replay", "data-testid": "replay" }, "Replay")
          : h("span", { class: "badge" }, "Scheduled"),
      h("span", { class: "badge subtle" }, VIDEO_LABEL[space.video] ?? space.video),
    ),
    h("h3", {}, space.title),
    h(
      "div",
      { class: "space-card-meta" },
      avatar(space.host, "s", host),
      metaItems(
        h("span", { title: host.name }, space.host === app.session?.userId ? "You host" : `Hosted by ${host.name}`),
        live ? h("span", { class: "muted" }, `${space.listener_count} listening`) : !!time && h("span", { class: "muted" }, time),
      ),
    ),
  );
}

/** `date` as a datetime-local value (the viewer's time zone, to the minute). */
export function localMinute(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/**
 * The create form's Idempotency-Key: one per submission. Trying the same submission again (after
 * an error, a lost answer) sends the same key, so the API makes one Space however many times it
 * arrived; an edited submission is a new one, with a new key (the API refuses a key reused for
 * another body: 409 `idempotency_key_reused`).
 */
export class Submission {
  private last: { body: string; key: string } | null = null;

  constructor(private readonly newKey: () => string = () => crypto.randomUUID()) {}

  /** The key to send `input` with. */
  keyFor(input: SpaceCreate): string {
    const body = JSON.stringify(input);
    if (this.last?.body !== body) this.last = { body, key: this.newKey() };
    return this.last.key;
  }

  /** The submission made its Space: the next one, even with the same fields, is a new Space. */
  done(): void {
    this.last = null;
  }
}

/** What the create form says about a refusal: the API's words, or for a 422 what to change. */
export function createErrorText(err: ApiError): string {
  const detail = err.detail ?? String(err);
  if (err.status !== 422) return detail;
  if (/(^|; )title:/.test(detail)) return "Give the Space a title (up to 120 characters, with something visible in it).";
  if (/(^|; )scheduled_start:/.test(detail)) return "Choose a valid start time.";
  return detail;
}

export function lobbyView(app: App): View {
  const liveList = h("div", { class: "space-grid", "data-testid": "live-spaces" });
  const scheduledList = h("div", { class: "space-grid", "data-testid": "scheduled-spaces" });
  const recordingList = h("div", { class: "space-grid", "data-testid": "recordings" });
  const error = h("p", { class: "form-error", role: "alert", "data-testid": "lobby-error" });

  const slow = new SlowLists();

  async function refresh(): Promise<void> {
    try {
      const readSlow = slow.due();
      const [live, scheduled, ended] = await Promise.all([
        app.api.listSpaces("live"),
        readSlow ? app.api.listSpaces("scheduled") : null,
        // An API without the broadcast tier refuses state=ended (422): it has no recordings.
        readSlow
          ? app.api.listSpaces("ended").catch((err: ApiError) => (err.status === 422 ? [] : Promise.reject(err)))
          : null,
      ]);
      if (scheduled && ended) slow.read(scheduled, ended.filter((s) => replayAvailable(s)));
      for (const [list, spaces, empty] of [
        [liveList, live, "Nobody is live right now. Start a Space!"],
        [scheduledList, slow.scheduledBeside(live), "Nothing scheduled."],
        [recordingList, slow.recordings, "No recordings yet."],
      ] as const) {
        if (!stale(list, spaces)) continue; // unchanged: keep the cards (and any click in flight)
        // A count that moved redraws the list: a keyboard user's card keeps the focus.
        rebuildKeepingFocus(list, () => {
          if (spaces.length === 0) list.append(h("p", { class: "muted empty" }, empty));
          for (const s of spaces) list.append(spaceCard(app, s));
        });
      }
      error.textContent = "";
    } catch (err) {
      slow.failed();
      const e = err as ApiError;
      if (e.status === 401) return app.signOut();
      error.textContent = `Could not load Spaces: ${e.detail ?? e.message}`;
    }
  }

  const title = h("input", {
    name: "title",
    required: true,
    placeholder: "What's happening?",
    "data-testid": "create-title",
  });
  // The API's 120 characters are code points (pydantic's max_length), not maxlength's UTF-16 units.
  limitCodePoints(title, TITLE_MAX_CHARS);
  const video = h(
    "select",
    { name: "video", "data-testid": "create-video" },
    h("option", { value: "speakers" }, VIDEO_LABEL.speakers),
    h("option", { value: "host" }, VIDEO_LABEL.host),
    h("option", { value: "off" }, VIDEO_LABEL.off),
  );
  // The API's default; unticked, the audience still gets the live broadcast but nothing is kept.
  const record = h("input", { type: "checkbox", name: "record", checked: true, "data-testid": "create-record" });
  // The picker offers no time already past (typed in anyway, the API keeps it as given).
  const schedule = h("input", { type: "datetime-local", name: "scheduled_start", "data-testid": "create-schedule", min: localMinute(new Date()) });
  const createError = h("p", { id: "create-error", class: "form-error", role: "alert", "data-testid": "create-error" });
  for (const input of [title, schedule]) input.setAttribute("aria-describedby", "create-error");
  /** A refusal, marked on the field it is about (and focused there), or on none. */
  const refuse = (message: string): void => {
    createError.textContent = message;
    const field = /title/i.test(message) ? title : /start time/i.test(message) ? schedule : null;
    for (const input of [title, schedule]) {
      if (input === field) input.setAttribute("aria-invalid", "true");
      else input.removeAttribute("aria-invalid");
    }
    field?.focus();
  };

  const submit = h("button", { type: "submit", class: "btn btn-primary", "data-testid": "create-submit" }, "Create");
  const submission = new Submission();
  const form = h(
    "form",
    {
      class: "card create",
      "data-testid": "create-form",
      onsubmit: async (ev: Event) => {
        ev.preventDefault();
        // One create at a time: a double click (or Enter twice) waits for the first one's answer.
        if (isBusy(submit)) return;
        refuse("");
        const input: SpaceCreate = { title: title.value.trim(), video: video.value as VideoPolicy };
        // Sent only when turned off: an API from before the choice refuses a field it does not know.
        if (!record.checked) input.record = false;
        if (schedule.value) input.scheduled_start = new Date(schedule.value).toISOString();
        markBusy(submit, true);
        try {
          const space = await app.api.createSpace(input, submission.keyFor(input));
          submission.done();
          app.navigate(`#/spaces/${encodeURIComponent(space.id)}`);
        } catch (err) {
          refuse(createErrorText(err as ApiError));
        } finally {
          markBusy(submit, false);
        }
      },
    },
    h("h2", {}, "Create a Space"),
    h("label", {}, "Title", title),
    h("label", {}, "Video", video),
    h("label", { class: "check", title: "Kept for replay after the Space ends. Unticked, the live broadcast still plays but is deleted within two days." }, record, "Keep a recording to replay"),
    h("label", {}, "Start later (optional)", schedule),
    submit,
    createError,
  );

  const el = h(
    "section",
    { class: "lobby", "data-testid": "lobby" },
    h("h1", { class: "visually-hidden" }, "Spaces"),
    h("div", { class: "lists" }, error, h("h2", {}, "Live now"), liveList, h("h2", {}, "Scheduled"), scheduledList, h("h2", {}, "Recordings"), recordingList),
    form,
  );
  let refreshedAt = Date.now();
  void refresh();
  let timer = 0;
  const pollLater = () => {
    timer = window.setTimeout(() => {
      // A hidden tab reads nothing; it catches up when it is shown again.
      if (!document.hidden) {
        refreshedAt = Date.now();
        void refresh();
      }
      pollLater();
    }, lobbyPollDelay());
  };
  const shown = () => {
    if (document.hidden || Date.now() - refreshedAt < LOBBY_POLL_MS) return;
    refreshedAt = Date.now();
    void refresh();
  };
  pollLater();
  document.addEventListener("visibilitychange", shown);
  return {
    el,
    unmount: () => {
      window.clearTimeout(timer);
      document.removeEventListener("visibilitychange", shown);
    },
  };
}

/**
 * The lists a lobby reads only once they are LOBBY_SLOW_MS old (the first refresh reads them), as
 * last read. A refresh that failed makes the next one read them again.
 */
export class SlowLists {
  private readAt = -Infinity;
  private scheduled: Space[] = [];
  /** Every Space the live list has shown since the scheduled list was read: started since. */
  private startedSince = new Set<string>();
  recordings: Space[] = [];

  constructor(private readonly now: () => number = Date.now) {}

  /** Whether this refresh reads the scheduled list and the recordings. */
  due(): boolean {
    return this.now() - this.readAt >= LOBBY_SLOW_MS;
  }

  read(scheduled: Space[], recordings: Space[]): void {
    this.readAt = this.now();
    this.scheduled = scheduled;
    this.recordings = recordings;
    this.startedSince.clear();
  }

  failed(): void {
    this.readAt = -Infinity;
  }

  /** The scheduled Spaces without any the live list has shown since they were read (one that
   * started and has ended since too). */
  scheduledBeside(live: Space[]): Space[] {
    for (const s of live) this.startedSince.add(s.id);
    return this.scheduled.filter((s) => !this.startedSince.has(s.id));
  }
}

/** The wait before the lobby's next refresh: LOBBY_POLL_MS give or take a fifth, so the pages a
 * Space's end sent to the lobby together do not keep refreshing together. */
export function lobbyPollDelay(random: () => number = Math.random): number {
  return Math.round(spread(LOBBY_POLL_MS, random));
}
