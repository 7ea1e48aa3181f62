/**
 * One Space: its lobby card before joining, then the live stage, controls and (for hosts) the
 * moderation panel. The stage is drawn only from the agent's stage state (see stage.ts). A listener
 * the token endpoint sends to the broadcast watches it (broadcast_stage.ts) until promoted.
 */
import type { Participant, Track } from "livekit-client";

import type { App, View } from "../app";
import { ApiError, type Role, type Space } from "../api";
import { afterPoll, replayAvailable } from "../broadcast";
import type { BroadcastPlayer } from "../hls_player";
import { avatar, clear, h, hideToast, stale, toast } from "../dom";
import { icon } from "../icons";
import {
  attributeRole,
  cameraTrack,
  isStageRole,
  micOn,
  publishRights,
  SpaceRoom,
} from "../media";
import { SPACE_POLL_MS } from "../names";
import { layoutFor, stageOrder } from "../stage";
import { BroadcastStage } from "./broadcast_stage";
import { parseBurst, ReactionsOverlay, reactionsBar } from "./reactions";

declare global {
  interface Window {
    /** The live connection, for people poking at the page from the console (and the e2e tests). */
    spaces?: { room: SpaceRoom["room"] | null; broadcast?: BroadcastPlayer | null };
  }
}

const ROLE_LABEL: Record<Role, string> = { host: "Host", cohost: "Co-host", speaker: "Speaker", listener: "Listener" };

/** A <video> that shows at most one track and only re-attaches when the track changes. */
class VideoSlot {
  readonly el = h("video", { autoplay: true, playsinline: true, muted: true });
  private track: Track | null = null;

  show(track: Track | null, mirrored = false): void {
    this.el.classList.toggle("mirrored", mirrored);
    if (track === this.track) return;
    this.track?.detach(this.el);
    this.track = track;
    track?.attach(this.el);
  }
}

/** A speaker tile in the strip. */
class Tile {
  readonly video = new VideoSlot();
  readonly el: HTMLElement;
  private readonly face: HTMLElement;
  private readonly mic = h("span", { class: "mic-state", "data-testid": "tile-mic" });
  private readonly label = h("span", { class: "tile-name" });

  constructor(readonly identity: string) {
    this.face = avatar(identity);
    this.el = h(
      "div",
      { class: "tile", "data-testid": "tile", "data-identity": identity },
      this.video.el,
      this.face,
      h("div", { class: "tile-caption" }, this.mic, this.label),
    );
  }

  update(p: Participant | undefined, opts: { name: string; level: number | undefined; pinned: boolean; local: boolean }): void {
    const track = p ? cameraTrack(p) : null;
    this.video.show(track, opts.local);
    this.el.dataset.video = track ? "on" : "off";
    this.el.dataset.speaking = opts.level !== undefined ? "true" : "false";
    this.el.style.setProperty("--level", String(opts.level ?? 0));
    this.el.classList.toggle("pinned", opts.pinned);
    const live = !!p && micOn(p);
    if (this.mic.dataset.on !== String(live)) {
      this.mic.dataset.on = String(live);
      this.mic.replaceChildren(live ? icon("mic") : icon("micOff"));
    }
    this.label.textContent = opts.name;
  }
}

function displayName(identity: string, me: string, role: Role | null): string {
  const who = identity === me ? `${identity} (you)` : identity;
  return role && role !== "speaker" && role !== "listener" ? `${who} · ${ROLE_LABEL[role]}` : who;
}

export function spaceView(app: App, spaceId: string): View {
  const me = app.session?.userId ?? "";
  const audioSink = h("div", { hidden: true });
  const el = h("section", { class: "space", "data-testid": "space-page", "data-space-id": spaceId });
  let space: Space | null = null;
  let media: SpaceRoom | null = null;
  /** The broadcast a listener watches instead of joining the room (token mode "hls"). */
  let broadcast: BroadcastStage | null = null;
  let joining = false;
  let joinedRole: Role | null = null;
  let unsubscribe: (() => void) | null = null;
  let pollTimer: number | undefined;
  let disposed = false;
  /** Why the last start or join failed, shown on the Space's card until the next attempt. */
  let joinError = "";

  /** Who holds which role: the Space record first (authoritative), else the token's attribute. */
  function roleOf(identity: string): Role | null {
    if (space) {
      if (space.host === identity) return "host";
      if (space.cohosts.includes(identity)) return "cohost";
      if (space.speakers.includes(identity)) return "speaker";
    }
    const p = media?.participant(identity);
    const attr = p ? attributeRole(p) : null;
    return attr ?? (identity === me ? joinedRole : null);
  }

  /** On stage = allowed to publish by the SFU (live truth), falling back to the role. */
  function onStage(p: Participant): boolean {
    return p.permissions ? p.permissions.canPublish : isStageRole(roleOf(p.identity));
  }

  async function refreshSpace(): Promise<void> {
    try {
      space = await app.api.getSpace(spaceId);
    } catch (err) {
      const e = err as ApiError;
      if (e.status === 401) return app.signOut();
      if (!media && !broadcast) return showMessage(e.status === 404 ? "No Space with this link." : `Could not load the Space: ${e.detail}`);
      return;
    }
    if (disposed) return;
    if (broadcast) return followBroadcast(space);
    if (!media || media.status.kind === "idle") renderCard();
    else render();
  }

  // ---- before joining ------------------------------------------------------------------------

  function showMessage(message: string, rejoin = false): void {
    leaveBroadcast();
    hideToast();
    stale(el, null);
    clear(el);
    el.append(
      h(
        "div",
        { class: "card message" },
        h("p", { "data-testid": "space-message" }, message),
        h(
          "div",
          { class: "row" },
          h("a", { class: "btn", href: "#/" }, "Back to Spaces"),
          replayButton(),
          rejoin && h("button", { class: "btn btn-primary", "data-testid": "rejoin", onclick: () => void join() }, "Rejoin"),
        ),
      ),
    );
  }

  function renderCard(): void {
    if (!space) return;
    // Polled every few seconds: rebuild only on a change, so a click in flight is never lost.
    if (!stale(el, ["card", space.state, space.title, space.host, joinError, replayAvailable(space)])) return;
    clear(el);
    const isHost = space.host === me;
    const action =
      space.state === "ended"
        ? h("p", { "data-testid": "space-message" }, "This Space has ended.")
        : space.state === "scheduled"
          ? isHost
            ? h("button", { class: "btn btn-primary", "data-testid": "start-space", onclick: () => void start() }, "Start Space")
            : h("p", { class: "muted", "data-testid": "space-message" }, "This Space has not started yet.")
          : h("button", { class: "btn btn-primary", "data-testid": "join-space", onclick: () => void join() }, "Join");
    el.append(
      h(
        "div",
        { class: "card space-intro", "data-testid": "space-card", "data-state": space.state },
        h("span", { class: `badge ${space.state === "live" ? "live" : ""}` }, space.state.toUpperCase()),
        h("h1", {}, space.title),
        h("div", { class: "space-card-meta" }, avatar(space.host), h("span", {}, `Hosted by ${space.host}`)),
        action,
        replayButton(),
        h("p", { class: "form-error", role: "alert", "data-testid": "join-error" }, joinError),
      ),
    );
  }

  function cardError(message: string): void {
    joinError = message;
    if (!media || media.status.kind === "idle") renderCard();
    else showMessage(message, true);
  }

  async function start(): Promise<void> {
    try {
      space = await app.api.startSpace(spaceId);
    } catch (err) {
      return cardError(`Could not start: ${(err as ApiError).detail ?? err}`);
    }
    await join();
  }

  /** The replay of an ended Space, when its recording is still kept. */
  function replayButton(): HTMLElement | false {
    return (
      !!space && replayAvailable(space) &&
      h("a", { class: "btn btn-primary", href: `#/spaces/${encodeURIComponent(spaceId)}/replay`, "data-testid": "replay" }, "Replay")
    );
  }

  async function join(): Promise<void> {
    if (joining) return; // a promotion seen by two polls in a row asks once
    joining = true;
    try {
      await joinOnce();
    } finally {
      joining = false;
    }
  }

  async function joinOnce(): Promise<void> {
    joinError = "";
    startPolling();
    let grant;
    try {
      grant = await app.api.joinToken(spaceId);
    } catch (err) {
      const e = err as ApiError;
      const message =
        e.status === 403
          ? `You cannot join this Space: ${e.detail}`
          : e.status === 409
            ? "This Space is not live."
            : `Could not get a join token: ${e.detail ?? e.message}`;
      return cardError(message);
    }
    if (disposed) return;
    if (grant.mode === "hls") {
      if (broadcast?.player.url === grant.playlist_url) return; // already watching it
      return watchBroadcast(grant.playlist_url);
    }
    leaveBroadcast();
    joinedRole = grant.role;
    media?.leave().catch(() => undefined);
    unsubscribe?.();
    media = new SpaceRoom(audioSink);
    window.spaces = { room: media.room };
    unsubscribe = media.onChange(() => render());
    media.room.on("dataReceived", (payload, _participant, _kind, topic) => {
      const burst = parseBurst(payload, topic);
      if (burst) reactions.show(burst);
    });
    buildStage();
    try {
      await media.connect(grant.url, grant.token);
    } catch {
      // The status carries the message; render() shows it.
    }
    render();
  }

  // ---- the broadcast (a listener beyond the interactive threshold) ----------------------------

  async function watchBroadcast(playlistUrl: string): Promise<void> {
    leaveBroadcast();
    if (media) {
      unsubscribe?.();
      void media.leave();
      media = null;
    }
    const stage = await BroadcastStage.open(playlistUrl, {
      raiseHand,
      copyLink,
      retry: () => {
        leaveBroadcast();
        void join();
      },
      leave: () => {
        stopPolling();
        showMessage("You left the Space.", true);
      },
    });
    if (disposed) return stage.destroy();
    broadcast = stage;
    window.spaces = { room: null, broadcast: stage.player };
    stale(el, null);
    clear(el);
    // HLS viewers react too (the API counts them); they see aggregates only over WebRTC (docs/reactions.md).
    el.append(stage.el, reactBar);
    if (space) stage.update(space, me);
  }

  /** Each poll on the broadcast: a promotion switches to the room (no reload), the end says so. */
  function followBroadcast(s: Space): void {
    switch (afterPoll(s, me)) {
      case "ended":
        return showMessage("This Space has ended.");
      case "join-room":
        void join(); // the new token is WebRTC; join() drops the broadcast once it has it
        return;
      case "watch":
        broadcast?.update(s, me);
    }
  }

  function leaveBroadcast(): void {
    if (!broadcast) return;
    broadcast.destroy();
    broadcast = null;
    window.spaces = { room: null, broadcast: null };
  }

  // ---- the live stage -------------------------------------------------------------------------

  const big = new VideoSlot();
  const bigFace = h("div", { class: "big-face" });
  const bigName = h("div", { class: "big-name", "data-testid": "spotlight-name" });
  const bigTile = h(
    "div",
    { class: "big-tile", "data-testid": "spotlight", "data-identity": "", "data-video": "off" },
    big.el,
    bigFace,
    bigName,
  );
  const strip = h("div", { class: "strip", "data-testid": "strip" });
  const tiles = new Map<string, Tile>();
  const header = h("header", { class: "space-header" });
  const banner = h("div", { class: "banner", hidden: true, "data-testid": "banner" });
  const controls = h("div", { class: "controls", "data-testid": "controls" });
  const panel = h("aside", { class: "panel", "data-testid": "host-panel", hidden: true });
  let bigIdentity: string | null = null;
  const reactions = new ReactionsOverlay();
  const reactBar = reactionsBar((emoji) => app.api.react(spaceId, emoji));

  function buildStage(): void {
    stale(el, null);
    clear(el);
    // A new connection: everything around the stage is rebuilt for the new Room.
    for (const part of [header, controls, panel]) stale(part, null);
    tiles.clear();
    strip.replaceChildren();
    el.append(header, banner, h("div", { class: "space-body" }, h("div", { class: "stage" }, reactions.el, bigTile, strip, reactBar, controls), panel), audioSink);
  }

  function render(): void {
    if (disposed || !media) return;
    const status = media.status;
    if (status.kind === "ended") {
      window.spaces = { room: null };
      stopPolling();
      return showMessage(status.message, status.canRejoin);
    }
    const room = media.room;
    const info = media.info;
    const stage = media.stage.current;
    const local = room.localParticipant;
    const myRole = roleOf(me) ?? joinedRole;

    // Header: title, live badge, audience size, leave / end.
    const title = space?.title || info.title || "Space";
    const listeners = space?.listener_count ?? 0;
    if (stale(header, [title, listeners, myRole])) header.replaceChildren(
      h("span", { class: "badge live" }, "LIVE"),
      h("h1", {}, title),
      h(
        "span",
        { class: "listeners", title: "Listeners" },
        icon("headphones"),
        h("span", { "data-testid": "listener-count" }, String(listeners)),
        " listening",
      ),
      h("span", { class: "spacer" }),
      h("span", { class: "badge subtle", "data-testid": "my-role" }, ROLE_LABEL[myRole ?? "listener"]),
      h("button", { class: "btn", "data-testid": "copy-link", onclick: copyLink }, "Copy link"),
      ...(myRole === "host"
        ? [h("button", { class: "btn btn-danger", "data-testid": "end-space", onclick: () => void endSpace() }, "End Space")]
        : []),
      h("button", { class: "btn", "data-testid": "leave", onclick: () => void media?.leave() }, "Leave"),
    );

    // Banner: reconnecting, or audio that the browser would not start without a click.
    if (status.kind === "reconnecting" || status.kind === "connecting") {
      banner.hidden = false;
      banner.dataset.testid = status.kind === "reconnecting" ? "reconnecting" : "connecting";
      banner.replaceChildren(status.kind === "reconnecting" ? "Connection lost — reconnecting…" : "Connecting…");
    } else if (!room.canPlaybackAudio) {
      banner.hidden = false;
      banner.dataset.testid = "enable-audio";
      banner.replaceChildren(
        h("button", { class: "btn btn-primary", onclick: () => void room.startAudio() }, "Click to hear the Space"),
      );
    } else {
      banner.hidden = true;
      banner.dataset.testid = "banner";
    }

    // Stage: who is on it, then the agent's layout over them.
    const members = stageOrder(
      media.people.filter(onStage).map((p) => ({ identity: p.identity, role: roleOf(p.identity) ?? "speaker" })),
    );
    const layout = layoutFor(stage, members);
    bigTile.dataset.identity = layout.big ?? "";
    bigTile.dataset.seq = String(stage?.seq ?? "");
    bigTile.dataset.pinned = layout.pinned ?? "";
    bigTile.dataset.spotlight = stage?.spotlight ?? "";
    const bigP = layout.big ? media.participant(layout.big) : undefined;
    const bigTrack = bigP && layout.bigVideo ? cameraTrack(bigP) : null;
    big.show(bigTrack, bigP === local);
    bigTile.dataset.video = bigTrack ? "on" : "off";
    bigTile.dataset.speaking = layout.big && layout.speaking.has(layout.big) ? "true" : "false";
    bigTile.classList.toggle("pinned", !!layout.big && layout.big === layout.pinned);
    if (layout.big !== bigIdentity) {
      bigIdentity = layout.big;
      bigFace.replaceChildren(layout.big ? avatar(layout.big, "l") : h("p", { class: "muted" }, stage ? "Nobody has spoken yet" : "Waiting for the stage…"));
    }
    bigName.replaceChildren(
      layout.big ? displayName(layout.big, me, roleOf(layout.big)) : "",
      layout.big && layout.big === layout.pinned ? h("span", { class: "pin-badge" }, icon("pin"), "pinned") : "",
    );

    for (const [id, tile] of tiles) {
      if (!layout.strip.includes(id)) {
        tile.video.show(null);
        tile.el.remove();
        tiles.delete(id);
      }
    }
    layout.strip.forEach((id, index) => {
      let tile = tiles.get(id);
      if (!tile) {
        tile = new Tile(id);
        tiles.set(id, tile);
      }
      if (strip.children[index] !== tile.el) strip.insertBefore(tile.el, strip.children[index] ?? null);
      tile.update(media?.participant(id), {
        name: displayName(id, me, roleOf(id)),
        level: layout.speaking.get(id),
        pinned: id === layout.pinned,
        local: id === me,
      });
    });

    renderControls(info.video, myRole);
    renderPanel(myRole, members, layout.pinned);
  }

  function renderControls(policy: "off" | "host" | "speakers", myRole: Role | null): void {
    if (!media) return;
    const local = media.room.localParticipant;
    const rights = publishRights(local, policy, myRole);
    const raised = !!space?.raised_hands.includes(me);
    if (!stale(controls, [rights, micOn(local), !!cameraTrack(local), raised])) return;
    clear(controls);
    if (rights.mic) {
      const on = micOn(local);
      controls.append(
        h(
          "button",
          {
            class: `btn round ${on ? "on" : ""}`,
            "data-testid": "toggle-mic",
            "aria-pressed": on ? "true" : "false",
            onclick: () => void toggle(() => local.setMicrophoneEnabled(!on)),
          },
          icon(on ? "mic" : "micOff"),
          on ? "Mute" : "Unmute",
        ),
      );
    }
    if (rights.camera) {
      const on = !!cameraTrack(local);
      controls.append(
        h(
          "button",
          {
            class: `btn round ${on ? "on" : ""}`,
            "data-testid": "toggle-camera",
            "aria-pressed": on ? "true" : "false",
            onclick: () => void toggle(() => local.setCameraEnabled(!on)),
          },
          icon(on ? "camera" : "cameraOff"),
          on ? "Stop video" : "Start video",
        ),
      );
    }
    if (!rights.mic && !rights.camera) {
      controls.append(
        h(
          "button",
          {
            class: `btn round ${raised ? "on" : ""}`,
            "data-testid": "raise-hand",
            "aria-pressed": raised ? "true" : "false",
            onclick: () => void raiseHand(!raised),
          },
          icon("hand"),
          raised ? "Lower hand" : "Request to speak",
        ),
      );
    }
  }

  function renderPanel(myRole: Role | null, members: string[], pinned: string | null): void {
    const moderator = myRole === "host" || myRole === "cohost";
    panel.hidden = !moderator;
    if (!moderator || !space) {
      stale(panel, null);
      return clear(panel);
    }
    const hands = space.raised_hands;
    const audience = (media?.people ?? []).filter((p) => !onStage(p) && !hands.includes(p.identity));
    const seen = members.map((id) => {
      const p = media?.participant(id);
      return [id, roleOf(id), !!p && micOn(p)];
    });
    if (!stale(panel, [myRole, hands, seen, pinned, audience.map((p) => p.identity)])) return;
    clear(panel);
    panel.append(
      h("h2", {}, "Requests to speak ", h("span", { class: "count", "data-testid": "hand-count" }, String(hands.length))),
      h(
        "ul",
        { class: "people", "data-testid": "raised-hands" },
        ...(hands.length === 0
          ? [h("li", { class: "muted" }, "No raised hands.")]
          : hands.map((id) =>
              h(
                "li",
                { "data-testid": "hand", "data-identity": id },
                avatar(id),
                h("span", { class: "who" }, id),
                h("button", { class: "btn small btn-primary", "data-testid": "invite", onclick: () => act(() => app.api.setRole(spaceId, id, "speaker"), `${id} invited to speak`) }, "Invite to speak"),
              ),
            )),
      ),
      h("h2", {}, "On stage"),
      h(
        "ul",
        { class: "people", "data-testid": "members" },
        ...members.map((id) => memberRow(id, myRole, pinned)),
      ),
    );
    if (audience.length > 0) {
      panel.append(
        h("h2", {}, "Listeners"),
        h(
          "ul",
          { class: "people", "data-testid": "audience" },
          ...audience.map((p) =>
            h(
              "li",
              { "data-testid": "listener", "data-identity": p.identity },
              avatar(p.identity),
              h("span", { class: "who" }, p.identity),
              h("button", { class: "btn small", "data-testid": "invite", onclick: () => act(() => app.api.setRole(spaceId, p.identity, "speaker"), `${p.identity} invited to speak`) }, "Invite to speak"),
              h("button", { class: "btn small btn-danger", "data-testid": "remove", onclick: () => act(() => app.api.remove(spaceId, p.identity, false), `${p.identity} removed`) }, "Remove"),
            ),
          ),
        ),
      );
    }
  }

  function memberRow(id: string, myRole: Role | null, pinned: string | null): HTMLElement {
    const role = roleOf(id) ?? "speaker";
    const isPinned = pinned === id;
    const p = media?.participant(id);
    const buttons: (HTMLElement | false)[] = [
      h(
        "button",
        { class: `btn small ${isPinned ? "on" : ""}`, "data-testid": "pin", onclick: () => act(() => app.api.pin(spaceId, isPinned ? null : id), isPinned ? "Spotlight unpinned" : `${id} pinned`) },
        isPinned ? "Unpin" : "Pin",
      ),
    ];
    if (role !== "host" && id !== me) {
      buttons.push(
        !!p && micOn(p) &&
          h("button", { class: "btn small", "data-testid": "mute", onclick: () => act(() => app.api.mute(spaceId, id), `${id} muted`) }, "Mute"),
        myRole === "host" && role === "speaker" &&
          h("button", { class: "btn small", "data-testid": "make-cohost", onclick: () => act(() => app.api.setRole(spaceId, id, "cohost"), `${id} is now a co-host`) }, "Make co-host"),
        myRole === "host" && role === "cohost" &&
          h("button", { class: "btn small", "data-testid": "make-speaker", onclick: () => act(() => app.api.setRole(spaceId, id, "speaker"), `${id} is now a speaker`) }, "Make speaker"),
        h("button", { class: "btn small", "data-testid": "demote", onclick: () => act(() => app.api.setRole(spaceId, id, "listener"), `${id} moved to the audience`) }, "To audience"),
        h("button", { class: "btn small btn-danger", "data-testid": "remove", onclick: () => act(() => app.api.remove(spaceId, id, false), `${id} removed`) }, "Remove"),
        h("button", { class: "btn small btn-danger", "data-testid": "block", onclick: () => act(() => app.api.remove(spaceId, id, true), `${id} removed and blocked`) }, "Block"),
      );
    }
    return h(
      "li",
      { "data-testid": "member", "data-identity": id, "data-role": role },
      avatar(id),
      h("span", { class: "who" }, id, h("span", { class: "muted small" }, ` ${ROLE_LABEL[role]}`)),
      h("span", { class: "actions" }, ...buttons),
    );
  }

  // ---- actions --------------------------------------------------------------------------------

  async function act(call: () => Promise<unknown>, done: string): Promise<void> {
    try {
      await call();
      toast(done);
    } catch (err) {
      toast((err as ApiError).detail ?? String(err), "error");
    }
    await refreshSpace();
  }

  async function toggle(call: () => Promise<unknown>): Promise<void> {
    try {
      await call();
    } catch (err) {
      toast(`The media server refused: ${(err as Error).message}`, "error");
    }
    render();
  }

  async function raiseHand(up: boolean): Promise<void> {
    await act(() => (up ? app.api.raiseHand(spaceId) : app.api.lowerHand(spaceId)), up ? "Hand raised" : "Hand lowered");
  }

  async function endSpace(): Promise<void> {
    if (!window.confirm("End this Space for everyone?")) return;
    await act(() => app.api.endSpace(spaceId), "Space ended");
  }

  function copyLink(): void {
    const link = `${location.origin}${location.pathname}#/spaces/${encodeURIComponent(spaceId)}`;
    navigator.clipboard?.writeText(link).then(
      () => toast("Invite link copied"),
      () => toast(link),
    );
  }

  function startPolling(): void {
    if (pollTimer === undefined) pollTimer = window.setInterval(() => void refreshSpace(), SPACE_POLL_MS);
  }

  function stopPolling(): void {
    window.clearInterval(pollTimer);
    pollTimer = undefined;
  }

  el.append(h("p", { class: "muted" }, "Loading…"));
  void refreshSpace();
  startPolling();

  return {
    el,
    unmount() {
      disposed = true;
      stopPolling();
      unsubscribe?.();
      void media?.leave();
      leaveBroadcast();
      window.spaces = { room: null };
    },
  };
}
