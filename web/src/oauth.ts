/**
 * Cloud sign-in: Cognito managed login with the OAuth 2.0 authorization-code grant and PKCE (S256,
 * RFC 7636) from this page, a public client without a secret.
 *
 * 1. `beginSignIn` keeps a one-use {state, code_verifier, hash to return to} in sessionStorage and
 *    answers the `/oauth2/authorize` URL the page goes to.
 * 2. Cognito sends the browser back to `<origin>/?code=…&state=…`; `completeSignIn` checks the state
 *    against the kept one, drops it, and exchanges the code (with the verifier) at `/oauth2/token`.
 * 3. Sign-out: `/oauth2/revoke` for the refresh token, then `/logout` (ends the managed-login session).
 *
 * Everything talks to the network through an injected `fetch` and keeps state in an injected Storage,
 * so the unit tests drive it with fakes.
 */
import type { CognitoClient } from "./auth";

/** A Cognito client the page can sign in with: config.json `cognito` with its `domain`. */
export type HostedLogin = CognitoClient & { domain: string };

export const PENDING_KEY = "spaces.oauth.pending";
export const SCOPES = "openid email profile";

interface Pending {
  state: string;
  verifier: string;
  returnTo: string;
}

/** The signed-in result of a callback. */
export interface SignInResult {
  idToken: string;
  refreshToken: string | null;
  /** The hash the user was on when they clicked "Sign in" (a deep link continues). */
  returnTo: string;
}

export class SignInError extends Error {}

export function hostedLogin(c: CognitoClient | null): HostedLogin | null {
  return c && c.domain ? { ...c, domain: c.domain } : null;
}

export function base64url(bytes: Uint8Array): string {
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** 32 random bytes as base64url: a 43-character verifier (RFC 7636 asks for 43 to 128). */
export function createVerifier(random: (a: Uint8Array) => Uint8Array = (a) => crypto.getRandomValues(a)): string {
  return base64url(random(new Uint8Array(32)));
}

/** The S256 challenge: base64url(SHA-256(ASCII(verifier))). */
export async function challengeOf(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

/** The page's redirect URI: the root of its origin, the exact URL the stack registers. */
export function redirectUriOf(origin: string): string {
  return `${origin.replace(/\/+$/, "")}/`;
}

export interface BeginDeps {
  storage: Storage;
  redirectUri: string;
  returnTo: string;
  random?: (a: Uint8Array) => Uint8Array;
}

/** Keeps the one-use state and verifier and answers the authorize URL to send the browser to. */
export async function beginSignIn(login: HostedLogin, deps: BeginDeps): Promise<string> {
  const verifier = createVerifier(deps.random);
  const state = createVerifier(deps.random);
  const pending: Pending = { state, verifier, returnTo: deps.returnTo };
  deps.storage.setItem(PENDING_KEY, JSON.stringify(pending));
  const url = new URL(`https://${login.domain}/oauth2/authorize`);
  url.search = new URLSearchParams({
    response_type: "code",
    client_id: login.clientId,
    redirect_uri: deps.redirectUri,
    scope: SCOPES,
    state,
    code_challenge: await challengeOf(verifier),
    code_challenge_method: "S256",
  }).toString();
  return url.toString();
}

export type Callback = { kind: "code"; code: string; state: string } | { kind: "error"; error: string; state: string };

/** What the query string of a return from managed login says, or null when it is not one. */
export function parseCallback(search: string): Callback | null {
  const q = new URLSearchParams(search);
  const state = q.get("state") ?? "";
  const error = q.get("error");
  if (error) {
    const description = q.get("error_description");
    return { kind: "error", error: description ? `${error}: ${description}` : error, state };
  }
  const code = q.get("code");
  return code ? { kind: "code", code, state } : null;
}

function takePending(storage: Storage): Pending | null {
  const raw = storage.getItem(PENDING_KEY);
  storage.removeItem(PENDING_KEY); // one use, whatever happens next
  if (!raw) return null;
  try {
    const p = JSON.parse(raw) as Partial<Pending>;
    return typeof p.state === "string" && typeof p.verifier === "string" && p.state && p.verifier
      ? { state: p.state, verifier: p.verifier, returnTo: typeof p.returnTo === "string" ? p.returnTo : "" }
      : null;
  } catch {
    return null;
  }
}

export interface CompleteDeps {
  storage: Storage;
  redirectUri: string;
  fetch: typeof fetch;
}

/**
 * The tokens for a callback. Refused (SignInError, nothing exchanged) when no sign-in was started in
 * this tab or the state differs (a forged or replayed callback), or when Cognito refuses the code.
 */
export async function completeSignIn(login: HostedLogin, callback: Callback, deps: CompleteDeps): Promise<SignInResult> {
  const pending = takePending(deps.storage);
  if (!pending || pending.state !== callback.state) {
    throw new SignInError("This sign-in link does not match a sign-in started in this tab. Sign in again.");
  }
  if (callback.kind === "error") throw new SignInError(`Sign-in was refused (${callback.error}).`);
  let resp: Response;
  try {
    resp = await deps.fetch(`https://${login.domain}/oauth2/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "authorization_code",
        client_id: login.clientId,
        code: callback.code,
        redirect_uri: deps.redirectUri,
        code_verifier: pending.verifier,
      }).toString(),
    });
  } catch {
    throw new SignInError(`Cannot reach the sign-in service at ${login.domain}.`);
  }
  const body = (await resp.json().catch(() => ({}))) as { id_token?: unknown; refresh_token?: unknown; error?: unknown };
  if (!resp.ok || typeof body.id_token !== "string") {
    const why = typeof body.error === "string" ? body.error : `HTTP ${resp.status}`;
    throw new SignInError(`The sign-in service did not accept the sign-in (${why}). Sign in again.`);
  }
  return {
    idToken: body.id_token,
    refreshToken: typeof body.refresh_token === "string" ? body.refresh_token : null,
    returnTo: pending.returnTo,
  };
}

/**
 * Revokes the refresh token (and the tokens issued from it) at `/oauth2/revoke`, best effort, and
 * answers the `/logout` URL that ends the managed-login session and comes back to `logoutUri`.
 */
export async function cloudSignOut(
  login: HostedLogin,
  refreshToken: string | null,
  deps: { fetch: typeof fetch; logoutUri: string },
): Promise<string> {
  if (refreshToken) {
    try {
      await deps.fetch(`https://${login.domain}/oauth2/revoke`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ token: refreshToken, client_id: login.clientId }).toString(),
      });
    } catch {
      // Offline: the token is forgotten locally and expires on its own (docs/web.md).
    }
  }
  const url = new URL(`https://${login.domain}/logout`);
  url.search = new URLSearchParams({ client_id: login.clientId, logout_uri: deps.logoutUri }).toString();
  return url.toString();
}
