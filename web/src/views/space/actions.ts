/**
 * The Space page's small actions: a moderator's action through the controller and its notice, my
 * raised hand (one request at a time), ending the Space, the invite link, the device choice. Each
 * tells its outcome as a toast and has the page redraw; none holds more than its own pending flag.
 */
import { HAND_RATE_LIMITED_RULE, ROLE_CHANGED_RULE, TARGET_REMOVED_RULE, USER_BLOCKED_RULE } from "../../contract.gen";
import type { DeviceKind, DevicePreferences } from "../../devices";
import { toast } from "../../dom";
import type { SpaceRoom } from "../../media";
import type { ActResult, SpaceController } from "../../space_controller";

export type ActCall = Parameters<SpaceController["act"]>[0];

export interface ActionDeps {
  spaceId: string;
  ctl: SpaceController;
  /** The page's room, if any. */
  room: () => SpaceRoom | null;
  devicePrefs: DevicePreferences;
  /** The live page draws again (the controls show the pending hand, the device chosen). */
  redraw: () => void;
}

export class SpaceActions {
  /** My raise or lower on its way: a second click waits for its answer instead of sending another. */
  handPending = false;

  constructor(private readonly deps: ActionDeps) {}

  /** `who`: the name of whom it was done to, before a refusal that speaks of "they". */
  act = async (call: ActCall, done: string, who?: string): Promise<void> => {
    report(await this.deps.ctl.act(call), done, who);
  };

  /** True when the row is done with: the action went through, or (an invitation) the person had
   * left the audience since the list was read, so the row was out of date. */
  listAct = async (call: ActCall, done: string, who?: string): Promise<boolean> => {
    const result = await this.deps.ctl.act(call);
    report(result, done, who);
    // Also done with: a row out of date (LIST_ROW_GONE): the row goes.
    return result.ok || (!!result.rule && LIST_ROW_GONE.has(result.rule));
  };

  /** An invitation to speak from the audience list: true while it waits for their answer (the row
   * stays), "gone" when the row is done with (they went on stage at once, having asked, or the row
   * was out of date), false when refused. */
  invite = async (id: string, name: string): Promise<boolean | "gone"> => {
    const ctl = this.deps.ctl;
    const result = await ctl.act((a, s) => a.invite(s, id));
    const onStage = result.ok && ctl.roleOf(id) !== "listener";
    report(result, onStage ? `${name} is on stage: they had asked to speak` : `${name} is invited to speak: they join the stage if they accept`, name);
    if (result.ok) return onStage ? "gone" : true;
    return !!result.rule && LIST_ROW_GONE.has(result.rule) ? "gone" : false;
  };

  /** Applied to this room (a live track moves to the device), then remembered for the next ones. */
  chooseDevice = async (kind: DeviceKind, id: string): Promise<void> => {
    try {
      const media = this.deps.room();
      if (media) await media.useDevice(kind, id);
      this.deps.devicePrefs.set(kind, id);
    } catch (err) {
      toast(`Could not switch the device: ${(err as Error).message}`, "error");
    }
    this.deps.redraw();
  };

  raiseHand = async (up: boolean): Promise<void> => {
    if (this.handPending) return;
    this.handPending = true;
    this.deps.redraw();
    try {
      report(await this.deps.ctl.raiseHand(up), up ? "Hand raised" : "Hand lowered");
    } finally {
      this.handPending = false;
      this.deps.redraw();
    }
  };

  endSpace = async (): Promise<void> => {
    if (!window.confirm("End this Space for everyone?")) return;
    await this.act((a, s) => a.endSpace(s), "Space ended");
  };

  copyLink = (): void => {
    const link = `${location.origin}${location.pathname}#/spaces/${encodeURIComponent(this.deps.spaceId)}`;
    // No clipboard (a plain-http origin) or a refused write: the link itself, to copy by hand.
    if (!navigator.clipboard) return toast(link);
    navigator.clipboard.writeText(link).then(
      () => toast("Invite link copied"),
      () => toast(link),
    );
  };
}

/** Refusals that say a listener row no longer stands for someone the list can act on. Not
 * `target_removed`: the person may have joined again a moment ago (the audience index lags by about
 * a second), so the row stays for another try. */
const LIST_ROW_GONE: ReadonlySet<string> = new Set([ROLE_CHANGED_RULE, USER_BLOCKED_RULE]);
/** Refusals whose words speak of "they": told with the person's name before them. */
const SPEAKS_OF_THEM: ReadonlySet<string> = new Set([ROLE_CHANGED_RULE, TARGET_REMOVED_RULE]);

/** Refusals the page words itself: the API's own words are exact about its rule, not for a person. */
const IN_OUR_WORDS: ReadonlyMap<string, string> = new Map([[HAND_RATE_LIMITED_RULE, "Too many hand raises and lowers in a few seconds. Try again in a moment."]]);

/** An action's outcome, told: `done`, or the refusal as a sentence (naming `who` when it speaks of "they"). */
export function report(result: ActResult, done: string, who?: string): void {
  if (result.ok) return toast(done);
  const ours = result.rule ? IN_OUR_WORDS.get(result.rule) : undefined;
  if (ours) return toast(ours, "error");
  toast(who && result.rule && SPEAKS_OF_THEM.has(result.rule) ? `${who}: ${result.message}` : sentence(result.message), "error");
}

/** The API's words open in lower case ("a blocked user cannot be put on stage"); a toast is a sentence. */
export function sentence(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** A removal is asked first: a block because it cannot be undone (no unblock, like X), as ending the
 * Space and handing it over are; a plain removal because on a phone its button sits a few pixels
 * from the others. */
export function confirmRemoval(name: string, block: boolean): boolean {
  return window.confirm(
    block ? `Block ${name}? They are removed and cannot join this Space again.` : `Remove ${name} from this Space? They can join again only by opening it again.`,
  );
}
