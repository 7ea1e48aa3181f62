import { afterEach, describe, expect, it, vi } from "vitest";

import { Api, ApiError } from "./api";
import { refreshSession, type Session } from "./auth";

function jwt(claims: object): string {
  const b64 = (o: object) => btoa(JSON.stringify(o)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
  return `${b64({ alg: "HS256" })}.${b64(claims)}.sig`;
}

const future = () => Math.floor(Date.now() / 1000) + 600;

/** A fetch that answers 401 to one token and 200 (a Space) to the other, recording the tokens it saw. */
function fakeFetch(good: string) {
  const seen: string[] = [];
  const fn = vi.fn(async (_url: string, init: RequestInit) => {
    const auth = (init.headers as Record<string, string>).authorization ?? "";
    seen.push(auth);
    return auth === `Bearer ${good}`
      ? new Response(JSON.stringify({ id: "s1" }), { status: 200 })
      : new Response(JSON.stringify({ detail: "token expired" }), { status: 401 });
  });
  return { fn, seen };
}

afterEach(() => vi.unstubAllGlobals());

describe("Api token refresh", () => {
  it("refreshes once on a 401 and retries the call with the new token", async () => {
    const { fn, seen } = fakeFetch("new");
    vi.stubGlobal("fetch", fn);
    let token = "old";
    let refreshes = 0;
    const api = new Api("http://api", () => token, async () => {
      refreshes++;
      token = "new";
      return true;
    });
    await expect(Promise.all([api.getSpace("s1"), api.getSpace("s1")])).resolves.toHaveLength(2);
    expect(refreshes).toBe(1); // two calls met the 401, one refresh
    expect(seen.filter((s) => s === "Bearer new")).toHaveLength(2);
  });

  it("throws the 401 when the refresh fails, without a second try", async () => {
    const { fn } = fakeFetch("never");
    vi.stubGlobal("fetch", fn);
    const api = new Api("http://api", () => "old", async () => false);
    await expect(api.getSpace("s1")).rejects.toEqual(new ApiError(401, "token expired"));
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it("keeps the rule the API named beside its words", async () => {
    const body = { detail: "presence count busy; send the heartbeat again", rule: "too_much_contention" };
    vi.stubGlobal("fetch", vi.fn(async () => new Response(JSON.stringify(body), { status: 409 })));
    const api = new Api("http://api", () => "t", async () => false);
    await expect(api.getSpace("s1")).rejects.toEqual(new ApiError(409, body.detail, "too_much_contention"));
  });
});

describe("refreshSession", () => {
  const current: Session = { token: "x", userId: "alice", expiresAt: 0, name: "Alice", picture: null };
  const deps = {
    devToken: async (userId: string) => ({ token: jwt({ sub: userId, exp: future() }) }),
    cognito: null,
    refreshToken: () => null,
    cognitoRefresh: async () => null,
  };

  it("re-issues a dev token for the same user", async () => {
    expect((await refreshSession(current, deps))?.userId).toBe("alice");
  });

  it("uses the Cognito refresh token when the deployment has Cognito", async () => {
    const id = jwt({ sub: "alice", exp: future() });
    const session = await refreshSession(current, {
      ...deps,
      devToken: async () => Promise.reject(new Error("no dev route")),
      cognito: { region: "eu-west-1", clientId: "c" },
      refreshToken: () => "r",
      cognitoRefresh: async (_c, r) => (r === "r" ? id : null),
    });
    expect(session?.token).toBe(id);
  });

  it("refuses a token for someone else, an expired one, and a failed re-issue", async () => {
    expect(await refreshSession(current, { ...deps, devToken: async () => ({ token: jwt({ sub: "bob", exp: future() }) }) })).toBeNull();
    expect(await refreshSession(current, { ...deps, devToken: async () => ({ token: jwt({ sub: "alice", exp: 1 }) }) })).toBeNull();
    expect(await refreshSession(current, { ...deps, devToken: () => Promise.reject(new ApiError(404, "no")) })).toBeNull();
  });
});
