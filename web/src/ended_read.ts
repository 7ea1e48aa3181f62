/**
 * The read of an ended Space by a page that watched its broadcast: whether (and until when) its
 * recording can be replayed is the API's, and nothing pushed says it. Every HLS viewer of a Space
 * reaches the stream's end within the same few seconds, so a 100k audience reading at once would
 * use up the API's stage for everyone; each page waits a random moment first, over a window that
 * grows with the audience (docs/web.md, "The end and the replay"). The page already says the Space
 * ended meanwhile: only its *Replay* waits.
 */

/** The reads per second a whole audience's spread aims at: ~the design point's join storm (100k
 * listeners in a minute, ~3,400 requests/s), which the stage's 5,000/s is sized for. */
export const ENDED_READS_PER_SECOND = 2500;
/** The shortest window: any audience on the broadcast is hundreds (webrtc_listener_limit, 250). */
export const ENDED_READ_MIN_SPREAD_MS = 5_000;
/** The longest window, reached at 75,000 listeners (100k then read at ~3,300/s). */
export const ENDED_READ_MAX_SPREAD_MS = 30_000;
/** Reads at most: the composer can write the end a moment before the API has stored it. */
export const ENDED_READ_ATTEMPTS = 3;
/** The wait before a read is repeated, stretched by a random 0–100 % (2–4 s). */
export const ENDED_READ_REPEAT_MS = 2_000;

/** The window the first read is spread over for an audience of `listeners` (the pushed count). */
export function endedReadSpreadMs(listeners: number): number {
  const wanted = (Math.max(0, listeners) * 1000) / ENDED_READS_PER_SECOND;
  return Math.min(ENDED_READ_MAX_SPREAD_MS, Math.max(ENDED_READ_MIN_SPREAD_MS, wanted));
}

export interface EndedReadOptions {
  /** The audience the page last knew of (state.json's listener_count). */
  listeners: number;
  /** True once the page is gone (or elsewhere): no read after that. */
  stopped: () => boolean;
  random?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/**
 * Reads the Space (`read`: the controller's load, whose answer redraws the page) after a random wait
 * within endedReadSpreadMs; while the answer still says it is not ended, again 2–4 s later, at most
 * ENDED_READ_ATTEMPTS reads in all. A failed read (null) is not repeated: the API's own retries ran.
 */
export async function readEndedSpread(read: () => Promise<{ state: string } | null>, options: EndedReadOptions): Promise<void> {
  const random = options.random ?? Math.random;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  for (let attempt = 0; attempt < ENDED_READ_ATTEMPTS; attempt++) {
    const wait = attempt === 0 ? random() * endedReadSpreadMs(options.listeners) : ENDED_READ_REPEAT_MS * (1 + random());
    await sleep(Math.round(wait));
    if (options.stopped()) return;
    const space = await read();
    if (!space || space.state === "ended") return;
  }
}
