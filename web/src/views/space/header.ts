/** The live header (title, audience, my role, leave/end) and the banner under it. */
import type { Role } from "../../api";
import { h, rebuildKeepingFocus, stale } from "../../dom";
import { icon } from "../../icons";
import { ROLE_LABEL } from "./people";

export interface HeaderInput {
  title: string;
  listeners: number;
  myRole: Role;
  /** While the host is out of the room: when the Space ends unless they are back (epoch ms). */
  hostAwayUntil?: number | null;
  /** Whether what the stage says and shows is being kept as the Space's recording (`isRecorded`). */
  recorded?: boolean;
}

/** The recording badge's explanation (what a speaker wants to know before saying anything). */
export const RECORDED_TEXT = "This Space is recorded: its broadcast can be replayed after it ends.";

/** Whether a Space's broadcast is being kept as its recording: it has a broadcast, and its host did
 * not turn the recording off at creation (`record`; an older control plane recorded every one). */
export function isRecorded(space: { broadcast?: unknown; record?: boolean } | null | undefined): boolean {
  return !!space?.broadcast && space.record !== false;
}

/** A moment as the reader's clock shows it (14:05). */
function clockTime(ms: number): string {
  return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

/** The "REC" badge of a recorded Space, explained to pointer and screen-reader users alike. */
export function recordedBadge(): HTMLElement {
  return h("span", { class: "badge rec", title: RECORDED_TEXT, "aria-label": RECORDED_TEXT, role: "img", "data-testid": "recorded" }, "REC");
}

/** What the room is told while its host is away (docs/control-plane.md, "The host"). */
export function hostAwayText(untilMs: number): string {
  return `The host has left the room. Unless they are back by ${clockTime(untilMs)}, this Space ends.`;
}

/** What the host is told while their own page cannot get back into the room. */
export function hostGoneText(untilMs: number): string {
  return `You are out of the room. Unless you are back by ${clockTime(untilMs)}, this Space ends for everyone.`;
}

/** The notice under a header: `hostAwayText` while the host is away, hidden otherwise. */
export function drawHostAway(notice: HTMLElement, untilMs: number | null | undefined): void {
  notice.hidden = !untilMs;
  const text = untilMs ? hostAwayText(untilMs) : "";
  if (notice.textContent !== text) notice.textContent = text;
}

export interface HeaderActions {
  copyLink(): void;
  endSpace(): void;
  leave(): void;
}

export type BannerState =
  | { kind: "none" }
  | { kind: "connecting" | "reconnecting" }
  | { kind: "enable-audio"; start(): void }
  | { kind: "sign-in-again"; signIn(): void };

export class HeaderView {
  readonly header = h("header", { class: "space-header" });
  // A live region kept in the page (only its content changes), so "Connection lost" and "Click to
  // hear the Space" are read to a screen-reader user too.
  readonly banner = h("div", { class: "banner", hidden: true, "data-testid": "banner", role: "status" });
  /** The host is away: when the Space ends unless they come back. */
  readonly hostAway = h("p", { class: "banner notice", hidden: true, "data-testid": "host-away", role: "status" });

  constructor(private readonly actions: HeaderActions) {}

  reset(): void {
    stale(this.header, null);
  }

  update(input: HeaderInput, banner: BannerState): void {
    const { title, listeners, myRole } = input;
    const recorded = input.recorded === true;
    if (stale(this.header, [title, listeners, myRole, recorded])) {
      rebuildKeepingFocus(this.header, () => this.header.append(
        h("span", { class: "badge live" }, "LIVE"),
        ...(recorded ? [recordedBadge()] : []),
        // Focusable and named, so that a join's focus on it survives the next count change.
        h("h1", { tabindex: "-1", "data-testid": "space-title" }, title),
        h(
          "span",
          { class: "listeners", title: "Listeners" },
          icon("headphones"),
          h("span", { "data-testid": "listener-count" }, String(listeners)),
          " listening",
        ),
        h("span", { class: "spacer" }),
        h("span", { class: "badge subtle", "data-testid": "my-role" }, ROLE_LABEL[myRole]),
        h("button", { class: "btn", "data-testid": "copy-link", onclick: () => this.actions.copyLink() }, "Copy link"),
        ...(myRole === "host"
          ? [h("button", { class: "btn btn-danger", "data-testid": "end-space", onclick: () => this.actions.endSpace() }, "End Space")]
          : []),
        h("button", { class: "btn", "data-testid": "leave", onclick: () => this.actions.leave() }, "Leave"),
      ));
    }
    this.drawBanner(banner);
    drawHostAway(this.hostAway, input.hostAwayUntil);
  }

  private drawBanner(state: BannerState): void {
    const b = this.banner;
    if (state.kind === "none") {
      b.hidden = true;
      b.dataset.testid = "banner";
      return;
    }
    b.hidden = false;
    if (b.dataset.testid === state.kind) return; // same banner: keep its button (a click may be in flight)
    b.dataset.testid = state.kind;
    switch (state.kind) {
      case "connecting":
        return b.replaceChildren("Connecting…");
      case "reconnecting":
        return b.replaceChildren("Connection lost — reconnecting…");
      case "enable-audio":
        return b.replaceChildren(h("button", { class: "btn btn-primary", onclick: () => state.start() }, "Click to hear the Space"));
      case "sign-in-again":
        return b.replaceChildren(
          "Your sign-in expired. You are still in the Space. ",
          h("button", { class: "btn btn-primary", "data-testid": "sign-in-again", onclick: () => state.signIn() }, "Sign in again"),
        );
    }
  }
}
