/** How a person is named on the Space page. */
import type { Role } from "../../api";
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
