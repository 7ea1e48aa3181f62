/**
 * Where the Spaces API lives.
 *
 * One build serves every environment: a deployment drops a `config.json` ({"apiUrl": "https://..."})
 * next to index.html (in the cloud also `"cognito": {"region", "clientId", "domain"}`, to sign in
 * through Cognito's managed login and refresh tokens, and `"avatarUrl"`, the CDN's avatar proxy;
 * the stack's `WebConfig` output is that file). Without it (the API serving the page itself in
 * `make dev`) the page calls its own origin.
 */
import type { CognitoClient } from "./auth";
import { AVATAR_PATH } from "./contract.gen";

export interface ClientConfig {
  apiUrl: string;
  /** The cloud's Cognito user pool client, for refreshing the API token. */
  cognito: CognitoClient | null;
  /** Where pictures are loaded from (`?url=<picture>`): the API's avatar proxy, or the CDN's. */
  avatarUrl: string;
}

/** An https URL (or the page's own origin's http in dev) without a query: the avatar proxy's base. */
export function avatarUrlOf(raw: unknown, apiUrl: string): string {
  if (typeof raw === "string" && raw) {
    try {
      const url = new URL(raw);
      if ((url.protocol === "https:" || url.origin === window.location.origin) && !url.search && !url.hash) {
        // Origin and path only: a bare "?" or "#" at the end (empty search and hash) is dropped too.
        return `${url.origin}${url.pathname}`.replace(/\/+$/, "");
      }
    } catch {
      // not a URL: the API's own proxy
    }
  }
  return `${apiUrl}${AVATAR_PATH}`;
}

export function cognitoOf(raw: unknown): CognitoClient | null {
  const c = raw as Partial<CognitoClient> | null | undefined;
  if (!(c && typeof c.region === "string" && typeof c.clientId === "string" && c.region && c.clientId)) return null;
  // A bare host name only: it becomes https://<domain>/oauth2/... and must not smuggle a path.
  const domain = typeof c.domain === "string" && /^[A-Za-z0-9.-]+$/.test(c.domain) ? c.domain : undefined;
  return domain ? { region: c.region, clientId: c.clientId, domain } : { region: c.region, clientId: c.clientId };
}

export async function loadConfig(): Promise<ClientConfig> {
  try {
    const resp = await fetch(new URL("config.json", document.baseURI), { cache: "no-store" });
    if (resp.ok && (resp.headers.get("content-type") ?? "").includes("json")) {
      const body = (await resp.json()) as { apiUrl?: unknown; cognito?: unknown; avatarUrl?: unknown };
      if (typeof body.apiUrl === "string" && body.apiUrl) {
        const apiUrl = body.apiUrl.replace(/\/+$/, "");
        return { apiUrl, cognito: cognitoOf(body.cognito), avatarUrl: avatarUrlOf(body.avatarUrl, apiUrl) };
      }
    }
  } catch {
    // No config.json: same origin.
  }
  return { apiUrl: window.location.origin, cognito: null, avatarUrl: avatarUrlOf(null, window.location.origin) };
}
