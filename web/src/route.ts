/**
 * Hash routes: `#/spaces/<id>` opens a Space, `#/spaces/<id>/replay` its recording; an empty hash
 * or `#/` is the lobby, and so is any other link, with a message saying it names no Space.
 *
 * Links are shared through chats and mail, which add their own tails: a trailing slash, a query
 * (`?utm_source=...`), or lose the slash after `#`. Those still open what they name.
 */

export type Route =
  | { kind: "space"; spaceId: string }
  | { kind: "replay"; spaceId: string }
  | { kind: "lobby"; problem: string | null };

const SPACE_ROUTE = /^#\/?spaces\/([^/?#]+)(\/replay)?\/*(?:\?.*)?$/;
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
  return { kind: match[2] ? "replay" : "space", spaceId };
}
