/** How a person is named on the Space page. */
import type { Role, Seats, VideoPolicy } from "../../api";
import type { Person } from "../../people";

export const ROLE_LABEL: Record<Role, string> = { host: "Host", cohost: "Co-host", speaker: "Speaker", listener: "Listener" };

/** The label of a tile: the person's display name (people.ts), "(you)" and a moderator's role. */
export function displayName(person: Person, me: string, role: Role | null): string {
  const who = person.id === me ? `${person.name} (you)` : person.name;
  return role && role !== "speaker" && role !== "listener" ? `${who} · ${ROLE_LABEL[role]}` : who;
}

/**
 * What a moderator is told when hands go up (a toast: on a phone the requests list is far below
 * the stage). `raised`: the ids whose hands are new, oldest first; `names`: id -> name.
 */
export function handsNotice(raised: string[], names: Record<string, string>): string {
  const first = names[raised[0]] ?? raised[0];
  if (raised.length === 1) return `${first} asked to speak`;
  const others = raised.length - 1;
  return `${first} and ${others} ${others === 1 ? "other" : "others"} asked to speak`;
}

/** The hand-over's notice to the old host. In a Space where only the host's camera is shown, their
 * camera goes off with the role (the control plane takes its grant): said, so it does not just vanish. */
export function handOverNotice(newHost: string, video: VideoPolicy): string {
  const done = `${newHost} is now the host; you are a co-host`;
  return video === "host" ? `${done}. Only the host's camera is shown in this Space, so yours is off` : done;
}

/**
 * The pin's notice. A pin on someone whose camera is off makes them the spotlight, but the big tile
 * is for video (docs/spotlight.md, `video_spotlight`): while another camera is on it keeps it, which
 * the host is told rather than left to find. `cameras`: who has a camera on now.
 */
export function pinNotice(name: string, at: { pinned: string; cameras: readonly string[]; video: VideoPolicy; host: string }): string {
  if (at.cameras.length === 0 || at.cameras.includes(at.pinned)) return `${name} pinned`;
  return at.video === "host" && at.pinned !== at.host
    ? `${name} pinned. Only the host's camera is shown in this Space, so the big tile keeps it`
    : `${name} pinned. Their camera is off, so the big tile keeps the last camera on until they turn theirs on`;
}

/** A hand lowered and raised again within this long is not told again: a listener's page lowers its
 * hand when it goes away (pagehide) and raises it again when it comes back, so a reload would
 * otherwise ask every moderator twice. */
export const HAND_RETOLD_AFTER_MS = 60_000;

/** Which new hands are worth a toast: those not lowered within the last HAND_RETOLD_AFTER_MS. */
export class HandNotices {
  private readonly down = new Map<string, number>();

  /** Hands that went down at `now` (not those answered by an invitation to the stage). */
  lowered(ids: readonly string[], now: number): void {
    for (const id of ids) this.down.set(id, now);
  }

  fresh(raised: readonly string[], now: number): string[] {
    for (const [id, at] of this.down) if (now - at >= HAND_RETOLD_AFTER_MS) this.down.delete(id);
    return raised.filter((id) => !this.down.has(id));
  }
}

/**
 * What someone is told when a moderator changed their role while they were in the room (the
 * controls change too, but a new host or a demoted co-host may not see why). Null when there is
 * nothing to tell: no change, or one they made themselves (a host handing over is told by their
 * own action's notice).
 */
export function roleNotice(before: Role, after: Role): string | null {
  if (before === after || before === "host") return null;
  switch (after) {
    case "host":
      return "You are now the host of this Space.";
    case "cohost":
      return "You are now a co-host: you can invite, mute and remove people.";
    case "speaker":
      return before === "cohost"
        ? "You are a speaker now, no longer a co-host (only the host and co-hosts share a screen)."
        : "You are on stage: turn on your microphone to speak.";
    case "listener":
      return "You were moved back to the audience.";
  }
}

/** What a sharer is told once their screen is shared: it reaches the big tile through a host's pin. */
export function screenShareNotice(myRole: Role): string {
  return myRole === "host"
    ? "Your screen is shared. Pin it from your panel (Pin screen) to show it to everyone."
    : "Your screen is shared. It fills the big tile once the host pins it.";
}

type Stage = { cohosts: readonly string[]; speakers: readonly string[]; seats?: Seats };

/**
 * Why moving `id` to `role` would be refused for want of a seat (the API's 409 `cohost_limit` /
 * `speaker_limit`), or null when a seat is free (or the API did not say how many there are). A
 * co-host made a speaker needs a speaker's seat; someone moved out of a seat frees it for nobody
 * else but themselves, as in the API's rule.
 */
export function seatRefusal(stage: Stage, id: string, role: "cohost" | "speaker", held = 0): string | null {
  const seats = stage.seats;
  if (!seats) return null;
  const taken = (role === "cohost" ? stage.cohosts : stage.speakers).filter((other) => other !== id).length + (role === "speaker" ? held : 0);
  const allowed = role === "cohost" ? seats.cohosts : seats.speakers;
  if (taken < allowed) return null;
  const all = allowed === 2 ? "Both" : allowed === 1 ? "The" : `All ${allowed}`;
  const waiting = held > 0 ? `, ${held} of them held by ${held === 1 ? "an invitation" : "invitations"} not answered yet` : "";
  return role === "cohost"
    ? `${all} co-host ${allowed === 1 ? "seat is" : "seats are"} taken: make a co-host a speaker first.`
    : `The stage is full (${allowed} ${allowed === 1 ? "speaker" : "speakers"}${waiting}): move a speaker to the audience first.`;
}

/** "3 of 10 speakers (1 invited) · 1 of 2 co-hosts": how full the stage is, for its moderators;
 * `held`: seats held by invitations not answered yet; "" when unknown. */
export function seatsLine(stage: Stage, held = 0): string {
  const seats = stage.seats;
  if (!seats) return "";
  const invited = held > 0 ? ` (${held} invited)` : "";
  return `${stage.speakers.length} of ${seats.speakers} speakers${invited} · ${stage.cohosts.length} of ${seats.cohosts} co-hosts`;
}
