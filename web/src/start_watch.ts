/**
 * A page showing a scheduled Space notices its start without asking the API on a timer.
 *
 * The composer writes state.json beside the broadcast as the Space goes live (the room metadata
 * for viewers without a room). Until then the CDN answers 403 or 404 (cached 1 s at CloudFront), so
 * a page on a scheduled Space's link reads the API's `start_signal_url` there every START_WATCH_MS,
 * give or take a fifth, and only while the tab is visible (a tab shown again reads at once). The
 * first document whose state is not "scheduled" stops the watch and is handed to the page, which
 * takes it as it takes state.json on the broadcast (it is the room metadata) and redraws its card
 * with Join. An audience waiting on a shared link costs the API nothing at the start.
 *
 * No composer runs for a Space cancelled before its start, so nothing ever says its end there: the
 * API is asked instead (`askApi`: the page reads the Space, and an ended one stops the watch), at
 * most every API_CHECK_MS ± a fifth, when a tab is shown again (a person back at it) and, once the
 * scheduled start is API_CHECK_AFTER_START_MS past without a start (a cancel, a host who is late, a
 * composer that never starts), on the watch's reads, each tab from its own moment within the next
 * API_CHECK_MS, so a waiting audience asks at an even rate rather than all at once. Before its time
 * a waiting tab left open and in view learns of a cancel at the scheduled start plus that.
 */

import { spread } from "./jitter";

export const START_WATCH_MS = 15_000;
/** The API is asked at most this often by one watch (`askApi`). */
export const API_CHECK_MS = 120_000;
/** How long past its scheduled start a Space that has not started is asked about at each read. */
export const API_CHECK_AFTER_START_MS = 120_000;

export interface StartWatchDeps {
  /** The document's text, or null when it is not there (yet) or could not be read. */
  fetchText: (url: string) => Promise<string | null>;
  /** The Space has started (or ended since): `text` is the document that says so. */
  started: (text: string) => void;
  visible: () => boolean;
  /** Read the Space from the API (a cancel says so nowhere else); its answer is the page's. */
  askApi: () => void;
  /** The scheduled start (epoch ms), or null when there is none. */
  startsAt: number | null;
  now: () => number;
  random: () => number;
  setTimer: (fn: () => void, ms: number) => unknown;
  clearTimer: (handle: unknown) => void;
}

/** Whether a state.json text says the Space is past its schedule: live, or ended already. */
export function startedIn(text: string | null): boolean {
  if (text === null) return false;
  try {
    const doc: unknown = JSON.parse(text);
    const state = doc && typeof doc === "object" ? (doc as { state?: unknown }).state : undefined;
    return state === "live" || state === "ended";
  } catch {
    return false; // not the document (an error page served as 200): keep watching
  }
}

export class StartWatch {
  private timer: unknown = null;
  private reading = false;
  private stopped = false;
  /** When the API may be asked again (epoch ms). */
  private nextAsk = -Infinity;
  /** This tab's own delay past API_CHECK_AFTER_START_MS before its reads ask (within API_CHECK_MS). */
  private readonly lateBy: number;

  constructor(
    private readonly url: string,
    private readonly deps: StartWatchDeps,
  ) {
    this.lateBy = deps.random() * API_CHECK_MS;
  }

  /** The first read comes one interval after the page's own read of the Space. */
  start(): void {
    this.arm();
  }

  /** The tab is visible again: read at once (a hidden tab read nothing meanwhile). */
  shown(): void {
    if (this.stopped) return;
    this.disarm();
    this.askApi();
    void this.read();
  }

  stop(): void {
    this.stopped = true;
    this.disarm();
  }

  private arm(): void {
    const wait = Math.round(spread(START_WATCH_MS, this.deps.random));
    this.timer = this.deps.setTimer(() => {
      this.timer = null;
      if (this.deps.visible()) void this.read(); // hidden: shown() reads when the tab comes back
    }, wait);
  }

  private disarm(): void {
    if (this.timer !== null) this.deps.clearTimer(this.timer);
    this.timer = null;
  }

  private async read(): Promise<void> {
    if (this.reading || this.stopped) return;
    this.reading = true;
    let text: string | null = null;
    try {
      text = await this.deps.fetchText(this.url);
    } catch {
      text = null; // the network: the next read tries again
    } finally {
      this.reading = false;
    }
    if (this.stopped) return;
    if (text !== null && startedIn(text)) {
      this.stop();
      this.deps.started(text);
      return;
    }
    const startsAt = this.deps.startsAt;
    if (startsAt !== null && this.deps.now() >= startsAt + API_CHECK_AFTER_START_MS + this.lateBy) this.askApi();
    if (this.timer === null) this.arm();
  }

  /** The API is asked, unless it was less than API_CHECK_MS (± a fifth) ago. */
  private askApi(): void {
    const now = this.deps.now();
    if (now < this.nextAsk) return;
    this.nextAsk = now + spread(API_CHECK_MS, this.deps.random);
    this.deps.askApi();
  }
}
