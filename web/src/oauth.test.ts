import { describe, expect, it, vi } from "vitest";

import { refreshSession, type Session } from "./auth";
import { cognitoOf } from "./config";
import {
  base64url,
  beginSignIn,
  challengeOf,
  cloudSignOut,
  completeSignIn,
  createVerifier,
  type HostedLogin,
  hostedLogin,
  parseCallback,
  PENDING_KEY,
  redirectUriOf,
  SignInError,
} from "./oauth";

const LOGIN: HostedLogin = { region: "eu-west-1", clientId: "web-client", domain: "spaces-1.auth.eu-west-1.amazoncognito.com" };
const REDIRECT = "https://spaces.example.com/";

class MemoryStorage implements Storage {
  private items = new Map<string, string>();
  get length() {
    return this.items.size;
  }
  clear() {
    this.items.clear();
  }
  getItem(k: string) {
    return this.items.get(k) ?? null;
  }
  key(i: number) {
    return [...this.items.keys()][i] ?? null;
  }
  removeItem(k: string) {
    this.items.delete(k);
  }
  setItem(k: string, v: string) {
    this.items.set(k, String(v));
  }
}

function jwt(claims: object): string {
  const b64 = (o: object) => btoa(JSON.stringify(o)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
  return `${b64({ alg: "RS256" })}.${b64(claims)}.sig`;
}

const future = () => Math.floor(Date.now() / 1000) + 3600;

/** A fake Cognito token endpoint that checks what a real one checks: client, code, redirect, PKCE. */
function fakeTokenEndpoint(code: string, challenge: () => string, tokens: object) {
  const calls: { url: string; form: URLSearchParams }[] = [];
  const fn = vi.fn(async (url: string | URL | Request, init?: RequestInit) => {
    const form = new URLSearchParams(String(init?.body));
    calls.push({ url: String(url), form });
    const ok =
      init?.method === "POST" &&
      form.get("grant_type") === "authorization_code" &&
      form.get("client_id") === LOGIN.clientId &&
      form.get("code") === code &&
      form.get("redirect_uri") === REDIRECT &&
      (await challengeOf(form.get("code_verifier") ?? "")) === challenge();
    return ok
      ? new Response(JSON.stringify(tokens), { status: 200 })
      : new Response(JSON.stringify({ error: "invalid_grant" }), { status: 400 });
  });
  return { fn: fn as unknown as typeof fetch, calls };
}

/** Starts a sign-in and answers the authorize URL's query. */
async function started(storage: Storage, returnTo = "#/spaces/s1"): Promise<URLSearchParams> {
  const url = new URL(await beginSignIn(LOGIN, { storage, redirectUri: REDIRECT, returnTo }));
  expect(`${url.origin}${url.pathname}`).toBe(`https://${LOGIN.domain}/oauth2/authorize`);
  return url.searchParams;
}

describe("PKCE (RFC 7636)", () => {
  it("derives the S256 challenge of the RFC's appendix B example", async () => {
    expect(await challengeOf("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")).toBe("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
  });

  it("encodes the RFC's example octets as its verifier", () => {
    const octets = [
      116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173, 187, 186, 22, 212, 37, 77, 105, 214, 191, 240, 91, 88, 5,
      88, 83, 132, 141, 121,
    ];
    expect(createVerifier((a) => (a.set(octets), a))).toBe("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
  });

  it("makes 43-character unreserved verifiers that differ each time", () => {
    const a = createVerifier();
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(createVerifier()).not.toBe(a);
    expect(base64url(new Uint8Array([251, 255]))).toBe("-_8");
  });
});

describe("beginSignIn", () => {
  it("asks for a code with an S256 challenge of the verifier it keeps, and a fresh state", async () => {
    const storage = new MemoryStorage();
    const q = await started(storage);
    const pending = JSON.parse(storage.getItem(PENDING_KEY) ?? "{}");
    expect(Object.fromEntries(q)).toEqual({
      response_type: "code",
      client_id: "web-client",
      redirect_uri: REDIRECT,
      scope: "openid email profile",
      state: pending.state,
      code_challenge: await challengeOf(pending.verifier),
      code_challenge_method: "S256",
    });
    expect(pending.returnTo).toBe("#/spaces/s1");
    expect(pending.state).not.toBe(pending.verifier);
    expect(q.toString()).not.toContain(pending.verifier); // the verifier never leaves the tab
  });
});

describe("parseCallback", () => {
  it("reads a code, an error, or nothing", () => {
    expect(parseCallback("?code=abc&state=xyz")).toEqual({ kind: "code", code: "abc", state: "xyz" });
    expect(parseCallback("?error=access_denied&error_description=no&state=xyz")).toEqual({
      kind: "error",
      error: "access_denied: no",
      state: "xyz",
    });
    expect(parseCallback("")).toBeNull();
    expect(parseCallback("?state=xyz")).toBeNull();
  });
});

describe("completeSignIn", () => {
  it("exchanges the code with the kept verifier and answers the tokens and the hash to return to", async () => {
    const storage = new MemoryStorage();
    const q = await started(storage);
    const verifierChallenge = q.get("code_challenge") ?? "";
    const id = jwt({ sub: "u-1", aud: "web-client", exp: future() });
    const endpoint = fakeTokenEndpoint("the-code", () => verifierChallenge, { id_token: id, access_token: "a", refresh_token: "r-1" });
    const result = await completeSignIn(LOGIN, { kind: "code", code: "the-code", state: q.get("state") ?? "" }, {
      storage,
      redirectUri: REDIRECT,
      fetch: endpoint.fn,
    });
    expect(result).toEqual({ idToken: id, refreshToken: "r-1", returnTo: "#/spaces/s1" });
    expect(endpoint.calls.map((c) => c.url)).toEqual([`https://${LOGIN.domain}/oauth2/token`]);
    expect(endpoint.calls[0]?.form.has("client_secret")).toBe(false);
    expect(storage.getItem(PENDING_KEY)).toBeNull(); // one use
  });

  it("refuses a state that does not match, without calling the token endpoint, and forgets the pending one", async () => {
    const storage = new MemoryStorage();
    await started(storage);
    const endpoint = fakeTokenEndpoint("c", () => "", {});
    await expect(
      completeSignIn(LOGIN, { kind: "code", code: "c", state: "forged" }, { storage, redirectUri: REDIRECT, fetch: endpoint.fn }),
    ).rejects.toBeInstanceOf(SignInError);
    expect(endpoint.calls).toHaveLength(0);
    expect(storage.getItem(PENDING_KEY)).toBeNull();
  });

  it("refuses a callback when no sign-in was started in this tab, and a replayed one", async () => {
    const storage = new MemoryStorage();
    const q = await started(storage);
    const endpoint = fakeTokenEndpoint("c", () => q.get("code_challenge") ?? "", { id_token: jwt({ sub: "u" }) });
    const cb = { kind: "code" as const, code: "c", state: q.get("state") ?? "" };
    await completeSignIn(LOGIN, cb, { storage, redirectUri: REDIRECT, fetch: endpoint.fn });
    await expect(completeSignIn(LOGIN, cb, { storage, redirectUri: REDIRECT, fetch: endpoint.fn })).rejects.toThrow(/does not match/);
    expect(endpoint.calls).toHaveLength(1);
  });

  it("reports Cognito's refusal of the code and an error callback", async () => {
    const storage = new MemoryStorage();
    let q = await started(storage);
    const wrong = fakeTokenEndpoint("other-code", () => q.get("code_challenge") ?? "", {});
    await expect(
      completeSignIn(LOGIN, { kind: "code", code: "c", state: q.get("state") ?? "" }, { storage, redirectUri: REDIRECT, fetch: wrong.fn }),
    ).rejects.toThrow(/invalid_grant/);
    q = await started(storage);
    await expect(
      completeSignIn(LOGIN, { kind: "error", error: "access_denied", state: q.get("state") ?? "" }, { storage, redirectUri: REDIRECT, fetch: wrong.fn }),
    ).rejects.toThrow(/access_denied/);
    expect(wrong.calls).toHaveLength(1);
  });
});

describe("refresh with the kept refresh token", () => {
  it("renews the session through Cognito for the same user", async () => {
    const current: Session = { token: "old", userId: "u-1", expiresAt: 1, name: null, picture: null };
    const fresh = jwt({ sub: "u-1", exp: future() });
    const devToken = vi.fn();
    const next = await refreshSession(current, {
      devToken,
      cognito: LOGIN,
      refreshToken: () => "r-1",
      cognitoRefresh: async (c, r) => (c.clientId === "web-client" && r === "r-1" ? fresh : null),
    });
    expect(next?.token).toBe(fresh);
    expect(devToken).not.toHaveBeenCalled();
  });
});

describe("cloudSignOut", () => {
  it("revokes the refresh token, then answers the logout URL back to the page", async () => {
    const calls: { url: string; form: URLSearchParams }[] = [];
    const fake = (async (url: string, init: RequestInit) => {
      calls.push({ url, form: new URLSearchParams(String(init.body)) });
      return new Response("", { status: 200 });
    }) as unknown as typeof fetch;
    const url = new URL(await cloudSignOut(LOGIN, "r-1", { fetch: fake, logoutUri: REDIRECT }));
    expect(calls.map((c) => [c.url, Object.fromEntries(c.form)])).toEqual([
      [`https://${LOGIN.domain}/oauth2/revoke`, { token: "r-1", client_id: "web-client" }],
    ]);
    expect(`${url.origin}${url.pathname}`).toBe(`https://${LOGIN.domain}/logout`);
    expect(Object.fromEntries(url.searchParams)).toEqual({ client_id: "web-client", logout_uri: REDIRECT });
  });

  it("still logs out when offline or without a refresh token", async () => {
    const failing = (async () => {
      throw new TypeError("offline");
    }) as unknown as typeof fetch;
    await expect(cloudSignOut(LOGIN, "r-1", { fetch: failing, logoutUri: REDIRECT })).resolves.toContain("/logout?");
    const never = vi.fn();
    await cloudSignOut(LOGIN, null, { fetch: never as unknown as typeof fetch, logoutUri: REDIRECT });
    expect(never).not.toHaveBeenCalled();
  });
});

describe("config", () => {
  it("takes the domain when it is a bare host name, and signs in only with one", () => {
    expect(hostedLogin(cognitoOf({ region: "eu-west-1", clientId: "c", domain: "x.auth.eu-west-1.amazoncognito.com" }))).toEqual({
      region: "eu-west-1",
      clientId: "c",
      domain: "x.auth.eu-west-1.amazoncognito.com",
    });
    expect(cognitoOf({ region: "eu-west-1", clientId: "c", domain: "evil.example/path?" })).toEqual({ region: "eu-west-1", clientId: "c" });
    expect(hostedLogin(cognitoOf({ region: "eu-west-1", clientId: "c" }))).toBeNull();
    expect(redirectUriOf("https://spaces.example.com")).toBe(REDIRECT);
  });
});
