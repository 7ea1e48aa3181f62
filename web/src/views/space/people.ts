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
