/**
 * Who is signed in: a bearer JWT kept in localStorage. The page only reads `sub` and `exp` from it
 * (to greet the user and to drop an expired token); the API verifies it.
 */
const STORAGE_KEY = "spaces.session";

export interface Session {
  token: string;
  userId: string;
  expiresAt: number | null; // unix seconds
}

function claims(token: string): { sub?: unknown; exp?: unknown } | null {
  const part = token.split(".")[1];
  if (!part) return null;
  try {
    const json = atob(part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "="));
    return JSON.parse(json) as { sub?: unknown; exp?: unknown };
  } catch {
    return null;
  }
}

/** A session from a bearer token, or null if it is not a JWT with a subject or has expired. */
export function sessionFromToken(token: string): Session | null {
  const c = claims(token.trim());
  if (!c || typeof c.sub !== "string" || !c.sub) return null;
  const expiresAt = typeof c.exp === "number" ? c.exp : null;
  if (expiresAt !== null && expiresAt * 1000 <= Date.now()) return null;
  return { token: token.trim(), userId: c.sub, expiresAt };
}

export function loadSession(): Session | null {
  const token = localStorage.getItem(STORAGE_KEY);
  if (!token) return null;
  const session = sessionFromToken(token);
  if (!session) localStorage.removeItem(STORAGE_KEY);
  return session;
}

export function saveSession(session: Session): void {
  localStorage.setItem(STORAGE_KEY, session.token);
}

export function clearSession(): void {
  localStorage.removeItem(STORAGE_KEY);
}
