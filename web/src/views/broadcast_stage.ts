/**
 * A listener watching the broadcast (HLS) instead of joining the room: the composed stream in the
 * big-tile area, how far behind live it is, the Space's title and audience, who is on the stage
 * (names and faces from state.json: the viewer sees no participant), and a raised hand.
 * The Space page owns this and replaces it with the WebRTC stage when the listener is promoted.
 */
import { hostAwayUntilMs, type Role, type Space } from "../api";
import { liveLabel } from "../broadcast";
import { avatar, h, markBusy, rebuildKeepingFocus, stale } from "../dom";
import { BroadcastPlayer } from "../hls_player";
import { icon } from "../icons";
import { type Person, personOf } from "../people";
import { spotlightAt, type TimelineEntry } from "../timeline";
import { drawHostAway, isRecorded, recordedBadge } from "./space/header";
import { ROLE_LABEL } from "./space/people";

/** Who is on the stage, host first, each once, as the Space names them (names and pictures maps). */
export function stageRoster(space: Space | null): (Person & { role: Role })[] {
  if (!space || space.state !== "live") return [];
  const seen = new Set<string>();
  const roster: (Person & { role: Role })[] = [];
  const add = (id: string, role: Role) => {
    if (!id || seen.has(id)) return;
    seen.add(id);
    roster.push({ ...personOf(id, undefined, space.names, space.pictures), role });
  };
  add(space.host, "host");
  for (const id of space.cohosts) add(id, "cohost");
  for (const id of space.speakers) add(id, "speaker");
  return roster;
}

export interface BroadcastHooks {
  raiseHand(up: boolean): Promise<void>;
  leave(): void;
  copyLink(): void;
  /** Start over after the player gave up (a new token, a new player). */
  retry(): void;
  /** Sign in again after the session expired (the broadcast plays on meanwhile). */
  signIn?(): void;
  /** The API's clock minus this page's (ms, the controller's estimate from the grant): the
   * composer stamps the stream and its stage changes by the servers' clocks, so a device clock that
   * is off reads how far behind live it is, and who holds the stage, by that much. */
  clockOffsetMs?(): number;
}

/** The live indicator is redrawn this often (the reading moves by a second at a time). */
const INDICATOR_MS = 1000;

/**
 * A stall shorter than this shows no banner. hls.js waits for a few frames at a time (a nudge over
 * a gap, a segment a moment late), often for tens of milliseconds; a banner for each pushed the
 * picture down and back and had a screen reader say "Waiting for the broadcast" every few seconds.
 */
export const WAITING_BANNER_MS = 1000;

export class BroadcastStage {
  readonly el: HTMLElement;
  private readonly header = h("header", { class: "space-header" });
  private readonly indicator = h("span", { class: "badge live", "data-testid": "live-indicator" }, "LIVE");
  private readonly banner = h("div", { class: "banner", hidden: true, "data-testid": "banner", role: "status" });
  /** The host is away: when the Space ends unless they come back (state.json says it too). */
  private readonly hostAway = h("p", { class: "banner notice", hidden: true, "data-testid": "host-away", role: "status" });
  private signInAgain = false;
  private handPending = false;
  private readonly tile = h("div", { class: "big-tile broadcast", "data-testid": "broadcast", "data-video": "on", "data-state": "loading" });
  private readonly controls = h("div", { class: "controls", "data-testid": "controls" });
  private readonly roster = h("ul", { class: "roster", "data-testid": "broadcast-roster", "aria-label": "On stage" });
  private readonly audioOnly = h("div", { class: "big-face" }, h("p", { class: "muted" }, "Audio-only broadcast"));
  private readonly note = h("p", { class: "muted small broadcast-note", "data-testid": "broadcast-note" });
  private readonly stage: HTMLElement;
  private timer: number | undefined;
  /** Since when (epoch ms) the playing broadcast has been waiting, and the redraw due once that shows. */
  private waitingSince: number | null = null;
  private waitingTimer: number | undefined;
  private space: Space | null = null;
  private me = "";
  private changes: readonly TimelineEntry[] = [];

  private constructor(
    readonly player: BroadcastPlayer,
    private readonly hooks: BroadcastHooks,
  ) {
    // The banner lies over the top of the picture, not above it: a stall's banner comes and goes,
    // and above the picture it pushed the whole stage down and back each time.
    this.tile.append(player.video, this.audioOnly, this.banner);
    this.stage = h("div", { class: "stage" }, this.tile, this.roster, this.note, this.controls);
    this.el = h("div", { class: "broadcast-stage", "data-testid": "broadcast-stage" }, this.header, this.hostAway, this.stage);
    player.onChange(() => this.draw());
    this.timer = window.setInterval(() => this.drawIndicator(), INDICATOR_MS);
    window.addEventListener("online", this.redraw);
    window.addEventListener("offline", this.redraw);
  }

  /** The browser lost or found its network: the waiting banner says which. */
  private readonly redraw = () => this.draw();

  static async open(playlistUrl: string, hooks: BroadcastHooks): Promise<BroadcastStage> {
    return new BroadcastStage(await BroadcastPlayer.open(playlistUrl, { live: true }), hooks);
  }

  /** The servers' time as this page estimates it (epoch ms). */
  private now(): number {
    return Date.now() + (this.hooks.clockOffsetMs?.() ?? 0);
  }

  /** Something drawn over the stage (the reactions overlay). */
  overlay(layer: HTMLElement): void {
    this.stage.prepend(layer);
  }

  /** The Space as last polled: title, audience, whether my hand is up; `signInAgain`: the session
   * expired (hands, reactions and presence need it; the broadcast itself plays on). */
  update(space: Space, me: string, signInAgain = false): void {
    this.space = space;
    this.me = me;
    this.signInAgain = signInAgain;
    this.draw();
  }

  private draw(): void {
    const space = this.space;
    const title = space?.title || "Space";
    // The count's HLS part is an estimate from sampled heartbeats, a window behind: it can read 0
    // while I watch. I am one listener at least.
    const listeners = Math.max(space?.listener_count ?? 0, 1);
    drawHostAway(this.hostAway, hostAwayUntilMs(space));
    const recorded = isRecorded(space);
    if (stale(this.header, [title, listeners, recorded])) {
      rebuildKeepingFocus(this.header, () => this.header.append(
        this.indicator,
        ...(recorded ? [recordedBadge()] : []),
        // Focusable and named, so that the focus a join or Resume live put on it survives the next count change.
        h("h1", { tabindex: "-1", "data-testid": "space-title" }, title),
        h(
          "span",
          { class: "listeners", title: "Listeners" },
          icon("headphones"),
          h("span", { "data-testid": "listener-count" }, String(listeners)),
          " listening",
        ),
        h("span", { class: "spacer" }),
        h("span", { class: "badge subtle", "data-testid": "my-role" }, "Listener"),
        h("button", { class: "btn", "data-testid": "copy-link", onclick: () => this.hooks.copyLink() }, "Copy link"),
        h("button", { class: "btn", "data-testid": "leave", onclick: () => this.hooks.leave() }, "Leave"),
      ));
    }
    this.drawIndicator();

    const p = this.player;
    this.tile.dataset.state = p.state;
    // A Space with video off is broadcast as AAC alone: nothing to show but a card.
    const video = p.audioOnlyStream ? "off" : "on";
    this.tile.dataset.video = video;
    const note = `You are ${video === "off" ? "listening to" : "watching"} the broadcast. Raise your hand to join the conversation.`;
    if (this.note.textContent !== note) this.note.textContent = note;
    const stalled = this.stalled();
    if (p.state === "failed") {
      this.showBanner(
        "broadcast-error",
        h("span", {}, p.error, " ", h("button", { class: "btn small", "data-testid": "retry", onclick: () => this.hooks.retry() }, "Try again")),
      );
    } else if (p.needsGesture) {
      this.showBanner("enable-audio", h("button", { class: "btn btn-primary", onclick: () => this.fromBanner(() => p.unmute()) }, "Click to hear the Space"));
    } else if (this.signInAgain && this.hooks.signIn) {
      const signIn = this.hooks.signIn.bind(this.hooks);
      this.showBanner(
        "sign-in-again",
        h(
          "span",
          {},
          "Your sign-in expired. The broadcast plays on; to raise your hand or react, ",
          h("button", { class: "btn btn-primary small", "data-testid": "sign-in-again", onclick: () => signIn() }, "Sign in again"),
        ),
      );
    } else if ((p.state === "loading" || p.state === "waiting") && !navigator.onLine) {
      // Not the broadcast's doing: the player keeps asking and plays on once the network is back.
      this.showBanner("offline", "Connection lost: the broadcast resumes when you are back online.");
    } else if (p.state === "loading" || (p.state === "waiting" && !p.started)) {
      this.showBanner("connecting", "Starting the broadcast…");
    } else if (stalled) {
      this.showBanner("connecting", "Waiting for the broadcast…");
    } else if (p.state === "paused" && p.live) {
      // Paused by the person or by the browser (a background tab, another app taking the sound).
      this.showBanner(
        "paused",
        h("span", {}, "Paused. ", h("button", { class: "btn btn-primary small", "data-testid": "resume", onclick: () => this.fromBanner(() => p.resumeLive()) }, "Resume live")),
      );
    } else if (p.soundOnly && p.soundReason === "link") {
      // The link could not carry the lowest picture: the Space is heard, the picture comes back when
      // the link shows it can carry it (LinkRecovery), or at a click.
      this.showBanner(
        "sound-only",
        h(
          "span",
          {},
          "Sound only: this connection is too slow for the picture, which comes back when it can. ",
          h("button", { class: "btn small", "data-testid": "show-picture", onclick: () => this.fromBanner(async () => p.showPicture()) }, "Show the picture"),
        ),
      );
    } else {
      this.banner.hidden = true;
      this.banner.dataset.testid = "banner";
    }

    const roster = stageRoster(space);
    if (stale(this.roster, roster.map((p) => [p.id, p.role, p.name, p.picture]))) {
      this.roster.replaceChildren(
        ...roster.map((p) =>
          h(
            "li",
            { class: "roster-person", "data-testid": "roster-person", "data-identity": p.id, "data-role": p.role, title: p.name },
            avatar(p.id, "s", p),
            h("span", { class: "roster-name" }, p.name),
            h("span", { class: "muted small" }, ROLE_LABEL[p.role]),
          ),
        ),
      );
    }
    this.drawHolder();

    // The video's name for a screen reader: which Space this is.
    if (p.video.getAttribute("aria-label") !== `Broadcast: ${title}`) p.video.setAttribute("aria-label", `Broadcast: ${title}`);
    const raised = !!space?.raised_hands.includes(this.me);
    const pending = this.handPending;
    // Sound on: the label says what a click does (as the room's own controls do); muted by the
    // browser until a click counts as muted here too, and Unmute is that click.
    const soundOn = !p.userMuted && !p.needsGesture;
    // The picture fills the screen on request: on a phone the 1280x720 stream is drawn a third of
    // its size, the names in it a few pixels tall. Not for an audio-only broadcast.
    const fullScreen = this.tile.dataset.video === "on" && fullScreenOf(this.tile, p.video) !== null;
    if (stale(this.controls, [raised, pending, soundOn, fullScreen])) {
      const sound = h(
        "button",
        {
          class: `btn round ${soundOn ? "on" : ""}`,
          "data-testid": "toggle-sound",
          "data-on": soundOn ? "true" : "false",
          onclick: () => void p.setMuted(soundOn),
        },
        icon(soundOn ? "speaker" : "speakerOff"),
        soundOn ? "Mute broadcast" : "Unmute broadcast",
      );
      const button = h(
        "button",
        {
          class: `btn round ${raised ? "on" : ""}`,
          "data-testid": "raise-hand",
          "data-on": raised ? "true" : "false",
          onclick: () => void this.toggleHand(!raised),
        },
        icon("hand"),
        raised ? "Lower hand" : "Request to speak",
      );
      markBusy(button, pending);
      const expand = fullScreen
        ? h(
            "button",
            { class: "btn round", "data-testid": "full-screen", onclick: () => void fullScreenOf(this.tile, p.video)?.() },
            icon("expand"),
            "Full screen",
          )
        : null;
      rebuildKeepingFocus(this.controls, () => this.controls.append(sound, button, ...(expand ? [expand] : [])));
    }
  }

  /**
   * A banner's action (Resume live, Click to hear the Space): the banner goes once it is done, so a
   * focus on its button goes to the heading first, not to the top of the page.
   */
  private fromBanner(action: () => Promise<void>): void {
    if (this.banner.contains(document.activeElement)) this.header.querySelector<HTMLElement>("h1")?.focus({ preventScroll: true });
    void action();
  }

  /** Whether the broadcast has been waiting, after it played, for WAITING_BANNER_MS or longer. */
  private stalled(): boolean {
    if (this.player.state !== "waiting" || !this.player.started) {
      this.waitingSince = null;
      window.clearTimeout(this.waitingTimer);
      this.waitingTimer = undefined;
      return false;
    }
    const now = Date.now();
    if (this.waitingSince === null) {
      this.waitingSince = now;
      this.waitingTimer = undefined;
    }
    const left = WAITING_BANNER_MS - (now - this.waitingSince);
    // A timer may fire a moment early by the wall clock: it asks again for what is left.
    if (left > 0 && this.waitingTimer === undefined) {
      this.waitingTimer = window.setTimeout(() => {
        this.waitingTimer = undefined;
        this.draw();
      }, left);
    }
    return left <= 0;
  }

  /** My raise or lower on its way: the button waits for its answer (no second request). */
  private async toggleHand(up: boolean): Promise<void> {
    if (this.handPending) return;
    this.handPending = true;
    this.draw();
    try {
      await this.hooks.raiseHand(up);
    } finally {
      this.handPending = false;
      this.draw();
    }
  }

  private drawIndicator(): void {
    const behind = this.player.state === "playing" ? this.player.secondsBehind(this.now()) : null;
    this.indicator.textContent = liveLabel(behind, this.player.state === "paused");
    this.indicator.dataset.behind = behind === null ? "" : behind.toFixed(2);
    this.drawHolder();
  }

  /** The broadcast's latest stage changes (state.json `timeline_recent`), for `drawHolder`. */
  stageChanges(entries: readonly TimelineEntry[]): void {
    // An older copy of state.json (another CDN edge) does not take back changes already known.
    const latest = (list: readonly TimelineEntry[]) => list.at(-1)?.t ?? -Infinity;
    if (latest(entries) < latest(this.changes)) return;
    this.changes = entries;
    this.drawHolder();
  }

  /** The roster marks who holds the stage in what is playing now (the stage changes at the
   * player's PROGRAM-DATE-TIME, not at the moment they were read): the one cue of who talks in an
   * audio-only broadcast, and a readable one on a phone, where the names drawn into the video are
   * small. Nobody is marked while the player is not playing. */
  private drawHolder(): void {
    const holder = spotlightAt(this.changes, this.player.playbackClockMs(this.now()));
    for (const row of this.roster.querySelectorAll<HTMLElement>("[data-identity]")) {
      const holds = row.dataset.identity === holder ? "true" : "false";
      if (row.dataset.holder !== holds) row.dataset.holder = holds;
      if (holds === "true") row.setAttribute("aria-current", "true");
      else row.removeAttribute("aria-current");
    }
  }

  private showBanner(testid: string, content: Node | string): void {
    // Redrawn on every player change (several a second): a banner already showing the same thing is
    // left alone, so a click on its button is never lost to a replaced node.
    const text = typeof content === "string" ? content : (content.textContent ?? "");
    if (!this.banner.hidden && this.banner.dataset.testid === testid && this.banner.textContent === text) return;
    this.banner.hidden = false;
    this.banner.dataset.testid = testid;
    this.banner.replaceChildren(content);
  }

  destroy(): void {
    window.clearInterval(this.timer);
    window.clearTimeout(this.waitingTimer);
    window.removeEventListener("online", this.redraw);
    window.removeEventListener("offline", this.redraw);
    this.player.destroy();
    this.el.remove();
  }
}

/**
 * How to show the broadcast full screen, or null where the browser cannot: the tile itself where
 * the Fullscreen API exists (its banners come along), else the video alone (Safari on an iPhone
 * has only its video element's own full screen).
 */
export function fullScreenOf(tile: HTMLElement, video: HTMLVideoElement): (() => Promise<void>) | null {
  if (typeof tile.requestFullscreen === "function" && document.fullscreenEnabled) {
    return () => tile.requestFullscreen().catch(() => undefined);
  }
  // Chromium has the method too, refused where full screen is not allowed: only where the video
  // says it supports it (Safari on an iPhone).
  const ios = video as HTMLVideoElement & { webkitEnterFullscreen?: () => void; webkitSupportsFullscreen?: boolean };
  if (ios.webkitSupportsFullscreen === true && typeof ios.webkitEnterFullscreen === "function") {
    return async () => {
      try {
        ios.webkitEnterFullscreen?.();
      } catch {
        // Refused (no gesture counted): the broadcast plays on as it was.
      }
    };
  }
  return null;
}
