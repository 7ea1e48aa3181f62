/**
 * Who is signed in: a bearer JWT kept in localStorage. The page only reads `sub`, `exp`, `name` and
 * `picture` from it (to greet the user and to drop an expired token); the API verifies it.
 */
import { safePicture } from "./people";

const STORAGE_KEY = "spaces.session";

export interface Session {
  token: string;
  userId: string;
  expiresAt: number | null; // unix seconds
  /** The token's `name` claim (an ID token's, or the one a dev user chose), or null. */
  name: string | null;
  /** The token's `picture` claim when it is an https URL, or null. */
  picture: string | null;
}

type Claims = { sub?: unknown; exp?: unknown; name?: unknown; picture?: unknown };

function claims(token: string): Claims | null {
  const part = token.split(".")[1];
  if (!part) return null;
  try {
    const binary = atob(part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "="));
    // UTF-8: a name is rarely ASCII only.
    const json = new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
    return JSON.parse(json) as Claims;
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
  const name = typeof c.name === "string" && c.name.trim() ? c.name.trim() : null;
  return { token: token.trim(), userId: c.sub, expiresAt, name, picture: safePicture(c.picture) };
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

const REFRESH_KEY = "spaces.refresh";

/** The identity provider's refresh token (cloud sign-in through Cognito), kept beside the session. */
export function loadRefreshToken(): string | null {
  return localStorage.getItem(REFRESH_KEY);
}

export function saveRefreshToken(token: string | null): void {
  if (token) localStorage.setItem(REFRESH_KEY, token);
  else localStorage.removeItem(REFRESH_KEY);
}

/** Where the cloud deployment's Cognito user pool client is (config.json `cognito`). */
export interface CognitoClient {
  region: string;
  clientId: string;
  /** The user pool's managed-login domain (`<prefix>.auth.<region>.amazoncognito.com`), for sign-in. */
  domain?: string;
}

/** Cognito answered, but not with a verdict on the refresh token (throttled, failing): try again later. */
export class CognitoUnavailable extends Error {}

/**
 * A new ID token from a Cognito refresh token (InitiateAuth, REFRESH_TOKEN_AUTH; public client, no
 * secret). The API's JWT authorizer checks the audience, which only the ID token carries. Null when
 * Cognito refuses the token (`NotAuthorizedException`: expired or revoked); throws
 * CognitoUnavailable for any other refusal (throttling, an outage) and a TypeError when offline.
 * The page's policy allows this origin (contract/web_security.py cognito_api_origin).
 */
export async function cognitoRefresh(client: CognitoClient, refreshToken: string): Promise<string | null> {
  const resp = await fetch(`https://cognito-idp.${client.region}.amazonaws.com/`, {
    method: "POST",
    headers: {
      "content-type": "application/x-amz-json-1.1",
      "x-amz-target": "AWSCognitoIdentityProviderService.InitiateAuth",
    },
    body: JSON.stringify({
      AuthFlow: "REFRESH_TOKEN_AUTH",
      ClientId: client.clientId,
      AuthParameters: { REFRESH_TOKEN: refreshToken },
    }),
  });
  if (!resp.ok) {
    const error = (await resp.json().catch(() => ({}))) as { __type?: string };
    if (typeof error.__type === "string" && error.__type.endsWith("NotAuthorizedException")) return null;
    throw new CognitoUnavailable(`Cognito answered ${resp.status} ${error.__type ?? ""}`.trim());
  }
  const body = (await resp.json()) as { AuthenticationResult?: { IdToken?: string } };
  return body.AuthenticationResult?.IdToken ?? null;
}

export interface RefreshDeps {
  /** Local mode: the API re-issues a dev token for the user. */
  devToken(userId: string, profile: { name: string | null; picture: string | null }): Promise<{ token: string }>;
  cognito: CognitoClient | null;
  refreshToken(): string | null;
  cognitoRefresh(client: CognitoClient, refreshToken: string): Promise<string | null>;
}

/**
 * A fresh session for the same user, or null. Cloud (Cognito configured and a refresh token kept):
 * the refresh token; otherwise the dev re-issue, which only a local-mode API answers. A token for
 * another user is refused: a refresh never switches who is signed in.
 */
export async function refreshSession(current: Session, deps: RefreshDeps): Promise<Session | null> {
  let token: string | null = null;
  const refresh = deps.refreshToken();
  try {
    if (deps.cognito && refresh) token = await deps.cognitoRefresh(deps.cognito, refresh);
    else token = (await deps.devToken(current.userId, { name: current.name, picture: current.picture })).token;
  } catch {
    return null;
  }
  const session = token ? sessionFromToken(token) : null;
  return session && session.userId === current.userId ? session : null;
}

export interface ResumeDeps {
  /** The stored session while its token is still valid (loadSession). */
  stored(): Session | null;
  save(session: Session): void;
  cognito: CognitoClient | null;
  refreshToken(): string | null;
  forgetRefreshToken(): void;
  cognitoRefresh(client: CognitoClient, refreshToken: string): Promise<string | null>;
}

/**
 * The session a page load starts with: the stored one while its token is valid; once that expired
 * (Cognito's ID tokens last an hour) but the identity provider's refresh token is kept (cloud), a
 * renewed one, so a listener who comes back the next day is not sent through sign-in again. Null:
 * sign in. A refresh token Cognito refuses (expired, revoked) is forgotten; one that could not be
 * tried (offline, Cognito throttling or failing) is kept for the next load, and so is one whose new
 * ID token the page cannot use (a device clock far ahead makes it look expired).
 */
export async function resumeSession(deps: ResumeDeps): Promise<Session | null> {
  const stored = deps.stored();
  if (stored) return stored;
  const refresh = deps.refreshToken();
  if (!deps.cognito || !refresh) return null;
  let token: string | null;
  try {
    token = await deps.cognitoRefresh(deps.cognito, refresh);
  } catch {
    return null;
  }
  if (token === null) {
    deps.forgetRefreshToken();
    return null;
  }
  const session = sessionFromToken(token);
  if (session) deps.save(session);
  return session;
}
