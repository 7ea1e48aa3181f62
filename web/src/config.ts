/**
 * Where the Spaces API lives.
 *
 * One build serves every environment: a deployment drops a `config.json` ({"apiUrl": "https://..."})
 * next to index.html (in the cloud also `"cognito": {"region", "clientId", "domain"}`, to sign in
 * through Cognito's managed login and refresh tokens; the stack's `WebConfig` output is that file).
 * Without it (the API serving the page itself in `make dev`) the page calls its own origin.
 */
import type { CognitoClient } from "./auth";

export interface ClientConfig {
  apiUrl: string;
  /** The cloud's Cognito user pool client, for refreshing the API token. */
  cognito: CognitoClient | null;
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
      const body = (await resp.json()) as { apiUrl?: unknown; cognito?: unknown };
      if (typeof body.apiUrl === "string" && body.apiUrl) {
        return { apiUrl: body.apiUrl.replace(/\/+$/, ""), cognito: cognitoOf(body.cognito) };
      }
    }
  } catch {
    // No config.json: same origin.
  }
  return { apiUrl: window.location.origin, cognito: null };
}
