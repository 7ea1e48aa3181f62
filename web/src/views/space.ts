/**
 * One Space page: the view. It builds the page from the controller (space_controller.ts: what the
 * page knows) and the session (space_session.ts: the room or broadcast the page is in, and how it
 * joins, reconnects, is promoted and leaves), through the small views in views/space/ (card, header,
 * stage, controls, host panel), and wires the person's actions to them.
 *
 * Feeds, push not poll: the Space is read from the API once when the page opens and again on every
 * reconnect; after that the room metadata (everyone), the hands topic (moderators) and, for a
 * listener on the broadcast, state.json beside the playlist (a CDN read every few seconds) keep it
 * current; a page waiting for a scheduled Space to start reads its state.json-to-be from the CDN
 * (start_watch.ts). No API call runs on a timer, but for a scheduled Space whose start is late (a
 * cancel writes no document: start_watch.ts) and a host's reconnect (its deadline: space_session.ts).
 */
import type { App, View } from "../app";
import { hostAwayUntilMs } from "../api";
import { type DeviceKind, DevicePreferences } from "../devices";
import type { BroadcastPlayer } from "../hls_player";
import { dockAtBottom, hideToast, h, stale, toast } from "../dom";
import { NOT_INVITED_RULE } from "../contract.gen";
import { cameraOn, cameraTrack, canShareScreen, isStageRole, micMuted, micOn, publishRights, REMOVED_MESSAGE, setScreenShare, sharing, SpaceRoom, attributeRole } from "../media";
import { type Person, personOf } from "../people";
import { SEATS_CHANNEL, type SeatChannel } from "../rejoin";
import { SpaceController, type SpaceApi } from "../space_controller";
import { StartWatch } from "../start_watch";
import { BLOCKED_MESSAGE, FIRST_CONNECT_RETRYING, SpaceSession } from "../space_session";
import { parseRoomMetadata } from "../pushed";
import { layoutFor, seatedOf, stageOrder } from "../stage";
import { BroadcastStage } from "./broadcast_stage";
import { ReactionsOverlay, reactionsBar } from "./reactions";
import { confirmRemoval, SpaceActions } from "./space/actions";
import { renderCard, renderMessage } from "./space/card";
import { ControlsView } from "./space/controls";
import { DevicesView } from "./space/devices";
import { type BannerState, HeaderView, hostGoneText, isRecorded } from "./space/header";
import { HostPanel } from "./space/host_panel";
import { InvitationPrompt } from "./space/invitation";
import { ListenerList } from "./space/listeners";
import { displayName, handOverNotice, pinNotice, screenShareNotice, seatRefusal, seatsLine } from "./space/people";
import { StageView } from "./space/stage";

export { BLOCKED_MESSAGE, FIRST_CONNECT_FAILED, FIRST_CONNECT_RETRYING, HOST_MUTED_NOTICE, PLAY_OUT_MS } from "../space_session";

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

/** What the host reads once they left a live Space: the confirmation said it, the card says it again. */
export const HOST_LEFT_NOTE =
  "Unless you rejoin within the grace period (2 minutes unless your deployment changed it), this Space ends for everyone.";

/** What the host confirms before cancelling a scheduled Space (it cannot be undone). */
export const CANCEL_WARNING = "Cancel this scheduled Space? It ends before it starts, for everyone, and cannot be started again.";

/** What a page says while the API is too busy to let it in yet (api.ts JOIN_RETRY_BUDGET_MS). */
export const BUSY_MESSAGE = "Lots of people are joining this Space right now. Trying again…";
/** The join path's call got no answer at all (offline, or the API out of reach): not a crowd. */
export const UNREACHABLE_MESSAGE = "Could not reach the Spaces API: check your connection. Trying again…";

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

/** A CDN document's text, or null when it is not there (an error status). */
async function fetchText(url: string): Promise<string | null> {
  const resp = await fetch(url);
  return resp.ok ? resp.text() : null;
}

export function spaceView(app: App, spaceId: string): View {
  const me = app.session?.userId ?? "";
  const ctl = new SpaceController(app.api as SpaceApi, spaceId, me);
  const audioSink = h("div", { hidden: true });
  const el = h("section", { class: "space", "data-testid": "space-page", "data-space-id": spaceId });
  /** The stage replaced what had the keyboard focus: its heading takes it at the next draw. */
  let headingWanted = false;
  /** The host left a live Space on purpose (their card says the grace period again); a rejoin clears it. */
  let hostLeft = false;
  /** What last took the keyboard focus in the page (it may have gone with the view it was in). */
  let lastFocused: HTMLElement | null = null;
  el.addEventListener("focusin", (e) => (lastFocused = e.target instanceof HTMLElement ? e.target : null));

  /** Which microphone, camera and speaker, kept per browser (devices.ts). */
  const devicePrefs = new DevicePreferences(storage("localStorage"));
  /** The small actions: a moderator's, my hand, ending the Space, the link, the device (space/actions.ts). */
  const actions: SpaceActions = new SpaceActions({ spaceId, ctl, room: () => session.room, devicePrefs, redraw: render });
  const { act, listAct, raiseHand, endSpace, copyLink, chooseDevice } = actions;

  const header = new HeaderView({ copyLink, endSpace: () => void endSpace(), leave: () => leave() });
  const stage = new StageView();
  const reactions = new ReactionsOverlay();
  const reactBar = reactionsBar((emoji) => app.api.react(spaceId, emoji));
  /** The room or broadcast the page is in, and how it gets there and back (space_session.ts). */
  const session: SpaceSession = new SpaceSession({
    spaceId,
    me,
    ctl,
    api: app.api,
    screen: {
      draw,
      update: render,
      stage: buildStage,
      broadcast: showBroadcast,
      message: (text, rejoin, action) =>
        renderMessage(el, hostLeft && rejoin ? `${text} ${HOST_LEFT_NOTE}` : text, ctl.space, rejoin ? rejoinAfterMessage : null, action),
      removed: renderRemoved,
      reconnecting: renderReconnecting,
      busy: (unreachable) => renderMessage(el, unreachable ? UNREACHABLE_MESSAGE : BUSY_MESSAGE, ctl.space, null),
      toast,
    },
    newRoom: () => new SpaceRoom(audioSink, devicePrefs.get()),
    openBroadcast: (url, own) => BroadcastStage.open(url, { ...own, raiseHand, copyLink, signIn: () => app.signOut(), clockOffsetMs: () => ctl.clockOffset }),
    reactions,
    fetchText,
    sessionStorage: storage("sessionStorage"),
    seatChannel: seatChannel(),
    expose: (spaces) => (window.spaces = spaces),
    setTimer: (fn, ms) => window.setTimeout(fn, ms),
    clearTimer: (handle) => window.clearTimeout(handle as number),
  });
  const publishing = session.publishing;
  const controls = new ControlsView({
    setMic: (on) => {
      publishing.chose("mic", on);
      void session.toggle("microphone", () => session.room!.setMicrophone(on));
    },
    setCamera: (on) => {
      publishing.chose("camera", on);
      void session.toggle("camera", () => session.room!.room.localParticipant.setCameraEnabled(on));
    },
    setScreen: (on) => {
      publishing.chose("screen", on);
      void session.toggle("screen", () => setScreenShare(session.room!.room.localParticipant, on)).then(() => {
        // The big tile shows a screen only once the host pins it (docs/screen-share.md): say so,
        // or a sharer sees nothing change for anyone and thinks sharing is broken.
        const media = session.room;
        if (on && media && sharing(media.room.localParticipant)) toast(screenShareNotice(ctl.myRole));
      });
    },
    raiseHand: (up) => void raiseHand(up),
    stepDown: () => {
      const from = ctl.myRole;
      if (from !== "speaker" && from !== "cohost") return;
      if (!window.confirm("Leave the stage? You will listen from the audience, and speak again only when invited.")) return;
      session.ownRoleChange("listener");
      void listAct((a, s) => a.setRole(s, me, "listener", from), "You left the stage").then((done) => {
        if (!done) session.ownRoleChange(from); // still on stage: nothing to hide
      });
    },
    toggleDevices: () => {
      devices.toggle();
      render();
    },
  });
  const devices = new DevicesView((kind, id) => void chooseDevice(kind, id), () => devicePrefs.get());
  /** Who someone is: the room's view of them first, then the names and faces the Space carries (people.ts). */
  const person = (id: string): Person => personOf(id, session.room?.participant(id), ctl.names, ctl.pictures);
  const called = (id: string) => person(id).name;
  const listenerList = new ListenerList((q, cursor) => app.api.listeners(spaceId, { q, cursor }), {
    invite: async (id, name) => {
      if (refusedSeat(id, "speaker")) return false;
      return actions.invite(id, name);
    },
    withdraw: (id, name) => listAct((a, s) => a.withdrawInvitation(s, id), `Invitation to ${name} withdrawn`, name),
    remove: async (id, block, name) => {
      if (!confirmRemoval(name, block)) return false;
      return listAct((a, s) => a.remove(s, id, block), block ? `${name} removed and blocked` : `${name} removed`);
    },
  });
  /** A move the stage has no free seat for is told at once, without asking the API (its 409 says the
   * same): true when it was refused. */
  const refusedSeat = (id: string, role: "cohost" | "speaker"): boolean => {
    const refusal = ctl.space ? seatRefusal(ctl.space, id, role, ctl.seatsHeld(Date.now(), id)) : null;
    if (refusal) toast(refusal, "error");
    return refusal !== null;
  };
  const panel = new HostPanel({
    setRole: (id, role, from) => {
      if (role !== "listener" && refusedSeat(id, role)) return;
      // A raised hand's row: an invitation, which puts them on stage at once while their hand is
      // still up (they asked) and asks them if they lowered it meanwhile.
      if (role === "speaker" && from === "listener") return void actions.invite(id, called(id));
      void act(
        (a, s) => a.setRole(s, id, role, from),
        role === "listener"
          ? `${called(id)} moved to the audience`
          : role === "cohost"
            ? `${called(id)} is now a co-host`
            : `${called(id)} is now a speaker`,
        called(id),
      );
    },
    remove: (id, block) => {
      if (!confirmRemoval(called(id), block)) return;
      void act((a, s) => a.remove(s, id, block), block ? `${called(id)} removed and blocked` : `${called(id)} removed`);
    },
    mute: (id) => void act((a, s) => a.mute(s, id), `${called(id)} muted`),
    pin: (id, source = "camera") =>
      void act((a, s) => a.pin(s, id, source), id ? (source === "screen_share" ? `${called(id)}'s screen pinned` : pinnedText(id)) : "Spotlight unpinned"),
    handOver: (id) => {
      if (window.confirm(`Hand this Space to ${called(id)}? You stay on as a co-host.`)) void act((a, s) => a.handOver(s, id), handedOverText(id));
    },
  }, listenerList);

  /** An invitation to speak waiting for my answer (views/space/invitation.ts), over the stage or the broadcast. */
  const invitation = new InvitationPrompt({
    answer: async (accept) => {
      const done = await ctl.answerInvitation(accept);
      if (done.ok) {
        toast(accept ? "You are on stage. Your microphone is off: turn it on to speak." : "Invitation declined");
        return true;
      }
      toast(`Could not ${accept ? "join the stage" : "decline"}: ${done.message}`, "error");
      if (done.rule !== NOT_INVITED_RULE) return false;
      void ctl.load(); // withdrawn or lapsed: the read clears it
      return true;
    },
    setTimer: (fn, ms) => window.setTimeout(fn, ms),
    clearTimer: (handle) => window.clearTimeout(handle as number),
    now: () => Date.now() + ctl.clockOffset,
    lapsed: () => toast("The invitation to speak has lapsed. Raise your hand if you want to speak."),
    // Answered in the room: to the controls (still a listener: the hand; on stage: the microphone,
    // once the SFU's permission draws it); on the broadcast, its heading.
    focusAfter: () => {
      if (!session.room) return focusHeading(el);
      const control = controls.el.querySelector<HTMLElement>("button.round");
      if (control && ctl.myRole === "listener") control.focus({ preventScroll: true });
      else controls.takeFocus();
    },
  });

  ctl.onChange(() => draw());

  function handedOverText(id: string): string {
    return handOverNotice(called(id), ctl.space?.video ?? "off");
  }

  function pinnedText(id: string): string {
    const cameras = (session.room?.people ?? []).filter(cameraOn).map((p) => p.identity);
    return pinNotice(called(id), { pinned: id, cameras, video: ctl.space?.video ?? "off", host: ctl.space?.host ?? "" });
  }

  /** A scheduled start as epoch ms, or null when there is none that parses. */
  function startsAtMs(iso: string | null | undefined): number | null {
    const ms = iso ? Date.parse(iso) : Number.NaN;
    return Number.isFinite(ms) ? ms : null;
  }

  /** While the Space is scheduled, the page watches the CDN for its start (start_watch.ts). */
  let startWatch: StartWatch | null = null;
  function watchForStart(): void {
    const url = ctl.space?.state === "scheduled" && !session.closed ? ctl.space.start_signal_url : null;
    if (!url) {
      startWatch?.stop();
      startWatch = null;
      return;
    }
    if (startWatch) return;
    const watch: StartWatch = new StartWatch(url, {
      fetchText,
      // The document is the room metadata, taken as on the broadcast: the card redraws with Join.
      // The API is read only for an end (the recording's availability is the API's) or a document
      // that does not apply; its answer redraws the card, and watches again if it still says scheduled.
      started: (text) => {
        if (startWatch === watch) startWatch = null;
        const doc = parseRoomMetadata(text);
        if (doc.state !== "live" || !ctl.pushed(doc)) void ctl.load();
      },
      visible: () => document.visibilityState !== "hidden",
      // Its answer redraws the page; an ended Space stops this watch (above).
      askApi: () => void ctl.load(),
      startsAt: startsAtMs(ctl.space?.scheduled_start),
      now: Date.now,
      random: Math.random,
      setTimer: (fn, ms) => window.setTimeout(fn, ms),
      clearTimer: (handle) => window.clearTimeout(handle as number),
    });
    startWatch = watch;
    watch.start();
  }
  const onVisibility = () => {
    if (document.visibilityState === "visible") startWatch?.shown();
  };
  document.addEventListener("visibilitychange", onVisibility);
  // The page itself goes (a reload, the tab closed): a raised hand goes with it (session.pageGoes).
  const onPageHide = () => session.pageGoes();
  window.addEventListener("pagehide", onPageHide);

  /** Whatever the page shows now, from the controller and the session. */
  function draw(): void {
    watchForStart();
    if (session.closed) return;
    // Left with *Leave*: the invitation is being declined (controller.withdrawOnLeave).
    invitation.update(session.leftOnPurpose ? null : ctl.invitedUntil(Date.now()), ctl.space?.broadcast ? isRecorded(ctl.space) : null);
    if (ctl.space?.title) document.title = `${ctl.space.title} · Spaces`;
    if (session.watching) return session.followBroadcast();
    const media = session.room;
    if (media && media.status.kind !== "idle") return render();
    if (session.endedSeen && ctl.space?.state !== "ended") return; // the API has not stored the end yet
    if (session.leftBroadcast) return;
    if (session.removedSeen) return renderRemoved();
    if (ctl.space) return renderCard(el, ctl.space, me, session.joinError, { start: () => session.start(), join: () => void session.join(), cancel: () => cancelScheduled() });
    const e = ctl.loadError;
    if (e?.status === 401) return app.signOut(); // not in a room: nothing to keep
    // 422: not even the shape of a Space id (a truncated link): the same answer as an unknown one.
    if (!e) return;
    if (e.status === 404 || e.status === 422) return renderMessage(el, "No Space with this link.", null, null);
    // Anything else (a busy API past its retries, the network) may pass: the reader can ask again.
    renderMessage(el, `Could not load the Space: ${e.detail}`, null, () => void ctl.load(session.joinPath()), "Try again");
  }

  /** The host cancels a scheduled Space (the API ends it: POST /end), after a confirmation. */
  async function cancelScheduled(): Promise<void> {
    if (!window.confirm(CANCEL_WARNING)) return;
    const done = await ctl.act((a, s) => a.endSpace(s));
    if (!done.ok) return session.refuse(`Could not cancel: ${done.message}`, false);
    toast("Space cancelled");
  }

  /** The host's leave starts the grace period (past it the Space ends for everyone): they confirm it. */
  function hostConfirmsLeaving(): boolean {
    const hostLeaving = ctl.myRole === "host" && ctl.space?.state === "live";
    return !hostLeaving || window.confirm(HOST_LEAVE_WARNING);
  }

  function rejoinAfterMessage(): void {
    hostLeft = false;
    void session.join();
  }

  /** Leaving on purpose. */
  function leave(): void {
    if (!hostConfirmsLeaving()) return;
    hostLeft = ctl.myRole === "host" && ctl.space?.state === "live";
    session.leave();
  }

  // ---- the broadcast (a listener beyond the interactive threshold) --------------------------------

  /** The broadcast the session opened is what the page shows now. */
  function showBroadcast(view: BroadcastStage): void {
    stale(el, null);
    const keyboardWasHere = focusWasIn(el);
    // HLS viewers react too (the API counts them).
    el.replaceChildren(view.el, reactBar, invitation.el);
    session.followBroadcast();
    if (keyboardWasHere) focusHeading(view.el);
  }

  /** Removed from the broadcast: blocked, nothing to join; else joining again on purpose is allowed,
   * while the Space is live. */
  function renderRemoved(): void {
    const blocked = !!ctl.space?.caller_blocked;
    const joinable = !blocked && ctl.space?.state === "live";
    renderMessage(el, blocked ? BLOCKED_MESSAGE : REMOVED_MESSAGE, ctl.space, joinable ? () => void session.join() : null, "Join again");
  }

  // ---- the live stage -----------------------------------------------------------------------------

  /** Stops the last stage's dock from lifting the toasts (dom.ts dockAtBottom). */
  let undock: () => void = () => undefined;

  function buildStage(): void {
    // The Join button (or the broadcast's controls) had the focus and is replaced: the stage's
    // heading takes it once the header is drawn, not the top of the page.
    headingWanted = focusWasIn(el);
    // My raised hand on the broadcast had it, and went with the broadcast when I was invited on
    // stage: it goes to my microphone, as a hand invited in the room passes it (ControlsView), not to
    // the heading a dozen tabs away.
    const handHadFocus = lastFocused?.dataset.testid === "raise-hand" && !lastFocused.isConnected && focusWasIn(el);
    stale(el, null);
    header.reset();
    controls.reset();
    if (handHadFocus) {
      headingWanted = false;
      controls.takeFocus();
    }
    devices.reset();
    panel.reset();
    stage.reset();
    undock();
    const dock = h("div", { class: "dock", "data-testid": "dock" }, controls.el, panel.jump, devices.el);
    undock = dockAtBottom(dock);
    el.replaceChildren(
      header.header,
      header.banner,
      header.hostAway,
      h("div", { class: "space-body" }, h("div", { class: "stage" }, reactions.el, stage.bigTile, stage.strip, reactBar, dock), panel.el),
      invitation.el,
      audioSink,
    );
  }

  function render(): void {
    const room = session.room;
    if (session.closed || !room) return;
    const status = room.status;
    // Ended: the session says what follows (Reconnecting…, or a message); nothing of the room is drawn.
    if (status.kind === "ended") return;
    const local = room.room.localParticipant;
    const role = (id: string) => {
      const p = room.participant(id);
      return ctl.roleOf(id, p ? attributeRole(p) : null);
    };
    const myRole = ctl.myRole;
    const banner: BannerState =
      status.kind === "reconnecting" || status.kind === "connecting"
        ? { kind: status.kind }
        : ctl.signInAgain
          ? { kind: "sign-in-again", signIn: () => app.signOut() }
          : !room.room.canPlaybackAudio
            ? { kind: "enable-audio", start: () => void room.room.startAudio() }
            : { kind: "none" };
    // The host in the room is not away, whatever the last read says: the read a reload makes before
    // its join was stored while they were out, and the metadata that clears it comes a moment later.
    const hostHere = myRole === "host" && status.kind === "connected";
    header.update(
      { title: ctl.space?.title || room.info.title || "Space", listeners: ctl.space?.listener_count ?? 0, myRole, hostAwayUntil: hostHere ? null : hostAwayUntilMs(ctl.space), recorded: isRecorded(ctl.space) },
      banner,
    );
    if (headingWanted) {
      headingWanted = false;
      focusHeading(header.header);
    }

    // On stage = allowed to publish by the SFU (live truth), falling back to the role.
    const onStage = room.people.filter((p) => (p.permissions ? p.permissions.canPublish : isStageRole(role(p.identity))));
    // Until the Space is read, the room's own metadata seats the stage, as the broadcast's does.
    const info = room.info;
    const seated = seatedOf(ctl.space ?? info);
    const members = stageOrder(
      onStage.map((p) => ({ identity: p.identity, role: role(p.identity) })),
      seated,
    );
    const agentStage = room.stage.current;
    const pinnedSource = ctl.space?.pinned_source ?? info.pinned_source;
    const layout = layoutFor(agentStage, members, pinnedSource);
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

    const rights = publishRights(local);
    if (status.kind === "connected") {
      publishing.observe(rights, { mic: micOn(local), camera: !!cameraTrack(local), screen: sharing(local) }, micMuted(local));
    }
    devices.update(room, deviceKinds(rights));
    controls.update({
      // No Share button where the browser cannot capture a screen (a phone): the right alone is not enough.
      rights: { ...rights, screen: rights.screen && canShareScreen() },
      micOn: micOn(local),
      cameraOn: !!cameraTrack(local),
      screenOn: sharing(local),
      raised: ctl.handRaised,
      handPending: actions.handPending,
      devicesOpen: devices.isOpen,
      canStepDown: myRole === "speaker" || myRole === "cohost",
      onStage: isStageRole(myRole),
    });

    const hands = ctl.hands;
    panel.update({
      me,
      myRole,
      hands,
      pinned: layout.pinned,
      pinnedSource,
      person,
      seatRefusal: (id, role) => (ctl.space ? seatRefusal(ctl.space, id, role, ctl.seatsHeld(Date.now(), id)) : null),
      seats: ctl.space ? seatsLine(ctl.space, ctl.seatsHeld(Date.now())) : "",
      invited: ctl.invitedAt(Date.now()),
      removed: ctl.removedViewers,
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
    if (ctl.moderator) redrawAtNextLapse();
  }

  /** A moderator's marks and seat count change when an invitation lapses, which no document says:
   * the page draws again then. */
  let lapseTimer: number | undefined;
  function redrawAtNextLapse(): void {
    window.clearTimeout(lapseTimer);
    const next = ctl.nextInvitationLapse(Date.now());
    if (next !== null) lapseTimer = window.setTimeout(render, next - Date.now() + 50);
  }

  /** The stored stage (host, co-hosts, speakers) who are not among `here`, in stage order. */
  function awayFromStage(here: ReadonlySet<string>): string[] {
    const s = ctl.space;
    if (!s) return [];
    const ids = new Set([s.host, ...s.cohosts, ...s.speakers].filter((id) => id && !here.has(id)));
    return stageOrder(
      [...ids].map((id) => ({ identity: id, role: ctl.roleOf(id) })),
      ctl.seated,
    );
  }

  /** Trying again by itself: after a drop ("Reconnecting…"), or a first connect that failed (the
   * network, the media server out of reach), which says so in words, not the SDK's, and offers a
   * Rejoin now beside the way back. */
  function renderReconnecting(first: boolean): void {
    // The host out of the room: the Space ends at the grace period's end unless they are back.
    const until = ctl.myRole === "host" ? hostAwayUntilMs(ctl.space) : null;
    if (!stale(el, ["reconnecting", first, until])) return;
    const rejoinNow = () => session.rejoinNow();
    el.replaceChildren(
      h(
        "div",
        { class: "card message" },
        h("p", { "data-testid": "reconnecting", "data-first": first ? "true" : "false", role: "status" }, first ? FIRST_CONNECT_RETRYING : "Reconnecting…"),
        until !== null && h("p", { class: "banner notice", "data-testid": "host-away", role: "status" }, hostGoneText(until)),
        h(
          "div",
          { class: "row" },
          h("a", { class: "btn", href: "#/" }, "Back to Spaces"),
          first && h("button", { class: "btn btn-primary", "data-testid": "rejoin", onclick: rejoinNow }, "Rejoin"),
        ),
      ),
    );
  }

  el.append(h("p", { class: "muted" }, "Loading…"));
  hideToast();
  void session.open();

  return {
    el,
    // Leaving the page is leaving the Space: a host in its room confirms it as Leave asks them to.
    mayLeave: () => !session.room || hostConfirmsLeaving(),
    unmount() {
      undock();
      listenerList.hide();
      window.clearTimeout(lapseTimer);
      document.removeEventListener("visibilitychange", onVisibility);
      window.removeEventListener("pagehide", onPageHide);
      startWatch?.stop();
      startWatch = null;
      return session.dispose();
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
