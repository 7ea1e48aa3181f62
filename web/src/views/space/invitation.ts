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
  now(): number;
}

/** What the prompt tells the person before they agree. */
export const INVITATION_TEXT =
  "On stage, everyone sees your name and picture and hears you once you turn your microphone on (it starts off). " +
  "The broadcast and its recording include you.";

export class InvitationPrompt {
  readonly el = h("div", { class: "invitation card", hidden: true, "data-testid": "invitation", role: "alertdialog", "aria-labelledby": "invitation-title", "aria-describedby": "invitation-text" });
  private readonly accept = h("button", { class: "btn btn-primary", "data-testid": "invitation-accept" }, "Join the stage");
  private readonly decline = h("button", { class: "btn", "data-testid": "invitation-decline" }, "Not now");
  /** The invitation on screen (its lapse, epoch ms), or null. */
  private shown: number | null = null;
  /** An invitation I answered: not asked again while a document still carries it. */
  private answered: number | null = null;
  private busy = false;
  private lapse: unknown = null;

  constructor(private readonly actions: InvitationActions) {
    this.el.append(
      h("p", { id: "invitation-title", class: "invitation-title" }, "You are invited to speak"),
      h("p", { id: "invitation-text", class: "muted small" }, INVITATION_TEXT),
      h("div", { class: "row" }, this.accept, this.decline),
    );
    this.accept.addEventListener("click", () => void this.reply(true));
    this.decline.addEventListener("click", () => void this.reply(false));
  }

  /** `until`: the invitation waiting for me (controller.invitedUntil), or null. */
  update(until: number | null): void {
    const wanted = until !== null && until !== this.answered && until > this.actions.now() ? until : null;
    if (wanted === this.shown) return;
    const appearing = this.shown === null;
    this.shown = wanted;
    if (this.lapse !== null) this.actions.clearTimer(this.lapse);
    this.lapse = null;
    this.el.hidden = wanted === null;
    if (wanted === null) return;
    // Gone at its lapse even if no document comes (the next write drops it on the server).
    this.lapse = this.actions.setTimer(() => this.update(null), Math.max(0, wanted - this.actions.now()));
    this.setBusy(false);
    // A dialog that appears takes the keyboard to its first answer, as a screen reader expects.
    if (appearing) queueMicrotask(() => this.el.isConnected && this.accept.focus({ preventScroll: true }));
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

  private setBusy(busy: boolean): void {
    this.busy = busy;
    this.accept.disabled = busy;
    this.decline.disabled = busy;
  }
}
