/**
 * Who a person is on the page: a display name and maybe an avatar, never just an id when a name is
 * known (docs/identity.md). Pure: no DOM. Where a name comes from, first match wins:
 * 1. the room: a participant the page can see carries the name and avatar of its join token
 *    (LiveKit `name`, PICTURE_ATTRIBUTE);
 * 2. the Space's `names` map: from the API, the room metadata (host, co-hosts, speakers: also for
 *    HLS viewers through state.json) and the hands message (raised hands: listeners are hidden);
 * 3. the id itself.
 * An avatar: a participant the page sees has the room's PICTURE_ATTRIBUTE or none (the room is
 * current: an avatar removed at the identity provider is gone from the next token); anyone else the
 * Space's `pictures` map (the same three documents); else initials.
 *
 * A picture is never loaded from its own host: `avatarSource` points the <img> at our avatar proxy
 * (the API's, or the CDN's in front of it), so whoever runs the host a person chose does not learn
 * the address of everyone who looks at them (docs/identity.md, "Avatars through our domain").
 */
import { AVATAR_PATH, AVATAR_URL_PARAM, PICTURE_ATTRIBUTE } from "./contract.gen";

export interface Person {
  id: string;
  name: string;
  /** An https URL, or null: the page then draws initials. */
  picture: string | null;
}

/** What the page can read off a room participant (a livekit-client Participant fits). */
export interface Seen {
  name?: string;
  attributes?: Readonly<Record<string, string>>;
}

/** The same limit the API applies (functions/domain/people.py); a longer URL is not an avatar. */
const PICTURE_MAX_CHARS = 1024;

/** An avatar URL the page may put into <img src>: https only (no javascript:, data:, http:). */
export function safePicture(url: unknown): string | null {
  if (typeof url !== "string" || !url || url.length > PICTURE_MAX_CHARS) return null;
  try {
    const parsed = new URL(url);
    return parsed.protocol === "https:" && parsed.hostname ? parsed.href : null;
  } catch {
    return null;
  }
}

let avatarBase: string = AVATAR_PATH;

/** Where pictures are loaded from: the config's `avatarUrl` (set once, at boot). */
export function useAvatarProxy(base: string): void {
  avatarBase = base;
}

/** The <img src> of an avatar: its URL through the proxy, or null when it is not https. */
export function avatarSource(picture: unknown): string | null {
  const url = safePicture(picture);
  return url ? `${avatarBase}?${AVATAR_URL_PARAM}=${encodeURIComponent(url)}` : null;
}

/** `map[id]` for the map's own keys only: an id such as "constructor" or "__proto__" is a valid
 * user id, not a lookup of Object.prototype. */
function own(map: Readonly<Record<string, string>> | undefined, id: string): string | undefined {
  return map && Object.prototype.hasOwnProperty.call(map, id) ? map[id] : undefined;
}

export function personOf(
  id: string,
  seen: Seen | undefined,
  names: Readonly<Record<string, string>> | undefined,
  pictures?: Readonly<Record<string, string>>,
): Person {
  const fromRoom = seen?.name?.trim();
  const listed = own(names, id)?.trim();
  const name = fromRoom || listed || id;
  const picture = seen ? safePicture(seen.attributes?.[PICTURE_ATTRIBUTE]) : safePicture(own(pictures, id));
  return { id, name, picture };
}

/** The API's limit on a display name, in characters (code points; functions/domain/people.py). */
export const NAME_MAX_CHARS = 64;

/**
 * A display name as the API will store it: one line (whitespace runs one space), trimmed, at most
 * NAME_MAX_CHARS code points, and trimmed again at the end (a cut can leave a space last). The API
 * also drops controls and format characters; this only keeps the page from cutting early or late.
 */
export function cleanDisplayName(raw: string): string {
  return Array.from(raw.replace(/\s+/g, " ").trim()).slice(0, NAME_MAX_CHARS).join("").trimEnd();
}

/** One initial: a letter or digit with the marks that belong to it (never an emoji or a symbol). */
const INITIAL = /[\p{L}\p{N}]\p{M}*/gu;

/**
 * Up to two initials for an avatar without a picture: the first and last words' first letters (a
 * one-word name: its first two). Letters and digits only: an emoji or a symbol in a name is
 * decoration, not an initial ("كارول Carol 🌟" is "كC"); a name of nothing else is "?".
 */
export function initialsOf(name: string): string {
  const words = name
    .replace(/[-_.@]+/g, " ")
    .split(/\s+/)
    .map((w) => w.match(INITIAL) ?? [])
    .filter((letters) => letters.length > 0);
  if (words.length === 0) return "?";
  if (words.length === 1) return words[0].slice(0, 2).join("").toUpperCase();
  return (words[0][0] + words[words.length - 1][0]).toUpperCase();
}

/** `names` (or `pictures`) maps merged: a later map's entries win. Non-text entries are dropped. */
export function mergeNames(...maps: (Readonly<Record<string, unknown>> | undefined | null)[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const map of maps) {
    if (!map || typeof map !== "object") continue;
    for (const [id, name] of Object.entries(map)) if (typeof name === "string" && name) out[id] = name;
  }
  return out;
}
