/**
 * What the Space page knows, without any DOM: the Space, my role, how I am connected (WebRTC room or
 * HLS broadcast), whether my sign-in needs renewing. The views draw from it; the room, state.json
 * and the API feed it.
 *
 * Push, not poll (issue 9): the Space is fetched once per (re)connect; after that every change
 * arrives as room metadata (everyone), the hands message (moderators) or state.json (HLS viewers),
 * and as the API's own answer to an action this page took. Nothing here runs on a timer.
 */
import type { ApiError, JoinPath, Role, Space } from "./api";
import type { JoinGrant } from "./broadcast";
import { afterPoll } from "./broadcast";
import type { RaisedHands, RoomMetadata, VideoSource } from "./contract.gen";
import { mergeNames } from "./people";
import { mergeMetadata, removedSince } from "./pushed";
import { seatedOf } from "./stage";

/** The API calls the page makes; a fake in tests. */
export interface SpaceApi {
  getSpace(id: string, join?: JoinPath): Promise<Space>;
  startSpace(id: string): Promise<Space>;
  endSpace(id: string): Promise<Space>;
  joinToken(id: string): Promise<JoinGrant>;
  raiseHand(id: string): Promise<unknown>;
  lowerHand(id: string): Promise<unknown>;
  setRole(id: string, userId: string, role: Exclude<Role, "host">, from?: Exclude<Role, "host">): Promise<unknown>;
  mute(id: string, userId: string): Promise<unknown>;
  remove(id: string, userId: string, block: boolean): Promise<unknown>;
  pin(id: string, userId: string | null, source?: VideoSource): Promise<unknown>;
  handOver(id: string, userId: string): Promise<unknown>;
  invite(id: string, userId: string): Promise<unknown>;
  withdrawInvitation(id: string, userId: string): Promise<unknown>;
  answerInvitation(id: string, accept: boolean): Promise<unknown>;
}

export type Transport = "webrtc" | "hls" | null;

const DAY_MS = 24 * 3600 * 1000;

/** An action that got no answer: nothing was changed that the page knows of. */
export const ACT_UNREACHABLE = "Could not reach the Spaces API: check your connection, then try again.";

export type ActResult = { ok: true } | { ok: false; message: string; rule?: string | null };

function isSpace(v: unknown): v is Space {
  const s = v as Partial<Space> | null;
  return !!s && typeof s === "object" && typeof s.id === "string" && typeof s.host === "string" && Array.isArray(s.raised_hands);
}

export class SpaceController {
  space: Space | null = null;
  /** The newest pushed version taken; older pushes are ignored. */
  version = 0;
  /** The version of the last room metadata (or state.json) taken, -1 before any. */
  private pushedVersion = -1;
  private handsVersion = 0;
  /** How many hands messages were taken: an API answer does not undo one that came while it was on its way. */
  private handsTaken = 0;
  /** My raise or lower on its way (its answer not yet adopted), if any. */
  private handAction: Promise<ActResult> | null = null;
  /** The latest removals the pushed documents name (viewer tag -> when, the API's epoch ms): an open
   * audience list drops the rows of people another moderator removed. */
  removedViewers: Readonly<Record<string, number>> = {};
  /** My answer to an invitation on its way (its answer not yet adopted), if any. */
  private answerAction: Promise<ActResult> | null = null;
  /** How many times I joined (room or broadcast): a lowering on leave stops if I came back. */
  private joins = 0;
  transport: Transport = null;
  /** The role the join token carried (until the Space says otherwise). */
  joinedRole: Role | null = null;
  /** When the API issued the grant of my last join (the room's or the broadcast's): a comeback sends it. */
  issuedAt: string | null = null;
  /** On the broadcast: my tag in state.json's removed viewers and when my grant was issued (epoch ms). */
  private viewer: { tag: string; issuedMs: number } | null = null;
  /** My tag in the pushed documents' `invited` (any grant's), null before a join or from an older API. */
  private tag: string | null = null;
  /** The API's clock minus this page's (ms), from my last grant's `issued_at`: an invitation lapses
   * by the API's clock, and a page whose clock is off by minutes would otherwise never see one, or
   * see one the API already refuses. 0 before a grant. */
  clockOffset = 0;
  /** The last pushed version a moderator's page read the Space again for (its invitations). */
  private invitationsReadFor = -1;
  /** State.json said a host removed me after my grant: the broadcast is over for this page. */
  removedFromBroadcast = false;
  /** A 401 survived a token refresh: the page asks to sign in again; the media session goes on. */
  signInAgain = false;
  /** Why the last load failed ("" when it did not). */
  loadError: { status: number; detail: string } | null = null;
  private listeners = new Set<() => void>();

  constructor(
    private readonly api: SpaceApi,
    readonly spaceId: string,
    readonly me: string,
  ) {}

  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private emit(): void {
    for (const fn of this.listeners) fn();
  }

  // ---- what the page knows -------------------------------------------------------------------

  /**
   * Who holds which role: the Space once the page has it (kept current by the pushes), before that
   * the role attribute the SFU shows (`attr`), or for me the role my join token carried.
   */
  roleOf(identity: string, attr: Role | null = null): Role {
    const s = this.space;
    if (s) {
      if (s.host === identity) return "host";
      if (s.cohosts.includes(identity)) return "cohost";
      if (s.speakers.includes(identity)) return "speaker";
      return "listener";
    }
    return attr ?? (identity === this.me ? this.joinedRole : null) ?? "listener";
  }

  get myRole(): Role {
    return this.roleOf(this.me);
  }

  get moderator(): boolean {
    return this.myRole === "host" || this.myRole === "cohost";
  }

  /** The stage in the order its members took their seats (host, co-hosts, speakers, as stored):
   * what `stageOrder` orders by. Empty before the Space is known. */
  get seated(): string[] {
    return this.space ? seatedOf(this.space) : [];
  }

  get handRaised(): boolean {
    return !!this.space?.raised_hands.includes(this.me);
  }

  get hands(): string[] {
    return this.space?.raised_hands ?? [];
  }

  /** id -> display name, from every document the page has taken (people.ts says what wins). */
  get names(): Record<string, string> {
    return this.space?.names ?? {};
  }

  /** id -> avatar URL, from the same documents. */
  get pictures(): Record<string, string> {
    return this.space?.pictures ?? {};
  }

  /** An invitation to speak waiting for my answer: when it lapses (epoch ms, the API's clock),
   * null when there is none I may still answer at `now` (this page's clock). */
  invitedUntil(now: number): number | null {
    const until = this.space?.invitations?.[this.me];
    const ms = until ? Date.parse(until) : Number.NaN;
    return this.myRole === "listener" && Number.isFinite(ms) && ms > now + this.clockOffset ? ms : null;
  }

  /** Who has an invitation to speak waiting at `now` (this page's clock): all of them for a
   * moderator, at most me for anyone else (the API shows no more). */
  invitedAt(now: number): string[] {
    return Object.entries(this.space?.invitations ?? {})
      .filter(([, until]) => Date.parse(until) > now + this.clockOffset)
      .map(([id]) => id);
  }

  /** When the next invitation waiting at `now` (this page's clock) lapses, by this page's clock; null
   * when none waits. */
  nextInvitationLapse(now: number): number | null {
    const lapses = Object.values(this.space?.invitations ?? {})
      .map((until) => Date.parse(until) - this.clockOffset)
      .filter((at) => at > now);
    return lapses.length > 0 ? Math.min(...lapses) : null;
  }

  /** Speaker seats held by invitations to others than `except` still waiting at `now`. */
  seatsHeld(now: number, except: string | null = null): number {
    return this.invitedAt(now).filter((id) => id !== except).length;
  }

  /** On the broadcast: what the latest state says a listener does next. */
  get broadcastNext(): "watch" | "join-room" | "ended" | "removed" {
    if (this.removedFromBroadcast) return "removed";
    return this.space ? afterPoll(this.space, this.me) : "watch";
  }

  // ---- feeds -----------------------------------------------------------------------------------

  /** The one API read: on open (`join`: the join path, retried longer) and on every (re)connect. */
  async load(join?: JoinPath): Promise<Space | null> {
    const hands = this.handsTaken;
    try {
      this.adopt(await this.api.getSpace(this.spaceId, join), hands !== this.handsTaken);
      this.loadError = null;
    } catch (err) {
      const e = err as ApiError;
      if (e.status === 401) this.signInAgain = true;
      this.loadError = { status: e.status, detail: e.detail ?? String(err) };
      this.emit();
      return null;
    }
    return this.space;
  }

  /**
   * An API answer (the Space after my action, or the one read). It may have been read before a push
   * that reached the page while the answer was on its way (a write waits for the reconciler's pass):
   * room metadata with a newer version, or a hands message (`handsPushed`). What those said stays.
   */
  adopt(space: Space, handsPushed = false): void {
    const held = this.space;
    let next = space;
    if (held && held.id === space.id) {
      // Names and faces only add up: a pushed one the answer was read too early to carry stays.
      next = { ...next, names: mergeNames(held.names, space.names), pictures: mergeNames(held.pictures, space.pictures) };
      if (typeof space.version === "number" && space.version < this.version) {
        const { title, state, host, cohosts, speakers, video, pinned, pinned_source, listener_count, host_away_until, invitations } = held;
        next = { ...next, title, state, host, cohosts, speakers, video, pinned, pinned_source, listener_count, host_away_until, invitations };
      } else if (space.version === this.version && this.pushedVersion === this.version) {
        // The same version pushed meanwhile: its listener count (which moves without a version,
        // webhooks keep it) was read after the answer's, so it is the newer one.
        next = { ...next, listener_count: held.listener_count };
      }
      if (handsPushed) next = { ...next, raised_hands: held.raised_hands };
      // A block is never lifted: an answer read before it (a raise on its way) does not undo it.
      if (held.caller_blocked) next = { ...next, caller_blocked: true };
    }
    next = this.withoutMyHandOnStage(next);
    if (typeof space.version === "number") this.version = Math.max(this.version, space.version);
    this.space = next;
    this.signInAgain = false;
    this.emit();
  }

  /** Room metadata (WebRTC) or state.json (HLS): the same document. True when it changed the Space. */
  pushed(doc: RoomMetadata): boolean {
    if (!this.space) return false;
    // An HLS viewer is in no room to be disconnected from: a removal reaches them only here. Read
    // from any document, whatever its version (a removal of a listener changes no version).
    const viewer = this.transport === "hls" ? this.viewer : null;
    if (viewer && !this.removedFromBroadcast && doc.space_id === this.space.id && removedSince(doc, viewer.tag, viewer.issuedMs)) {
      this.removedFromBroadcast = true;
      this.emit();
    }
    const removals = this.takeRemovals(doc);
    const merged = mergeMetadata(this.space, this.version, doc, { id: this.me, tag: this.tag });
    if (!merged) {
      if (removals) this.emit();
      return false;
    }
    this.readInvitationsIfUnknown(doc);
    const next = this.withoutMyHandOnStage(merged);
    this.version = doc.version;
    this.pushedVersion = doc.version;
    this.space = next;
    this.emit();
    return true;
  }

  /** The document's removals (`removed_viewers`), when it is this Space's and not older than the
   * last taken: they move without a version. True when they changed. */
  private takeRemovals(doc: RoomMetadata): boolean {
    if (!this.space || doc.space_id !== this.space.id || doc.version < this.pushedVersion) return false;
    if (JSON.stringify(doc.removed_viewers) === JSON.stringify(this.removedViewers)) return false;
    this.removedViewers = doc.removed_viewers;
    return true;
  }

  /**
   * A moderator's page knows the invitations it sent by id, but a document names them by tag only:
   * when the document holds a different number of them waiting (another moderator sent one, or one
   * was declined, withdrawn or accepted), the page reads the Space again, once per version, so its
   * seat count and the audience list's marks are the API's.
   */
  private readInvitationsIfUnknown(doc: RoomMetadata): void {
    if (!this.moderator || doc.version <= this.invitationsReadFor) return;
    const now = Date.now() + this.clockOffset;
    const waiting = Object.values(doc.invited).filter((until) => until > now).length;
    const known = Object.values(this.space?.invitations ?? {}).filter((until) => Date.parse(until) > now).length;
    if (waiting === known) return;
    this.invitationsReadFor = doc.version;
    void this.load();
  }

  /**
   * On stage, my hand is down: the API lowered it with the promotion (a speaker never holds one). A
   * non-moderator learns hands only from their own answers, so without this a later demotion would
   * show *Lower hand* for a hand no longer raised; and a raise's answer read before the promotion
   * (adopted after its push) would bring the hand back.
   */
  private withoutMyHandOnStage(space: Space): Space {
    const onStage = space.host === this.me || space.speakers.includes(this.me) || space.cohosts.includes(this.me);
    if (!onStage || !space.raised_hands.includes(this.me)) return space;
    return { ...space, raised_hands: space.raised_hands.filter((id) => id !== this.me) };
  }

  /** The hands message (moderators only). */
  pushedHands(msg: RaisedHands): void {
    if (!this.space || msg.space_id !== this.space.id || msg.version < this.handsVersion) return;
    this.handsVersion = msg.version;
    this.handsTaken += 1;
    this.space = {
      ...this.space,
      raised_hands: msg.hands,
      names: mergeNames(this.space.names, msg.names),
      pictures: mergeNames(this.space.pictures, msg.pictures),
    };
    this.emit();
  }

  joined(grant: JoinGrant): void {
    this.joins += 1;
    this.transport = grant.mode;
    this.joinedRole = grant.role;
    this.issuedAt = grant.issued_at;
    // A grant without a tag or a time (an older API) is told of no removal.
    const issuedMs = grant.issued_at ? Date.parse(grant.issued_at) : NaN;
    this.viewer = grant.mode === "hls" && grant.viewer_tag && Number.isFinite(issuedMs) ? { tag: grant.viewer_tag, issuedMs } : null;
    this.tag = grant.viewer_tag ?? null;
    // Clamped: a grant's time is the API's when it answered, a second or so before it arrived.
    this.clockOffset = Number.isFinite(issuedMs) ? Math.max(-DAY_MS, Math.min(DAY_MS, issuedMs - Date.now())) : 0;
    this.removedFromBroadcast = false;
    this.emit();
  }

  /** Out of the room or off the broadcast. Idempotent: only the first call tells the listeners. */
  left(): void {
    if (this.transport === null) return;
    this.transport = null;
    this.emit();
  }

  // ---- actions ---------------------------------------------------------------------------------

  /** Run one API action; its answer (a Space) is adopted. A 401 after the refresh asks to sign in again. */
  async act(call: (api: SpaceApi, id: string) => Promise<unknown>): Promise<ActResult> {
    const hands = this.handsTaken;
    try {
      const answer = await call(this.api, this.spaceId);
      if (isSpace(answer)) this.adopt(answer, hands !== this.handsTaken);
      return { ok: true };
    } catch (err) {
      const e = err as ApiError;
      if (e.status === 401) {
        this.signInAgain = true;
        this.emit();
        return { ok: false, message: "Your sign-in expired: sign in again to act. You are still in the Space." };
      }
      // No answer at all (offline, the API out of reach): what to do, not the API's address.
      if (e.status === 0) return { ok: false, message: ACT_UNREACHABLE, rule: null };
      return { ok: false, message: e.detail ?? String(err), rule: e.rule ?? null };
    }
  }

  raiseHand(up: boolean): Promise<ActResult> {
    return this.onItsWay("handAction", this.act((api, id) => (up ? api.raiseHand(id) : api.lowerHand(id))));
  }

  /** `action`, held in `slot` until it settles: what a Leave waits for (withdrawOnLeave). */
  private onItsWay(slot: "handAction" | "answerAction", action: Promise<ActResult>): Promise<ActResult> {
    this[slot] = action;
    void action.finally(() => {
      if (this[slot] === action) this[slot] = null;
    });
    return action;
  }

  /** My answer to an invitation to speak; Leave waits for one on its way (withdrawOnLeave). */
  answerInvitation(accept: boolean): Promise<ActResult> {
    return this.onItsWay("answerAction", this.act((api, id) => api.answerInvitation(id, accept)));
  }

  /**
   * Leaving on purpose: what takes me off the stage's queue, to run once out of the room (the
   * server's pass after it then finds me gone instead of racing my departure): my raised hand is
   * lowered and an invitation to speak waiting for me is declined (left waiting, it would hold a
   * speaker seat for someone who is gone until it lapses). A raise or an answer on its way when
   * Leave was clicked counts: its answer, which waits for the server's pass, can land after the
   * click (a yes that lands is not undone by a decline). Nothing is done by a page that never
   * joined (another tab of mine may be in the Space), nor once I joined again. Best effort, as the
   * lower and the decline are. (A reload or a closed tab lowers the hand by itself,
   * session.pageGoes, and leaves an invitation to lapse: the page cannot tell a reload, after which
   * the prompt is still there, from a closed tab.)
   */
  withdrawOnLeave(): () => Promise<void> {
    const pending = [this.handAction, this.answerAction];
    const joins = this.joins;
    return async () => {
      await Promise.all(pending);
      if (joins === 0 || this.joins !== joins) return;
      const lowered = this.handRaised ? this.raiseHand(false) : null;
      const declined = this.invitedUntil(Date.now()) !== null ? this.answerInvitation(false) : null;
      await Promise.all([lowered, declined]);
    };
  }
}
