// @vitest-environment happy-dom
/**
 * SpaceSession on its own: a fake API, fake rooms and a fake broadcast, fake timers; the screen is a
 * recorder that follows the session as views/space.ts does (a change of the Space follows the
 * broadcast). Its update only records: the session follows its own room (up, ended) by itself.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import type { JoinPath, Space } from "./api";
import type { JoinGrant } from "./broadcast";
import { REMOVED_RULE, type RoomMetadata } from "./contract.gen";
import { REMOVED_MESSAGE, type SpaceRoom } from "./media";
import { IN_SPACE_KEY } from "./rejoin";
import { type SpaceApi, SpaceController } from "./space_controller";
import { DEMOTION_NOTICE_DELAY_MS, PLAY_OUT_MS, type SessionScreen, SpaceSession, STAGE_JOIN_FAILED } from "./space_session";
import type { BroadcastHooks, BroadcastStage } from "./views/broadcast_stage";
import type { ReactionsOverlay } from "./views/reactions";
import type { BroadcastWatch, WatchDeps } from "./views/space/broadcast_watch";

type Status = { kind: string; message?: string; canRejoin?: boolean; dropped?: boolean; removed?: boolean; seatTaken?: boolean };

/** A room whose connect the test settles (`connected()` / `failed()`). */
class FakeRoom {
  status: Status = { kind: "idle" };
  readonly info = { title: "", video: "off", pinned_source: "camera" };
  left = 0;
  readonly room = {
    metadata: undefined as string | undefined,
    localParticipant: { identity: "lee", attributes: {}, permissions: undefined, getTrackPublication: () => undefined, setCameraEnabled: async () => undefined },
    on: () => undefined,
    off: () => undefined,
  };
  private listeners = new Set<() => void>();
  private settle: ((error?: Error) => void) | null = null;

  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
  onHands(): () => void {
    return () => undefined;
  }
  onMutedByHost(): () => void {
    return () => undefined;
  }
  async setMicrophone(): Promise<void> {}
  setStatus(status: Status): void {
    this.status = status;
    for (const fn of this.listeners) fn();
  }
  connect(): Promise<void> {
    this.setStatus({ kind: "connecting" });
    return new Promise((resolve, reject) => (this.settle = (error) => (error ? reject(error) : resolve())));
  }
  connected(): void {
    this.setStatus({ kind: "connected" });
    this.settle?.();
  }
  /** `dropped`: the connection went away for a reason the session comes back from by itself. */
  failed(message: string, dropped = false): void {
    this.setStatus({ kind: "ended", message, canRejoin: true, dropped, removed: false, seatTaken: false });
    this.settle?.(new Error(message));
  }
  /** As LiveKit's disconnect: a room still up ends, left (no reconnect after it); an ended one stays so. */
  async leave(): Promise<void> {
    this.left += 1;
    if (this.status.kind !== "ended") this.setStatus({ kind: "ended", message: "You left the Space.", canRejoin: true, dropped: false, removed: false, seatTaken: false });
  }
}

class FakeStage {
  destroyed = false;
  readonly player = {
    state: "playing",
    userMuted: false,
    onChange: () => () => undefined,
    setMuted: async (muted: boolean) => void (this.player.userMuted = muted),
  };
  constructor(readonly url: string) {}
  update(): void {}
  destroy(): void {
    this.destroyed = true;
  }
}

const ISSUED = "2026-12-05T06:00:00Z";
const SPACE: Space = { id: "s1", title: "Night", state: "live", host: "hana", cohosts: [], speakers: [], video: "off", listener_count: 1, raised_hands: [], names: {}, pictures: {} };
const BROADCAST = { playlist_url: "https://cdn.example/s1/index.m3u8", live_playlist_url: "https://cdn.example/s1/live.m3u8", timeline_url: "https://cdn.example/s1/timeline.json" };
const HLS: JoinGrant = { mode: "hls", playlist_url: "https://cdn.example/s1/live.m3u8", identity: "lee", role: "listener", issued_at: ISSUED, expires_at: null, presence_interval_seconds: null, viewer_tag: "tagOfLee" };
const WEBRTC: JoinGrant = { mode: "webrtc", url: "wss://sfu.example", token: "t", identity: "lee", role: "speaker", issued_at: ISSUED, expires_at: 0 };
const refused = (status: number, detail: string, rule: string | null = null) => Object.assign(new Error(detail), { status, detail, rule });

function doc(overrides: Partial<RoomMetadata> = {}): RoomMetadata {
  return {
    space_id: "s1", video: "off", record: true, pinned: null, pinned_source: "camera", title: "Night", state: "live", host: "hana", cohosts: [], speakers: [],
    names: {}, pictures: {}, listener_count: 1, version: 2, host_away_until: null, removed_viewers: {}, invited: {}, ...overrides,
  };
}

/** What the token requests answer, in turn: a grant, a refusal, or one held (a busy API). */
let grants: (JoinGrant | Error | Promise<JoinGrant>)[];
/** What the API's read of the Space answers, and how many reads it had. */
let spaceNow: Space = SPACE;
let spaceReads = 0;
let sinces: (string | null)[];
/** Each token request's join path (none for a reconnect's attempt). */
let paths: (JoinPath | undefined)[];
let rooms: FakeRoom[];
let stages: FakeStage[];
let watches: { deps: WatchDeps; closed: boolean }[];
let shown: string[];
let storage: Map<string, string>;
let session: SpaceSession;
let ctl: SpaceController;
let handCalls: string[];
/** The Spaces whose hand a going page lowered (lowerHandAsPageGoes). */
let keptAlive: string[];
/** The hooks the last broadcast view was given (its Try again, its Leave). */
let hooks: Pick<BroadcastHooks, "retry" | "leave"> | null = null;

function make(): void {
  const api = {
    getSpace: async () => {
      spaceReads += 1;
      return spaceNow;
    },
    raiseHand: async () => {
      handCalls.push("raise");
      return { ...SPACE, raised_hands: ["lee"] };
    },
    lowerHand: async () => {
      handCalls.push("lower");
      return SPACE;
    },
  } as unknown as SpaceApi;
  ctl = new SpaceController(api, "s1", "lee");
  const screen: SessionScreen = {
    draw: () => {
      shown.push("draw");
      if (session.watching) session.followBroadcast();
    },
    update: () => shown.push("update"),
    stage: () => shown.push("stage"),
    broadcast: () => {
      shown.push("broadcast");
      session.followBroadcast();
    },
    message: (text, rejoin) => shown.push(`message: ${text}${rejoin ? " [Rejoin]" : ""}`),
    removed: () => shown.push("removed"),
    reconnecting: (first) => shown.push(`reconnecting${first ? " (first)" : ""}`),
    busy: () => shown.push("busy"),
    // A notice (a role a moderator changed, ...) apart from an error's toast.
    toast: (text, kind) => shown.push(kind === "error" ? `toast: ${text}` : `notice: ${text}`),
  };
  session = new SpaceSession({
    spaceId: "s1",
    me: "lee",
    ctl,
    api: {
      joinToken: async (_id, since, join) => {
        sinces.push(since ?? null);
        paths.push(join);
        const grant = grants.shift();
        if (!grant) throw Object.assign(new Error("no more grants"), { status: 503 });
        if (grant instanceof Error) throw grant;
        if (grant instanceof Promise) return grant;
        return grant;
      },
      presence: async () => undefined,
      lowerHandAsPageGoes: (id) => void keptAlive.push(id),
    },
    screen,
    newRoom: () => {
      const room = new FakeRoom();
      rooms.push(room);
      return room as unknown as SpaceRoom;
    },
    openBroadcast: async (url, broadcastHooks) => {
      hooks = broadcastHooks;
      const stage = new FakeStage(url);
      stages.push(stage);
      return stage as unknown as BroadcastStage;
    },
    newWatch: (view, deps) => {
      const watch = { deps, closed: false };
      watches.push(watch);
      return { view, playlistUrl: deps.playlistUrl, close: () => (watch.closed = true) } as unknown as BroadcastWatch;
    },
    reactions: { show: () => undefined } as unknown as ReactionsOverlay,
    fetchText: async () => null,
    sessionStorage: { getItem: (k) => storage.get(k) ?? null, setItem: (k, v) => void storage.set(k, v), removeItem: (k) => void storage.delete(k) },
    seatChannel: null,
    random: () => 0.5,
  });
  ctl.onChange(() => screen.draw());
}

/** Lets the promises in flight settle (fake timers do not move). */
const settle = () => vi.advanceTimersByTimeAsync(0);

beforeEach(async () => {
  vi.useFakeTimers();
  spaceNow = SPACE;
  spaceReads = 0;
  grants = [];
  sinces = [];
  paths = [];
  rooms = [];
  stages = [];
  watches = [];
  shown = [];
  storage = new Map();
  handCalls = [];
  keptAlive = [];
  make();
  await session.open();
  shown = [];
});

afterEach(() => {
  session.dispose();
  vi.useRealTimers();
});

/** Joined into the room from the card, and connected. */
async function inTheRoom(): Promise<FakeRoom> {
  grants.push(WEBRTC);
  const joined = session.join();
  await settle();
  rooms[0].connected();
  await joined;
  return rooms[0];
}

/** Joined from the card onto the broadcast. */
async function onTheBroadcast(): Promise<void> {
  grants.push(HLS);
  await session.join();
  expect(session.watching).toBe(true);
}

describe("SpaceSession", () => {
  it("joins the room the token names: the stage is built, the page's room is it, the tab remembers the Space", async () => {
    const room = await inTheRoom();
    expect(shown).toContain("stage");
    expect(session.room).toBe(room);
    expect(room.status.kind).toBe("connected");
    expect(ctl.transport).toBe("webrtc");
    expect(sinces).toEqual([null]);
    expect(JSON.parse(storage.get(IN_SPACE_KEY) ?? "{}").space).toBe("s1");
    expect(session.joinError).toBe("");
  });

  it("drops a room still connecting when the Space ended meanwhile, and draws the ended Space", async () => {
    grants.push(WEBRTC);
    const joined = session.join();
    await settle();
    const room = rooms[0];
    expect(room.status.kind).toBe("connecting");
    shown = [];
    ctl.adopt({ ...SPACE, state: "ended" }); // the host's own End answered while the room connects
    expect(room.left).toBe(1);
    expect(session.room).toBeNull();
    expect(shown).toContain("draw");
    room.failed("Could not connect to the media server (timeout).");
    await joined;
    expect(session.room).toBeNull();
    expect(shown.filter((s) => s.startsWith("message") || s.startsWith("reconnecting"))).toEqual([]);
  });

  it("tells a role change a moderator made once, and not one I made myself", async () => {
    await inTheRoom();
    ctl.pushed(doc({ speakers: ["lee"], version: 3 }));
    await settle();
    shown.length = 0;
    const notices = () => shown.filter((s) => s.startsWith("notice:"));
    session.ownRoleChange("listener"); // Leave the stage
    ctl.pushed(doc({ speakers: [], version: 4 }));
    await settle();
    expect(notices()).toEqual([]); // not "You were moved back to the audience."
    ctl.pushed(doc({ speakers: ["lee"], version: 5 })); // a moderator's invitation
    await settle();
    expect(notices()).toEqual(["notice: You are on stage: turn on your microphone to speak."]);
  });

  it("tells a demotion once no removal followed it, and never beside a removal (the role goes first)", async () => {
    const room = await inTheRoom();
    ctl.pushed(doc({ speakers: ["lee"], version: 3 }));
    await settle();
    const notices = () => shown.filter((s) => s.startsWith("notice:"));
    shown.length = 0;
    ctl.pushed(doc({ speakers: [], version: 4 })); // a moderator sent me back to the audience
    await settle();
    expect(notices()).toEqual([]);
    await vi.advanceTimersByTimeAsync(DEMOTION_NOTICE_DELAY_MS);
    expect(notices()).toEqual(["notice: You were moved back to the audience."]);

    // Sent back and invited again at once (a misclick undone): on stage, told so, and only so.
    shown.length = 0;
    ctl.pushed(doc({ speakers: ["lee"], version: 5 }));
    await settle();
    ctl.pushed(doc({ speakers: [], version: 6 }));
    await settle();
    ctl.pushed(doc({ speakers: ["lee"], version: 7 }));
    await vi.advanceTimersByTimeAsync(DEMOTION_NOTICE_DELAY_MS);
    expect(notices()).toEqual(["notice: You are on stage: turn on your microphone to speak.", "notice: You are on stage: turn on your microphone to speak."]);

    shown.length = 0;
    ctl.pushed(doc({ speakers: [], version: 8 })); // a removal: the role, then the connection
    await settle();
    room.setStatus({ kind: "ended", message: REMOVED_MESSAGE, canRejoin: false, dropped: false, removed: true, seatTaken: false });
    await vi.advanceTimersByTimeAsync(DEMOTION_NOTICE_DELAY_MS);
    expect(notices()).toEqual([]);
    // No broadcast in this deployment: a demotion asks the API nothing (the join's token only).
    expect(sinces).toHaveLength(1);
  });

  it("sends a listener moved back to the audience to the broadcast while the room's audience is full", async () => {
    const room = await inTheRoom();
    ctl.pushed(doc({ speakers: ["lee"], version: 3 }));
    await settle();
    spaceNow = { ...SPACE, broadcast: BROADCAST, listener_mode: "hls" };
    grants.push(HLS); // what a listener joining now gets
    const reads = spaceReads;
    ctl.pushed(doc({ speakers: [], version: 4 }));
    await settle();
    expect(spaceReads).toBe(reads); // not before a removal could have come
    await vi.advanceTimersByTimeAsync(DEMOTION_NOTICE_DELAY_MS);
    expect(spaceReads).toBe(reads + 1);
    // The token names the room grant's time: a removal since then is answered, not slipped past.
    expect(sinces).toEqual([null, ISSUED]);
    expect(shown).toContain("notice: You were moved back to the audience.");
    expect(room.left).toBe(1);
    expect(session.room).toBeNull();
    expect(session.watching).toBe(true);
    expect(stages.map((stage) => stage.url)).toEqual([HLS.playlist_url]);
    expect(rooms).toHaveLength(1);
  });

  it("follows a move back to the audience that was due while the room reconnected, once it is back", async () => {
    const room = await inTheRoom();
    ctl.pushed(doc({ speakers: ["lee"], version: 3 }));
    await settle();
    spaceNow = { ...SPACE, broadcast: BROADCAST, listener_mode: "hls" };
    grants.push(HLS);
    ctl.pushed(doc({ speakers: [], version: 4 }));
    await settle();
    room.setStatus({ kind: "reconnecting" }); // LiveKit's own reconnect, before the move is due
    await vi.advanceTimersByTimeAsync(DEMOTION_NOTICE_DELAY_MS);
    expect(sinces).toEqual([null]);
    expect(session.watching).toBe(false);
    room.setStatus({ kind: "connected" });
    await settle();
    await vi.advanceTimersByTimeAsync(DEMOTION_NOTICE_DELAY_MS);
    expect(sinces).toEqual([null, ISSUED]);
    expect(shown.filter((line) => line === "notice: You were moved back to the audience.")).toHaveLength(1);
    expect(session.watching).toBe(true);
    expect(room.left).toBe(1);
  });

  it("keeps a listener moved back to the audience in the room while it has seats, asking for no token", async () => {
    const room = await inTheRoom();
    ctl.pushed(doc({ speakers: ["lee"], version: 3 }));
    await settle();
    spaceNow = { ...SPACE, broadcast: BROADCAST, listener_mode: "webrtc" };
    ctl.pushed(doc({ speakers: [], version: 4 }));
    await vi.advanceTimersByTimeAsync(DEMOTION_NOTICE_DELAY_MS);
    expect(sinces).toHaveLength(1); // the join's only: a token would have taken a seat
    expect(room.left).toBe(0);
    expect(session.watching).toBe(false);
  });

  it("stays in the room when the token says a host removed me meanwhile, or when invited again while it comes", async () => {
    const room = await inTheRoom();
    ctl.pushed(doc({ speakers: ["lee"], version: 3 }));
    await settle();
    spaceNow = { ...SPACE, broadcast: BROADCAST, listener_mode: "hls" };
    grants.push(refused(409, "a host removed you", REMOVED_RULE));
    ctl.pushed(doc({ speakers: [], version: 4 }));
    await vi.advanceTimersByTimeAsync(DEMOTION_NOTICE_DELAY_MS);
    expect(sinces).toHaveLength(2);
    expect(room.left).toBe(0); // the removal's disconnect tells it
    expect(session.watching).toBe(false);

    ctl.pushed(doc({ speakers: ["lee"], version: 5 }));
    await settle();
    let answer: (grant: JoinGrant) => void = () => undefined;
    grants.push(new Promise<JoinGrant>((resolve) => (answer = resolve)));
    ctl.pushed(doc({ speakers: [], version: 6 }));
    await vi.advanceTimersByTimeAsync(DEMOTION_NOTICE_DELAY_MS);
    expect(sinces).toHaveLength(3);
    ctl.pushed(doc({ speakers: ["lee"], version: 7 })); // invited again before the answer
    answer(HLS);
    await settle();
    expect(room.left).toBe(0);
    expect(session.room).not.toBeNull();
    expect(session.watching).toBe(false);
    expect(stages).toHaveLength(0);
  });

  it("says why a join was refused, on the card, and makes no room", async () => {
    grants.push(refused(403, "You are blocked."));
    await session.join();
    expect(rooms).toHaveLength(0);
    expect(session.joinError).toBe("You cannot join this Space: You are blocked.");
    expect(shown).toEqual(["draw"]);

    grants.push(refused(409, "removed", REMOVED_RULE));
    await session.join();
    expect(session.joinError).toBe(REMOVED_MESSAGE);
  });

  it("reconnects by itself after a drop, in the same role, naming the grant it dropped with", async () => {
    const first = await inTheRoom();
    grants.push(WEBRTC);
    first.failed("Connection lost", true);
    expect(shown).toContain("reconnecting");
    await settle();
    expect(rooms).toHaveLength(2);
    const second = rooms[1];
    expect(session.room).toBe(first); // the new room is the page's once it is up
    second.connected();
    await settle();
    expect(session.room).toBe(second);
    expect(sinces).toEqual([null, ISSUED]);
    expect(ctl.joinedRole).toBe("speaker");
    expect(ctl.transport).toBe("webrtc");
    expect(shown.some((s) => s.startsWith("notice:"))).toBe(false); // the same role: nothing to tell
    expect(first.left).toBeGreaterThan(0);
  });

  it("reads the Space again after each failed attempt of a host's reconnect, and says it again (its deadline)", async () => {
    spaceNow = { ...SPACE, host: "lee" };
    await ctl.load();
    const first = await inTheRoom();
    const reads = spaceReads;
    grants.push({ ...WEBRTC, role: "host" });
    first.failed("Connection lost", true);
    await settle();
    spaceNow = { ...spaceNow, host_away_until: "2026-12-05T06:05:00Z" }; // the API counts the host away
    shown = [];
    rooms[1].failed("Could not connect to the media server (timeout).");
    await settle();
    expect(spaceReads).toBe(reads + 1);
    expect(ctl.space?.host_away_until).toBe("2026-12-05T06:05:00Z");
    expect(shown).toContain("reconnecting");
  });

  it("does not draw Reconnecting over a host back in by a Rejoin when the read after a failed attempt answers late", async () => {
    spaceNow = { ...SPACE, host: "lee" };
    await ctl.load();
    const HOST = { ...WEBRTC, role: "host" as const };
    grants.push(HOST, HOST);
    const joined = session.join();
    await settle();
    rooms[0].failed("Could not connect to the media server (x).", true); // the first connect fails: a reconnect
    await joined;
    await settle();
    expect(rooms).toHaveLength(2); // the reconnect's first attempt
    let release: () => void = () => undefined;
    const api = (ctl as unknown as { api: { getSpace: () => Promise<Space> } }).api;
    api.getSpace = () => new Promise<Space>((r) => (release = () => r({ ...spaceNow, host_away_until: "2026-12-05T06:05:00Z" })));
    rooms[1].failed("Could not connect to the media server (timeout).");
    await settle(); // the read is on its way; the reconnect sleeps its backoff
    grants.push(HOST);
    session.rejoinNow();
    await settle();
    rooms[2].connected();
    await settle();
    expect(session.room?.status.kind).toBe("connected");
    shown = [];
    release();
    await settle();
    expect(shown.filter((s) => s.startsWith("reconnecting"))).toEqual([]);
  });

  it("stops a reconnect whose room still connects when the Space ended, and draws the ended Space", async () => {
    const first = await inTheRoom();
    grants.push(WEBRTC);
    first.failed("Connection lost", true);
    await settle();
    expect(rooms[1].status.kind).toBe("connecting");
    shown = [];
    ctl.adopt({ ...SPACE, state: "ended", version: 9 });
    expect(rooms[1].left).toBe(1);
    expect(session.room).toBeNull();
    expect(shown).toContain("draw");
    await vi.advanceTimersByTimeAsync(60_000); // no attempt after it
    expect(rooms).toHaveLength(2);
    expect(shown.filter((s) => s.startsWith("reconnecting") || s.startsWith("message"))).toEqual([]);
  });

  it("drops a promotion's room still connecting when the Space ended: no 'trying again' on an ended Space", async () => {
    await onTheBroadcast();
    grants.push(WEBRTC);
    ctl.pushed(doc({ speakers: ["lee"], version: 3 }));
    await settle();
    expect(rooms[0]?.status.kind).toBe("connecting");
    shown = [];
    ctl.pushed(doc({ speakers: ["lee"], state: "ended", version: 4 }));
    await settle();
    expect(rooms[0].left).toBe(1);
    rooms[0].failed("Could not connect to the media server (timeout).");
    await settle();
    expect(shown.filter((s) => s.startsWith("toast"))).toEqual([]);
  });

  it("does not read the Space after a speaker's failed attempt (the host's deadline is the host's)", async () => {
    const first = await inTheRoom();
    const reads = spaceReads;
    grants.push(WEBRTC);
    first.failed("Connection lost", true);
    await settle();
    rooms[1].failed("Could not connect to the media server (timeout).");
    await settle();
    expect(spaceReads).toBe(reads);
  });

  it("promotes a listener from the broadcast to the room: the broadcast plays until the room is up", async () => {
    await onTheBroadcast();
    expect(shown).toContain("broadcast");
    grants.push(WEBRTC);
    watches[0].deps.onState(doc({ speakers: ["lee"] })); // state.json: lee is on stage now
    await settle();
    expect(rooms).toHaveLength(1);
    expect(session.watching).toBe(true);
    expect(watches[0].closed).toBe(false);
    rooms[0].connected();
    await settle();
    expect(session.watching).toBe(false);
    expect(watches[0].closed).toBe(true);
    expect(session.room).toBe(rooms[0]);
    expect(shown).toContain("stage");
    expect(sinces).toEqual([null, ISSUED]); // the promotion names the broadcast's grant
    expect(shown.some((s) => s.startsWith("notice:"))).toBe(true); // a promotion is told
  });

  it("waits before asking again after a promotion's room could not connect", async () => {
    await onTheBroadcast();
    grants.push(WEBRTC);
    watches[0].deps.onState(doc({ speakers: ["lee"] }));
    await settle();
    rooms[0].failed("No route to the SFU.");
    await settle();
    const told = shown.find((s) => s.startsWith(`toast: ${STAGE_JOIN_FAILED}`));
    expect(told).toContain("trying again in 10 s");
    expect(told).not.toContain("No route to the SFU"); // the SDK's words stay in the console
    expect(session.watching).toBe(true);
    watches[0].deps.onState(doc({ speakers: ["lee"], listener_count: 2 })); // the same version: no change
    session.followBroadcast();
    await settle();
    expect(sinces).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(10_000);
    grants.push(WEBRTC);
    session.followBroadcast();
    await settle();
    expect(sinces).toHaveLength(3);
  });

  it("keeps the broadcast muted in the player that Try again opens", async () => {
    await onTheBroadcast();
    await stages[0].player.setMuted(true);
    grants.push(HLS);
    hooks!.retry();
    await settle();
    expect(stages).toHaveLength(2);
    expect(stages[1].player.userMuted).toBe(true);
  });

  it("stops the broadcast when state.json says a host removed me, and forgets the Space", async () => {
    await onTheBroadcast();
    watches[0].deps.onState(doc({ removed_viewers: { tagOfLee: Date.parse(ISSUED) + 1000 } }));
    await settle();
    expect(shown).toContain("removed");
    expect(session.removedSeen).toBe(true);
    expect(session.watching).toBe(false);
    expect(watches[0].closed).toBe(true);
    expect(storage.has(IN_SPACE_KEY)).toBe(false);
  });

  it("plays out the broadcast's end before saying the Space ended", async () => {
    await onTheBroadcast();
    watches[0].deps.onState(doc({ state: "ended" }));
    await settle();
    expect(shown).not.toContain("message: This Space has ended.");
    await vi.advanceTimersByTimeAsync(PLAY_OUT_MS);
    expect(shown).toContain("message: This Space has ended.");
    expect(session.endedSeen).toBe(true);
    expect(watches[0].closed).toBe(true);
  });

  it("a leave comes back by itself no more: not after LiveKit's own reconnect, not after a reload", async () => {
    const room = await inTheRoom();
    room.setStatus({ kind: "reconnecting" });
    session.leave();
    await settle();
    grants.push(WEBRTC);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(sinces).toHaveLength(1);
    expect(rooms).toHaveLength(1);
    expect(shown).toContain("message: You left the Space. [Rejoin]");
    expect(storage.has(IN_SPACE_KEY)).toBe(false);
  });

  it("lowers my raised hand when the page goes, as Leave does, and resolves once it is lowered", async () => {
    await inTheRoom();
    await ctl.raiseHand(true);
    expect(ctl.handRaised).toBe(true);
    let done = false;
    void session.dispose().then(() => (done = true));
    await settle();
    expect(handCalls).toEqual(["raise", "lower"]);
    expect(done).toBe(true);
  });

  it("lowers a raised hand as the page itself goes (a reload), and the reloaded page raises it again once", async () => {
    await inTheRoom();
    await ctl.raiseHand(true);
    session.pageGoes();
    expect(keptAlive).toEqual(["s1"]);
    // The reloaded page: a new session on this tab's storage, back in without a click.
    handCalls = [];
    make();
    grants.push(WEBRTC);
    const opened = session.open();
    await settle();
    expect(handCalls).toEqual([]); // not before it is in
    rooms[1].connected();
    await opened;
    await settle();
    expect(handCalls).toEqual(["raise"]);
    expect(ctl.handRaised).toBe(true);
    // Once: a drop and reconnect after that raise nothing more.
    grants.push(WEBRTC);
    rooms[1].failed("Connection lost", true);
    await settle();
    rooms[2].connected();
    await settle();
    expect(handCalls).toEqual(["raise"]);
  });

  it("lowers a hand as the page goes after its room went down (LiveKit leaves on beforeunload, before pagehide)", async () => {
    await inTheRoom();
    await ctl.raiseHand(true);
    await rooms[0].leave(); // as LiveKit's own page-leave disconnect
    await settle();
    session.pageGoes();
    expect(keptAlive).toEqual(["s1"]);
  });

  it("lowers nothing as the page goes with no hand up, removed, or after it was left", async () => {
    await inTheRoom();
    session.pageGoes(); // no hand up
    await ctl.raiseHand(true);
    rooms[0].setStatus({ kind: "ended", message: "Removed", canRejoin: false, dropped: false, removed: true, seatTaken: false });
    await settle();
    session.pageGoes(); // removed: the hand is the Space's to clear
    expect(keptAlive).toEqual([]);
  });

  it("lowers nothing more as the page goes after the view was left (dispose lowered it)", async () => {
    await inTheRoom();
    await ctl.raiseHand(true);
    await session.dispose();
    session.pageGoes();
    expect(keptAlive).toEqual([]);
    expect(handCalls).toEqual(["raise", "lower"]);
  });

  it("lowers a hand as the page goes from the broadcast, and raises it again on the broadcast after the reload", async () => {
    await onTheBroadcast();
    await ctl.raiseHand(true);
    session.pageGoes();
    expect(keptAlive).toEqual(["s1"]);
    handCalls = [];
    make();
    grants.push(HLS);
    await session.open();
    await settle();
    expect(session.watching).toBe(true);
    expect(handCalls).toEqual(["raise"]);
  });

  it("stops the reconnect's retries when the page goes", async () => {
    const room = await inTheRoom();
    room.failed("Connection lost", true); // no grant: the first attempt is told to try again
    await settle();
    expect(sinces).toHaveLength(2);
    session.dispose();
    grants.push(WEBRTC);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(sinces).toHaveLength(2);
    expect(rooms).toHaveLength(1);
    expect(storage.has(IN_SPACE_KEY)).toBe(false);
  });

  it("starts the reconnect after a drop by itself, once, though the page's update only draws", async () => {
    const room = await inTheRoom();
    room.failed("Connection lost", true); // no grant: the first attempt is told to try again
    await settle();
    expect(shown).toContain("reconnecting"); // up once: "lost", not "could not connect"
    expect(shown).not.toContain("reconnecting (first)");
    expect(sinces).toHaveLength(2);
    // More changes of the ended room, and of the Space: no second run.
    room.setStatus(room.status);
    ctl.pushed(doc({ version: 3 }));
    await settle();
    expect(sinces).toHaveLength(2);
    grants.push(WEBRTC);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(rooms).toHaveLength(2);
    rooms[1].connected();
    await settle();
    expect(session.room).toBe(rooms[1]);
  });

  it("says a first connect that failed could not connect, and tries again by itself", async () => {
    grants.push(WEBRTC);
    const joined = session.join();
    await settle();
    rooms[0].failed("No route to the SFU.", true);
    await joined;
    expect(shown).toContain("reconnecting (first)");
    expect(sinces).toHaveLength(2); // the reconnect's first attempt
  });

  it("drops a promotion's token request held by a busy API when the broadcast is left: Join again joins at once", async () => {
    await onTheBroadcast();
    grants.push(new Promise<JoinGrant>(() => undefined)); // the API never answers the promotion's token
    watches[0].deps.onState(doc({ speakers: ["lee"] }));
    await settle();
    expect(sinces).toHaveLength(2);
    const quiet = paths[1];
    expect(quiet?.signal?.aborted).toBe(false);
    // A host removes me meanwhile: off the broadcast, and its token request stops asking.
    watches[0].deps.onState(doc({ version: 3, removed_viewers: { tagOfLee: Date.parse(ISSUED) + 1000 } }));
    await settle();
    expect(shown).toContain("removed");
    expect(session.watching).toBe(false);
    expect(quiet?.signal?.aborted).toBe(true);
    expect(shown.some((s) => s.startsWith("toast:"))).toBe(false); // ended quietly
    // Join again: asked for now, not queued behind the held request.
    grants.push(WEBRTC);
    void session.join();
    await settle();
    expect(sinces).toHaveLength(3);
    expect(rooms).toHaveLength(1);
    rooms[0].connected();
    await settle();
    expect(session.room).toBe(rooms[0]);
  });

  it("gives up after the reconnect's last attempt, with a Rejoin", async () => {
    const room = await inTheRoom();
    room.failed("Connection lost", true);
    await vi.advanceTimersByTimeAsync(10 * 60_000);
    expect(shown).toContain("message: The connection to the Space was lost. [Rejoin]");
    expect(session.room).toBeNull();
  });
});
