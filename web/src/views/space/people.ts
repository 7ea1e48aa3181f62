/** How a person is named on the Space page. */
import type { Role } from "../../api";
import type { Person } from "../../people";

export const ROLE_LABEL: Record<Role, string> = { host: "Host", cohost: "Co-host", speaker: "Speaker", listener: "Listener" };

/** The label of a tile: the person's display name (people.ts), "(you)" and a moderator's role. */
export function displayName(person: Person, me: string, role: Role | null): string {
  const who = person.id === me ? `${person.name} (you)` : person.name;
  return role && role !== "speaker" && role !== "listener" ? `${who} · ${ROLE_LABEL[role]}` : who;
}
