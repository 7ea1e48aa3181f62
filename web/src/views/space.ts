/**
 * One Space page: wires the controller (space_controller.ts: what the page knows) to its feeds and
 * to the small views in views/space/ (card, header, stage, controls, host panel).
 *
 * Feeds, push not poll: the Space is read from the API once when the page opens and again on every
 * reconnect; after that the room metadata (everyone), the hands topic (moderators) and, for a
 * listener on the broadcast, state.json beside the playlist (a CDN read every few seconds) keep it
 * current. No API call runs on a timer.
 */
import type { App, View } from "../app";
import { type ApiError, hostAwayUntilMs, type JoinPath, type Role } from "../api";
import type { HlsGrant } from "../broadcast";
import { REMOVED_RULE } from "../contract.gen";
import { type DeviceKind, DevicePreferences } from "../devices";
import { readEndedSpread } from "../ended_read";
import type { BroadcastPlayer } from "../hls_player";
import { hideToast, h, stale, toast } from "../dom";
import { type Capture, cameraTrack, isStageRole, micMuted, micOn, publishError, publishRights, REMOVED_MESSAGE, setScreenShare, sharing, SpaceRoom, attributeRole } from "../media";
import { type Person, personOf } from "../people";
import { type Live, PublishMemory } from "../publishing";
import { parseRoomMetadata } from "../pushed";
import { type Attempt, Presence, Reconnector, SEATS_CHANNEL, type SeatChannel, TabSeats } from "../rejoin";
import { type ActResult, SpaceController, type SpaceApi } from "../space_controller";
import { layoutFor, stageOrder } from "../stage";
import { BroadcastStage } from "./broadcast_stage";
import { parseBurst, ReactionsOverlay, reactionsBar } from "./reactions";
import { BroadcastWatch } from "./space/broadcast_watch";
import { renderCard, renderMessage } from "./space/card";
import { ControlsView } from "./space/controls";
import { DevicesView } from "./space/devices";
import { type BannerState, HeaderView } from "./space/header";
import { HostPanel } from "./space/host_panel";
import { ListenerList } from "./space/listeners";
import { displayName, handsNotice, roleNotice, screenShareNotice } from "./space/people";
import { StageView } from "./space/stage";

declare global {
  interface Window {
    /** The live connection, for people poking at the page from the console (and the e2e tests). */
    spaces?: { room: SpaceRoom["room"] | null; broadcast?: BroadcastPlayer | null };
  }
}

/** What the host confirms before leaving a live Space (docs/control-plane.md, "The host"). */
export const HOST_LEAVE_WARNING =
  "Leave this Space? You are its host: if you are not back within the grace period (2 minutes unless your " +
  "deployment changed it), it ends for everyone. To keep it going, make a co-host the host first.";

/** A first connect to the room that failed (offline, the media server out of reach): said while
 * the page tries again with the reconnect's backoff, and once it gives up. */
export const FIRST_CONNECT_RETRYING = "Could not connect to the Space: check your connection. Trying again…";
export const FIRST_CONNECT_FAILED = "Could not connect to the Space. Check your connection and rejoin.";

/** What the host confirms before cancelling a scheduled Space (it cannot be undone). */
export const CANCEL_WARNING = "Cancel this scheduled Space? It ends before it starts, for everyone, and cannot be started again.";

/** What a removed person reads once the Space says the removal was a block. */
export const BLOCKED_MESSAGE = "You were removed from this Space and blocked by a host: you cannot join it again.";

/** What a speaker reads when a host or co-host muted their microphone. */
export const HOST_MUTED_NOTICE = "A host muted your microphone. Unmute when you want to speak again.";

/** What a page says while the API is too busy to let it in yet (api.ts JOIN_RETRY_BUDGET_MS). */
export const BUSY_MESSAGE = "Lots of people are joining this Space right now. Trying again…";

/** Longest wait for the player to reach the end of the stream once the Space has ended (ms). */
export const PLAY_OUT_MS = 15_000;

/** Resolves when `player` has played to the stream's end (ENDLIST), stopped playing, or after PLAY_OUT_MS. */
function playOut(player: BroadcastPlayer | null): Promise<void> {
  return new Promise((resolve) => {
    const done = () => player?.state !== "playing" && player?.state !== "waiting" && player?.state !== "loading";
    if (!player || done()) return resolve();
    const timer = window.setTimeout(finish, PLAY_OUT_MS);
    const off = player.onChange(() => {
      if (done()) finish();
    });
    function finish(): void {
      window.clearTimeout(timer);
      off();
      resolve();
    }
  });
}

/** The kinds of device a person with these rights chooses: what they capture, and where sound plays. */
function deviceKinds(rights: { mic: boolean; camera: boolean }): DeviceKind[] {
  if (!rights.mic && !rights.camera) return [];
  const kinds: DeviceKind[] = [];
  if (rights.mic) kinds.push("audioinput");
  if (rights.camera) kinds.push("videoinput");
  // Choosing where sound plays needs setSinkId (not in every browser: Safari has none).
  if (typeof HTMLMediaElement !== "undefined" && "setSinkId" in HTMLMediaElement.prototype) kinds.push("audiooutput");
  return kinds;
}

/** This origin's pages' channel for tab seats (rejoin.ts TabSeats); none without BroadcastChannel. */
function seatChannel(): SeatChannel | null {
  try {
    if (typeof BroadcastChannel !== "function") return null;
    const channel = new BroadcastChannel(SEATS_CHANNEL);
    return {
      post: (message) => channel.postMessage(message),
      listen: (fn) => (channel.onmessage = (event) => fn(event.data)),
      close: () => channel.close(),
    };
  } catch {
    return null;
  }
}

/** The browser's localStorage or sessionStorage, when the page may use it. */
function storage(kind: "localStorage" | "sessionStorage"): Storage | null {
  try {
    return window[kind];
  } catch {
    return null;
  }
}

export function spaceView(app: App, spaceId: string): View {
  const me = app.session?.userId ?? "";
  const ctl = new SpaceController(app.api as SpaceApi, spaceId, me);
  const audioSink = h("div", { hidden: true });
  const el = h("section", { class: "space", "data-testid": "space-page", "data-space-id": spaceId });
  let media: SpaceRoom | null = null;
  /** The broadcast being watched (an HLS viewer), with its heartbeat, stall check and polls. */
  let watch: BroadcastWatch | null = null;
  /** Bumped by every leaveBroadcast: a watchBroadcast still opening its player then gives way. */
  let broadcastGeneration = 0;
  let joining = false;
  // A join asked for while another ran (Try again, Rejoin): made once that one is over.
  let joinAgain = false;
  // A room connecting before it is the page's (under the broadcast or "Reconnecting…"), with its
  // feeds' unsubscribers: a leave or unmount meanwhile disconnects it (LiveKit aborts a connect).
  let pending: { room: SpaceRoom; off: (() => void)[] } | null = null;
  // A promotion whose room could not connect: asked again when the Space changes (a newer
  // version) or, on a network where only WebRTC fails, after a growing pause, not on every poll.
  let promotionFailures = 0;
  let promotionFailedVersion = -1;
  let promotionRetryAt = 0;
  let disposed = false;
  let joinError = "";
  /**
   * A comeback (a reload's, a reconnect's) or a promotion from the broadcast that has not come to an
   * end: the grant time it names, so that the Rejoin, Try again or retry it leaves behind is the same
   * one and still learns of a removal meanwhile (rejoin_since). Cleared once in, once refused as
   * removed, and by a Leave (of the room or of the broadcast).
   */
  let comebackSince: string | null = null;
  /** Left the broadcast with *Leave*: its message stays until the next join. */
  let leftBroadcast = false;
  /** state.json said a host removed me from the broadcast: the message stays until the next join. */
  let removedSeen = false;
  /** state.json said the Space ended (the message stays until the API agrees). */
  let endedSeen = false;
  /** state.json said ended and the player is playing out the stream's last seconds. */
  let playingOut = false;
  /** The room closed for good (ended, removed): the Space was read again once for its message. */
  let readAfterLeaving = false;
  /** The stage replaced what had the keyboard focus: its heading takes it at the next draw. */
  let headingWanted = false;
  /** Whether the room of this join was ever up: a failure before says "could not connect", after "lost". */
  let connectedOnce = false;
  /** My role as the connected page last showed it: a change a moderator made is told once (people.ts roleNotice). */
  let shownRole: Role | null = null;
  let unsubscribe: (() => void)[] = [];
  /** Aborted when the page goes: a join-path call waiting out a busy API stops asking. */
  const leaving = new AbortController();
  /** Which Space this tab is in, across a reload (rejoin.ts). */
  const presence = new Presence(storage("sessionStorage"));
  /** Whether another tab holds this tab's seat (a duplicated tab's copy of `presence`): rejoin.ts. */
  const seats = new TabSeats(seatChannel());
  seats.holding(() => {
    const seat = presence.seat(spaceId);
    return seat && (media || watch || reconnector.running) ? { space: spaceId, seat } : null;
  });
  /** After a dropped connection: fresh token, new room, capped backoff, until in again or refused. */
  const reconnector = new Reconnector({ attempt: () => joinOnce(true) });

  const header = new HeaderView({ copyLink, endSpace: () => void endSpace(), leave: () => leave() });
  const stage = new StageView();
  const reactions = new ReactionsOverlay();
  const reactBar = reactionsBar((emoji) => app.api.react(spaceId, emoji));
  /** What I chose to publish, for a page-level reconnect to bring back (publishing.ts). */
  const publishing = new PublishMemory();
  const controls = new ControlsView({
    setMic: (on) => {
      publishing.chose("mic", on);
      void toggle("microphone", () => media!.setMicrophone(on));
    },
    setCamera: (on) => {
      publishing.chose("camera", on);
      void toggle("camera", () => media!.room.localParticipant.setCameraEnabled(on));
    },
    setScreen: (on) => {
      publishing.chose("screen", on);
      void toggle("screen", () => setScreenShare(media!.room.localParticipant, on)).then(() => {
        // The big tile shows a screen only once the host pins it (docs/screen-share.md): say so,
        // or a sharer sees nothing change for anyone and thinks sharing is broken.
        if (on && media && sharing(media.room.localParticipant)) toast(screenShareNotice(ctl.myRole));
      });
    },
    raiseHand: (up) => void raiseHand(up),
    toggleDevices: () => {
      devices.toggle();
      render();
    },
  });
  /** Which microphone, camera and speaker, kept per browser (devices.ts). */
  const devicePrefs = new DevicePreferences(storage("localStorage"));
  const devices = new DevicesView((kind, id) => void chooseDevice(kind, id), () => devicePrefs.get());
  /** Who someone is: the room's view of them first, then the names and faces the Space carries (people.ts). */
  const person = (id: string): Person => personOf(id, media?.participant(id), ctl.names, ctl.pictures);
  const called = (id: string) => person(id).name;
  const listenerList = new ListenerList((q, cursor) => app.api.listeners(spaceId, { q, cursor }), {
    invite: async (id, name) => listAct((a, s) => a.setRole(s, id, "speaker", "listener"), `${name} invited to speak`, name),
    remove: async (id, block, name) => {
      if (block && !confirmBlock(name)) return false;
      return listAct((a, s) => a.remove(s, id, block), block ? `${name} removed and blocked` : `${name} removed`);
    },
  });
  const panel = new HostPanel({
    setRole: (id, role, from) =>
      void act(
        (a, s) => a.setRole(s, id, role, from),
        role === "listener" ? `${called(id)} moved to the audience` : role === "cohost" ? `${called(id)} is now a co-host` : `${called(id)} invited to speak`,
        called(id),
      ),
    remove: (id, block) => {
      if (block && !confirmBlock(called(id))) return;
      void act((a, s) => a.remove(s, id, block), block ? `${called(id)} removed and blocked` : `${called(id)} removed`);
    },
    mute: (id) => void act((a, s) => a.mute(s, id), `${called(id)} muted`),
    pin: (id, source = "camera") =>
      void act((a, s) => a.pin(s, id, source), id ? (source === "screen_share" ? `${called(id)}'s screen pinned` : `${called(id)} pinned`) : "Spotlight unpinned"),
    handOver: (id) => {
      if (window.confirm(`Hand this Space to ${called(id)}? You stay on as a co-host.`)) void act((a, s) => a.handOver(s, id), `${called(id)} is now the host; you are a co-host`);
    },
  }, listenerList);

  ctl.onChange(() => draw());

  /** Whatever the page shows now, from the controller and the connection. */
  function draw(): void {
    if (disposed) return;
    if (ctl.space?.title) document.title = `${ctl.space.title} · Spaces`;
    if (watch) return followBroadcast();
    if (media && media.status.kind !== "idle") return render();
    if (endedSeen && ctl.space?.state !== "ended") return; // the API has not stored the end yet
    if (leftBroadcast) return;
    if (removedSeen) return renderRemoved();
    if (ctl.space) return renderCard(el, ctl.space, me, joinError, { start: () => start(), join: () => void join(), cancel: () => cancelScheduled() });
    const e = ctl.loadError;
    if (e?.status === 401) return app.signOut(); // not in a room: nothing to keep
    // 422: not even the shape of a Space id (a truncated link): the same answer as an unknown one.
    if (!e) return;
    if (e.status === 404 || e.status === 422) return renderMessage(el, "No Space with this link.", null, null);
    // Anything else (a busy API past its retries, the network) may pass: the reader can ask again.
    renderMessage(el, `Could not load the Space: ${e.detail}`, null, () => void ctl.load(joinPath()), "Try again");
  }

  /**
   * A join-path call (the read a page opens with, the token of a join): it keeps trying through a
   * busy API for up to a minute (api.ts), and the page says so (BUSY_MESSAGE, with *Back to Spaces*)
   * instead of showing nothing or an error, once per call. `quiet`: said nowhere (a promotion: the
   * broadcast plays on meanwhile).
   */
  function joinPath(quiet = false): JoinPath {
    let said = false;
    return {
      signal: leaving.signal,
      busy: () => {
        if (quiet || said || disposed) return;
        said = true;
        renderMessage(el, BUSY_MESSAGE, ctl.space, null);
      },
    };
  }

  // ---- joining ------------------------------------------------------------------------------------

  /** A start on its way: a second click (the card's button waits too) sends no second POST /start. */
  let starting = false;

  async function start(): Promise<void> {
    if (starting) return;
    starting = true;
    try {
      const done = await ctl.act((a, s) => a.startSpace(s));
      if (!done.ok) return cardError(`Could not start: ${done.message}`);
    } finally {
      starting = false;
    }
    await join();
  }

  /** The host cancels a scheduled Space (the API ends it: POST /end), after a confirmation. */
  async function cancelScheduled(): Promise<void> {
    if (!window.confirm(CANCEL_WARNING)) return;
    const done = await ctl.act((a, s) => a.endSpace(s));
    if (!done.ok) return cardError(`Could not cancel: ${done.message}`, false);
    toast("Space cancelled");
  }

  /** `rejoin`: whether joining again could help (not when the Space is no longer live). */
  function cardError(message: string, rejoin = true): void {
    joinError = message;
    if (!media || media.status.kind === "idle") draw();
    else renderMessage(el, message, ctl.space, rejoin ? () => void join() : null);
  }

  async function join(): Promise<void> {
    if (joining) {
      joinAgain = true; // one join at a time; this one comes after
      return;
    }
    joining = true;
    joinAgain = false;
    connectedOnce = false;
    leftBroadcast = false;
    removedSeen = false;
    try {
      await joinOnce();
    } finally {
      joining = false;
      // Asked for meanwhile (Try again, Rejoin) and not satisfied by the join that ran (no room, or
      // the one it tried failed to connect).
      if (joinAgain && !disposed && !watch && (!media || media.status.kind === "ended")) void join();
      joinAgain = false;
    }
  }

  /** The room connecting under something else goes: its connect is aborted, its feeds are off. */
  function dropPending(): void {
    if (!pending) return;
    const { room, off } = pending;
    pending = null;
    for (const stop of off) stop();
    void room.leave().catch(() => undefined);
  }

  /** Whether a promotion that failed to connect may be tried again now. */
  function promotionDue(): boolean {
    return promotionFailures === 0 || ctl.version > promotionFailedVersion || Date.now() >= promotionRetryAt;
  }

  /**
   * One join: a fresh token (its grants follow the role stored now), then the room or the broadcast.
   * `auto`: a reconnect attempt, which keeps quiet about failures worth retrying. While a comeback
   * is under way (comebackSince), the token request names its grant's time: a host who removed me
   * meanwhile (while nobody was connected to hear it) is told, not slipped past.
   */
  async function joinOnce(auto = false): Promise<Attempt> {
    joinError = "";
    // A join of mine (the card, Rejoin, a promotion) starts muted; only the page's own reconnect
    // carries on what was live (republish).
    if (!auto) publishing.forget();
    // Taken before the token is asked for: leaving the broadcast while it comes must stop this join.
    const watching = watch !== null;
    const generation = broadcastGeneration;
    // A promotion from the broadcast is the page's own doing too: it names the broadcast's grant, so
    // a removal after it (a host who promoted, then removed me) is answered, not slipped past.
    const since = comebackSince ?? (watching ? ctl.issuedAt : null);
    let grant;
    try {
      // A reconnect's attempts keep the usual retries: the Reconnector paces them itself.
      grant = await app.api.joinToken(spaceId, since, auto ? undefined : joinPath(watching));
    } catch (err) {
      const e = err as ApiError;
      // Blocked, removed, not live (ended meanwhile), gone, signed out: asking again will not change it.
      const final = e.status === 401 || e.status === 403 || e.status === 404 || e.status === 409;
      if (auto && !final) return "retry";
      const removed = e.status === 409 && e.rule === REMOVED_RULE;
      // The promotion's token refused as removed or blocked: off the broadcast too (it is public,
      // and nothing else would stop it: state.json tells no one removed from the stage).
      if (watching && (removed || e.status === 403) && !disposed && generation === broadcastGeneration) {
        removedFromBroadcast();
        return "stop";
      }
      cardError(
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
        comebackSince = null;
        presence.forget();
      }
      // Not live any more (ended meanwhile): read it once, so the message offers its Replay. The
      // room left before this join goes first: its redraw would bring back its own message and
      // Rejoin ("You left the Space."), which would fail the same way on every click.
      else if (e.status === 409) {
        if (!auto) closeRoom();
        void ctl.load();
      }
      return final ? "stop" : "retry";
    }
    // Let in: a comeback goes on from this grant until the page is in (a connect that fails leaves
    // a Rejoin that must still learn of a removal made after it).
    if (since) comebackSince = grant.issued_at ?? since;
    // Left the page, or the broadcast this join was promoting from, while the token came; or (a
    // reconnect's attempt) a Leave or a Rejoin cancelled the reconnect meanwhile.
    if (disposed || (watching && generation !== broadcastGeneration) || (auto && reconnector.isCancelled)) return "stop";
    if (grant.mode === "hls") {
      if (watch?.playlistUrl === grant.playlist_url) {
        comebackSince = null; // still watching: in
        return "joined";
      }
      return (await watchBroadcast(grant, auto)) ? "joined" : "retry";
    }
    // Joining from the card, the stage says it is connecting. Anything else on screen (the broadcast
    // a promoted listener watches, "Reconnecting…") stays until the new room is up: a connect that
    // fails leaves it there, not a half-built stage or nothing at all.
    const room = new SpaceRoom(audioSink, devicePrefs.get());
    const listening = listen(room);
    if (!watching && !auto) {
      closeRoom();
      ctl.joined(grant);
      adopt(room, listening);
      buildStage();
    } else {
      dropPending();
      pending = { room, off: listening };
    }
    try {
      await room.connect(grant.url, grant.token);
    } catch (err) {
      if (room === media) {
        // The status carries the message; render() shows it.
        render();
        return "retry";
      }
      const mine = pending?.room === room;
      if (mine) dropPending();
      if (mine && watching && !disposed && generation === broadcastGeneration) {
        promotionFailures += 1;
        promotionFailedVersion = ctl.version;
        const pause = Math.min(60, 10 * 2 ** (promotionFailures - 1));
        promotionRetryAt = Date.now() + pause * 1000;
        toast(`Could not join the stage: ${(err as Error).message} You are still watching the broadcast; trying again in ${pause} s.`, "error");
      }
      return "retry";
    }
    if (room !== media) {
      if (pending?.room !== room || disposed || generation !== broadcastGeneration) {
        // Left (the page, or the broadcast) while the room was connecting: not into the room either
        // (a room no longer pending was left when it was dropped).
        if (pending?.room === room) dropPending();
        return "stop";
      }
      pending = null;
      promotionFailures = 0;
      // Both would play from here on: the broadcast goes the moment the room is up.
      leaveBroadcast();
      closeRoom();
      ctl.joined(grant);
      // From the broadcast, where I was a listener: a promotion is told as one in the room is.
      adopt(room, listening, watching ? "listener" : null);
      buildStage();
      presence.entered(spaceId, ctl.issuedAt); // it connected before it was the page's room: its listener did not
    }
    // In: a Rejoin after this is a comeback of its own (or on purpose), not the one that led here.
    comebackSince = null;
    render();
    return "joined";
  }

  /** The page's feeds from `room`: its metadata, hands, reactions and status. Returns their unsubscribers. */
  function listen(room: SpaceRoom): (() => void)[] {
    const onData = (payload: Uint8Array, participant?: unknown, _kind?: unknown, topic?: string) => {
      // The control plane's aggregates only (server API: no sender); a speaker's data has one.
      const burst = participant ? null : parseBurst(payload, topic);
      if (burst) reactions.show(burst);
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
        if (room === media) {
          // Fetch the Space once per reconnect: what was pushed while we were away is lost.
          if (status === "reconnecting" && room.status.kind === "connected") void ctl.load();
          if (status !== "connected" && room.status.kind === "connected") presence.entered(spaceId, ctl.issuedAt);
        }
        status = room.status.kind;
        render();
      }),
      // Told once per mute: the controls only show *Unmute*, not who muted, or why.
      room.onMutedByHost(() => {
        if (room === media) toast(HOST_MUTED_NOTICE);
      }),
      room.onHands((hands) => {
        const before = new Set(ctl.hands);
        ctl.pushedHands(hands);
        const raised = ctl.hands.filter((id) => !before.has(id) && id !== me);
        if (raised.length > 0) toast(handsNotice(raised, ctl.names));
      }),
    ];
  }

  /** `room` becomes the page's connection (closeRoom ends it). `was`: the role I had before it, when a
   * change from it is news (a listener promoted from the broadcast); null: nothing to tell. */
  function adopt(room: SpaceRoom, listening: (() => void)[], was: Role | null = null): void {
    media = room;
    shownRole = was; // null: joined in whatever role the token gave, nothing to tell
    unsubscribe = listening;
    window.spaces = { room: room.room };
  }

  /** The room dropped (not a leave, removal or end): come back in by ourselves, saying so. */
  async function reconnect(): Promise<void> {
    const was = publishing.snapshot();
    // A comeback: each attempt, and the Rejoin (or a reload: the tab stays in the Space) if it gives
    // up, names the grant the connection was lost with, so a removal meanwhile is told.
    comebackSince = ctl.issuedAt;
    const outcome = await reconnector.run();
    if (disposed || outcome === "joined" || outcome === "cancelled") {
      if (outcome === "joined") {
        void ctl.load(); // what was pushed while we were away is lost
        void republish(was);
      }
      // Cancelled by a Rejoin: its room, if it failed while this run was still winding down, is
      // retried now (render starts a new run for a room that dropped; a Leave's room did not).
      if (outcome === "cancelled" && !disposed && media?.status.kind === "ended") render();
      return;
    }
    if (outcome === "gave-up") {
      closeRoom();
      return renderMessage(el, connectedOnce ? "The connection to the Space was lost." : FIRST_CONNECT_FAILED, ctl.space, () => void join());
    }
    presence.forget();
    // Refused (blocked, the Space ended meanwhile): the card says why.
    const message = joinError;
    closeRoom();
    await ctl.load();
    if (ctl.space?.state === "ended" || !message) draw();
    else renderMessage(el, message, ctl.space, null);
  }

  /** Back in a new room after a drop: what I was publishing is live again, as far as the new grant
   * allows. A screen share needs a click to pick the screen again: the page says so. */
  async function republish(was: Live): Promise<void> {
    const room = media;
    if (!room) return;
    // Each step only while this room is still the page's and up (a Leave or another drop meanwhile:
    // nothing is turned on in a room left behind).
    const current = () => !disposed && media === room && room.status.kind === "connected";
    const local = room.room.localParticipant;
    const back = publishing.restore(was, publishRights(local, room.info.video, ctl.myRole));
    if (back.mic && current()) await toggle("microphone", () => room.setMicrophone(true));
    if (back.camera && current()) await toggle("camera", () => local.setCameraEnabled(true));
    if (back.screenLost && current()) {
      toast("Reconnected. Your screen share stopped with the connection: share it again to show it.");
    }
  }

  /** Leaving on purpose: no automatic rejoin, not even after a reload. */
  function leave(): void {
    // The host's leave starts the grace period: past it the Space ends for everyone.
    const hostLeaving = ctl.myRole === "host" && ctl.space?.state === "live";
    if (hostLeaving && !window.confirm(HOST_LEAVE_WARNING)) return;
    presence.forget();
    reconnector.cancel();
    comebackSince = null; // a Rejoin after this is on purpose
    joinAgain = false; // a join queued meanwhile (a promotion's poll) must not bring me back
    publishing.forget();
    // A raised hand goes with its owner: left up, a host would invite someone who is gone (a page
    // closed without Leave keeps it; a host sees it until they act on it).
    const lower = ctl.lowerHandOnLeave();
    void (media?.leave() ?? Promise.resolve()).finally(() => void lower());
  }

  function closeRoom(): void {
    for (const off of unsubscribe) off();
    unsubscribe = [];
    void media?.leave().catch(() => undefined);
    media = null;
  }

  // ---- the broadcast (a listener beyond the interactive threshold) --------------------------------

  /** What the broadcast's own controls do. */
  function broadcastHooks(): Parameters<typeof BroadcastStage.open>[1] {
    return {
      raiseHand,
      copyLink,
      retry: () => {
        leaveBroadcast();
        void join();
      },
      signIn: () => app.signOut(),
      leave: () => {
        const lower = ctl.lowerHandOnLeave();
        offTheBroadcast();
        void lower();
        leftBroadcast = true; // the message stays: what the lower's answer redraws is not the card
        ctl.left();
        renderMessage(el, "You left the Space.", ctl.space, () => void join());
      },
    };
  }

  /** Watch the broadcast `grant` names; false if its player could not be opened (said on the card,
   * unless `auto`: a reconnect attempt, which tries again). */
  async function watchBroadcast(grant: HlsGrant, auto: boolean): Promise<boolean> {
    const playlistUrl = grant.playlist_url;
    // An answer without a tag (an older API) cannot be counted: no heartbeats then.
    const viewerTag = grant.viewer_tag;
    const presenceInterval = viewerTag ? (grant.presence_interval_seconds ?? null) : null;
    leaveBroadcast();
    closeRoom();
    // Anything that leaves the broadcast while this player opens (a second join in flight, the
    // room taking over, the person leaving) wins: no second player or poller is left behind.
    const generation = broadcastGeneration;
    let opened: BroadcastStage;
    try {
      opened = await BroadcastStage.open(playlistUrl, broadcastHooks());
    } catch (err) {
      // The player's code could not be loaded (a deploy removed the old chunk, the network): not
      // joined, and said so; a reconnect attempt just tries again.
      if (!auto && !disposed && generation === broadcastGeneration) {
        cardError(`Could not open the broadcast: ${(err as Error).message}`);
      }
      return false;
    }
    const view = opened;
    if (disposed || generation !== broadcastGeneration) {
      view.destroy();
      return true; // something else took over meanwhile: nothing to retry
    }
    ctl.joined(grant);
    comebackSince = null;
    presence.entered(spaceId, ctl.issuedAt);
    watch = new BroadcastWatch(view, {
      playlistUrl,
      presenceInterval,
      sendPresence: () => app.api.presence(spaceId, viewerTag ?? ""),
      check: () => void ctl.load(),
      onState: (doc) => {
        if (!disposed) ctl.pushed(doc);
      },
      reactions,
      fetchText: async (url) => {
        const resp = await fetch(url);
        return resp.ok ? resp.text() : null;
      },
    });
    window.spaces = { room: null, broadcast: view.player };
    stale(el, null);
    const keyboardWasHere = focusWasIn(el);
    // HLS viewers react too (the API counts them).
    el.replaceChildren(view.el, reactBar);
    followBroadcast();
    if (keyboardWasHere) focusHeading(view.el);
    return true;
  }

  /** After each change seen on the broadcast: a promotion switches to the room, the end says so. */
  function followBroadcast(): void {
    switch (ctl.broadcastNext) {
      case "ended":
        // The composer writes the end after the last segment and ENDLIST: play the sign-off to the
        // end of the stream (at most PLAY_OUT_MS) before saying the Space ended.
        if (!playingOut) {
          playingOut = true;
          const generation = broadcastGeneration;
          void playOut(watch?.view.player ?? null).then(() => {
            if (disposed || generation !== broadcastGeneration) return; // left meanwhile
            leaveBroadcast();
            renderMessage(el, "This Space has ended.", ctl.space, null);
            endedSeen = true;
            void readEnded();
          });
        }
        return;
      case "removed":
        // A host removed me after my grant (state.json): no room to be disconnected from.
        removedFromBroadcast();
        return;
      case "join-room":
        // The new token is WebRTC; join() drops the broadcast once the room is up.
        if (promotionDue()) void join();
        return;
      case "watch":
        if (ctl.space) watch?.view.update(ctl.space, me, ctl.signInAgain);
    }
  }

  /**
   * A host removed me while I watched the broadcast (state.json said so, or the token for my
   * promotion was refused): the page stops its player itself. The Space is read once: its answer
   * says whether it was a block.
   */
  function removedFromBroadcast(): void {
    offTheBroadcast();
    removedSeen = true;
    renderRemoved();
    ctl.left();
    void ctl.load();
  }

  /** Off the broadcast for good (a Leave, a removal): the tab forgets the Space, a Join after this is
   * on purpose (not a promotion's retry), and nothing queued brings it back: not a join a later poll
   * queued behind a promotion, nor the promotion's room if it was connecting. */
  function offTheBroadcast(): void {
    presence.forget();
    comebackSince = null;
    joinAgain = false;
    dropPending();
    leaveBroadcast();
  }

  /** Removed from the broadcast: blocked, nothing to join; else joining again on purpose is allowed,
   * while the Space is live. */
  function renderRemoved(): void {
    const blocked = !!ctl.space?.caller_blocked;
    const joinable = !blocked && ctl.space?.state === "live";
    renderMessage(el, blocked ? BLOCKED_MESSAGE : REMOVED_MESSAGE, ctl.space, joinable ? () => void join() : null, "Join again");
  }

  /**
   * The end, seen on state.json: read the Space for its recording (whether and until when it can be
   * replayed is the API's). The whole audience gets here within seconds, so the read waits a random
   * moment first, over a window that grows with the audience, while the page already says the Space
   * ended; a read that still says live (the composer can write the end a moment before the API has
   * stored it) is repeated 2–4 s later, at most 3 reads (ended_read.ts).
   */
  function readEnded(): Promise<void> {
    return readEndedSpread(() => ctl.load(), { listeners: ctl.space?.listener_count ?? 0, stopped: () => disposed });
  }

  function leaveBroadcast(): void {
    broadcastGeneration++;
    playingOut = false;
    if (!watch) return;
    watch.close();
    watch = null;
    window.spaces = { room: null, broadcast: null };
  }

  // ---- the live stage -----------------------------------------------------------------------------

  function buildStage(): void {
    // The Join button (or the broadcast's controls) had the focus and is replaced: the stage's
    // heading takes it once the header is drawn, not the top of the page.
    headingWanted = focusWasIn(el);
    stale(el, null);
    header.reset();
    controls.reset();
    devices.reset();
    panel.reset();
    stage.reset();
    el.replaceChildren(
      header.header,
      header.banner,
      header.hostAway,
      h("div", { class: "space-body" }, h("div", { class: "stage" }, reactions.el, stage.bigTile, stage.strip, reactBar, controls.el, devices.el), panel.el),
      audioSink,
    );
  }

  function render(): void {
    if (disposed || !media) return;
    const room = media;
    const status = room.status;
    if (status.kind === "ended") {
      window.spaces = { room: null };
      if (reconnector.running || (status.dropped && ctl.space?.state !== "ended")) {
        if (!reconnector.running) void reconnect();
        renderReconnecting();
        ctl.left();
        return;
      }
      if (!status.canRejoin || status.seatTaken) presence.forget(); // removed, ended, or another tab has the seat
      if (!status.canRejoin && !readAfterLeaving) {
        // The Space as the API has it now (ended, and whether its recording is offered): the one
        // held was read while it was live, so the message would offer no Replay. Read once; its
        // answer redraws this message.
        readAfterLeaving = true;
        void ctl.load();
      }
      // The disconnect says "removed"; the Space read after it says whether the removal was a block.
      const message = status.removed && ctl.space?.caller_blocked ? BLOCKED_MESSAGE : status.message;
      renderMessage(el, message, ctl.space, status.canRejoin ? () => void join() : null);
      // Emits only on the first call; its redraw lands here again and stops (it used to recurse
      // until the stack overflowed inside LiveKit's signal handler, which then reconnected).
      ctl.left();
      return;
    }
    const local = room.room.localParticipant;
    const role = (id: string) => {
      const p = room.participant(id);
      return ctl.roleOf(id, p ? attributeRole(p) : null);
    };
    const myRole = ctl.myRole;
    if (status.kind === "connected") connectedOnce = true;
    if (status.kind === "connected") {
      const notice = shownRole === null ? null : roleNotice(shownRole, myRole);
      shownRole = myRole;
      if (notice) toast(notice);
    }
    const banner: BannerState =
      status.kind === "reconnecting" || status.kind === "connecting"
        ? { kind: status.kind }
        : ctl.signInAgain
          ? { kind: "sign-in-again", signIn: () => app.signOut() }
          : !room.room.canPlaybackAudio
            ? { kind: "enable-audio", start: () => void room.room.startAudio() }
            : { kind: "none" };
    header.update(
      { title: ctl.space?.title || room.info.title || "Space", listeners: ctl.space?.listener_count ?? 0, myRole, hostAwayUntil: hostAwayUntilMs(ctl.space) },
      banner,
    );
    if (headingWanted) {
      headingWanted = false;
      focusHeading(header.header);
    }

    // On stage = allowed to publish by the SFU (live truth), falling back to the role.
    const onStage = room.people.filter((p) => (p.permissions ? p.permissions.canPublish : isStageRole(role(p.identity))));
    const members = stageOrder(onStage.map((p) => ({ identity: p.identity, role: role(p.identity) })));
    const agentStage = room.stage.current;
    const layout = layoutFor(agentStage, members);
    stage.update({
      layout,
      seq: agentStage?.seq ?? null,
      spotlight: agentStage?.spotlight ?? null,
      hasStage: !!agentStage,
      me,
      participant: (id) => room.participant(id),
      name: (id) => displayName(person(id), me, role(id)),
      person,
    });

    const rights = publishRights(local, room.info.video, myRole);
    if (status.kind === "connected") {
      publishing.observe(rights, { mic: micOn(local), camera: !!cameraTrack(local), screen: sharing(local) }, micMuted(local));
    }
    devices.update(room, deviceKinds(rights));
    controls.update({
      rights,
      micOn: micOn(local),
      cameraOn: !!cameraTrack(local),
      screenOn: sharing(local),
      raised: ctl.handRaised,
      handPending,
      devicesOpen: devices.isOpen,
    });

    const hands = ctl.hands;
    panel.update({
      me,
      myRole,
      hands,
      pinned: layout.pinned,
      pinnedSource: ctl.space?.pinned_source ?? room.info.pinned_source,
      person,
      members: [
        ...members.map((id) => {
          const p = room.participant(id);
          return { id, role: role(id), micOn: !!p && micOn(p), screenOn: !!p && sharing(p) };
        }),
        // On stage as the Space stores it but not in the room (dropped out, tab closed): still a
        // moderator's to demote, remove or unpin, and a co-host's seat still taken.
        ...awayFromStage(new Set(room.people.map((p) => p.identity))).map((id) => ({ id, role: role(id), micOn: false, away: true })),
      ],
    });
  }

  /** The stored stage (host, co-hosts, speakers) who are not among `here`, in stage order. */
  function awayFromStage(here: ReadonlySet<string>): string[] {
    const s = ctl.space;
    if (!s) return [];
    const ids = new Set([s.host, ...s.cohosts, ...s.speakers].filter((id) => id && !here.has(id)));
    return stageOrder([...ids].map((id) => ({ identity: id, role: ctl.roleOf(id) })));
  }

  /** Trying again by itself: after a drop ("Reconnecting…"), or a first connect that failed (the
   * network, the media server out of reach), which says so in words, not the SDK's, and offers a
   * Rejoin now beside the way back. */
  function renderReconnecting(): void {
    const first = !connectedOnce;
    if (!stale(el, ["reconnecting", first])) return;
    const rejoinNow = () => {
      reconnector.cancel();
      dropPending(); // an attempt's room still connecting gives way to the Rejoin's
      void join();
    };
    el.replaceChildren(
      h(
        "div",
        { class: "card message" },
        h("p", { "data-testid": "reconnecting", "data-first": first ? "true" : "false", role: "status" }, first ? FIRST_CONNECT_RETRYING : "Reconnecting…"),
        h(
          "div",
          { class: "row" },
          h("a", { class: "btn", href: "#/" }, "Back to Spaces"),
          first && h("button", { class: "btn btn-primary", "data-testid": "rejoin", onclick: rejoinNow }, "Rejoin"),
        ),
      ),
    );
  }

  // ---- actions ------------------------------------------------------------------------------------

  /** `who`: the name of whom it was done to, before a refusal that speaks of "they". */
  async function act(call: Parameters<SpaceController["act"]>[0], done: string, who?: string): Promise<void> {
    report(await ctl.act(call), done, who);
  }

  /** True when the row is done with: the action went through, or (an invitation) the person had
   * left the audience since the list was read, so the row was out of date. */
  async function listAct(call: Parameters<SpaceController["act"]>[0], done: string, who?: string): Promise<boolean> {
    const result = await ctl.act(call);
    report(result, done, who);
    return result.ok || result.rule === "role_changed";
  }

  function report(result: ActResult, done: string, who?: string): void {
    if (result.ok) toast(done);
    else toast(who && result.rule === "role_changed" ? `${who}: ${result.message}` : result.message, "error");
  }

  async function toggle(what: Capture, call: () => Promise<unknown>): Promise<void> {
    try {
      await call();
    } catch (err) {
      toast(publishError(err, what), "error");
    }
    render();
  }

  /** Applied to this room (a live track moves to the device), then remembered for the next ones. */
  async function chooseDevice(kind: DeviceKind, id: string): Promise<void> {
    try {
      if (media) await media.useDevice(kind, id);
      devicePrefs.set(kind, id);
    } catch (err) {
      toast(`Could not switch the device: ${(err as Error).message}`, "error");
    }
    render();
  }

  /** My raise or lower on its way: a second click waits for its answer instead of sending another. */
  let handPending = false;

  async function raiseHand(up: boolean): Promise<void> {
    if (handPending) return;
    handPending = true;
    render();
    try {
      report(await ctl.raiseHand(up), up ? "Hand raised" : "Hand lowered");
    } finally {
      handPending = false;
      render();
    }
  }

  async function endSpace(): Promise<void> {
    if (!window.confirm("End this Space for everyone?")) return;
    await act((a, s) => a.endSpace(s), "Space ended");
  }

  function copyLink(): void {
    const link = `${location.origin}${location.pathname}#/spaces/${encodeURIComponent(spaceId)}`;
    // No clipboard (a plain-http origin) or a refused write: the link itself, to copy by hand.
    if (!navigator.clipboard) return toast(link);
    navigator.clipboard.writeText(link).then(
      () => toast("Invite link copied"),
      () => toast(link),
    );
  }

  el.append(h("p", { class: "muted" }, "Loading…"));
  hideToast();
  void ctl.load(joinPath()).then(async (space) => {
    // A reload of a page that was in this Space: back in without a click, in the role stored now.
    if (disposed || !presence.wasIn(spaceId)) return;
    if (space?.state !== "live") {
      if (space) presence.forget();
      return;
    }
    // Not a copy of a tab that is in it (a duplicated tab): that one keeps its seat, this one shows the card.
    if (await seats.heldElsewhere(spaceId, presence.seat(spaceId))) {
      presence.forget();
      toast("This Space is open in another tab of yours. Join here to move it to this tab.");
      return;
    }
    if (disposed) return;
    comebackSince = presence.since(spaceId);
    void join();
  });

  return {
    el,
    unmount() {
      disposed = true;
      leaving.abort();
      // Navigating away (or signing out) is leaving: a later visit shows the card.
      presence.forget();
      seats.close();
      reconnector.cancel();
      listenerList.hide();
      dropPending();
      closeRoom();
      leaveBroadcast();
      window.spaces = { room: null };
    },
  };
}

/** Whether the keyboard focus is in `el`, or nowhere (the body): a view replacing `el` should put it back. */
function focusWasIn(el: HTMLElement): boolean {
  const active = document.activeElement;
  return active === null || active === document.body || el.contains(active);
}

/** The view's heading takes the focus (read first by a screen reader), without scrolling the page. */
function focusHeading(view: HTMLElement): void {
  const heading = view.querySelector<HTMLElement>("h1");
  if (!heading) return;
  heading.tabIndex = -1;
  heading.focus({ preventScroll: true });
}

/** A block cannot be undone (no unblock, like X): asked once, as ending the Space and handing it over are. */
function confirmBlock(name: string): boolean {
  return window.confirm(`Block ${name}? They are removed and cannot join this Space again.`);
}
