/**
 * The Space page's connection: which room or broadcast it is in, and how it gets there and back.
 * `SpaceSession` owns the join (a fresh token, then the room or the broadcast, one at a time), the
 * reconnect after a drop (rejoin.ts Reconnector), a listener's promotion from the broadcast to the
 * room (with its retry bookkeeping), the broadcast's own ends (removed, ended: seen on state.json)
 * and the leave. It knows nothing of the DOM: what the page should show is told through
 * `SessionScreen` (views/space.ts draws it); what the page knows of the Space is the controller's
 * (space_controller.ts), which this feeds from the room and the broadcast.
 *
 * Its dependencies (the API, the room factory, the broadcast opener, timers, the clock, randomness)
 * are injected, so space_session.test.ts drives it with fakes.
 */
import type { Api, ApiError, JoinPath, Role } from "./api";
import type { HlsGrant } from "./broadcast";
import { REMOVED_RULE } from "./contract.gen";
import { readEndedSpread } from "./ended_read";
import type { BroadcastPlayer } from "./hls_player";
import { type Capture, isStageRole, publishError, publishRights, REMOVED_MESSAGE, type SpaceRoom } from "./media";
import { type Live, PublishMemory } from "./publishing";
import { parseRoomMetadata } from "./pushed";
import { type Attempt, type KeyValue, Presence, Reconnector, type ReconnectorOptions, type SeatChannel, TabSeats } from "./rejoin";
import type { SpaceController } from "./space_controller";
import type { BroadcastHooks, BroadcastStage } from "./views/broadcast_stage";
import { parseBurst, type ReactionsOverlay } from "./views/reactions";
import { BroadcastWatch, type WatchDeps } from "./views/space/broadcast_watch";
import { HandNotices, handsNotice, roleNotice } from "./views/space/people";

/** A first connect to the room that failed (offline, the media server out of reach): said while
 * the page tries again with the reconnect's backoff, and once it gives up. */
export const FIRST_CONNECT_RETRYING = "Could not connect to the Space: check your connection. Trying again…";
export const FIRST_CONNECT_FAILED = "Could not connect to the Space. Check your connection and rejoin.";
/** What a listener invited to the stage from the broadcast is told when the room's connection fails. */
export const STAGE_JOIN_FAILED = "Could not connect you to the stage.";

/** What a removed person reads once the Space says the removal was a block. */
export const BLOCKED_MESSAGE = "You were removed from this Space and blocked by a host: you cannot join it again.";

/** What a speaker reads when a host or co-host muted their microphone. */
export const HOST_MUTED_NOTICE = "A host muted your microphone. Unmute when you want to speak again.";

/** Longest wait for the player to reach the end of the stream once the Space has ended (ms). */
export const PLAY_OUT_MS = 15_000;

/** What a join-path call's signal says once aborted (joinOnce races the token request with it). */
const ABORTED: unique symbol = Symbol("aborted");

/** `call`'s answer, or ABORTED as soon as `signal` is aborted (its late answer is dropped). */
async function unlessAborted<T>(call: Promise<T>, signal: AbortSignal): Promise<T | typeof ABORTED> {
  let off = () => undefined as void;
  const aborted = new Promise<typeof ABORTED>((resolve) => {
    if (signal.aborted) return resolve(ABORTED);
    const onAbort = () => resolve(ABORTED);
    signal.addEventListener("abort", onAbort, { once: true });
    off = () => signal.removeEventListener("abort", onAbort);
  });
  try {
    return await Promise.race([call, aborted]);
  } finally {
    off();
  }
}

/** The live connection, as the page shows it to the console (window.spaces). */
export type Exposed = { room: SpaceRoom["room"] | null; broadcast?: BroadcastPlayer | null };

/** What the session tells the page to show; the page draws it from the controller and the session. */
export interface SessionScreen {
  /** Whatever the page shows now, from the controller and the session (the card, a message kept). */
  draw(): void;
  /** The page's room changed: its stage, controls and panel are drawn again. */
  update(): void;
  /** A room became the page's: its stage is built (then `update`). */
  stage(): void;
  /** The broadcast `view` is now what the page shows. */
  broadcast(view: BroadcastStage): void;
  /** A message instead of the Space; `rejoin`: with a button (labelled `action`) that joins again. */
  message(text: string, rejoin: boolean, action?: string): void;
  /** Removed from the broadcast by a host: the page says so (a block, or Join again). */
  removed(): void;
  /** Trying again by itself; `first`: the room of this join was never up. */
  reconnecting(first: boolean): void;
  /** The API is busy on the join path (`unreachable`: it did not answer at all, the network): the
   * page says so while the call keeps trying. */
  busy(unreachable: boolean): void;
  /** A notice (`error`: something failed). */
  toast(text: string, kind?: "error"): void;
}

export interface SessionDeps {
  spaceId: string;
  me: string;
  ctl: SpaceController;
  api: Pick<Api, "joinToken" | "presence" | "lowerHandAsPageGoes">;
  screen: SessionScreen;
  /** A new, unconnected room. */
  newRoom: () => SpaceRoom;
  /** Opens the broadcast's player view with the session's own hooks (the page adds its actions). */
  openBroadcast: (playlistUrl: string, hooks: Pick<BroadcastHooks, "retry" | "leave">) => Promise<BroadcastStage>;
  /** Starts what runs while the broadcast is watched (heartbeat, stall check, feeds). */
  newWatch?: (view: BroadcastStage, deps: WatchDeps) => BroadcastWatch;
  /** Where reactions float (the room's bursts, the broadcast's feed). */
  reactions: ReactionsOverlay;
  fetchText: (url: string) => Promise<string | null>;
  /** sessionStorage: which Space this tab is in, across a reload. */
  sessionStorage: KeyValue | null;
  /** This origin's channel for tab seats; null without BroadcastChannel. */
  seatChannel: SeatChannel | null;
  /** window.spaces. */
  expose?: (spaces: Exposed) => void;
  now?: () => number;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (handle: unknown) => void;
  random?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** The reconnect's pacing, beyond its attempt (tests). */
  reconnect?: Omit<ReconnectorOptions, "attempt">;
}

/** How long a demotion's notice waits for a removal that may follow it (the reconciler's pass takes
 * the role, then disconnects, within a few hundred milliseconds). */
export const DEMOTION_NOTICE_DELAY_MS = 1500;

export class SpaceSession {
  /** The page's room (connecting, connected, or ended: its status says which). */
  private media: SpaceRoom | null = null;
  private readonly handNotices = new HandNotices();
  /** The broadcast being watched (an HLS viewer), with its heartbeat, stall check and polls. */
  private watch: BroadcastWatch | null = null;
  /** Bumped by every leaveBroadcast: a watchBroadcast still opening its player then gives way. */
  private broadcastGeneration = 0;
  /** The person muted the broadcast in a player this page has closed: the next one starts muted. */
  private broadcastMuted = false;
  private joining = false;
  // A join asked for while another ran (Try again, Rejoin): made once that one is over.
  private joinAgain = false;
  // A room connecting before it is the page's (under the broadcast or "Reconnecting…"), with its
  // feeds' unsubscribers: a leave or unmount meanwhile disconnects it (LiveKit aborts a connect).
  private pending: { room: SpaceRoom; off: (() => void)[] } | null = null;
  // A promotion whose room could not connect: asked again when the Space changes (a newer
  // version) or, on a network where only WebRTC fails, after a growing pause, not on every poll.
  private promotionFailures = 0;
  /** Moved back to the audience in the room, not yet told nor followed to where a listener joining
   * now goes (roomUp): the removal that may follow is awaited, or the room was reconnecting when the
   * move was due. */
  private audienceMoveDue: { notice: string } | null = null;
  private promotionFailedVersion = -1;
  private promotionRetryAt = 0;
  private disposed = false;
  private error = "";
  /**
   * A comeback (a reload's, a reconnect's) or a promotion from the broadcast that has not come to an
   * end: the grant time it names, so that the Rejoin, Try again or retry it leaves behind is the same
   * one and still learns of a removal meanwhile (rejoin_since). Cleared once in, once refused as
   * removed, and by a Leave (of the room or of the broadcast).
   */
  private comebackSince: string | null = null;
  /** Left the room or the broadcast with *Leave* (until the next join): nothing offers to join the stage. */
  private leftByMe = false;
  get leftOnPurpose(): boolean {
    return this.leftByMe;
  }

  /** Left the broadcast with *Leave*: its message stays until the next join. */
  private leftTheBroadcast = false;
  /** state.json said a host removed me from the broadcast: the message stays until the next join. */
  private removedWasSeen = false;
  /** state.json said the Space ended (the message stays until the API agrees). */
  private endedWasSeen = false;
  /** state.json said ended and the player is playing out the stream's last seconds. */
  private playingOut = false;
  /** The room closed for good (ended, removed): the Space was read again once for its message. */
  private readAfterLeaving = false;
  /** Whether the room of this join was ever up: a failure before says "could not connect", after "lost". */
  private connectedOnce = false;
  /** My role as the connected page last showed it: a change a moderator made is told once (people.ts roleNotice). */
  private shownRole: Role | null = null;
  private unsubscribe: (() => void)[] = [];
  /** A start on its way: a second click (the card's button waits too) sends no second POST /start. */
  private starting = false;
  /** Aborted when the page goes: a join-path call waiting out a busy API stops asking. */
  private readonly leaving = new AbortController();
  /** The watched broadcast's own: aborted when it is left (leaveBroadcast) or the page goes; a
   * promotion's quiet token request from it stops asking, and its join gives way at once. */
  private watchAbort: { controller: AbortController; off: () => void } | null = null;
  /** The page's room whose end was acted upon (roomEnded): once per room, not on every change. */
  private endedRoom: SpaceRoom | null = null;
  /** The page's room whose end is said with a message: redrawn as the Space read after it changes. */
  private endedMessage: SpaceRoom | null = null;
  /** The controller's listener (dispose). */
  private readonly offCtl: () => void;
  /** Which Space this tab is in, across a reload (rejoin.ts). */
  private readonly presence: Presence;
  /** Whether another tab holds this tab's seat (a duplicated tab's copy of `presence`): rejoin.ts. */
  private readonly seats: TabSeats;
  /** After a dropped connection: fresh token, new room, capped backoff, until in again or refused. */
  private readonly reconnector: Reconnector;
  /** What I chose to publish, for a page-level reconnect to bring back (publishing.ts). */
  readonly publishing = new PublishMemory();

  private readonly spaceId: string;
  private readonly ctl: SpaceController;
  private readonly screen: SessionScreen;
  private readonly now: () => number;
  private readonly setTimer: (fn: () => void, ms: number) => unknown;
  private readonly clearTimer: (handle: unknown) => void;
  private readonly expose: (spaces: Exposed) => void;

  constructor(private readonly deps: SessionDeps) {
    this.spaceId = deps.spaceId;
    this.ctl = deps.ctl;
    this.screen = deps.screen;
    this.now = deps.now ?? (() => Date.now());
    this.setTimer = deps.setTimer ?? ((fn, ms) => setTimeout(fn, ms));
    this.clearTimer = deps.clearTimer ?? ((handle) => clearTimeout(handle as ReturnType<typeof setTimeout>));
    this.expose = deps.expose ?? (() => undefined);
    this.presence = new Presence(deps.sessionStorage);
    this.seats = new TabSeats(deps.seatChannel);
    this.seats.holding(() => {
      const seat = this.presence.seat(this.spaceId);
      return seat && (this.media || this.watch || this.reconnector.running) ? { space: this.spaceId, seat } : null;
    });
    this.reconnector = new Reconnector({ random: deps.random, sleep: deps.sleep, ...deps.reconnect, attempt: () => this.joinOnce(true) });
    // Registered before the page's own listener: what the session tells comes before the page draws.
    this.offCtl = this.ctl.onChange(() => this.ctlChanged());
  }

  // ---- what the page reads ------------------------------------------------------------------------

  /** The page's room, if any (its status says whether it is up). */
  get room(): SpaceRoom | null {
    return this.media;
  }

  /** Watching the broadcast. */
  get watching(): boolean {
    return this.watch !== null;
  }

  /** Gone: the page was left (dispose). */
  get closed(): boolean {
    return this.disposed;
  }

  /** Why the last join failed, for the card ("" when none did). */
  get joinError(): string {
    return this.error;
  }

  /** Left the broadcast with *Leave*: its message stays until the next join. */
  get leftBroadcast(): boolean {
    return this.leftTheBroadcast;
  }

  /** state.json said a host removed me from the broadcast (until the next join). */
  get removedSeen(): boolean {
    return this.removedWasSeen;
  }

  /** state.json said the Space ended (its message stays until the API agrees). */
  get endedSeen(): boolean {
    return this.endedWasSeen;
  }

  /**
   * A join-path call (the read a page opens with, the token of a join): it keeps trying through a
   * busy API for up to a minute (api.ts), and the page says so (SessionScreen.busy) instead of
   * showing nothing or an error, once per call. `quiet`: said nowhere (a promotion: the broadcast
   * plays on meanwhile), and stopped by leaving the watched broadcast as well as the page.
   */
  joinPath(quiet = false): JoinPath {
    let said: boolean | null = null; // what was said: unreachable or not
    return {
      signal: (quiet && this.watchAbort?.controller.signal) || this.leaving.signal,
      busy: (_wait, err) => {
        const unreachable = err.status === 0;
        if (quiet || said === unreachable || this.disposed) return;
        said = unreachable;
        this.screen.busy(unreachable);
      },
    };
  }

  // ---- opening, joining ---------------------------------------------------------------------------

  /** The page opens: the Space is read; a reload of a page that was in it goes back in without a click. */
  async open(): Promise<void> {
    const space = await this.ctl.load(this.joinPath());
    // A reload of a page that was in this Space: back in without a click, in the role stored now.
    if (this.disposed || !this.presence.wasIn(this.spaceId)) return;
    if (space?.state !== "live") {
      if (space) this.presence.forget();
      return;
    }
    // Not a copy of a tab that is in it (a duplicated tab): that one keeps its seat, this one shows the card.
    if (await this.seats.heldElsewhere(this.spaceId, this.presence.seat(this.spaceId))) {
      this.presence.forget();
      this.screen.toast("This Space is open in another tab of yours. Join here to move it to this tab.");
      return;
    }
    if (this.disposed) return;
    this.comebackSince = this.presence.since(this.spaceId);
    void this.join();
  }

  /** The host starts the Space (one POST /start at a time), then joins it. */
  async start(): Promise<void> {
    if (this.starting) return;
    this.starting = true;
    try {
      const done = await this.ctl.act((a, s) => a.startSpace(s));
      if (!done.ok) return this.refuse(`Could not start: ${done.message}`);
    } finally {
      this.starting = false;
    }
    await this.join();
  }

  /** A join or a start that failed: the card says `message` (or, in a room, a message with a Rejoin
   * when `rejoin`: whether joining again could help, not when the Space is no longer live). */
  refuse(message: string, rejoin = true): void {
    this.error = message;
    if (!this.media || this.media.status.kind === "idle") this.screen.draw();
    else this.screen.message(message, rejoin);
  }

  async join(): Promise<void> {
    if (this.joining) {
      this.joinAgain = true; // one join at a time; this one comes after
      return;
    }
    this.joining = true;
    this.joinAgain = false;
    this.connectedOnce = false;
    this.leftTheBroadcast = false;
    this.leftByMe = false;
    this.removedWasSeen = false;
    try {
      await this.joinOnce();
    } finally {
      this.joining = false;
      // Asked for meanwhile (Try again, Rejoin) and not satisfied by the join that ran (no room, or
      // the one it tried failed to connect).
      if (this.joinAgain && !this.disposed && !this.watch && (!this.media || this.media.status.kind === "ended")) void this.join();
      this.joinAgain = false;
    }
  }

  /** A role change I make myself (stepping down to the audience): the page tells it with that
   * action's own notice, so it is not told again as a moderator's (people.ts roleNotice). */
  ownRoleChange(role: Role): void {
    if (this.shownRole !== null) this.shownRole = role;
  }

  /** The Rejoin beside "Trying again…": now, and the retries stop (an attempt's room still
   * connecting gives way to the Rejoin's). */
  rejoinNow(): void {
    this.reconnector.cancel();
    this.dropPending();
    void this.join();
  }

  /** The room connecting under something else goes: its connect is aborted, its feeds are off. */
  private dropPending(): void {
    if (!this.pending) return;
    const { room, off } = this.pending;
    this.pending = null;
    for (const stop of off) stop();
    void room.leave().catch(() => undefined);
  }

  /** Whether a promotion that failed to connect may be tried again now. */
  private promotionDue(): boolean {
    return this.promotionFailures === 0 || this.ctl.version > this.promotionFailedVersion || this.now() >= this.promotionRetryAt;
  }

  /**
   * One join: a fresh token (its grants follow the role stored now), then the room or the broadcast.
   * `auto`: a reconnect attempt, which keeps quiet about failures worth retrying. While a comeback
   * is under way (comebackSince), the token request names its grant's time: a host who removed me
   * meanwhile (while nobody was connected to hear it) is told, not slipped past.
   */
  private async joinOnce(auto = false): Promise<Attempt> {
    const ctl = this.ctl;
    this.error = "";
    // A join of mine (the card, Rejoin, a promotion) starts muted; only the page's own reconnect
    // carries on what was live (republish).
    if (!auto) this.publishing.forget();
    // Taken before the token is asked for: leaving the broadcast while it comes must stop this join.
    const watching = this.watch !== null;
    const generation = this.broadcastGeneration;
    // A promotion from the broadcast is the page's own doing too: it names the broadcast's grant, so
    // a removal after it (a host who promoted, then removed me) is answered, not slipped past.
    const since = this.comebackSince ?? (watching ? ctl.issuedAt : null);
    let grant;
    try {
      // A reconnect's attempts keep the usual retries: the Reconnector paces them itself.
      const path = auto ? undefined : this.joinPath(watching);
      const asked = this.deps.api.joinToken(this.spaceId, since, path);
      // Left (the page, or the broadcast a promotion asks from) while the API is busy: this join
      // ends now, quietly, so a join queued behind it (Join again, Rejoin) runs at once; api.ts
      // aborts the request or its wait, and whatever it rejects with then is dropped.
      const answer = path?.signal ? await unlessAborted(asked, path.signal) : await asked;
      if (answer === ABORTED) return "stop";
      grant = answer;
    } catch (err) {
      const e = err as ApiError;
      // Blocked, removed, not live (ended meanwhile), gone, signed out: asking again will not change it.
      const final = e.status === 401 || e.status === 403 || e.status === 404 || e.status === 409;
      if (auto && !final) return "retry";
      const removed = e.status === 409 && e.rule === REMOVED_RULE;
      // The promotion's token refused as removed or blocked: off the broadcast too (it is public,
      // and nothing else would stop it: state.json tells no one removed from the stage).
      if (watching && (removed || e.status === 403) && !this.disposed && generation === this.broadcastGeneration) {
        this.removedFromBroadcast();
        return "stop";
      }
      this.refuse(
        removed
          ? REMOVED_MESSAGE
          : e.status === 403
            ? `You cannot join this Space: ${e.detail}`
            : e.status === 409
              ? "This Space is not live."
              : `Could not get a join token: ${e.detail ?? e.message}`,
        e.status !== 409,
      );
      // Removed while away: not back by itself again (a reload shows the card; joining from it is
      // on purpose, and let in).
      if (removed) {
        this.comebackSince = null;
        this.presence.forget();
      }
      // Not live any more (ended meanwhile): read it once, so the message offers its Replay. The
      // room left before this join goes first: its redraw would bring back its own message and
      // Rejoin ("You left the Space."), which would fail the same way on every click.
      else if (e.status === 409) {
        if (!auto) this.closeRoom();
        void ctl.load();
      }
      return final ? "stop" : "retry";
    }
    // Let in: a comeback goes on from this grant until the page is in (a connect that fails leaves
    // a Rejoin that must still learn of a removal made after it).
    if (since) this.comebackSince = grant.issued_at ?? since;
    // Left the page, or the broadcast this join was promoting from, while the token came; or (a
    // reconnect's attempt) a Leave or a Rejoin cancelled the reconnect meanwhile.
    if (this.disposed || (watching && generation !== this.broadcastGeneration) || (auto && this.reconnector.isCancelled)) return "stop";
    if (grant.mode === "hls") {
      if (this.watch?.playlistUrl === grant.playlist_url) {
        this.comebackSince = null; // still watching: in
        return "joined";
      }
      return (await this.watchBroadcast(grant, auto)) ? "joined" : "retry";
    }
    // Joining from the card, the stage says it is connecting. Anything else on screen (the broadcast
    // a promoted listener watches, "Reconnecting…") stays until the new room is up: a connect that
    // fails leaves it there, not a half-built stage or nothing at all.
    const room = this.deps.newRoom();
    const listening = this.listen(room);
    if (!watching && !auto) {
      this.closeRoom();
      ctl.joined(grant);
      this.adopt(room, listening);
      this.screen.stage();
    } else {
      this.dropPending();
      this.pending = { room, off: listening };
    }
    try {
      await room.connect(grant.url, grant.token);
    } catch (err) {
      if (room === this.media) {
        // The status carries the message; the page's update shows it.
        this.screen.update();
        return "retry";
      }
      const mine = this.pending?.room === room;
      if (mine) this.dropPending();
      if (auto) this.attemptFailed();
      if (mine && watching && !this.disposed && generation === this.broadcastGeneration) {
        this.promotionFailures += 1;
        this.promotionFailedVersion = ctl.version;
        const pause = Math.min(60, 10 * 2 ** (this.promotionFailures - 1));
        this.promotionRetryAt = this.now() + pause * 1000;
        // The SDK's own words (a WebSocket or ICE error) are for the console, not the person.
        console.warn("joining the stage failed:", err);
        this.screen.toast(`${STAGE_JOIN_FAILED} You are still watching the broadcast; trying again in ${pause} s.`, "error");
      }
      return "retry";
    }
    if (room !== this.media) {
      if (this.pending?.room !== room || this.disposed || generation !== this.broadcastGeneration) {
        // Left (the page, or the broadcast) while the room was connecting: not into the room either
        // (a room no longer pending was left when it was dropped).
        if (this.pending?.room === room) this.dropPending();
        return "stop";
      }
      this.pending = null;
      this.promotionFailures = 0;
      // Both would play from here on: the broadcast goes the moment the room is up.
      this.leaveBroadcast();
      this.closeRoom();
      ctl.joined(grant);
      // From the broadcast, where I was a listener: a promotion is told as one in the room is.
      this.adopt(room, listening, watching ? "listener" : null);
      this.screen.stage();
      this.presence.entered(this.spaceId, ctl.issuedAt); // it connected before it was the page's room: its listener did not
      this.handBack();
    }
    // In: a Rejoin after this is a comeback of its own (or on purpose), not the one that led here.
    this.comebackSince = null;
    this.screen.update();
    // A room that connected before it was the page's (a promotion, a reconnect) was not followed as
    // the page's when it came up: it is now (a promotion is told).
    this.roomUp();
    return "joined";
  }

  /** The controller changed (a push, a read): a role a moderator changed is told; an ended room's
   * message is drawn again (the Space read after it says whether it offers a Replay, or was a block). */
  private ctlChanged(): void {
    if (this.disposed) return;
    if (this.ctl.space?.state === "ended" && this.connectingAfterTheEnd()) return;
    const room = this.media;
    if (!room) return;
    if (room.status.kind === "connected") this.roomUp();
    else if (room.status.kind === "ended" && room === this.endedMessage) this.showEnded(room);
  }

  /**
   * The Space ended (the host's own End, a read) while a room of the page's still connects: the first
   * join's, a reconnect's or a promotion's (pending). That room is gone or going, and its connect
   * would fail only at its timeout (~15 s), the page showing a live stage or "Reconnecting…"
   * meanwhile (then a backoff and a refused token). The connects are dropped, a reconnect stops, and
   * the page draws the ended Space (with its Replay); a broadcast being watched plays out its end.
   * Whether there was anything to drop.
   */
  private connectingAfterTheEnd(): boolean {
    const first = this.media?.status.kind === "connecting";
    const reconnecting = this.reconnector.running && !this.reconnector.isCancelled;
    if (!first && !reconnecting && !this.pending) return false;
    this.reconnector.cancel();
    this.dropPending();
    if (this.media && this.media.status.kind !== "connected") {
      void this.closeRoom();
      this.expose({ room: null });
    }
    this.presence.forget();
    if (!this.watch) {
      this.ctl.left();
      this.screen.draw();
    }
    return true;
  }

  /**
   * The page's room is up (it connected, or became the page's connected): the room of this join was
   * up once (a failure after this says "lost"), and a role a moderator changed since it was last
   * shown is told once (people.ts roleNotice).
   */
  private roomUp(): void {
    const room = this.media;
    if (this.disposed || !room || room.status.kind !== "connected") return;
    this.connectedOnce = true;
    const myRole = this.ctl.myRole;
    const notice = this.shownRole === null ? null : roleNotice(this.shownRole, myRole);
    this.shownRole = myRole;
    if (myRole !== "listener") {
      this.audienceMoveDue = null;
      if (notice) this.screen.toast(notice);
      return;
    }
    if (notice) this.audienceMoveDue = { notice };
    const due = this.audienceMoveDue;
    if (!due) return;
    // A removal takes the stage role first and the connection a moment later: the card then says
    // "removed", and "moved back to the audience" beside it would contradict it. Told only if the
    // page is still in that room once the removal would have come. A room reconnecting then keeps
    // the move due: this runs again when it is back up.
    this.setTimer(() => {
      if (!this.listenerIn(room) || this.audienceMoveDue !== due) return;
      this.audienceMoveDue = null;
      this.screen.toast(due.notice);
      void this.toTheBroadcastIfFull(room);
    }, DEMOTION_NOTICE_DELAY_MS);
  }

  /** Whether the page is still in `room`, up, as a listener (and no join of its own is under way). */
  private listenerIn(room: SpaceRoom): boolean {
    return !this.disposed && !this.joining && !this.pending && !this.watch && this.media === room && room.status.kind === "connected" && this.ctl.myRole === "listener";
  }

  /**
   * Moved back to the audience in the room: a listener goes where one joining now would. While the
   * room's WebRTC audience is full, that is the broadcast: hosts who bring people up from the
   * broadcast and send them back do not grow the room past its limit one demotion at a time. The
   * Space is read first (its `listener_mode` says what a listener's token would be, and a read
   * takes no seat and writes nothing); a token is asked for only when that is the broadcast. The ask
   * names the room grant's time, so a host who removed me meanwhile is answered (409), and the page
   * then stays for the removal's disconnect rather than slipping onto the broadcast. Nothing moves
   * when the page is no longer a listener in this room by then (invited again, removed, left).
   */
  private async toTheBroadcastIfFull(room: SpaceRoom): Promise<void> {
    const space = await this.ctl.load();
    if (space?.listener_mode !== "hls" || !this.listenerIn(room)) return;
    let grant;
    try {
      grant = await this.deps.api.joinToken(this.spaceId, this.ctl.issuedAt, { signal: this.leaving.signal });
    } catch {
      return;
    }
    if (grant.mode !== "hls" || !this.listenerIn(room)) return;
    await this.watchBroadcast(grant, false);
  }

  /** The session's feeds from `room`: its metadata, hands, reactions and status. Returns their unsubscribers. */
  private listen(room: SpaceRoom): (() => void)[] {
    const ctl = this.ctl;
    const onData = (payload: Uint8Array, participant?: unknown, _kind?: unknown, topic?: string) => {
      // The control plane's aggregates only (server API: no sender); a speaker's data has one.
      const burst = participant ? null : parseBurst(payload, topic);
      if (burst) this.deps.reactions.show(burst);
    };
    room.room.on("dataReceived", onData);
    let metadata: string | undefined;
    let status = room.status.kind;
    return [
      () => void room.room.off("dataReceived", onData),
      room.onChange(() => {
        if (room.room.metadata !== metadata) {
          metadata = room.room.metadata;
          ctl.pushed(parseRoomMetadata(metadata));
        }
        // Not the page's room yet while it connects under the broadcast or "Reconnecting…".
        if (room === this.media) {
          // Fetch the Space once per reconnect: what was pushed while we were away is lost.
          if (status === "reconnecting" && room.status.kind === "connected") void ctl.load();
          if (status !== "connected" && room.status.kind === "connected") {
            this.presence.entered(this.spaceId, ctl.issuedAt);
            this.handBack();
          }
        }
        const was = status;
        status = room.status.kind;
        // The page draws the room as it is now (an ended one: nothing, what the session says next stays).
        this.screen.update();
        if (room !== this.media) return;
        // The session follows its own room: up (told once), or ended (reconnected, or said).
        if (was !== "connected" && status === "connected") this.roomUp();
        else if (status === "ended") this.roomEnded();
      }),
      // Told once per mute: the controls only show *Unmute*, not who muted, or why.
      room.onMutedByHost(() => {
        if (room === this.media) this.screen.toast(HOST_MUTED_NOTICE);
      }),
      room.onHands((hands) => {
        const before = new Set(ctl.hands);
        ctl.pushedHands(hands);
        const now = this.now();
        const down = [...before].filter((id) => !ctl.hands.includes(id) && !isStageRole(ctl.roleOf(id)));
        this.handNotices.lowered(down, now);
        const raised = this.handNotices.fresh(
          ctl.hands.filter((id) => !before.has(id) && id !== this.deps.me),
          now,
        );
        if (raised.length > 0) this.screen.toast(handsNotice(raised, ctl.names));
      }),
    ];
  }

  /** `room` becomes the page's connection (closeRoom ends it). `was`: the role I had before it, when a
   * change from it is news (a listener promoted from the broadcast); null: nothing to tell. */
  private adopt(room: SpaceRoom, listening: (() => void)[], was: Role | null = null): void {
    this.media = room;
    this.audienceMoveDue = null; // a new room was joined as a listener joining now is
    this.shownRole = was; // null: joined in whatever role the token gave, nothing to tell
    this.unsubscribe = listening;
    this.expose({ room: room.room });
  }

  /**
   * The page's room ended (its status says how; the session's own listener calls this): a drop is
   * reconnected by itself ("Reconnecting…"); a leave, removal or end says so, with a Rejoin when
   * joining again could help. Once per room: a later change (of the room, of the Space) does not
   * start it again. A room that ended while a reconnect still ran (a Rejoin's that failed while the
   * cancelled run wound down) waits for that run: its end is acted upon when the run is over.
   */
  private roomEnded(): void {
    const room = this.media;
    if (this.disposed || !room || room.status.kind !== "ended" || room === this.endedRoom) return;
    const status = room.status;
    const ctl = this.ctl;
    this.expose({ room: null });
    if (this.reconnector.running) {
      this.screen.reconnecting(!this.connectedOnce);
      ctl.left();
      return;
    }
    this.endedRoom = room;
    if (status.dropped && ctl.space?.state !== "ended") {
      void this.reconnect();
      this.screen.reconnecting(!this.connectedOnce);
      ctl.left();
      return;
    }
    this.endedMessage = room;
    if (!status.canRejoin || status.seatTaken) this.presence.forget(); // removed, ended, or another tab has the seat
    if (!status.canRejoin && !this.readAfterLeaving) {
      // The Space as the API has it now (ended, and whether its recording is offered): the one
      // held was read while it was live, so the message would offer no Replay. Read once; its
      // answer redraws this message.
      this.readAfterLeaving = true;
      void ctl.load();
    }
    this.showEnded(room);
    // Emits once (its redraw draws this message again, from ctlChanged; it used to recurse until the
    // stack overflowed inside LiveKit's signal handler, which then reconnected).
    ctl.left();
  }

  /**
   * A reconnect's attempt got a token but its room could not connect (an attempt whose token request
   * failed reads nothing more: the API is out of reach too). A host out of the room is away for the
   * API, whose grace period ends the Space (docs/control-plane.md, "The host"): the Space is read
   * again, so that "Trying again…" says by when (the page draws `host_away_until` for the host).
   */
  private attemptFailed(): void {
    if (this.ctl.myRole !== "host") return;
    void this.ctl.load().then(() => {
      // Still trying: not back in by a Rejoin meanwhile (the cancelled run may still be asleep),
      // nor stopped by the end this read brought.
      const trying = this.reconnector.running && !this.reconnector.isCancelled;
      if (!this.disposed && trying && this.media?.status.kind !== "connected") this.screen.reconnecting(!this.connectedOnce);
    });
  }

  /** The message for the page's room that ended (a leave, a removal, the end), with a Rejoin when
   * joining again could help. */
  private showEnded(room: SpaceRoom): void {
    if (room.status.kind !== "ended") return;
    const status = room.status;
    // The disconnect says "removed"; the Space read after it says whether the removal was a block.
    const message = status.removed && this.ctl.space?.caller_blocked ? BLOCKED_MESSAGE : status.message;
    this.screen.message(message, status.canRejoin);
  }

  /** The room dropped (not a leave, removal or end): come back in by ourselves, saying so. */
  private async reconnect(): Promise<void> {
    const ctl = this.ctl;
    const was = this.publishing.snapshot();
    // A comeback: each attempt, and the Rejoin (or a reload: the tab stays in the Space) if it gives
    // up, names the grant the connection was lost with, so a removal meanwhile is told.
    this.comebackSince = ctl.issuedAt;
    const outcome = await this.reconnector.run();
    if (this.disposed || outcome === "joined" || outcome === "cancelled") {
      if (outcome === "joined") {
        void ctl.load(); // what was pushed while we were away is lost
        void this.republish(was);
      }
      // Cancelled by a Rejoin: its room, if it failed while this run was still winding down, is
      // acted upon now (a new run for a room that dropped; a Leave's room says so).
      if (outcome === "cancelled" && !this.disposed && this.media?.status.kind === "ended") this.roomEnded();
      return;
    }
    if (outcome === "gave-up") {
      this.closeRoom();
      return this.screen.message(this.connectedOnce ? "The connection to the Space was lost." : FIRST_CONNECT_FAILED, true);
    }
    this.presence.forget();
    // Refused (blocked, the Space ended meanwhile): the card says why.
    const message = this.error;
    this.closeRoom();
    await ctl.load();
    if (ctl.space?.state === "ended" || !message) this.screen.draw();
    else this.screen.message(message, false);
  }

  /** Back in a new room after a drop: what I was publishing is live again, as far as the new grant
   * allows. A screen share needs a click to pick the screen again: the page says so. */
  private async republish(was: Live): Promise<void> {
    const room = this.media;
    if (!room) return;
    // Each step only while this room is still the page's and up (a Leave or another drop meanwhile:
    // nothing is turned on in a room left behind).
    const current = () => !this.disposed && this.media === room && room.status.kind === "connected";
    const local = room.room.localParticipant;
    const back = this.publishing.restore(was, publishRights(local));
    if (back.mic && current()) await this.toggle("microphone", () => room.setMicrophone(true));
    if (back.camera && current()) await this.toggle("camera", () => local.setCameraEnabled(true));
    if (back.screenLost && current()) {
      this.screen.toast("Reconnected. Your screen share stopped with the connection: share it again to show it.");
    }
  }

  /** Turns a capture on or off in the page's room; a failure is told in words, then the page redraws. */
  async toggle(what: Capture, call: () => Promise<unknown>): Promise<void> {
    try {
      await call();
    } catch (err) {
      this.screen.toast(publishError(err, what), "error");
    }
    this.screen.update();
  }

  /** Leaving on purpose: no automatic rejoin, not even after a reload. (The page confirms a host's.) */
  leave(): void {
    this.presence.forget();
    this.reconnector.cancel();
    this.comebackSince = null; // a Rejoin after this is on purpose
    this.joinAgain = false; // a join queued meanwhile (a promotion's poll) must not bring me back
    this.publishing.forget();
    this.leftByMe = true;
    // A raised hand goes with its owner: left up, a host would invite someone who is gone (leaving
    // the page lowers it too: dispose; and so does a closed tab or a reload: pageGoes). So does an
    // invitation waiting for my answer (declined).
    const lower = this.ctl.withdrawOnLeave();
    void (this.media?.leave() ?? Promise.resolve()).finally(() => void lower());
  }

  /** Out of the room; resolves once the SFU was told (or could not be). */
  private closeRoom(): Promise<void> {
    for (const off of this.unsubscribe) off();
    this.unsubscribe = [];
    const closed = this.media?.leave().catch(() => undefined) ?? Promise.resolve();
    this.media = null;
    return closed;
  }

  /**
   * The page itself goes (pagehide: a reload, the tab closed, another site): a raised hand goes down
   * with it, as leaving lowers it, by a request that outlives the page. A reload puts it back up once
   * in again (handBack), at the end of the queue: the page cannot tell a reload from a closed tab.
   * Nothing for a page that was not in the Space (removed, its seat taken by another tab: that one's
   * hand), nor after dispose (which lowered it already).
   */
  pageGoes(): void {
    // In the Space as this tab's presence says (the room itself is down by now: LiveKit disconnects
    // it on beforeunload), not removed from it or moved to another tab.
    if (this.disposed || !this.ctl.handRaised || !this.presence.wasIn(this.spaceId)) return;
    this.presence.handWentDown(this.spaceId);
    this.deps.api.lowerHandAsPageGoes(this.spaceId);
  }

  /** In again after the page went with its hand up (pageGoes): a listener's goes up again. Sent even
   * if the Space still shows it up, since the page's lowering may be on its way. */
  private handBack(): void {
    if (!this.presence.takeHand(this.spaceId) || this.ctl.myRole !== "listener") return;
    void this.ctl.raiseHand(true).then((done) => {
      if (!done.ok) this.screen.toast(`Your hand went down with the reload and could not be raised again: ${done.message}`, "error");
    });
  }

  /**
   * The page goes (navigating away, signing out): that is leaving; a later visit shows the card.
   * A raised hand is lowered as Leave lowers it (an outside review saw hands of listeners who had
   * gone back to the lobby left up, and one invited onto the stage as "away"). It is sent at once,
   * not after the room closed as Leave's is: a view of the same Space opened right after (Back, then
   * Forward) reads the hand already down instead of having its new raise undone. Resolves once that
   * lowering is done or failed: signing out waits for it, while the token still works.
   */
  dispose(): Promise<void> {
    const lowered = this.ctl.withdrawOnLeave()();
    this.disposed = true;
    this.offCtl();
    this.leaving.abort();
    this.presence.forget();
    this.seats.close();
    this.reconnector.cancel();
    this.dropPending();
    const closed = this.closeRoom();
    this.leaveBroadcast();
    this.expose({ room: null });
    return Promise.all([closed, lowered]).then(
      () => undefined,
      () => undefined,
    );
  }

  // ---- the broadcast (a listener beyond the interactive threshold) --------------------------------

  /** What the broadcast's own controls do, of the session's. */
  private broadcastHooks(): Pick<BroadcastHooks, "retry" | "leave"> {
    return {
      retry: () => {
        this.leaveBroadcast();
        void this.join();
      },
      leave: () => {
        this.leftByMe = true;
        const lower = this.ctl.withdrawOnLeave();
        this.offTheBroadcast();
        void lower();
        this.leftTheBroadcast = true; // the message stays: what the lower's answer redraws is not the card
        this.ctl.left();
        this.screen.message("You left the Space.", true);
      },
    };
  }

  /** Watch the broadcast `grant` names; false if its player could not be opened (said on the card,
   * unless `auto`: a reconnect attempt, which tries again). */
  private async watchBroadcast(grant: HlsGrant, auto: boolean): Promise<boolean> {
    const ctl = this.ctl;
    const playlistUrl = grant.playlist_url;
    // An answer without a presence tag (an older API) cannot be counted: no heartbeats then.
    const presenceTag = grant.presence_tag;
    const presenceInterval = presenceTag ? (grant.presence_interval_seconds ?? null) : null;
    this.leaveBroadcast();
    this.closeRoom();
    // Anything that leaves the broadcast while this player opens (a second join in flight, the
    // room taking over, the person leaving) wins: no second player or poller is left behind.
    const generation = this.broadcastGeneration;
    let opened: BroadcastStage;
    try {
      opened = await this.deps.openBroadcast(playlistUrl, this.broadcastHooks());
    } catch (err) {
      // The player's code could not be loaded (a deploy removed the old chunk, the network): not
      // joined, and said so; a reconnect attempt just tries again.
      if (!auto && !this.disposed && generation === this.broadcastGeneration) {
        this.refuse(`Could not open the broadcast: ${(err as Error).message}`);
      }
      return false;
    }
    const view = opened;
    if (this.disposed || generation !== this.broadcastGeneration) {
      view.destroy();
      return true; // something else took over meanwhile: nothing to retry
    }
    ctl.joined(grant);
    this.comebackSince = null;
    this.presence.entered(this.spaceId, ctl.issuedAt);
    this.handBack();
    if (this.broadcastMuted) void view.player.setMuted(true);
    // This broadcast's own signal, aborted by leaving it or the page (not AbortSignal.any: older Safari).
    const controller = new AbortController();
    const pageGone = () => controller.abort();
    this.leaving.signal.addEventListener("abort", pageGone, { once: true });
    if (this.leaving.signal.aborted) controller.abort();
    this.watchAbort = { controller, off: () => this.leaving.signal.removeEventListener("abort", pageGone) };
    const newWatch = this.deps.newWatch ?? ((v, d) => new BroadcastWatch(v, d));
    this.watch = newWatch(view, {
      playlistUrl,
      presenceInterval,
      // Promoted (the stage is counted in the room, and the API refuses a stage member's heartbeat):
      // none sent while the page switches to the room.
      sendPresence: async () => {
        if (!isStageRole(ctl.myRole)) await this.deps.api.presence(this.spaceId, presenceTag ?? "");
      },
      check: () => void ctl.load(),
      onState: (doc) => {
        if (!this.disposed) ctl.pushed(doc);
      },
      reactions: this.deps.reactions,
      fetchText: this.deps.fetchText,
    });
    this.expose({ room: null, broadcast: view.player });
    // HLS viewers react too (the API counts them); the page follows the broadcast once it shows it.
    this.screen.broadcast(view);
    return true;
  }

  /** After each change seen on the broadcast: a promotion switches to the room, the end says so. */
  followBroadcast(): void {
    const ctl = this.ctl;
    switch (ctl.broadcastNext) {
      case "ended":
        // The composer writes the end after the last segment and ENDLIST: play the sign-off to the
        // end of the stream (at most PLAY_OUT_MS) before saying the Space ended.
        if (!this.playingOut) {
          this.playingOut = true;
          const generation = this.broadcastGeneration;
          void this.playOut(this.watch?.view.player ?? null).then(() => {
            if (this.disposed || generation !== this.broadcastGeneration) return; // left meanwhile
            this.leaveBroadcast();
            this.screen.message("This Space has ended.", false);
            this.endedWasSeen = true;
            void this.readEnded();
          });
        }
        return;
      case "removed":
        // A host removed me after my grant (state.json): no room to be disconnected from.
        this.removedFromBroadcast();
        return;
      case "join-room":
        // The new token is WebRTC; join() drops the broadcast once the room is up.
        if (this.promotionDue()) void this.join();
        return;
      case "watch":
        if (ctl.space) this.watch?.view.update(ctl.space, this.deps.me, ctl.signInAgain);
    }
  }

  /** Resolves when `player` has played to the stream's end (ENDLIST), stopped playing, or after PLAY_OUT_MS. */
  private playOut(player: BroadcastPlayer | null): Promise<void> {
    return new Promise((resolve) => {
      const done = () => player?.state !== "playing" && player?.state !== "waiting" && player?.state !== "loading";
      if (!player || done()) return resolve();
      const timer = this.setTimer(finish, PLAY_OUT_MS);
      const off = player.onChange(() => {
        if (done()) finish();
      });
      const clear = this.clearTimer;
      function finish(): void {
        clear(timer);
        off();
        resolve();
      }
    });
  }

  /**
   * A host removed me while I watched the broadcast (state.json said so, or the token for my
   * promotion was refused): the session stops its player itself. The Space is read once: its answer
   * says whether it was a block.
   */
  private removedFromBroadcast(): void {
    this.offTheBroadcast();
    this.removedWasSeen = true;
    this.screen.removed();
    this.ctl.left();
    void this.ctl.load();
  }

  /** Off the broadcast for good (a Leave, a removal): the tab forgets the Space, a Join after this is
   * on purpose (not a promotion's retry), and nothing queued brings it back: not a join a later poll
   * queued behind a promotion, nor the promotion's room if it was connecting. */
  private offTheBroadcast(): void {
    this.presence.forget();
    this.comebackSince = null;
    this.joinAgain = false;
    this.dropPending();
    this.leaveBroadcast();
  }

  /**
   * The end, seen on state.json: read the Space for its recording (whether and until when it can be
   * replayed is the API's). The whole audience gets here within seconds, so the read waits a random
   * moment first, over a window that grows with the audience, while the page already says the Space
   * ended; a read that still says live (the composer can write the end a moment before the API has
   * stored it) is repeated 2–4 s later, at most 3 reads (ended_read.ts).
   */
  private readEnded(): Promise<void> {
    return readEndedSpread(() => this.ctl.load(), {
      listeners: this.ctl.space?.listener_count ?? 0,
      stopped: () => this.disposed,
      random: this.deps.random,
      sleep: this.deps.sleep,
    });
  }

  private leaveBroadcast(): void {
    this.broadcastGeneration++;
    this.playingOut = false;
    // The person's mute outlives the player (Try again, a reconnect's new one): unmuted by them only.
    if (this.watch) this.broadcastMuted = this.watch.view.player.userMuted;
    // A promotion's token request from it stops asking (its join ends: joinOnce).
    if (this.watchAbort) {
      this.watchAbort.off();
      this.watchAbort.controller.abort();
      this.watchAbort = null;
    }
    if (!this.watch) return;
    this.watch.close();
    this.watch = null;
    this.expose({ room: null, broadcast: null });
  }
}
