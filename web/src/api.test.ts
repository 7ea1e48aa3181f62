import { afterEach, describe, expect, it, vi } from "vitest";

import {
  Api,
  ApiError,
  hostAwayUntilMs,
  JOIN_RETRY_BUDGET_MS,
  JOIN_WAIT_CAP_MS,
  joinWaitMs,
  parseRetryAfter,
  transientWaitMs,
  TRANSIENT_RETRIES,
} from "./api";
import { CognitoUnavailable, cognitoRefresh, refreshSession, resumeSession, type ResumeDeps, type Session } from "./auth";

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
    const body = { detail: "the Space is not live", rule: "space_not_live" };
    vi.stubGlobal("fetch", vi.fn(async () => new Response(JSON.stringify(body), { status: 409 })));
    const api = new Api("http://api", () => "t", async () => false);
    await expect(api.getSpace("s1")).rejects.toEqual(new ApiError(409, body.detail, "space_not_live"));
  });
});

describe("setRole", () => {
  it("names the role the row showed, and drops it for an API older than the page", async () => {
    const bodies: unknown[] = [];
    vi.stubGlobal(
      "fetch",
      vi.fn(async (_url: string, init: RequestInit) => {
        const body = JSON.parse(String(init.body));
        bodies.push(body);
        return "from_role" in body
          ? new Response(JSON.stringify({ detail: [{ loc: ["body", "from_role"], msg: "Extra inputs are not permitted" }] }), { status: 422 })
          : new Response(JSON.stringify({ id: "s1" }), { status: 200 });
      }),
    );
    const api = new Api("http://api", () => "t", async () => false);
    await api.setRole("s1", "leo", "speaker", "listener");
    expect(bodies).toEqual([{ role: "speaker", from_role: "listener" }, { role: "speaker" }]);
  });

  it("keeps a refusal that is not about the field", async () => {
    const body = { detail: "they are a co-host now, not in the audience: nothing was changed", rule: "role_changed" };
    const fetch = vi.fn(async () => new Response(JSON.stringify(body), { status: 409 }));
    vi.stubGlobal("fetch", fetch);
    const api = new Api("http://api", () => "t", async () => false);
    await expect(api.setRole("s1", "leo", "speaker", "listener")).rejects.toEqual(new ApiError(409, body.detail, "role_changed"));
    expect(fetch).toHaveBeenCalledTimes(1);
  });
});

describe("presence", () => {
  it("names the viewer tag of the HLS answer, which the API checks before counting", async () => {
    const fetch = vi.fn(async (_url: string, _init: RequestInit) => new Response(null, { status: 204 }));
    vi.stubGlobal("fetch", fetch);
    await new Api("http://api", () => "t", async () => false).presence("s 1", "a-B_9xYz");
    expect(fetch.mock.calls[0][0]).toBe("http://api/spaces/s%201/presence?presence_tag=a-B_9xYz");
    expect(fetch.mock.calls[0][1].method).toBe("POST");
  });
});

describe("lowerHandAsPageGoes", () => {
  it("calls fetch before it returns, with keepalive and the token, and swallows a failure", async () => {
    const fetch = vi.fn(async (_url: string, _init: RequestInit) => {
      throw new TypeError("network");
    });
    vi.stubGlobal("fetch", fetch);
    new Api("http://api", () => "t", async () => false).lowerHandAsPageGoes("s 1");
    expect(fetch).toHaveBeenCalledTimes(1); // synchronously: the page is going
    const [url, init] = fetch.mock.calls[0];
    expect(url).toBe("http://api/spaces/s%201/hand");
    expect(init.method).toBe("DELETE");
    expect(init.keepalive).toBe(true);
    expect((init.headers as Record<string, string>).authorization).toBe("Bearer t");
    await new Promise((resolve) => setTimeout(resolve, 0)); // its failure is caught (no unhandled rejection)
  });

  it("is the only call that asks for keepalive", async () => {
    const fetch = vi.fn(async (_url: string, _init: RequestInit) => new Response(null, { status: 204 }));
    vi.stubGlobal("fetch", fetch);
    await new Api("http://api", () => "t", async () => false).lowerHand("s1");
    expect(fetch.mock.calls[0][1].keepalive).toBeUndefined();
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

/** A fetch that answers each call with the next of `answers` (the last one repeats), recording requests. */
function scripted(answers: Array<() => Response>) {
  const requests: Array<{ url: string; init: RequestInit }> = [];
  const fn = vi.fn(async (url: string, init: RequestInit) => {
    requests.push({ url, init });
    return answers[Math.min(requests.length - 1, answers.length - 1)]();
  });
  return { fn, requests };
}

const busy = (retryAfter: string | null) => () =>
  new Response(JSON.stringify({ detail: "the Space is changing too fast; nothing was changed, retry", rule: "too_much_contention" }), {
    status: 503,
    headers: retryAfter === null ? {} : { "retry-after": retryAfter },
  });
const throttled = () => new Response(JSON.stringify({ message: "Too Many Requests" }), { status: 429 });
const space = () => new Response(JSON.stringify({ id: "s1" }), { status: 200 });

describe("Api transient refusals", () => {
  function paced() {
    const waits: number[] = [];
    return { waits, pacing: { sleep: async (ms: number) => void waits.push(ms), random: () => 0 } };
  }

  it("sends a call refused with 503 again after the Retry-After it names", async () => {
    const { fn, requests } = scripted([busy("2"), busy("3"), space]);
    vi.stubGlobal("fetch", fn);
    const { waits, pacing } = paced();
    const api = new Api("http://api", () => "t", async () => false, pacing);
    await expect(api.getSpace("s1")).resolves.toEqual({ id: "s1" });
    expect(requests).toHaveLength(3);
    expect(waits).toEqual([2000, 3000]);
  });

  it("sends a create again with the same Idempotency-Key, so it makes one Space", async () => {
    const { fn, requests } = scripted([throttled, busy(null), space]);
    vi.stubGlobal("fetch", fn);
    const { waits, pacing } = paced();
    const api = new Api("http://api", () => "t", async () => false, pacing);
    await api.createSpace({ title: "t", video: "off" });
    const keys = requests.map((r) => (r.init.headers as Record<string, string>)["idempotency-key"]);
    expect(keys).toHaveLength(3);
    expect(new Set(keys).size).toBe(1);
    expect(waits).toEqual([1000, 2000]); // no Retry-After: 1 s, then 2 s
  });

  it("sends a create with the key its form gave, so a submission tried again is the same create", async () => {
    const { fn, requests } = scripted([space, space]);
    vi.stubGlobal("fetch", fn);
    const api = new Api("http://api", () => "t", async () => false, paced().pacing);
    await api.createSpace({ title: "t", video: "off" }, "key-of-the-submission");
    await api.createSpace({ title: "t", video: "off" }, "key-of-the-submission");
    const keys = requests.map((r) => (r.init.headers as Record<string, string>)["idempotency-key"]);
    expect(keys).toEqual(["key-of-the-submission", "key-of-the-submission"]);
  });

  it("gives up after the retries and throws what the API said", async () => {
    const { fn, requests } = scripted([busy("1")]);
    vi.stubGlobal("fetch", fn);
    const api = new Api("http://api", () => "t", async () => false, paced().pacing);
    const err = await api.getSpace("s1").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 503, rule: "too_much_contention", retryAfterSeconds: 1 });
    expect(requests).toHaveLength(1 + TRANSIENT_RETRIES);
  });

  it("leaves reactions, heartbeats and refusals that will not change to the caller", async () => {
    const limited = () =>
      new Response(JSON.stringify({ detail: "too fast", rule: "reaction_rate_limited" }), {
        status: 429,
        headers: { "retry-after": "1" },
      });
    const notLive = () => new Response(JSON.stringify({ detail: "not live", rule: "space_not_live" }), { status: 409 });
    for (const [answer, call] of [
      [busy("1"), (api: Api) => api.react("s1", "👏")],
      [throttled, (api: Api) => api.react("s1", "👏")], // the gateway's throttle: a late reaction is noise
      [busy("1"), (api: Api) => api.presence("s1", "tagOfLee")],
      [limited, (api: Api) => api.getSpace("s1")], // the API's own 429 names its rule
      [notLive, (api: Api) => api.joinToken("s1")],
      [() => new Response("", { status: 502 }), (api: Api) => api.getSpace("s1")], // may have been applied
      [() => new Response('{"message":"Service Unavailable"}', { status: 503 }), (api: Api) => api.getSpace("s1")], // the gateway's: no promise
      [busy("3600"), (api: Api) => api.getSpace("s1")], // come back in an hour: not by itself
    ] as Array<[() => Response, (api: Api) => Promise<unknown>]>) {
      const { fn, requests } = scripted([answer, space]);
      vi.stubGlobal("fetch", fn);
      const api = new Api("http://api", () => "t", async () => false, paced().pacing);
      await expect(call(api)).rejects.toBeInstanceOf(ApiError);
      expect(requests).toHaveLength(1);
    }
  });

  it("waits at least what it was told, spread up to half as long again, and never past the cap", () => {
    expect(transientWaitMs(0, 2, () => 0)).toBe(2000);
    expect(transientWaitMs(0, 2, () => 0.999)).toBeLessThan(3000);
    expect(transientWaitMs(2, null, () => 0)).toBe(4000);
    expect(transientWaitMs(0, 30, () => 0.999)).toBe(30_000);
    expect(transientWaitMs(0, 3600, () => 0)).toBeNull(); // asked to wait an hour: not retried
  });

  it("reads Retry-After as seconds or as an HTTP date", () => {
    expect(parseRetryAfter("5")).toBe(5);
    expect(parseRetryAfter(null)).toBeNull();
    expect(parseRetryAfter("soon")).toBeNull();
    expect(parseRetryAfter("1.5")).toBeNull(); // not delta-seconds, and no HTTP date either
    const now = Date.parse("2026-12-03T10:00:00Z");
    expect(parseRetryAfter("Thu, 03 Dec 2026 10:00:07 GMT", now)).toBe(7);
    expect(parseRetryAfter("Thu, 03 Dec 2026 09:00:00 GMT", now)).toBe(0);
  });
});

describe("Api join path (a mass reload of a large Space)", () => {
  /** Pacing whose sleeps only count; `random` as given (full jitter needs more than 0 to show). */
  function paced(random = () => 0.5) {
    const waits: number[] = [];
    return { waits, pacing: { sleep: async (ms: number) => void waits.push(ms), random } };
  }
  /** fetch without a network: it throws. */
  const unreachable = async (): Promise<Response> => {
    throw new TypeError("Failed to fetch");
  };

  it("asks for a token again after the Retry-After of the join limit's 429", async () => {
    const limited = () =>
      new Response(JSON.stringify({ detail: "too many join token requests", rule: "token_rate_limited" }), { status: 429, headers: { "retry-after": "4" } });
    const grant = () => new Response(JSON.stringify({ mode: "webrtc", url: "wss://sfu", token: "t", identity: "lee", role: "listener", issued_at: "2026-12-06T10:00:00Z", expires_at: "2026-12-06T16:00:00Z" }), { status: 200 });
    const { fn, requests } = scripted([limited, grant]);
    vi.stubGlobal("fetch", fn);
    const { waits, pacing } = paced();
    const api = new Api("http://api", () => "t", async () => false, pacing);
    await expect(api.joinToken("s1", null, {})).resolves.toMatchObject({ mode: "webrtc" });
    expect(requests).toHaveLength(2);
    expect(waits[0]).toBeGreaterThanOrEqual(4000);
  });

  it("keeps trying a throttled read and token request for about a minute, not 3 times", async () => {
    const { fn, requests } = scripted([throttled]);
    vi.stubGlobal("fetch", fn);
    const { waits, pacing } = paced();
    const busy: number[] = [];
    const api = new Api("http://api", () => "t", async () => false, pacing);
    await expect(api.getSpace("s1", { busy: (ms) => busy.push(ms) })).rejects.toMatchObject({ status: 429 });
    expect(requests.length).toBeGreaterThan(1 + TRANSIENT_RETRIES);
    const total = waits.reduce((a, b) => a + b, 0);
    expect(total).toBeLessThanOrEqual(JOIN_RETRY_BUDGET_MS);
    expect(total).toBeGreaterThan(JOIN_RETRY_BUDGET_MS - JOIN_WAIT_CAP_MS); // the next wait would have passed it
    expect(Math.max(...waits)).toBeLessThanOrEqual(JOIN_WAIT_CAP_MS);
    expect(busy).toEqual(waits); // the page is told before every wait
    expect(requests).toHaveLength(waits.length + 1);
  });

  it("gets in once the API lets it, through 429, 503 (the API's and the gateway's) and no answer", async () => {
    let n = 0;
    const answers = [throttled, busy("2"), () => new Response('{"message":"Service Unavailable"}', { status: 503 })];
    vi.stubGlobal("fetch", async () => {
      n += 1;
      if (n === 4) return unreachable();
      return (answers[n - 1] ?? space)();
    });
    const { waits, pacing } = paced(() => 0);
    const api = new Api("http://api", () => "t", async () => false, pacing);
    await expect(api.getSpace("s1", {})).resolves.toEqual({ id: "s1" });
    expect(n).toBe(5);
    expect(waits).toEqual([0, 2000, 0, 0]); // full jitter (random 0 here), never before a Retry-After
  });

  it("does not retry what will not change, nor other calls beyond their 3", async () => {
    const notLive = () => new Response(JSON.stringify({ detail: "not live", rule: "space_not_live" }), { status: 409 });
    const { fn, requests } = scripted([notLive]);
    vi.stubGlobal("fetch", fn);
    const api = new Api("http://api", () => "t", async () => false, paced().pacing);
    await expect(api.joinToken("s1", null, {})).rejects.toMatchObject({ status: 409 });
    expect(requests).toHaveLength(1);
    const gateway = scripted([throttled]);
    vi.stubGlobal("fetch", gateway.fn);
    await expect(api.getSpace("s1")).rejects.toMatchObject({ status: 429 });
    expect(gateway.requests).toHaveLength(1 + TRANSIENT_RETRIES);
    const offline = vi.fn(unreachable);
    vi.stubGlobal("fetch", offline);
    await expect(api.getSpace("s1")).rejects.toMatchObject({ status: 0 }); // no answer: only the join path retries it
    expect(offline).toHaveBeenCalledTimes(1);
  });

  it("gives up at once when told to come back after the budget, and stops when the page is left", async () => {
    const { fn, requests } = scripted([busy("120")]);
    vi.stubGlobal("fetch", fn);
    const api = new Api("http://api", () => "t", async () => false, paced().pacing);
    await expect(api.joinToken("s1", null, {})).rejects.toMatchObject({ status: 503, retryAfterSeconds: 120 });
    expect(requests).toHaveLength(1);

    const left = new AbortController();
    const throttledCalls = scripted([throttled]);
    vi.stubGlobal("fetch", throttledCalls.fn);
    const leaving = new Api("http://api", () => "t", async () => false, {
      sleep: async () => left.abort(), // the person goes Back to Spaces during the first wait
      random: () => 0.5,
    });
    await expect(leaving.getSpace("s1", { signal: left.signal })).rejects.toMatchObject({ status: 429 });
    expect(throttledCalls.requests).toHaveLength(1);
  });

  it("ends a wait at once when the page is left, with the refusal it was waiting out, and clears its timer", async () => {
    const realTimeout = setTimeout;
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      const { fn, requests } = scripted([busy("5")]);
      vi.stubGlobal("fetch", fn);
      const left = new AbortController();
      let waiting = () => undefined as void;
      const waitStarted = new Promise<void>((resolve) => (waiting = resolve));
      const api = new Api("http://api", () => "t", async () => false); // the real pacing, on the test's clock
      const call = api.getSpace("s1", { signal: left.signal, busy: () => waiting() }).catch((e: unknown) => e);
      await waitStarted;
      expect(vi.getTimerCount()).toBe(1); // at least the 5 s the API asked for
      left.abort();
      // Settled before the next task, no time having passed: not at the end of the wait.
      const nextTask = new Promise((resolve) => realTimeout(resolve, 0)).then(() => "still waiting");
      expect(await Promise.race([call, nextTask])).toMatchObject({ status: 503, retryAfterSeconds: 5 });
      expect(vi.getTimerCount()).toBe(0);
      expect(requests).toHaveLength(1);
    } finally {
      vi.useRealTimers();
    }
  });

  it("takes its listener off the page's signal after a wait that ran its course", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      vi.stubGlobal("fetch", scripted([busy("1"), space]).fn);
      const left = new AbortController();
      const added = vi.spyOn(left.signal, "addEventListener");
      const removed = vi.spyOn(left.signal, "removeEventListener");
      const call = new Api("http://api", () => "t", async () => false).getSpace("s1", { signal: left.signal });
      await vi.advanceTimersByTimeAsync(2000); // past the longest the 1 s Retry-After can be stretched to
      await expect(call).resolves.toEqual({ id: "s1" });
      expect(added).toHaveBeenCalledTimes(1);
      expect(removed.mock.calls).toEqual(added.mock.calls.map(([type, listener]) => [type, listener]));
    } finally {
      vi.useRealTimers();
    }
  });

  it("aborts the request in flight when the page is left, and does not send it again", async () => {
    const sent: RequestInit[] = [];
    vi.stubGlobal(
      "fetch",
      vi.fn(
        (_url: string, init: RequestInit) =>
          new Promise<Response>((_resolve, reject) => {
            sent.push(init);
            init.signal?.addEventListener("abort", () => reject(init.signal?.reason));
          }),
      ),
    );
    const { waits, pacing } = paced();
    const api = new Api("http://api", () => "t", async () => false, pacing);
    const left = new AbortController();
    const call = api.joinToken("s1", null, { signal: left.signal });
    expect(sent[0].signal?.aborted).toBe(false);
    left.abort();
    await expect(call).rejects.toBe(left.signal.reason);
    await expect(call).rejects.toMatchObject({ name: "AbortError" }); // no ApiError: nothing to show or retry
    expect(sent[0].signal?.aborted).toBe(true);
    expect(sent).toHaveLength(1);
    expect(waits).toEqual([]);
  });

  it("gives the request sent again after a 401 refresh the same signal", async () => {
    const expired = () => new Response(JSON.stringify({ detail: "token expired" }), { status: 401 });
    const { fn, requests } = scripted([expired, space]);
    vi.stubGlobal("fetch", fn);
    const left = new AbortController();
    const api = new Api("http://api", () => "t", async () => true, paced().pacing);
    await expect(api.getSpace("s1", { signal: left.signal })).resolves.toEqual({ id: "s1" });
    expect(requests).toHaveLength(2);
    for (const r of requests) expect(r.init.signal).toBe(left.signal);
  });

  it("gives calls off the join path no signal, their request and waits as before", async () => {
    const { fn, requests } = scripted([busy("2"), space]);
    vi.stubGlobal("fetch", fn);
    const sleeps: Array<[number, AbortSignal | undefined]> = [];
    const api = new Api("http://api", () => "t", async () => false, {
      sleep: async (ms, signal) => void sleeps.push([ms, signal]),
      random: () => 0,
    });
    await expect(api.getSpace("s1")).resolves.toEqual({ id: "s1" });
    expect(requests.map((r) => r.init.signal)).toEqual([undefined, undefined]);
    expect(sleeps).toEqual([[2000, undefined]]);
  });

  it("waits a random part of a doubling ceiling, capped, after any Retry-After", () => {
    expect(joinWaitMs(0, null, () => 0)).toBe(0);
    expect(joinWaitMs(0, null, () => 0.999)).toBeLessThan(1000);
    expect(joinWaitMs(3, null, () => 0.5)).toBe(4000);
    expect(joinWaitMs(10, null, () => 0.999)).toBeLessThanOrEqual(JOIN_WAIT_CAP_MS);
    expect(joinWaitMs(10, 2, () => 0)).toBe(2000);
  });
});

describe("resumeSession (a page load)", () => {
  const cognito = { region: "eu-west-1", clientId: "c" };
  function deps(over: Partial<ResumeDeps> = {}) {
    const saved: Session[] = [];
    let refresh: string | null = "r";
    const d: ResumeDeps = {
      stored: () => null,
      save: (s) => saved.push(s),
      cognito,
      refreshToken: () => refresh,
      forgetRefreshToken: () => {
        refresh = null;
      },
      cognitoRefresh: async () => null,
      ...over,
    };
    return { d, saved, refresh: () => refresh };
  }

  it("keeps a stored session whose token is still valid, asking nobody", async () => {
    const stored: Session = { token: "t", userId: "alice", expiresAt: future(), name: null, picture: null };
    const cognitoRefresh = vi.fn(async () => null);
    const { d } = deps({ stored: () => stored, cognitoRefresh });
    expect(await resumeSession(d)).toBe(stored);
    expect(cognitoRefresh).not.toHaveBeenCalled();
  });

  it("renews an expired sign-in with the kept refresh token and stores it", async () => {
    const id = jwt({ sub: "alice", exp: future(), name: "Alice" });
    const { d, saved } = deps({ cognitoRefresh: async (_c, r) => (r === "r" ? id : null) });
    const session = await resumeSession(d);
    expect(session?.userId).toBe("alice");
    expect(saved.map((s) => s.token)).toEqual([id]);
  });

  it("forgets a refresh token Cognito refuses, and keeps one it could not try (offline)", async () => {
    const refused = deps();
    expect(await resumeSession(refused.d)).toBeNull();
    expect(refused.refresh()).toBeNull();
    const offline = deps({ cognitoRefresh: () => Promise.reject(new TypeError("Failed to fetch")) });
    expect(await resumeSession(offline.d)).toBeNull();
    expect(offline.refresh()).toBe("r");
    // Throttled (a crowd coming back at once) or failing: kept too.
    const busy = deps({ cognitoRefresh: () => Promise.reject(new CognitoUnavailable("400 TooManyRequestsException")) });
    expect(await resumeSession(busy.d)).toBeNull();
    expect(busy.refresh()).toBe("r");
    // A new token the page reads as expired (its clock is far ahead): not the refresh token's fault.
    const skewed = deps({ cognitoRefresh: async () => jwt({ sub: "alice", exp: 1 }) });
    expect(await resumeSession(skewed.d)).toBeNull();
    expect(skewed.refresh()).toBe("r");
  });

  it("reads Cognito's verdict from its error type", async () => {
    const answer = (status: number, type: string) =>
      vi.spyOn(globalThis, "fetch").mockResolvedValueOnce(new Response(JSON.stringify({ __type: type }), { status }));
    const client = { region: "eu-west-1", clientId: "c" };
    answer(400, "NotAuthorizedException");
    expect(await cognitoRefresh(client, "r")).toBeNull();
    answer(400, "TooManyRequestsException");
    await expect(cognitoRefresh(client, "r")).rejects.toBeInstanceOf(CognitoUnavailable);
    answer(500, "InternalErrorException");
    await expect(cognitoRefresh(client, "r")).rejects.toBeInstanceOf(CognitoUnavailable);
  });

  it("signs nobody in without Cognito or without a refresh token", async () => {
    const cognitoRefresh = vi.fn(async () => jwt({ sub: "alice", exp: future() }));
    expect(await resumeSession(deps({ cognito: null, cognitoRefresh }).d)).toBeNull();
    expect(await resumeSession(deps({ refreshToken: () => null, cognitoRefresh }).d)).toBeNull();
    expect(cognitoRefresh).not.toHaveBeenCalled();
  });
});

describe("hostAwayUntilMs", () => {
  it("reads the API's ISO time and the room metadata's epoch ms, only while the Space is live", () => {
    expect(hostAwayUntilMs({ state: "live", host_away_until: "2026-12-05T14:05:00Z" })).toBe(Date.UTC(2026, 11, 5, 14, 5));
    expect(hostAwayUntilMs({ state: "live", host_away_until: 1_800_000_000_000 })).toBe(1_800_000_000_000);
    expect(hostAwayUntilMs({ state: "ended", host_away_until: 1_800_000_000_000 })).toBeNull();
    expect(hostAwayUntilMs({ state: "live", host_away_until: "not a time" })).toBeNull();
    expect(hostAwayUntilMs({ state: "live", host_away_until: null })).toBeNull();
    expect(hostAwayUntilMs(null)).toBeNull();
  });
});
