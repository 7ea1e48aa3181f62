/** How a person is named on the Space page. */
import type { Role } from "../../api";

export const ROLE_LABEL: Record<Role, string> = { host: "Host", cohost: "Co-host", speaker: "Speaker", listener: "Listener" };

export function displayName(identity: string, me: string, role: Role | null): string {
  const who = identity === me ? `${identity} (you)` : identity;
  return role && role !== "speaker" && role !== "listener" ? `${who} · ${ROLE_LABEL[role]}` : who;
}
