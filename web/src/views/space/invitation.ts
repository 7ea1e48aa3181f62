/**
 * An invitation to speak, as the invited listener meets it: a prompt over the stage (or the
 * broadcast) that asks before anything changes for them, as X asks. Going on stage puts their name,
 * face and microphone in front of everyone, into the broadcast and its recording, so nothing
 * happens until they agree. The prompt goes when they answer, when the invitation lapses, or when a
 * document says it is gone (withdrawn, or they are on stage).
 */
import { h } from "../../dom";

export interface InvitationActions {
  /** My answer; resolves true when the API took it (false: it said why, in a toast). */
  answer(accept: boolean): Promise<boolean>;
  setTimer(fn: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
  /** The API's clock as this page estimates it (epoch ms): an invitation lapses by it. */
  now(): number;
  /** Where the keyboard goes when the prompt goes with it and what had it before is gone. */
  focusAfter?(): void;
  /** The invitation lapsed unanswered while it was asked: the page says so. */
  lapsed?(): void;
}

/** What the prompt tells the person before they agree; `recorded`: the Space keeps a recording
 * (header.ts isRecorded), null when it has no broadcast at all (a deployment without one). */
export function invitationText(recorded: boolean | null): string {
  const stage = "On stage, everyone sees your name and picture and hears you once you turn your microphone on (it starts off).";
  if (recorded === null) return stage;
  return `${stage} ${recorded ? "The broadcast and its recording include you." : "The broadcast includes you; this Space keeps no recording."}`;
}

export class InvitationPrompt {
  readonly el = h("div", { class: "invitation card", hidden: true, "data-testid": "invitation", role: "alertdialog", "aria-labelledby": "invitation-title", "aria-describedby": "invitation-text" });
  private readonly accept = h("button", { class: "btn btn-primary", "data-testid": "invitation-accept" }, "Join the stage");
  private readonly decline = h("button", { class: "btn", "data-testid": "invitation-decline" }, "Not now");
  private readonly text = h("p", { id: "invitation-text", class: "muted small", "data-testid": "invitation-text" }, invitationText(true));
  /** The invitation on screen (its lapse, epoch ms), or null. */
  private shown: number | null = null;
  /** An invitation I answered: not asked again while a document still carries it. */
  private answered: number | null = null;
  private busy = false;
  private recorded: boolean | null = true;
  private lapse: unknown = null;
  /** The prompt appeared and has not had the keyboard yet (it takes it once it is in the page). */
  private focusDue = false;
  /** What had the keyboard when the prompt appeared: it gets it back when the prompt goes. */
  private before: HTMLElement | null = null;

  constructor(private readonly actions: InvitationActions) {
    this.el.append(
      h("p", { id: "invitation-title", class: "invitation-title" }, "You are invited to speak"),
      this.text,
      h("div", { class: "row" }, this.accept, this.decline),
    );
    this.accept.addEventListener("click", () => void this.reply(true));
    this.decline.addEventListener("click", () => void this.reply(false));
  }

  /** `until`: the invitation waiting for me (controller.invitedUntil), or null; `recorded`: whether
   * the Space keeps a recording (what the prompt says). Called on every draw. */
  update(until: number | null, recorded: boolean | null = this.recorded): void {
    this.recorded = recorded;
    const said = invitationText(recorded);
    if (this.text.textContent !== said) this.text.textContent = said;
    const wanted = until !== null && until !== this.answered && until > this.actions.now() ? until : null;
    if (wanted !== this.shown) this.show(wanted);
    // A dialog that appears takes the keyboard to its first answer, as a screen reader expects; a
    // page that draws it before it is in the document (a reload while invited) gives it then.
    if (this.focusDue && this.el.isConnected && !this.el.hidden) {
      this.focusDue = false;
      const active = document.activeElement;
      this.before = active instanceof HTMLElement && active !== document.body ? active : null;
      this.accept.focus({ preventScroll: true });
    }
  }

  private show(wanted: number | null): void {
    const appearing = this.shown === null;
    this.shown = wanted;
    if (this.lapse !== null) this.actions.clearTimer(this.lapse);
    this.lapse = null;
    if (wanted === null) return this.hide();
    this.el.hidden = false;
    // Gone at its lapse even if no document comes (the next write drops it on the server), and
    // said: a prompt that vanishes while someone reads it looks like a fault.
    this.lapse = this.actions.setTimer(() => {
      if (this.shown !== wanted) return;
      this.update(null);
      this.actions.lapsed?.();
    }, Math.max(0, wanted - this.actions.now()));
    this.setBusy(false);
    if (appearing) this.focusDue = true;
  }

  private hide(): void {
    const hadFocus = this.el.contains(document.activeElement);
    this.el.hidden = true;
    this.focusDue = false;
    const before = this.before;
    this.before = null;
    if (!hadFocus) return;
    if (before?.isConnected) before.focus({ preventScroll: true });
    else this.actions.focusAfter?.();
  }

  private async reply(accept: boolean): Promise<void> {
    if (this.busy || this.shown === null) return;
    const invitation = this.shown;
    this.setBusy(true);
    const ok = await this.actions.answer(accept);
    this.setBusy(false);
    if (!ok) return; // the toast said why; a lapsed or withdrawn one goes with the next document
    this.answered = invitation;
    this.update(null);
  }

  /** Busy while the answer is on its way: marked, not `disabled`, so the keyboard stays on it. */
  private setBusy(busy: boolean): void {
    this.busy = busy;
    for (const button of [this.accept, this.decline]) button.setAttribute("aria-disabled", String(busy));
  }
}
