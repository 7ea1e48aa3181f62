/**
 * Hash routes: `#/spaces/<id>` opens a Space, `#/spaces/<id>/replay` its recording; anything else
 * is the lobby.
 */

export type Route =
  | { kind: "space"; spaceId: string }
  | { kind: "replay"; spaceId: string }
  | { kind: "lobby"; problem: string | null };

const SPACE_ROUTE = /^#\/spaces\/([^/?#]+)(\/replay)?$/;

export function parseRoute(hash: string): Route {
  const match = SPACE_ROUTE.exec(hash);
  if (!match) return { kind: "lobby", problem: null };
  let spaceId: string;
  try {
    spaceId = decodeURIComponent(match[1]);
  } catch {
    // A hand-edited or truncated link (`%` not followed by two hex digits): decodeURIComponent
    // throws, which used to leave a blank page.
    return { kind: "lobby", problem: `The link “${hash}” does not name a Space; pick one below.` };
  }
  // A dot segment ("..", or "%2E%2E" decoded) would be resolved away by the URL it is put into
  // (`/spaces/..` is `/`): no Space is called that.
  if (spaceId === "." || spaceId === "..") {
    return { kind: "lobby", problem: `The link “${hash}” does not name a Space; pick one below.` };
  }
  return { kind: match[2] ? "replay" : "space", spaceId };
}
