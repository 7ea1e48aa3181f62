/**
 * Where the Spaces API lives.
 *
 * One build serves every environment: a deployment drops a `config.json` ({"apiUrl": "https://..."})
 * next to index.html. Without it (the API serving the page itself in `make dev`) the page calls its
 * own origin.
 */
export interface ClientConfig {
  apiUrl: string;
}

export async function loadConfig(): Promise<ClientConfig> {
  try {
    const resp = await fetch(new URL("config.json", document.baseURI), { cache: "no-store" });
    if (resp.ok && (resp.headers.get("content-type") ?? "").includes("json")) {
      const body = (await resp.json()) as Partial<ClientConfig>;
      if (typeof body.apiUrl === "string" && body.apiUrl) {
        return { apiUrl: body.apiUrl.replace(/\/+$/, "") };
      }
    }
  } catch {
    // No config.json: same origin.
  }
  return { apiUrl: window.location.origin };
}
