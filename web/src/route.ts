/**
 * Hash routes: `#/spaces/<id>` opens a Space, `#/spaces/<id>/replay` its recording; an empty hash
 * or `#/` is the lobby, and so is any other link, with a message saying it names no Space.
 *
 * Links are shared through chats and mail, which add their own tails: a trailing slash, a query
 * (`?utm_source=...`), or lose the slash after `#` or double it. Those still open what they name, and
 * so does an id retyped in capitals (Space ids are lower-case hex: the API's `^[0-9a-f]{32}$`).
 */

export type Route =
  | { kind: "space"; spaceId: string }
  | { kind: "replay"; spaceId: string }
  | { kind: "lobby"; problem: string | null };

const SPACE_ROUTE = /^#\/*spaces\/+([^/?#]+)(\/replay)?\/*(?:\?.*)?$/;
/** A Space id in capitals, as a person may retype one: the API's ids are lower-case hex. */
const UPPER_HEX_ID = /^[0-9A-Fa-f]{32}$/;
const LOBBY = /^#?\/*(?:\?.*)?$/;

export function parseRoute(hash: string): Route {
  if (LOBBY.test(hash)) return { kind: "lobby", problem: null };
  const unknown: Route = { kind: "lobby", problem: `The link “${hash}” does not name a Space; pick one below.` };
  const match = SPACE_ROUTE.exec(hash);
  if (!match) return unknown;
  let spaceId: string;
  try {
    spaceId = decodeURIComponent(match[1]);
  } catch {
    // A hand-edited or truncated link (`%` not followed by two hex digits): decodeURIComponent
    // throws, which used to leave a blank page.
    return unknown;
  }
  // A dot segment ("..", or "%2E%2E" decoded) would be resolved away by the URL it is put into
  // (`/spaces/..` is `/`): no Space is called that.
  if (spaceId === "." || spaceId === "..") return unknown;
  if (UPPER_HEX_ID.test(spaceId)) spaceId = spaceId.toLowerCase();
  return { kind: match[2] ? "replay" : "space", spaceId };
}
