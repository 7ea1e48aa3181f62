/** The moderation panel (host and co-hosts): raised hands, who is on stage, the audience. */
import type { Role } from "../../api";
import type { VideoSource } from "../../contract.gen";
import { avatar, clear, h, rebuildKeepingFocus, stale } from "../../dom";
import type { Person } from "../../people";
import type { ListenerList } from "./listeners";
import { ROLE_LABEL } from "./people";

export interface Member {
  id: string;
  role: Role;
  micOn: boolean;
  /** Sharing a screen now. */
  screenOn?: boolean;
  /** On stage as the Space stores it, but not in the room now (dropped out): shown as away. */
  away?: boolean;
}

export interface PanelInput {
  me: string;
  myRole: Role;
  hands: readonly string[];
  members: readonly Member[];
  pinned: string | null;
  /** What of `pinned` the host pinned (room metadata); the camera when absent. */
  pinnedSource?: VideoSource;
  /** Who they are: display name and avatar (people.ts); rows show the name, never just the id. */
  person(id: string): Person;
  /** Why `id` cannot be moved to `role` now for want of a seat (people.ts seatRefusal), or null.
   * Such a button stays, marked unavailable with the reason; the page's action tells it. */
  seatRefusal?(id: string, role: "cohost" | "speaker"): string | null;
  /** How full the stage is ("3 of 10 speakers · 1 of 2 co-hosts"), shown under "On stage". */
  seats?: string;
  /** Who has an invitation to speak waiting: the audience list marks them. */
  invited?: readonly string[];
  /** Removals the pushed documents name (viewer tag -> when): the audience list drops those rows. */
  removed?: Readonly<Record<string, number>>;
}

export interface PanelActions {
  /** `from`: the role the row showed, so a change meant for it is refused once it is out of date. */
  setRole(id: string, role: Exclude<Role, "host">, from: Exclude<Role, "host">): void;
  remove(id: string, block: boolean): void;
  mute(id: string): void;
  pin(id: string | null, source?: VideoSource): void;
  /** Host only: hand the Space to a co-host (the host stays as a co-host). */
  handOver?(id: string): void;
}

/** The raised hands' heading, and the way to it from the controls. */
const REQUESTS_HEADING = "Requests to speak";

export class HostPanel {
  readonly el = h("aside", { class: "panel", "data-testid": "host-panel", hidden: true });
  /** Everything but the audience list, redrawn on change. The list stays in place below it, so its
   * search box keeps focus and text while hands and members come and go. */
  private readonly body = h("div", { class: "panel-body" });
  /**
   * A way to the panel from the controls, for a moderator on a narrow screen (style.css shows it at
   * 860 px and less): there the panel comes after the whole stage, a screen or two down, and a raised
   * hand was only a passing notice. It says how many hands are up and takes the keyboard with it.
   */
  readonly jump = h("button", { class: "btn small panel-jump", "data-testid": "panel-jump", hidden: true, onclick: () => this.goTo() });

  /** `listeners`: the audience from the API (hidden listeners included), shown below the rest. */
  constructor(
    private readonly actions: PanelActions,
    private readonly listeners: ListenerList | null = null,
  ) {
    this.el.append(this.body);
    if (listeners) this.el.append(listeners.el);
  }

  reset(): void {
    stale(this.body, null);
  }

  /** To the panel's top, with the keyboard on its first heading. */
  private goTo(): void {
    const heading = this.body.querySelector<HTMLElement>("h2");
    this.el.scrollIntoView({ block: "start" });
    if (!heading) return;
    heading.tabIndex = -1;
    heading.focus({ preventScroll: true });
  }

  update(input: PanelInput): void {
    const moderator = input.myRole === "host" || input.myRole === "cohost";
    this.el.hidden = !moderator;
    this.jump.hidden = !moderator;
    const jumpText = input.hands.length > 0 ? `${REQUESTS_HEADING} (${input.hands.length})` : "Host panel";
    if (this.jump.textContent !== jumpText) this.jump.textContent = jumpText;
    this.jump.classList.toggle("btn-primary", input.hands.length > 0);
    if (!moderator) {
      this.listeners?.hide();
      stale(this.body, null);
      return clear(this.body);
    }
    const { hands, members, pinned } = input;
    const shown = [...hands, ...members.map((m) => m.id)].map((id) => {
      const p = input.person(id);
      return [id, p.name, p.picture];
    });
    this.listeners?.show();
    this.listeners?.sync(new Set(members.map((m) => m.id)), new Set(hands), new Set(input.invited ?? []), input.removed);
    // The refusals follow from the members and the seats line, which are both in the key.
    if (!stale(this.body, [input.myRole, hands, members, pinned, input.pinnedSource, shown, input.seats])) return;
    const face = (id: string) => avatar(id, "s", input.person(id));
    const who = (id: string, ...extra: (HTMLElement | string)[]) =>
      h("span", { class: "who", "data-testid": "who", title: input.person(id).name }, input.person(id).name, ...extra);
    const a = this.actions;
    const invite = (id: string) =>
      seatButton(
        h("button", { class: "btn small btn-primary", "data-testid": "invite", onclick: () => a.setRole(id, "speaker", "listener") }, "Invite to speak"),
        input.seatRefusal?.(id, "speaker"),
      );
    // A hand going up or a mic going on redraws the panel: the moderator's focus stays where it was.
    rebuildKeepingFocus(this.body, () => this.body.append(
      h("h2", {}, `${REQUESTS_HEADING} `, h("span", { class: "count", "data-testid": "hand-count" }, String(hands.length))),
      h(
        "ul",
        { class: "people", "data-testid": "raised-hands" },
        ...(hands.length === 0
          ? [h("li", { class: "muted" }, "No raised hands.")]
          : hands.map((id) =>
              h(
                "li",
                // A group named for the person: a screen reader says whose Remove and Block these are.
                { "data-testid": "hand", "data-identity": id, role: "group", "aria-label": input.person(id).name },
                face(id),
                who(id),
                invite(id),
                h("button", { class: "btn small btn-danger", "data-testid": "remove", onclick: () => a.remove(id, false) }, "Remove"),
                h("button", { class: "btn small btn-danger", "data-testid": "block", onclick: () => a.remove(id, true) }, "Block"),
              ),
            )),
      ),
      h("h2", {}, "On stage"),
      input.seats ? h("p", { class: "muted small", "data-testid": "seats" }, input.seats) : "",
      h("ul", { class: "people", "data-testid": "members" }, ...members.map((m) => this.memberRow(m, input, face(m.id), who))),
    ));
  }

  private memberRow(
    m: Member,
    input: PanelInput,
    face: HTMLElement,
    who: (id: string, ...extra: (HTMLElement | string)[]) => HTMLElement,
  ): HTMLElement {
    const a = this.actions;
    const screenPinned = input.pinned === m.id && input.pinnedSource === "screen_share";
    const isPinned = input.pinned === m.id && !screenPinned;
    if (m.away) return this.awayRow(m, input, face, who, input.pinned === m.id);
    const buttons: (HTMLElement | false)[] = [
      // Only the host pins (the API refuses co-hosts); a share is offered while it is live, and a
      // pinned one can always be unpinned.
      input.myRole === "host" &&
        h("button", { class: `btn small ${isPinned ? "on" : ""}`, "data-testid": "pin", onclick: () => a.pin(isPinned ? null : m.id) }, isPinned ? "Unpin" : "Pin"),
      input.myRole === "host" &&
        (m.screenOn || screenPinned) &&
        h(
          "button",
          { class: `btn small ${screenPinned ? "on" : ""}`, "data-testid": "pin-screen", onclick: () => (screenPinned ? a.pin(null) : a.pin(m.id, "screen_share")) },
          screenPinned ? "Unpin screen" : "Pin screen",
        ),
    ];
    const role = m.role;
    if (role !== "host" && mayModerate(m, input)) {
      buttons.push(
        m.micOn && h("button", { class: "btn small", "data-testid": "mute", onclick: () => a.mute(m.id) }, "Mute"),
        input.myRole === "host" && m.role === "speaker" &&
          seatButton(
            h("button", { class: "btn small", "data-testid": "make-cohost", onclick: () => a.setRole(m.id, "cohost", "speaker") }, "Make co-host"),
            input.seatRefusal?.(m.id, "cohost"),
          ),
        input.myRole === "host" && m.role === "cohost" &&
          seatButton(
            h("button", { class: "btn small", "data-testid": "make-speaker", onclick: () => a.setRole(m.id, "speaker", "cohost") }, "Make speaker"),
            input.seatRefusal?.(m.id, "speaker"),
          ),
        input.myRole === "host" && m.role === "cohost" && !!a.handOver &&
          h("button", { class: "btn small", "data-testid": "make-host", onclick: () => a.handOver?.(m.id) }, "Make host"),
        h("button", { class: "btn small", "data-testid": "demote", onclick: () => a.setRole(m.id, "listener", role) }, "To audience"),
        h("button", { class: "btn small btn-danger", "data-testid": "remove", onclick: () => a.remove(m.id, false) }, "Remove"),
        h("button", { class: "btn small btn-danger", "data-testid": "block", onclick: () => a.remove(m.id, true) }, "Block"),
      );
    }
    return h(
      "li",
      { "data-testid": "member", "data-identity": m.id, "data-role": m.role, role: "group", "aria-label": input.person(m.id).name },
      face,
      who(m.id, h("span", { class: "muted small" }, ` ${ROLE_LABEL[m.role]}`)),
      h("span", { class: "actions" }, ...buttons),
    );
  }

  /**
   * Someone the Space has on stage who is not in the room (their connection dropped, their tab
   * closed): still a co-host's seat taken, and a pin on nobody. What still makes sense: back to the
   * audience, remove or block, and an unpin (host only) if the pin is theirs; nothing to mute or pin.
   */
  private awayRow(
    m: Member,
    input: PanelInput,
    face: HTMLElement,
    who: (id: string, ...extra: (HTMLElement | string)[]) => HTMLElement,
    pinned: boolean,
  ): HTMLElement {
    const a = this.actions;
    const role = m.role;
    const buttons: (HTMLElement | false)[] = [];
    if (role !== "host" && mayModerate(m, input)) {
      buttons.push(
        input.myRole === "host" && pinned && h("button", { class: "btn small on", "data-testid": "pin", onclick: () => a.pin(null) }, "Unpin"),
        h("button", { class: "btn small", "data-testid": "demote", onclick: () => a.setRole(m.id, "listener", role) }, "To audience"),
        h("button", { class: "btn small btn-danger", "data-testid": "remove", onclick: () => a.remove(m.id, false) }, "Remove"),
        h("button", { class: "btn small btn-danger", "data-testid": "block", onclick: () => a.remove(m.id, true) }, "Block"),
      );
    }
    return h(
      "li",
      { "data-testid": "member", "data-identity": m.id, "data-role": m.role, "data-away": "true", class: "away", role: "group", "aria-label": `${input.person(m.id).name}, away` },
      face,
      who(m.id, h("span", { class: "muted small" }, ` ${ROLE_LABEL[m.role]} · away`)),
      h("span", { class: "actions" }, ...buttons),
    );
  }
}

/**
 * A button whose move needs a seat, marked unavailable while none is free: `aria-disabled` (it
 * keeps its place in the tab order, and a click is told why) with the reason as its description.
 */
function seatButton(button: HTMLButtonElement, refusal: string | null | undefined): HTMLButtonElement {
  if (refusal) {
    button.setAttribute("aria-disabled", "true");
    button.title = refusal;
  }
  return button;
}

/**
 * Whether I may act on `m` (mute, move, remove, block): not the host nor myself, and a co-host only
 * if I am the host, as the API rules (only_host_moderates_cohosts, only_host_assigns_cohosts).
 * Offered anyway, each click was a refusal (an outside review).
 */
function mayModerate(m: Member, input: PanelInput): boolean {
  return m.role !== "host" && m.id !== input.me && (input.myRole === "host" || m.role !== "cohost");
}
