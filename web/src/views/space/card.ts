/** Before joining (the Space's card) and after leaving (a message): plain DOM from plain data. */
import type { Space } from "../../api";
import { replayAvailable } from "../../broadcast";
import { avatar, clear, h, hideToast, isBusy, localTime, markBusy, rebuildKeepingFocus, stale } from "../../dom";
import { personOf } from "../../people";

export interface CardActions {
  /** The host starts the scheduled Space; its button waits for this to settle. */
  start(): Promise<void> | void;
  join(): void;
  /** The host cancels the scheduled Space (asks first); its button waits for this to settle. */
  cancel?(): Promise<void> | void;
}

/** A button whose action is a request: aria-busy until it settles, and a click meanwhile sends
 * nothing (a double click on *Start Space* sent a second POST /start, answered 409). */
function requestButton(testid: string, label: string, className: string, run: () => Promise<void> | void): HTMLElement {
  const button = h("button", {
    class: className,
    "data-testid": testid,
    onclick: () => {
      if (isBusy(button)) return;
      markBusy(button, true);
      void Promise.resolve(run()).finally(() => markBusy(button, false));
    },
  }, label);
  return button;
}

/** The replay of an ended Space, when its recording is still kept. */
export function replayButton(space: Space | null): HTMLElement | false {
  return (
    !!space &&
    replayAvailable(space) &&
    h("a", { class: "btn btn-primary", href: `#/spaces/${encodeURIComponent(space.id)}/replay`, "data-testid": "replay" }, "Replay")
  );
}

/** The way back to the lobby. */
function backButton(): HTMLElement {
  return h("a", { class: "btn", href: "#/", "data-testid": "back-to-spaces" }, "Back to Spaces");
}

/** What a blocked person's card says instead of offering a Join the API would refuse. */
export const BLOCKED_CARD_MESSAGE = "A host blocked you from this Space: you cannot join it.";

/** The Space's card. Redrawn only when what it shows changed, so a click in flight is never lost. */
export function renderCard(el: HTMLElement, space: Space, me: string, given: string, actions: CardActions): void {
  // An ended Space's card says so itself: a join refused because it ended ("This Space is not
  // live.", a Rejoin after the end) would say it twice.
  const joinError = space.state === "ended" ? "" : given;
  const host = personOf(space.host, undefined, space.names, space.pictures);
  const starts = localTime(space.scheduled_start);
  const blocked = !!space.caller_blocked;
  if (!stale(el, ["card", space.state, space.title, space.host, host.name, host.picture, joinError, replayAvailable(space), starts, blocked])) return;
  const action =
    space.state === "ended"
      ? h("p", { "data-testid": "space-message" }, "This Space has ended.")
      : blocked
        ? h("p", { class: "muted", "data-testid": "space-message" }, BLOCKED_CARD_MESSAGE)
        : space.state === "scheduled"
          ? space.host === me
            ? h(
                "div",
                { class: "row" },
                requestButton("start-space", "Start Space", "btn btn-primary", () => actions.start()),
                !!actions.cancel && requestButton("cancel-space", "Cancel Space", "btn btn-danger", () => actions.cancel?.()),
              )
            : h("p", { class: "muted", "data-testid": "space-message" }, "This Space has not started yet.")
          : h("button", { class: "btn btn-primary", "data-testid": "join-space", onclick: () => actions.join() }, "Join");
  // What had the focus is replaced: the same control again if the card has it (Join after a refused
  // join), else what the card says (the message of a broadcast that ended), not the top of the page.
  const hadFocus = el.contains(document.activeElement);
  rebuildKeepingFocus(el, () => el.append(
    h(
      "div",
      { class: "card space-intro", "data-testid": "space-card", "data-state": space.state },
      h("span", { class: `badge ${space.state === "live" ? "live" : ""}` }, space.state.toUpperCase()),
      h("h1", {}, space.title),
      h("div", { class: "space-card-meta" }, avatar(space.host, "s", host), h("span", { "data-testid": "host-name", title: host.name }, `Hosted by ${host.name}`)),
      space.state === "scheduled" && !!starts && h("p", { class: "muted", "data-testid": "space-starts" }, `Scheduled for ${starts}`),
      action,
      // Ended: the same ways on as the message a room's end leaves (renderMessage), whichever the
      // page got to (an HLS viewer's page lands here once the end is read): back, or the replay.
      space.state === "ended" ? h("div", { class: "row" }, backButton(), replayButton(space)) : replayButton(space),
      h("p", { class: "form-error", role: "alert", "data-testid": "join-error" }, joinError),
    ),
  ));
  if (hadFocus && !el.contains(document.activeElement)) {
    const target = el.querySelector<HTMLElement>('[data-testid="space-message"]') ?? el.querySelector<HTMLElement>("h1");
    target?.setAttribute("tabindex", "-1");
    target?.focus({ preventScroll: true });
  }
}

/** A message instead of the Space (ended, removed, left, unreadable), with a way back and maybe one
 * action: `rejoin`, labelled `action` ("Rejoin", "Try again"). */
export function renderMessage(
  el: HTMLElement,
  message: string,
  space: Space | null,
  rejoin: (() => void) | null,
  action = "Rejoin",
): void {
  // A notice from the live page ("Hand raised") means nothing on the message screen.
  hideToast();
  stale(el, null);
  clear(el);
  el.append(
    h(
      "div",
      { class: "card message" },
      h("p", { "data-testid": "space-message", role: "status", tabindex: "-1" }, message),
      h(
        "div",
        { class: "row" },
        backButton(),
        replayButton(space),
        !!rejoin && h("button", { class: "btn btn-primary", "data-testid": "rejoin", onclick: () => rejoin() }, action),
      ),
    ),
  );
  // What happened ("You left the Space", "This Space has ended") replaces the controls the user
  // was on: read it to them, and start them there.
  el.querySelector<HTMLElement>('[data-testid="space-message"]')?.focus({ preventScroll: true });
}
