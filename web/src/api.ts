/** The Spaces API (issue 2), typed. Every call carries the signed-in user's bearer token. */
import type * as Schema from "./api.gen";
import { type HlsGrant, type JoinGrant, parseGrant, type WebRtcGrant } from "./broadcast";
import { servesNewerPage } from "./update_notice";
import { type SpaceState, TOKEN_RATE_LIMITED_RULE, type VideoPolicy, type VideoSource } from "./contract.gen";

export type { SpaceState, VideoPolicy };
export type Role = Schema.WebRtcTokenResponse["role"];

export interface Space {
  id: string;
  title: string;
  state: SpaceState;
  host: string;
  cohosts: string[];
  speakers: string[];
  video: VideoPolicy;
  listener_count: number;
  raised_hands: string[];
  /** id -> display name of the host, co-hosts, speakers and raised hands the API knows (docs/identity.md). */
  names?: Record<string, string>;
  /** id -> avatar URL of the same people who have one (shown only if https, people.ts). */
  pictures?: Record<string, string>;
  /** The Space's version when the API read it; orders an answer against the room metadata pushes. */
  version?: number;
  pinned?: string | null;
  /** What of `pinned` the big tile shows (absent from an older control plane: the camera). */
  pinned_source?: VideoSource;
  room_name?: string | null;
  created_at?: string | null;
  scheduled_start?: string | null;
  started_at?: string | null;
  ended_at?: string | null;
  /** Where the Space's broadcast is (null when the deployment has no broadcast tier). */
  broadcast?: Broadcast | null;
  /** A scheduled Space: the CDN address of the state.json its broadcast writes at the start
   * (start_watch.ts); null otherwise, and absent from an older control plane. */
  start_signal_url?: string | null;
  /** Until when the recording of an ended Space can be replayed (ISO time), or null. */
  recording_available_until?: string | null;
  /** Whether its broadcast is kept as a recording once it ends (`isRecorded`; absent from an older
   * control plane, which kept every one). */
  record?: boolean;
  /** Whether I am blocked from this Space (null in lists, which read no blocks). */
  caller_blocked?: boolean | null;
  /** While the host is out of the room: when the Space ends unless they are back (the API's ISO
   * time, or epoch ms from the room metadata); null while they are there (`hostAwayUntilMs`). */
  host_away_until?: string | number | null;
  /** The seats beside the host's this deployment allows (absent from an older control plane). */
  seats?: Seats;
  /** A live Space: what a listener's token would be now (`hls`: the room's WebRTC audience is
   * full); null otherwise, absent from an older control plane. */
  listener_mode?: "webrtc" | "hls" | null;
  /** Invitations to speak waiting for an answer: id -> when each lapses (ISO time). A moderator's
   * read holds all of them, anyone else's at most their own; absent from an older control plane. */
  invitations?: Record<string, string>;
}

/** How many co-hosts and speakers a Space may have at once: an invitation needs a free seat. */
export interface Seats {
  cohosts: number;
  speakers: number;
}

/** When the Space ends unless its away host is back (epoch ms), or null: the host is there. */
export function hostAwayUntilMs(space: Pick<Space, "host_away_until" | "state"> | null): number | null {
  const until = space?.state === "live" ? space.host_away_until : null;
  if (typeof until === "number") return until > 0 ? until : null;
  if (typeof until === "string") {
    const ms = Date.parse(until);
    return Number.isFinite(ms) ? ms : null;
  }
  return null;
}

export interface Broadcast {
  /** Every segment from the start: the recording once the Space has ended. */
  playlist_url: string;
  /** The last segments only: what a live viewer plays (absent from an older control plane). */
  live_playlist_url?: string;
  timeline_url: string;
}

export interface SpacePage {
  items: Space[];
  cursor: string | null;
}

/** One listener in the host's listener list (GET /spaces/{id}/listeners). */
export interface ListenerEntry {
  user_id: string;
  name: string;
  picture: string | null;
  hand_raised?: boolean;
  joined_at: string;
  /** Their tag in the pushed documents' `removed_viewers`: a removal by another moderator takes the
   * row off the list (absent from an older API). */
  viewer_tag?: string;
}

export interface ListenerPage {
  items: ListenerEntry[];
  /** Pass back (with the same `q`) for the next page; null on the last page. */
  next_cursor: string | null;
}

export interface ListenersQuery {
  /** A name prefix; case and accents are ignored. */
  q?: string;
  cursor?: string | null;
  limit?: number;
}

export interface SpaceCreate {
  title: string;
  video: VideoPolicy;
  /** Keep the broadcast as a recording once the Space ends (the API's default: true). */
  record?: boolean;
  scheduled_start?: string;
}

/**
 * The page's view of each answer it reads (and of the body it sends) against the API's own schema
 * (api.gen.ts, generated from the OpenAPI document by `python -m functions.api.typescript`). Fields
 * the page marks optional are what it copes without (an older control plane, a room's push); each
 * must still exist in the schema with a type the page accepts, so a field renamed, dropped or
 * retyped on the server fails `tsc`, not a user.
 */
type Reads<Page, Answer> = [Exclude<keyof Page, keyof Answer>] extends [never] ? (Answer extends Page ? true : false) : false;
type Sends<Page, Body> = [Exclude<keyof Page, keyof Body>] extends [never] ? (Page extends Body ? true : false) : false;
type Holds<T extends true> = T;
export type FitsTheApi = [
  Holds<Reads<Space, Schema.SpacePublic>>,
  Holds<Reads<Seats, Schema.Seats>>,
  Holds<Reads<Broadcast, Schema.Broadcast>>,
  Holds<Reads<SpacePage, Schema.SpacePage>>,
  Holds<Reads<ListenerPage, Schema.ListenerPageOut>>,
  Holds<Reads<ListenerEntry, Schema.ListenerPublic>>,
  Holds<Reads<WebRtcGrant, Schema.WebRtcTokenResponse>>,
  Holds<Reads<HlsGrant, Schema.HlsTokenResponse>>,
  Holds<Sends<SpaceCreate, Schema.SpaceCreate>>,
];

/** An API refusal, with the server's own words so the page can show them. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
    /** The rule the API named (`{"rule": ...}` beside `detail`), when it named one. */
    readonly rule: string | null = null,
    /** The answer's Retry-After in seconds (a 503 or a 429 says when to come back), if any. */
    readonly retryAfterSeconds: number | null = null,
  ) {
    super(`${status}: ${detail}`);
  }
}

/**
 * Refusals the same request is worth sending again for: the API's 503, which names its rule (its
 * store was busy or out of reach; nothing was changed), and API Gateway's own throttle, a 429 that
 * names no rule (the request never reached the API). A 429 the API names (a reaction sent too fast)
 * is the caller's to handle; a 503 without a rule comes from the gateway (an integration failure)
 * and promises nothing about what was done.
 */
export function isTransient(err: ApiError): boolean {
  return (err.status === 503 && err.rule !== null) || (err.status === 429 && err.rule === null);
}

/** How many times a call is sent again after a transient refusal (docs/web.md, "A busy API"). */
export const TRANSIENT_RETRIES = 3;
/** The wait before retry n (0-based) when the answer names none: 1, 2, 4 s. */
export const TRANSIENT_FIRST_WAIT_MS = 1000;
/** The longest wait before a retry: an answer asking for more is not retried (the caller's error shows). */
export const TRANSIENT_WAIT_CAP_MS = 30_000;

/**
 * The wait before retry `n`: never sooner than the answer's Retry-After (or 1, 2, 4 s without one),
 * and up to half as long again, so a crowd told the same comes back spread over that time; never
 * more than TRANSIENT_WAIT_CAP_MS. Null when the answer asks for longer than that: no retry.
 */
export function transientWaitMs(n: number, retryAfterSeconds: number | null, random: () => number = Math.random): number | null {
  const base = retryAfterSeconds !== null ? retryAfterSeconds * 1000 : TRANSIENT_FIRST_WAIT_MS * 2 ** n;
  if (base > TRANSIENT_WAIT_CAP_MS) return null;
  return Math.min(TRANSIENT_WAIT_CAP_MS, Math.round(base * (1 + 0.5 * random())));
}

/**
 * Retry-After as seconds: delta-seconds, or an HTTP date (which always ends in GMT); null when absent
 * or anything else (Date.parse would read "1.5" as a date in 2001).
 */
export function parseRetryAfter(value: string | null, nowMs: number = Date.now()): number | null {
  if (value === null) return null;
  if (/^\s*\d+\s*$/.test(value)) return Number(value);
  if (!/GMT\s*$/.test(value)) return null;
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - nowMs) / 1000));
}

/**
 * The join path (the Space's read when a page opens, the token request of a join) keeps trying
 * through a busy API for this long, in waits (docs/web.md, "A busy API"): a mass reload of a large
 * Space (every page reading, then asking for a token, within seconds) outlasts the 3 retries other
 * calls get, and a page left on an error card is a listener lost.
 */
export const JOIN_RETRY_BUDGET_MS = 60_000;
/** The ceiling of the first join-path wait; it doubles per retry up to JOIN_WAIT_CAP_MS. */
export const JOIN_FIRST_WAIT_MS = 1000;
/** The largest ceiling of one join-path wait (before a Retry-After is added). */
export const JOIN_WAIT_CAP_MS = 15_000;

/**
 * Whether a join-path call is worth sending again: a transient refusal (isTransient), the gateway's
 * own 503 (an integration failure: a read, or a token request, is safe to send twice, and the
 * reconnect asks for tokens the same way), no answer at all (status 0: the network), or the join
 * limit (429 `token_rate_limited`: after the Retry-After it names).
 */
export function isJoinRetryable(err: ApiError): boolean {
  return isTransient(err) || err.status === 503 || err.status === 0 || (err.status === 429 && err.rule === TOKEN_RATE_LIMITED_RULE);
}

/**
 * The wait before join-path retry `n`: fully jittered, a random part of min(JOIN_WAIT_CAP_MS,
 * JOIN_FIRST_WAIT_MS * 2^n), so a crowd that failed together comes back spread over the whole
 * ceiling; after the answer's Retry-After when it names one.
 */
export function joinWaitMs(n: number, retryAfterSeconds: number | null, random: () => number = Math.random): number {
  const ceiling = Math.min(JOIN_WAIT_CAP_MS, JOIN_FIRST_WAIT_MS * 2 ** n);
  return Math.round((retryAfterSeconds ?? 0) * 1000 + random() * ceiling);
}

/** A call on the join path (JOIN_RETRY_BUDGET_MS): what the page is told, and when to stop. */
export interface JoinPath {
  /** Before each wait: the page says it is busy (or out of reach: `err.status` 0) and trying again. */
  busy?: (waitMs: number, err: ApiError) => void;
  /** Aborted (the person left the page): the request in flight is aborted, a wait ends at once, and
   * nothing is sent again. */
  signal?: AbortSignal;
}

/** How a call paces its retries; tests give their own clock. */
export interface Pacing {
  /** Resolves after `ms`, or as soon as `signal` is aborted (the caller then checks which). */
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  random: () => number;
}

const REAL_PACING: Pacing = {
  sleep: (ms, signal) =>
    new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      // The join path's signal lives as long as the page: each wait takes its listener off again.
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener("abort", done, { once: true });
    }),
  random: Math.random,
};

interface CallOptions {
  headers?: Record<string, string>;
  /** Transient refusals sent again (TRANSIENT_RETRIES by default; 0: the caller handles them). */
  retries?: number;
  /** On the join path: retried for JOIN_RETRY_BUDGET_MS instead (`retries` is then unused). */
  join?: JoinPath;
}

function ruleOf(body: unknown): string | null {
  const rule = (body as { rule?: unknown } | null)?.rule;
  return typeof rule === "string" ? rule : null;
}

/** FastAPI says why in `detail`: a string (403/404/409) or a list of field errors (422). */
function describe(status: number, body: unknown): string {
  const detail = (body as { detail?: unknown } | null)?.detail;
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail
      .map((d: { loc?: unknown[]; msg?: string }) => {
        const field = (d.loc ?? []).filter((p) => p !== "body").join(".");
        return field ? `${field}: ${d.msg ?? "invalid"}` : (d.msg ?? "invalid");
      })
      .join("; ");
  }
  return `request failed (HTTP ${status})`;
}

/**
 * Gets a fresh bearer token after a 401 (dev: re-issued by the API; cloud: the identity provider's
 * refresh token). Resolves true when the next call can use a new token.
 */
export type TokenRefresher = () => Promise<boolean>;

export class Api {
  /** The refresh in flight: every call that meets a 401 meanwhile waits for this one. */
  private refreshing: Promise<boolean> | null = null;
  /** Called when an answer says the API serves a newer page generation than this page's
   * (update_notice.ts): every answer, refusals included, is read for it. */
  onNewerPage: (() => void) | null = null;

  constructor(
    readonly baseUrl: string,
    private readonly bearer: () => string | null,
    private readonly refresh: TokenRefresher = async () => false,
    private readonly pacing: Pacing = REAL_PACING,
  ) {}

  /**
   * One API call. A transient refusal (isTransient: the store was busy, the gateway throttled) is
   * sent again after the wait it names, up to `retries` times, so a join storm or a throttled table
   * costs a moment, not an error. Safe: such a refusal changed nothing, and a create carries the
   * same Idempotency-Key each time. On the join path, an abort of its signal ends a wait at once with
   * the refusal it was waiting out, and aborts the request in flight (rejected with the signal's
   * reason, an AbortError, which is no ApiError and so never retried).
   */
  private async call<T>(method: string, path: string, body?: unknown, options: CallOptions = {}): Promise<T> {
    const { headers = {}, retries = TRANSIENT_RETRIES, join } = options;
    let waited = 0;
    for (let n = 0; ; n++) {
      try {
        return await this.authorised<T>(method, path, body, headers, join?.signal);
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        let wait: number | null;
        if (join) {
          wait = isJoinRetryable(err) && !join.signal?.aborted ? joinWaitMs(n, err.retryAfterSeconds, this.pacing.random) : null;
          if (wait !== null && waited + wait > JOIN_RETRY_BUDGET_MS) wait = null;
        } else {
          wait = isTransient(err) && n < retries ? transientWaitMs(n, err.retryAfterSeconds, this.pacing.random) : null;
        }
        if (wait === null) throw err;
        waited += wait;
        join?.busy?.(wait, err);
        await this.pacing.sleep(wait, join?.signal);
        if (join?.signal?.aborted) throw err;
      }
    }
  }

  /**
   * A 401 refreshes the token and retries once; a second 401 (or a failed refresh) is thrown as
   * ApiError 401, which the caller shows as "sign in again" without leaving the room.
   */
  private async authorised<T>(
    method: string,
    path: string,
    body: unknown,
    headers: Record<string, string>,
    signal?: AbortSignal,
  ): Promise<T> {
    try {
      return await this.send<T>(method, path, body, headers, signal);
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 401) throw err;
      this.refreshing ??= this.refresh()
        .catch(() => false)
        .finally(() => {
          this.refreshing = null;
        });
      if (!(await this.refreshing)) throw err;
      return this.send<T>(method, path, body, headers, signal);
    }
  }

  private async send<T>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
    signal?: AbortSignal,
    keepalive = false,
  ): Promise<T> {
    const token = this.bearer();
    let resp: Response;
    try {
      resp = await fetch(this.baseUrl + path, {
        method,
        headers: {
          ...(body === undefined ? {} : { "content-type": "application/json" }),
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...headers,
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
        ...(keepalive ? { keepalive } : {}),
      });
    } catch (err) {
      // Given up by the caller, not lost by the network: what the abort said (what fetch threw
      // where a browser gives no reason), which is no ApiError and so is not retried.
      if (signal?.aborted) throw signal.reason ?? err;
      throw new ApiError(0, `cannot reach the Spaces API at ${this.baseUrl}`);
    }
    if (this.onNewerPage && servesNewerPage(resp.headers)) this.onNewerPage();
    const text = await resp.text();
    let parsed: unknown = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = null;
    }
    if (!resp.ok) {
      const retryAfter = parseRetryAfter(resp.headers.get("retry-after"));
      throw new ApiError(resp.status, describe(resp.status, parsed), ruleOf(parsed), retryAfter);
    }
    return parsed as T;
  }

  /** Local mode only: the API mints a dev bearer token for any user id. */
  /** Local mode: a dev token; `profile` becomes its `name` and `picture` claims. */
  devToken(userId: string, profile: { name?: string | null; picture?: string | null } = {}): Promise<{ token: string }> {
    const body: Record<string, string> = { user_id: userId };
    if (profile.name) body.name = profile.name;
    if (profile.picture) body.picture = profile.picture;
    return this.send("POST", "/dev/token", body);
  }

  async listSpaces(state: SpaceState, limit = 50): Promise<Space[]> {
    const page = await this.call<SpacePage | Space[]>("GET", `/spaces?state=${state}&limit=${limit}`);
    return Array.isArray(page) ? page : (page.items ?? []);
  }

  /** `join`: the read a page opening on the Space makes (the join path: retried longer). */
  getSpace(id: string, join?: JoinPath): Promise<Space> {
    return this.call("GET", `/spaces/${encodeURIComponent(id)}`, undefined, { join });
  }

  /**
   * `idempotencyKey`: one per submission the person makes (the form keeps it, and sends it again
   * when the same submission is tried again): however many times it is sent, one Space. The
   * retries of this call carry it too.
   */
  createSpace(input: SpaceCreate, idempotencyKey: string = crypto.randomUUID()): Promise<Space> {
    return this.call("POST", "/spaces", input, { headers: { "idempotency-key": idempotencyKey } });
  }

  startSpace(id: string): Promise<Space> {
    return this.call("POST", `/spaces/${encodeURIComponent(id)}/start`);
  }

  endSpace(id: string): Promise<Space> {
    return this.call("POST", `/spaces/${encodeURIComponent(id)}/end`);
  }

  /**
   * One emoji reaction (REACTION_EMOJI); 429 when sent faster than the API allows. Never sent again
   * by itself: a reaction seconds late is noise, and a busy store is no time to add load.
   */
  react(id: string, emoji: string): Promise<void> {
    return this.call("POST", `/spaces/${encodeURIComponent(id)}/reactions`, { emoji }, { retries: 0 });
  }

  /** An HLS viewer's presence heartbeat (heartbeat.ts): counted once per window; a refused one is
   * skipped. `presenceTag`: the HLS answer's, which shows the API sent this viewer to the broadcast. */
  presence(id: string, presenceTag: string): Promise<void> {
    const query = new URLSearchParams({ presence_tag: presenceTag });
    return this.call("POST", `/spaces/${encodeURIComponent(id)}/presence?${query}`, undefined, { retries: 0 });
  }

  /**
   * A WebRTC token, or (for a listener beyond the interactive threshold) the broadcast to watch.
   * `rejoinSince`: only when the page comes back by itself, the `issued_at` of its last grant; a
   * host's removal after it is refused (409 `removed`). `join`: a join the page makes once (the
   * card, a reload, a promotion), retried longer; a reconnect's attempts have their own backoff.
   */
  async joinToken(id: string, rejoinSince: string | null = null, join?: JoinPath): Promise<JoinGrant> {
    const qs = rejoinSince ? `?${new URLSearchParams({ rejoin_since: rejoinSince })}` : "";
    const raw = await this.call<unknown>("POST", `/spaces/${encodeURIComponent(id)}/token${qs}`, undefined, { join });
    try {
      return parseGrant(raw);
    } catch (err) {
      throw new ApiError(502, `the API answered the join unexpectedly: ${(err as Error).message}`);
    }
  }

  /** Host and co-hosts: a page of the Space's listeners in name order, optionally by name prefix. */
  listeners(id: string, query: ListenersQuery = {}): Promise<ListenerPage> {
    const params = new URLSearchParams();
    if (query.q) params.set("q", query.q);
    if (query.cursor) params.set("cursor", query.cursor);
    if (query.limit) params.set("limit", String(query.limit));
    const qs = params.toString();
    return this.call("GET", `/spaces/${encodeURIComponent(id)}/listeners${qs ? `?${qs}` : ""}`);
  }

  raiseHand(id: string): Promise<unknown> {
    return this.call("POST", `/spaces/${encodeURIComponent(id)}/hand`);
  }

  lowerHand(id: string): Promise<unknown> {
    return this.call("DELETE", `/spaces/${encodeURIComponent(id)}/hand`);
  }

  /**
   * The page goes (pagehide) with the hand up: lowered by a request that outlives the page
   * (`keepalive`: fetch is called before this returns), once, with the token held now; its answer
   * is never read. Best effort: a crashed browser sends nothing (docs/web.md).
   */
  lowerHandAsPageGoes(id: string): void {
    void this.send("DELETE", `/spaces/${encodeURIComponent(id)}/hand`, undefined, {}, undefined, true).catch(() => undefined);
  }

  /** `from`: the role the caller saw the person in; if it changed since, 409 `role_changed` and nothing changes. */
  async setRole(id: string, userId: string, role: Exclude<Role, "host">, from?: Exclude<Role, "host">): Promise<unknown> {
    const path = `/spaces/${encodeURIComponent(id)}/roles/${encodeURIComponent(userId)}`;
    if (!from) return this.call("PUT", path, { role });
    try {
      return await this.call("PUT", path, { role, from_role: from });
    } catch (err) {
      // An API older than this page refuses the field it does not know (422 naming it): the page
      // and the API deploy separately, so moderation must not stop until both are new.
      if (err instanceof ApiError && err.status === 422 && err.detail.includes("from_role")) {
        return this.call("PUT", path, { role });
      }
      throw err;
    }
  }

  /** A moderator invites a listener to speak: they are asked, and go on stage only if they agree
   * (someone with a raised hand goes at once). */
  invite(id: string, userId: string): Promise<unknown> {
    return this.call("POST", `/spaces/${encodeURIComponent(id)}/invitations/${encodeURIComponent(userId)}`);
  }

  /** A moderator takes back an invitation not yet answered. */
  withdrawInvitation(id: string, userId: string): Promise<unknown> {
    return this.call("DELETE", `/spaces/${encodeURIComponent(id)}/invitations/${encodeURIComponent(userId)}`);
  }

  /** My answer to an invitation to speak: yes puts me on stage (409 `not_invited` once it is gone). */
  answerInvitation(id: string, accept: boolean): Promise<unknown> {
    return this.call(accept ? "POST" : "DELETE", `/spaces/${encodeURIComponent(id)}/invitation`);
  }

  /** The host hands the Space to a co-host (POST /spaces/{id}/host). */
  handOver(id: string, userId: string): Promise<unknown> {
    return this.call("POST", `/spaces/${encodeURIComponent(id)}/host`, { user_id: userId });
  }

  mute(id: string, userId: string): Promise<unknown> {
    return this.call("POST", `/spaces/${encodeURIComponent(id)}/participants/${encodeURIComponent(userId)}/mute`);
  }

  remove(id: string, userId: string, block: boolean): Promise<unknown> {
    return this.call(
      "POST",
      `/spaces/${encodeURIComponent(id)}/participants/${encodeURIComponent(userId)}/remove`,
      { block },
    );
  }

  /** Pin `userId`'s camera, or their screen share (host and co-hosts); null unpins. */
  pin(id: string, userId: string | null, source: VideoSource = "camera"): Promise<unknown> {
    return this.call("PUT", `/spaces/${encodeURIComponent(id)}/spotlight`, { user_id: userId, source });
  }
}
