import { describe, expect, it } from "vitest";

import { ApiError, type Space } from "./api";
import type { RoomMetadata } from "./contract.gen";
import type { JoinGrant } from "./broadcast";
import { ACT_UNREACHABLE, type SpaceApi, SpaceController } from "./space_controller";

const SPACE: Space = {
  id: "s1",
  title: "Morning",
  state: "live",
  host: "h",
  cohosts: [],
  speakers: [],
  video: "speakers",
  listener_count: 2,
  raised_hands: [],
};

function doc(overrides: Partial<RoomMetadata> = {}): RoomMetadata {
  return {
    space_id: "s1",
    video: "speakers",
    record: true,
    pinned: null,
    pinned_source: "camera",
    title: "Morning",
    state: "live",
    host: "h",
    cohosts: [],
    speakers: [],
    names: {},
    pictures: {},
    listener_count: 2,
    version: 1,
    host_away_until: null,
    removed_viewers: {},
    invited: {},
    ...overrides,
  };
}

/** A fake API that counts its calls and answers from a Space it keeps. */
class FakeApi implements SpaceApi {
  calls: string[] = [];
  space: Space = { ...SPACE };
  failNext: ApiError | null = null;

  private answer(name: string): Promise<Space> {
    this.calls.push(name);
    const fail = this.failNext;
    this.failNext = null;
    return fail ? Promise.reject(fail) : Promise.resolve({ ...this.space });
  }
  getSpace = () => this.answer("getSpace");
  startSpace = () => this.answer("startSpace");
  endSpace = () => this.answer("endSpace");
  joinToken = () => Promise.reject(new Error("not used"));
  raiseHand = () => {
    this.space = { ...this.space, raised_hands: [...this.space.raised_hands, "me"] };
    return this.answer("raiseHand");
  };
  lowerHand = () => {
    this.space = { ...this.space, raised_hands: [] };
    return this.answer("lowerHand");
  };
  setRole = () => this.answer("setRole");
  mute = () => this.answer("mute");
  remove = () => this.answer("remove");
  pin = () => this.answer("pin");
  handOver = () => this.answer("handOver");
  invite = () => this.answer("invite");
  withdrawInvitation = () => this.answer("withdrawInvitation");
  answerInvitation = (_id: string, accept: boolean) => {
    const invitations = { ...this.space.invitations };
    delete invitations.me;
    this.space = { ...this.space, invitations, speakers: accept ? [...this.space.speakers, "me"] : this.space.speakers };
    return this.answer(accept ? "acceptInvitation" : "declineInvitation");
  };
}

async function loaded(me = "me"): Promise<{ api: FakeApi; ctl: SpaceController; changes: () => number }> {
  const api = new FakeApi();
  const ctl = new SpaceController(api, "s1", me);
  let n = 0;
  ctl.onChange(() => n++);
  await ctl.load();
  return { api, ctl, changes: () => n };
}

describe("SpaceController", () => {
  it("reads the Space once and then learns from pushes, without calling the API", async () => {
    const { api, ctl } = await loaded();
    expect(ctl.myRole).toBe("listener");
    expect(ctl.pushed(doc({ version: 2, speakers: ["me"], listener_count: 1200, title: "New" }))).toBe(true);
    expect(ctl.myRole).toBe("speaker");
    expect(ctl.space).toMatchObject({ title: "New", listener_count: 1200 });
    expect(api.calls).toEqual(["getSpace"]);
  });

  it("takes the removals of a document of the same version (they move without one), not of an older one", async () => {
    const { ctl, changes } = await loaded("h");
    ctl.pushed(doc({ version: 3 }));
    const before = changes();
    ctl.pushed(doc({ version: 3, removed_viewers: { tagA: 9 } }));
    expect(ctl.removedViewers).toEqual({ tagA: 9 });
    expect(changes()).toBeGreaterThan(before);
    ctl.pushed(doc({ version: 2, removed_viewers: {} }));
    expect(ctl.removedViewers).toEqual({ tagA: 9 });
  });

  it("ignores a push older than the one it has, or for another Space", async () => {
    const { ctl } = await loaded();
    ctl.pushed(doc({ version: 5, cohosts: ["me"] }));
    expect(ctl.pushed(doc({ version: 4, cohosts: [] }))).toBe(false);
    expect(ctl.pushed(doc({ version: 9, space_id: "other" }))).toBe(false);
    expect(ctl.myRole).toBe("cohost");
    expect(ctl.moderator).toBe(true);
  });

  it("takes raised hands from the moderators' message, newest version only", async () => {
    const { ctl } = await loaded("h");
    ctl.pushedHands({ space_id: "s1", version: 3, hands: ["a", "b"], names: {}, pictures: {} });
    ctl.pushedHands({ space_id: "s1", version: 2, hands: [], names: {}, pictures: {} });
    expect(ctl.hands).toEqual(["a", "b"]);
  });

  it("adopts the API's answer to an action (my own hand), with no extra read", async () => {
    const { api, ctl } = await loaded();
    expect(await ctl.raiseHand(true)).toEqual({ ok: true });
    expect(ctl.handRaised).toBe(true);
    expect(api.calls).toEqual(["getSpace", "raiseHand"]);
  });

  /** The fake API's raise, held until `release()` (its answer waits for the server's pass). */
  function holdRaise(api: FakeApi): () => void {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const raise = api.raiseHand;
    api.raiseHand = async () => {
      await gate;
      return raise();
    };
    return () => release();
  }

  it("lowers my hand on leave, also one whose raise was still on its way when I left", async () => {
    const { api, ctl } = await loaded();
    ctl.joined({ mode: "webrtc", role: "listener" } as JoinGrant);
    const release = holdRaise(api);
    const raising = ctl.raiseHand(true);
    expect(ctl.handRaised).toBe(false); // Leave is clicked now
    const lower = ctl.withdrawOnLeave();
    release();
    await Promise.all([raising, lower()]);
    expect(api.calls).toEqual(["getSpace", "raiseHand", "lowerHand"]);
    expect(ctl.handRaised).toBe(false);
  });

  it("sends no lower on leave when my hand is down", async () => {
    const { api, ctl } = await loaded();
    ctl.joined({ mode: "webrtc", role: "listener" } as JoinGrant);
    await ctl.withdrawOnLeave()();
    expect(api.calls).toEqual(["getSpace"]);
  });

  it("withdraws nothing for a page that never joined: another tab of mine may hold the seat", async () => {
    const { api, ctl } = await loaded();
    api.space = { ...api.space, version: 2, raised_hands: ["me"], invitations: { me: new Date(Date.now() + 60_000).toISOString() } };
    await ctl.load(); // the other tab's hand and invitation, as the Space shows them
    await ctl.withdrawOnLeave()();
    expect(api.calls).toEqual(["getSpace", "getSpace"]);
  });

  it("does not lower a hand raised after coming back", async () => {
    const { api, ctl } = await loaded();
    await ctl.raiseHand(true);
    const lower = ctl.withdrawOnLeave(); // Leave; the lowering waits for the room to close
    ctl.joined({ mode: "webrtc", role: "listener" } as JoinGrant); // Rejoin, and raise again
    await ctl.raiseHand(true);
    await lower();
    expect(api.calls).toEqual(["getSpace", "raiseHand", "raiseHand"]);
    expect(ctl.handRaised).toBe(true);
  });

  it("keeps my hand down once on stage, when a raise's answer read before the promotion lands after it", async () => {
    const { api, ctl } = await loaded();
    api.space = { ...api.space, version: 1 }; // the answer is read at version 1, before the promotion
    const release = holdRaise(api);
    const raising = ctl.raiseHand(true);
    ctl.pushed(doc({ version: 2, speakers: ["me"] })); // invited while the answer is on its way
    release();
    await raising;
    expect(ctl.myRole).toBe("speaker");
    expect(ctl.handRaised).toBe(false);
    ctl.pushed(doc({ version: 3, speakers: [] })); // moved back to the audience: no phantom hand
    expect(ctl.handRaised).toBe(false);
  });

  it("keeps a block it read when an older answer lands after it", async () => {
    const { api, ctl } = await loaded();
    const release = holdRaise(api);
    const raising = ctl.raiseHand(true);
    api.space = { ...api.space, caller_blocked: true };
    await ctl.load(); // the read after the removal says blocked
    api.space = { ...api.space, caller_blocked: false }; // the raise's answer was read before the block
    release();
    await raising;
    expect(ctl.space?.caller_blocked).toBe(true);
  });

  it("keeps a hands message that came while an action's answer was on its way (the answer is older)", async () => {
    // The host invites alice; the write waits for the reconciler's pass, and meanwhile bob raises his
    // hand and the hands message says so. The answer, read before bob's hand, must not undo it.
    const { ctl } = await loaded("h");
    let answer: (s: Space) => void = () => undefined;
    const invite = ctl.act(() => new Promise<Space>((resolve) => (answer = resolve)));
    ctl.pushedHands({ space_id: "s1", version: 1_000, hands: ["bob"], names: {}, pictures: {} });
    answer({ ...SPACE, speakers: ["alice"], raised_hands: [], version: 2 });
    await invite;
    expect(ctl.hands).toEqual(["bob"]);
    expect(ctl.space?.speakers).toEqual(["alice"]);
  });

  it("keeps room metadata newer than an action's answer, and takes an answer newer than it", async () => {
    const { ctl } = await loaded("h");
    let answer: (s: Space) => void = () => undefined;
    const act = ctl.act(() => new Promise<Space>((resolve) => (answer = resolve)));
    ctl.pushed(doc({ version: 4, cohosts: ["c"], title: "Renamed" }));
    answer({ ...SPACE, version: 3, raised_hands: ["x"] });
    await act;
    expect(ctl.space?.cohosts).toEqual(["c"]);
    expect(ctl.space?.title).toBe("Renamed");
    expect(ctl.hands).toEqual(["x"]); // no hands message came meanwhile: the answer's hands stand
    await ctl.act(() => Promise.resolve({ ...SPACE, version: 5, cohosts: [] }));
    expect(ctl.space?.cohosts).toEqual([]);
    expect(ctl.pushed(doc({ version: 4, cohosts: ["c"] }))).toBe(false);
  });

  it("drops my own raised hand when a push puts me on stage, so a later demotion shows no hand", async () => {
    const { ctl } = await loaded("me");
    await ctl.act(() => Promise.resolve({ ...SPACE, version: 1, raised_hands: ["me"] }));
    expect(ctl.handRaised).toBe(true);
    ctl.pushed(doc({ version: 2, speakers: ["me"] }));
    expect(ctl.handRaised).toBe(false);
    ctl.pushed(doc({ version: 3, speakers: [] }));
    expect(ctl.handRaised).toBe(false);
  });

  it("keeps the listener count pushed at the answer's own version (it moves without a version)", async () => {
    const { ctl } = await loaded("h");
    let answer: (s: Space) => void = () => undefined;
    const act = ctl.act(() => new Promise<Space>((resolve) => (answer = resolve)));
    ctl.pushed(doc({ version: 4, speakers: ["x"], listener_count: 0 }));
    answer({ ...SPACE, version: 4, speakers: ["x"], listener_count: 1 }); // read before the listener left
    await act;
    expect(ctl.space?.listener_count).toBe(0);
    await ctl.act(() => Promise.resolve({ ...SPACE, version: 5, listener_count: 7 }));
    expect(ctl.space?.listener_count).toBe(7); // newer than any push: the answer's
  });

  it("asks to sign in again after a 401 that survived the refresh, and keeps everything else", async () => {
    const { api, ctl } = await loaded();
    api.failNext = new ApiError(401, "expired");
    const result = await ctl.raiseHand(true);
    expect(result.ok).toBe(false);
    expect(ctl.signInAgain).toBe(true);
    expect(ctl.space).not.toBeNull();
    await ctl.raiseHand(true);
    expect(ctl.signInAgain).toBe(false);
  });

  it("says what a refused action was refused for", async () => {
    const { api, ctl } = await loaded();
    api.failNext = new ApiError(409, "the Space is not live");
    expect(await ctl.act((a, id) => a.pin(id, null))).toEqual({ ok: false, message: "the Space is not live", rule: null });
    // With the rule the API named, for the page to act on (a stale row: role_changed).
    api.failNext = new ApiError(409, "they are a co-host now, not in the audience: nothing was changed", "role_changed");
    expect(await ctl.act((a, id) => a.setRole(id, "u", "speaker", "listener"))).toEqual({
      ok: false,
      message: "they are a co-host now, not in the audience: nothing was changed",
      rule: "role_changed",
    });
  });

  it("says what to do when an action got no answer, not where the API is", async () => {
    const { api, ctl } = await loaded();
    api.failNext = new ApiError(0, "cannot reach the Spaces API at https://api.example");
    expect(await ctl.act((a, id) => a.pin(id, "u"))).toEqual({ ok: false, message: ACT_UNREACHABLE, rule: null });
  });

  it("tells a listener on the broadcast when to switch to the room and when it ended", async () => {
    const { ctl } = await loaded();
    expect(ctl.broadcastNext).toBe("watch");
    ctl.pushed(doc({ version: 2, speakers: ["me"] }));
    expect(ctl.broadcastNext).toBe("join-room");
    ctl.pushed(doc({ version: 3, state: "ended" }));
    expect(ctl.broadcastNext).toBe("ended");
  });

  it("tells a viewer on the broadcast that a host removed them after their grant, not before it", async () => {
    const { ctl, changes } = await loaded();
    const issued = Date.parse("2026-12-05T08:00:00.250Z");
    const grant: JoinGrant = {
      mode: "hls",
      playlist_url: "https://cdn.example/s1/live.m3u8",
      identity: "me",
      role: "listener",
      issued_at: "2026-12-05T08:00:00.250123Z",
      expires_at: null,
      presence_interval_seconds: null,
      viewer_tag: "myTag123",
    };
    ctl.joined(grant);
    // Someone else's removal, and mine from before this grant (I joined again on purpose since).
    ctl.pushed(doc({ version: 5, removed_viewers: { otherTag: issued + 5, myTag123: issued - 1 } }));
    expect(ctl.broadcastNext).toBe("watch");
    // Mine, after it: said once, whatever the document's version (a listener's removal moves none).
    const before = changes();
    ctl.pushed(doc({ version: 4, removed_viewers: { myTag123: issued + 1 } }));
    expect(ctl.broadcastNext).toBe("removed");
    expect(changes()).toBe(before + 1);
    ctl.pushed(doc({ version: 6, removed_viewers: { myTag123: issued + 1 } }));
    expect(changes()).toBe(before + 2); // the newer document itself, not a second removal
    // Joined again on purpose: a new grant, issued after the removal.
    ctl.joined({ ...grant, issued_at: "2026-12-05T08:00:03Z" });
    expect(ctl.broadcastNext).toBe("watch");
    ctl.pushed(doc({ version: 6, removed_viewers: { myTag123: issued + 1 } }));
    expect(ctl.broadcastNext).toBe("watch");
    // An older API's grant (no tag, or no time) is told of nothing.
    ctl.joined({ ...grant, viewer_tag: null, issued_at: "2026-12-05T07:00:00Z" });
    ctl.pushed(doc({ version: 7, removed_viewers: { myTag123: issued + 1 } }));
    expect(ctl.broadcastNext).toBe("watch");
    ctl.joined({ ...grant, issued_at: null });
    ctl.pushed(doc({ version: 8, removed_viewers: { myTag123: issued + 1 } }));
    expect(ctl.broadcastNext).toBe("watch");
  });

  it("never takes a removal from the room's metadata: the SFU disconnects a room member", async () => {
    const { ctl } = await loaded();
    const grant: JoinGrant = { mode: "webrtc", url: "wss://x", token: "t", identity: "me", role: "listener", issued_at: null, expires_at: 0 };
    ctl.joined(grant);
    ctl.pushed(doc({ version: 2, removed_viewers: { anyTag: 9 } }));
    expect(ctl.broadcastNext).toBe("watch");
  });

  it("knows an invitation to speak waiting for me, from the API or by my tag in a document", async () => {
    const { api, ctl } = await loaded();
    const now = Date.parse("2026-12-07T17:00:00Z");
    const until = now + 120_000;
    expect(ctl.invitedUntil(now)).toBeNull();
    ctl.joined({ mode: "webrtc", url: "wss://x", token: "t", identity: "me", role: "listener", issued_at: null, expires_at: 0, viewer_tag: "meTag001" });
    ctl.pushed(doc({ version: 2, invited: { someoneElse: until } }));
    expect(ctl.invitedUntil(now)).toBeNull();
    ctl.pushed(doc({ version: 3, invited: { meTag001: until } }));
    expect(ctl.invitedUntil(now)).toBe(until);
    expect(ctl.invitedUntil(until)).toBeNull(); // lapsed
    // An API read said so too (a reload's), and my yes makes me a speaker: nothing waits any more.
    api.space = { ...api.space, version: 3, invitations: { me: new Date(until).toISOString() } };
    await ctl.load();
    expect(ctl.invitedUntil(now)).toBe(until);
    expect((await ctl.act((a, id) => a.answerInvitation(id, true))).ok).toBe(true);
    expect(ctl.myRole).toBe("speaker");
    expect(ctl.invitedUntil(now)).toBeNull();
  });

  it("declines an invitation waiting for me when I leave, not one sent after I came back", async () => {
    const { api, ctl } = await loaded();
    const grant: JoinGrant = { mode: "webrtc", url: "wss://x", token: "t", identity: "me", role: "listener", issued_at: null, expires_at: 0 };
    ctl.joined(grant);
    api.space = { ...api.space, version: 2, invitations: { me: new Date(Date.now() + 60_000).toISOString() } };
    await ctl.load();
    await ctl.withdrawOnLeave()(); // Leave
    expect(api.calls).toEqual(["getSpace", "getSpace", "declineInvitation"]);
    expect(ctl.invitedUntil(Date.now())).toBeNull();
    // Invited again, Leave, and back in before the decline ran (Rejoin): the invitation stays.
    api.space = { ...api.space, version: 3, invitations: { me: new Date(Date.now() + 60_000).toISOString() } };
    await ctl.load();
    const leave = ctl.withdrawOnLeave();
    ctl.joined(grant);
    await leave();
    expect(api.calls.filter((c) => c === "declineInvitation")).toHaveLength(1);
    expect(ctl.invitedUntil(Date.now())).not.toBeNull();
  });

  it("does not decline an invitation whose yes was on its way when I left", async () => {
    const { api, ctl } = await loaded();
    ctl.joined({ mode: "webrtc", url: "wss://x", token: "t", identity: "me", role: "listener", issued_at: null, expires_at: 0 });
    api.space = { ...api.space, version: 2, invitations: { me: new Date(Date.now() + 60_000).toISOString() } };
    await ctl.load();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const answer = api.answerInvitation;
    api.answerInvitation = async (id: string, accept: boolean) => {
      await gate;
      return answer(id, accept);
    };
    const yes = ctl.answerInvitation(true); // Join the stage, then Leave at once
    const leave = ctl.withdrawOnLeave()();
    release();
    await Promise.all([yes, leave]);
    expect(api.calls.filter((c) => c.endsWith("Invitation"))).toEqual(["acceptInvitation"]);
    expect(ctl.myRole).toBe("speaker");
  });

  it("judges an invitation's lapse by the API's clock, estimated from my grant", async () => {
    const { api, ctl } = await loaded();
    const local = Date.now();
    // This page's clock is 5 minutes slow: the grant was issued "in its future".
    const issued = local + 300_000;
    ctl.joined({ mode: "webrtc", url: "wss://x", token: "t", identity: "me", role: "listener", issued_at: new Date(issued).toISOString(), expires_at: 0, viewer_tag: "meTag001" });
    api.space = { ...api.space, invitations: { me: new Date(issued + 120_000).toISOString() } };
    await ctl.load();
    expect(ctl.invitedUntil(local)).toBe(issued + 120_000);
    expect(ctl.invitedUntil(local + 121_000)).toBeNull(); // lapsed, by the API's clock
    expect(ctl.invitedUntil(local - 300_000)).toBe(issued + 120_000);
  });

  it("reads the Space again when a document holds invitations a moderator's page does not know of, once per version", async () => {
    const { api, ctl } = await loaded("h");
    const until = Date.now() + 60_000;
    ctl.pushed(doc({ version: 2, invited: { tagOfA: until } })); // another moderator's invitation
    await Promise.resolve();
    expect(api.calls.filter((c) => c === "getSpace")).toHaveLength(2);
    ctl.pushed(doc({ version: 2, invited: { tagOfA: until } })); // the same version: read already
    api.space = { ...api.space, version: 3, invitations: { a: new Date(until).toISOString() } };
    ctl.pushed(doc({ version: 3, invited: { tagOfA: until } }));
    await Promise.resolve();
    await Promise.resolve();
    expect(api.calls.filter((c) => c === "getSpace")).toHaveLength(3);
    expect(ctl.invitedAt(Date.now())).toEqual(["a"]);
    // Known, and the document agrees: nothing to read. Declined: the count differs, read again.
    ctl.pushed(doc({ version: 4, invited: { tagOfA: until } }));
    expect(api.calls.filter((c) => c === "getSpace")).toHaveLength(3);
    api.space = { ...api.space, version: 5, invitations: {} };
    ctl.pushed(doc({ version: 5, invited: {} }));
    await Promise.resolve();
    expect(ctl.invitedAt(Date.now())).toEqual([]);
    // A listener's page never reads for it (the API shows them no one else's).
    const listener = await loaded("me");
    listener.ctl.pushed(doc({ version: 2, invited: { tagOfA: until } }));
    expect(listener.api.calls.filter((c) => c === "getSpace")).toHaveLength(1);
  });

  it("counts the speaker seats others' invitations hold, for a moderator", async () => {
    const { api, ctl } = await loaded("h");
    const now = Date.parse("2026-12-07T17:00:00Z");
    const at = (ms: number) => new Date(ms).toISOString();
    api.space = { ...api.space, invitations: { a: at(now + 1000), b: at(now + 5000), c: at(now - 1) } };
    await ctl.load();
    expect(ctl.seatsHeld(now)).toBe(2);
    expect(ctl.seatsHeld(now, "a")).toBe(1); // a's own invitation holds a's seat
    expect(ctl.seatsHeld(now + 2000)).toBe(1);
    // The page draws again when one lapses: the next lapse, then none.
    expect(ctl.nextInvitationLapse(now)).toBe(now + 1000);
    expect(ctl.nextInvitationLapse(now + 1000)).toBe(now + 5000);
    expect(ctl.nextInvitationLapse(now + 5000)).toBeNull();
  });

  it("seats the stage in the stored order: host, co-hosts, speakers, as pushed", async () => {
    const ctl = new SpaceController(new FakeApi(), "s1", "me");
    expect(ctl.seated).toEqual([]);
    await ctl.load();
    ctl.pushed(doc({ version: 2, cohosts: ["c2", "c1"], speakers: ["s9", "s1"] }));
    expect(ctl.seated).toEqual(["h", "c2", "c1", "s9", "s1"]);
  });

  it("before the Space is read, goes by the role attribute, then the join token", () => {
    const ctl = new SpaceController(new FakeApi(), "s1", "me");
    expect(ctl.roleOf("x", "speaker")).toBe("speaker");
    expect(ctl.roleOf("me")).toBe("listener");
    ctl.joined({ mode: "webrtc", url: "ws://x", token: "t", identity: "me", role: "cohost", issued_at: null, expires_at: "" });
    expect(ctl.roleOf("me")).toBe("cohost");
    expect(ctl.transport).toBe("webrtc");
  });

  it("reports a failed read without throwing", async () => {
    const api = new FakeApi();
    api.failNext = new ApiError(404, "no such Space");
    const ctl = new SpaceController(api, "s1", "me");
    expect(await ctl.load()).toBeNull();
    expect(ctl.loadError).toEqual({ status: 404, detail: "no such Space" });
  });

  it("tells the page once that I left, so a redraw that leaves again stops there", async () => {
    const { ctl, changes } = await loaded();
    ctl.joined({ mode: "webrtc", url: "ws://x", token: "t", identity: "me", role: "speaker", issued_at: null, expires_at: "" });
    const before = changes();
    // The page's redraw of an ended room calls left() again from inside the change it announced.
    ctl.onChange(() => ctl.left());
    ctl.left();
    expect(ctl.transport).toBeNull();
    expect(changes() - before).toBe(1);
    ctl.left();
    expect(changes() - before).toBe(1);
  });

  it("learns names and faces from the API, the room metadata and the hands message, and keeps them", async () => {
    const { api, ctl } = await loaded("h");
    expect(ctl.names).toEqual({});
    ctl.pushed(doc({ version: 2, speakers: ["s"], names: { h: "Hana", s: "Sam" }, pictures: { s: "https://img.example/s.png" } }));
    ctl.pushedHands({ space_id: "s1", version: 10, hands: ["l"], names: { l: "Lee" }, pictures: { l: "https://img.example/l.png" } });
    expect(ctl.names).toEqual({ h: "Hana", s: "Sam", l: "Lee" });
    expect(ctl.pictures).toEqual({ s: "https://img.example/s.png", l: "https://img.example/l.png" });
    // An answer read before those pushes does not forget them.
    api.space = { ...api.space, version: 1, names: { h: "Hana" }, pictures: {} };
    await ctl.act((a, id) => a.pin(id, null));
    expect(ctl.names).toEqual({ h: "Hana", s: "Sam", l: "Lee" });
    expect(ctl.pictures).toEqual({ s: "https://img.example/s.png", l: "https://img.example/l.png" });
  });
});
