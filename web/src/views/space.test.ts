// @vitest-environment happy-dom
/**
 * The Space page's switches between connections: the broadcast to the room (a promotion) and a
 * dropped room to a new one (the reconnect). The room and the broadcast are fakes; the page is real.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import type { App } from "../app";
import type { JoinPath, Space } from "../api";
import type { JoinGrant } from "../broadcast";
import { STATE_POLL_MS } from "../names";
import { IN_SPACE_KEY, Presence } from "../rejoin";

const fakes = vi.hoisted(() => {
  type Status = { kind: string; message?: string; canRejoin?: boolean; dropped?: boolean; seatTaken?: boolean };

  /** A SpaceRoom whose connect the test settles (`connected()` / `failed()`). */
  class FakeSpaceRoom {
    static made: FakeSpaceRoom[] = [];
    status: Status = { kind: "idle" };
    readonly stage = { current: null };
    readonly info = { title: "", video: "off", pinned_source: "camera" };
    readonly people = [];
    readonly left = { count: 0 };
    /** What the page turned on or off in this room ("mic:true", ...), in order. */
    readonly published: string[] = [];
    /** While set, turning the microphone on waits for it (getUserMedia can be slow). */
    micGate: Promise<void> | null = null;
    private live = new Set<string>();
    readonly room = {
      metadata: undefined,
      canPlaybackAudio: true,
      localParticipant: {
        identity: "lee",
        attributes: {},
        permissions: undefined as { canPublish: boolean; canPublishSources: number[] } | undefined,
        getTrackPublication: (source: string) => (this.live.has(source) ? { isMuted: false, track: {} } : undefined),
        setMicrophoneEnabled: async (on: boolean) => {
          if (on && this.micGate) await this.micGate;
          this.capture("microphone", on);
        },
        setCameraEnabled: async (on: boolean) => this.capture("camera", on),
      },
      on: () => undefined,
      off: () => undefined,
      startAudio: async () => undefined,
    };
    private listeners = new Set<() => void>();
    private settle: ((error?: Error) => void) | null = null;

    constructor() {
      FakeSpaceRoom.made.push(this);
    }

    private capture(source: string, on: boolean): void {
      this.published.push(`${source === "microphone" ? "mic" : source}:${on}`);
      if (on) this.live.add(source);
      else this.live.delete(source);
    }

    /** The SFU lets this participant publish a microphone and a camera. */
    mayPublish(): void {
      this.room.localParticipant.permissions = { canPublish: true, canPublishSources: [1, 2] };
    }

    onChange(fn: () => void): () => void {
      this.listeners.add(fn);
      return () => this.listeners.delete(fn);
    }

    onHands(): () => void {
      return () => undefined;
    }

    /** The page's listener for a host's mute of my microphone (`mutedByHost()` calls it). */
    private muted = new Set<() => void>();
    onMutedByHost(fn: () => void): () => void {
      this.muted.add(fn);
      return () => this.muted.delete(fn);
    }

    mutedByHost(): void {
      for (const fn of this.muted) fn();
    }

    setMicrophone(on: boolean): Promise<void> {
      return this.room.localParticipant.setMicrophoneEnabled(on);
    }

    participant(): undefined {
      return undefined;
    }

    setStatus(status: Status): void {
      this.status = status;
      for (const fn of this.listeners) fn();
    }

    connect(): Promise<void> {
      this.setStatus({ kind: "connecting" });
      return new Promise((resolve, reject) => {
        this.settle = (error) => (error ? reject(error) : resolve());
      });
    }

    connected(): void {
      this.setStatus({ kind: "connected" });
      this.settle?.();
    }

    /** `dropped`: the page tries again by itself (SpaceRoom.connect: anything but a refusal). */
    failed(message: string, dropped = false): void {
      this.setStatus({ kind: "ended", message, canRejoin: true, dropped });
      this.settle?.(new Error(message));
    }

    async leave(): Promise<void> {
      this.left.count += 1;
    }
  }

  /** A BroadcastStage with a player that plays at once. */
  class FakeBroadcastStage {
    static made: FakeBroadcastStage[] = [];
    readonly el = document.createElement("div");
    destroyed = false;
    readonly player: { url: string; state: string; onChange: () => () => void; playbackClockMs: () => null };

    constructor(url: string) {
      this.el.dataset.testid = "broadcast-stage";
      this.player = { url, state: "playing", onChange: () => () => undefined, playbackClockMs: () => null };
      FakeBroadcastStage.made.push(this);
    }

    hooks: { leave?: () => void } = {};

    /** The next open fails with this (the player's code could not be loaded). */
    static failNext: Error | null = null;

    static async open(url: string, hooks: { leave?: () => void } = {}): Promise<FakeBroadcastStage> {
      const failure = FakeBroadcastStage.failNext;
      FakeBroadcastStage.failNext = null;
      if (failure) throw failure;
      const stage = new FakeBroadcastStage(url);
      stage.hooks = hooks;
      return stage;
    }

    overlay(): void {}
    update(): void {}
    stageChanges(): void {}

    destroy(): void {
      this.destroyed = true;
      this.el.remove();
    }
  }

  /** While set, the page's reconnect makes this many attempts, without waiting between them. */
  const reconnects: { quick: number | null } = { quick: null };

  return { FakeSpaceRoom, FakeBroadcastStage, reconnects };
});

vi.mock("../media", async (original) => ({ ...(await original<typeof import("../media")>()), SpaceRoom: fakes.FakeSpaceRoom }));
vi.mock("./broadcast_stage", () => ({ BroadcastStage: fakes.FakeBroadcastStage }));
vi.mock("../rejoin", async (original) => {
  const real = await original<typeof import("../rejoin")>();
  class Reconnector extends real.Reconnector {
    constructor(opts: import("../rejoin").ReconnectorOptions) {
      const quick = fakes.reconnects.quick;
      super(quick === null ? opts : { ...opts, maxAttempts: quick, sleep: async () => undefined });
    }
  }
  return { ...real, Reconnector };
});

const { BLOCKED_MESSAGE, BUSY_MESSAGE, FIRST_CONNECT_RETRYING, HOST_LEFT_NOTE, HOST_MUTED_NOTICE, UNREACHABLE_MESSAGE, spaceView } = await import("./space");
const { REMOVED_MESSAGE } = await import("../media");
const { REMOVED_RULE } = await import("../contract.gen");
const { FakeSpaceRoom, FakeBroadcastStage } = fakes;

const PLAYLIST = "https://cdn.example/s1/live.m3u8";
const SPACE: Space = {
  id: "s1",
  title: "Night shift",
  state: "live",
  host: "hana",
  cohosts: [],
  speakers: [],
  video: "off",
  listener_count: 1,
  raised_hands: ["lee"],
  names: {},
  pictures: {},
};
const HLS: JoinGrant = { mode: "hls", playlist_url: PLAYLIST, identity: "lee", role: "listener", issued_at: "2026-12-05T06:00:00Z", expires_at: null, presence_interval_seconds: null, viewer_tag: "tagOfLee" };
const WEBRTC: JoinGrant = { mode: "webrtc", url: "wss://sfu.example", token: "t", identity: "lee", role: "speaker", issued_at: "2026-12-05T06:00:00Z", expires_at: 0 };

/** state.json saying lee is on the stage now, answered when the test says so. */
let promote: () => void = () => undefined;

/** While set, every token request waits for it. */
let tokenGate: Promise<void> | null = null;
let tokenCalls = 0;
/** How many times the page lowered my hand. */
let lowered = 0;
/** How many times the page ended the Space (POST /end). */
let ended = 0;
/** How many role changes the page asked the API for. */
let roleChanges = 0;

/** What the fake API's read of the Space answers (the test may end it). */
let spaceNow: Space = SPACE;

/** A token request the API refuses with `status` (and the rule it names, if any). */
const refused = (status: number, detail: string, rule: string | null = null) => Object.assign(new Error(detail), { status, detail, rule });

/** What each token request named as `rejoin_since` (null: a join on purpose). */
let sinces: (string | null)[] = [];

/** While set, the API is busy: a join-path call (token or read) tells the page so and waits for it. */
let busyGate: Promise<void> | null = null;
/** The join path each token request and each read was given (undefined: the usual retries). */
let tokenJoins: (JoinPath | undefined)[] = [];
let readJoins: (JoinPath | undefined)[] = [];

/** What the API's refusals are while busyGate holds them: its 503, or no answer (0: the network). */
let busyStatus = 503;

async function busy(join: JoinPath | undefined): Promise<void> {
  if (!busyGate) return;
  join?.busy?.(1000, Object.assign(new Error("busy"), { status: busyStatus, detail: "busy", rule: null, retryAfterSeconds: null }));
  await busyGate;
}

function fakeApp(grants: (JoinGrant | Error)[]): App {
  const api = {
    getSpace: async (_id: string, join?: JoinPath) => {
      readJoins.push(join);
      await busy(join);
      return spaceNow;
    },
    joinToken: async (_id: string, since: string | null = null, join?: JoinPath) => {
      tokenCalls += 1;
      sinces.push(since);
      tokenJoins.push(join);
      await busy(join);
      if (tokenGate) await tokenGate;
      const grant = grants.shift();
      if (!grant) throw Object.assign(new Error("no more grants"), { status: 503 });
      if (grant instanceof Error) throw grant;
      return grant;
    },
    presence: async () => undefined,
    endSpace: async () => {
      ended += 1;
      spaceNow = { ...spaceNow, state: "ended", version: (spaceNow.version ?? 0) + 1 };
      return spaceNow;
    },
    lowerHand: async () => {
      lowered += 1;
      return { ...SPACE, raised_hands: [] };
    },
    react: async () => undefined,
    listeners: async () => ({ items: [], next_cursor: null }),
    setRole: async () => {
      roleChanges += 1;
      return spaceNow;
    },
  };
  return { api, session: { userId: "lee" }, signOut: () => undefined } as unknown as App;
}

/** Polls until `check` passes: the page settles over a few promise turns and the fake fetch. */
const until = (check: () => void) => vi.waitFor(check, { timeout: 5000 });
const byTestId = (el: Element, testid: string) => el.querySelector(`[data-testid="${testid}"]`);

/** Promise rejections nobody handled (vitest runs on node; the page's types know no `process`). */
type Listener = (reason: unknown) => void;
const nodeProcess = (globalThis as unknown as { process: { on(e: string, f: Listener): void; off(e: string, f: Listener): void } }).process;
let unhandled: unknown[] = [];
const onUnhandled = (e: unknown) => unhandled.push(e);

beforeEach(() => {
  sessionStorage.clear();
  FakeSpaceRoom.made = [];
  FakeBroadcastStage.made = [];
  FakeBroadcastStage.failNext = null;
  tokenGate = null;
  tokenCalls = 0;
  sinces = [];
  busyGate = null;
  busyStatus = 503;
  tokenJoins = [];
  readJoins = [];
  fakes.reconnects.quick = null;
  lowered = 0;
  ended = 0;
  roleChanges = 0;
  spaceNow = SPACE;
  unhandled = [];
  nodeProcess.on("unhandledRejection", onUnhandled);
  // One sessionStorage is shared by every view a test makes (a browser gives each tab its own), so a
  // view a test left open would answer for the next one's seat (rejoin.ts TabSeats; e2e covers it).
  vi.stubGlobal("BroadcastChannel", undefined);
  const promoted = new Promise<void>((resolve) => (promote = resolve));
  vi.stubGlobal("fetch", async (url: string) => {
    if (!url.endsWith("state.json")) return new Response("", { status: 404 });
    await promoted;
    return new Response(JSON.stringify({ ...SPACE, space_id: "s1", speakers: ["lee"], version: 2 }));
  });
});

afterEach(() => {
  nodeProcess.off("unhandledRejection", onUnhandled);
  vi.unstubAllGlobals();
  document.body.replaceChildren();
});

/** The page opened on the Space's card, and Join clicked: `grants` answer its token requests. */
async function joinedFromTheCard(grants: (JoinGrant | Error)[]) {
  const view = spaceView(fakeApp(grants), "s1");
  document.body.append(view.el);
  await until(() => expect(byTestId(view.el, "join-space")).not.toBeNull());
  (byTestId(view.el, "join-space") as HTMLButtonElement).click();
  return view;
}

/** The page watching the broadcast, then promoted: the room for the stage is connecting. */
async function promotedWhileWatching(grants: JoinGrant[] = [HLS, WEBRTC]) {
  const view = await joinedFromTheCard(grants);
  await until(() => expect(byTestId(view.el, "broadcast-stage")).not.toBeNull());
  promote();
  await until(() => expect(FakeSpaceRoom.made).toHaveLength(1));
  return { view, room: FakeSpaceRoom.made[0], broadcast: FakeBroadcastStage.made[0] };
}

describe("a promotion from the broadcast to the room", () => {
  it("keeps the broadcast playing until the room is up, then leaves it", async () => {
    const { view, room, broadcast } = await promotedWhileWatching();
    expect(room.status.kind).toBe("connecting");
    expect(broadcast.destroyed).toBe(false);
    expect(byTestId(view.el, "broadcast-stage")).toBe(broadcast.el);

    room.connected();
    await until(() => expect(broadcast.destroyed).toBe(true));
    expect(byTestId(view.el, "broadcast-stage")).toBeNull();
    expect(byTestId(view.el, "controls")).not.toBeNull();
    expect(room.left.count).toBe(0);
    view.unmount();
  });

  it("tells the listener they are on stage, as a promotion in the room is told", async () => {
    const { view, room } = await promotedWhileWatching();
    room.connected();
    await until(() => expect(byTestId(view.el, "controls")).not.toBeNull());
    expect(document.getElementById("toast")?.textContent).toBe("You are on stage: turn on your microphone to speak.");
    view.unmount();
  });

  it("passes the focus from my raised hand on the broadcast to my microphone, as a promotion in the room does", async () => {
    const { view, room, broadcast } = await promotedWhileWatching();
    const hand = document.createElement("button");
    hand.dataset.testid = "raise-hand";
    broadcast.el.append(hand);
    hand.focus();
    room.connected();
    await until(() => expect(byTestId(view.el, "controls")).not.toBeNull());
    // The role comes first ("Leave the stage"), the SFU's permission to publish a moment later.
    room.mayPublish();
    room.setStatus({ kind: "connected" });
    await until(() => expect(document.activeElement).toBe(byTestId(view.el, "toggle-mic")));
    view.unmount();
  });

  it("leaves the listener watching when the room cannot be joined, and says so", async () => {
    const { view, room, broadcast } = await promotedWhileWatching();
    room.failed("The media server refused the join token.");
    await until(() => expect(room.left.count).toBe(1));
    expect(broadcast.destroyed).toBe(false);
    expect(byTestId(view.el, "broadcast-stage")).toBe(broadcast.el);
    expect(byTestId(view.el, "space-message")).toBeNull();
    expect(document.getElementById("toast")?.textContent).toContain("still watching the broadcast");
    view.unmount();
  });

  it("does not go into the room when the listener left the page while it connected", async () => {
    const { view, room, broadcast } = await promotedWhileWatching();
    view.unmount();
    expect(broadcast.destroyed).toBe(true);
    expect(room.left.count).toBe(1); // the connect is aborted at once, not left once it is in
    room.connected();
    await Promise.resolve();
    expect(room.left.count).toBe(1);
    expect(byTestId(view.el, "controls")).toBeNull();
  });

  it("does not ask again on every poll after the room could not be joined", async () => {
    let reads = 0;
    const { view, room } = await promotedWhileWatching([HLS, WEBRTC, WEBRTC, WEBRTC]);
    const poll = globalThis.fetch;
    vi.stubGlobal("fetch", async (url: string) => {
      reads += 1;
      return poll(url);
    });
    room.failed("Could not connect to the media server (timeout).");
    await until(() => expect(room.left.count).toBe(1));
    // state.json read twice more, still saying the same promotion (the same version).
    await vi.waitFor(() => expect(reads).toBeGreaterThanOrEqual(2), { timeout: 10_000, interval: 100 });
    await new Promise((resolve) => setTimeout(resolve, 100)); // what those reads lead to, settled
    expect(FakeSpaceRoom.made).toHaveLength(1);
    view.unmount();
  }, 15_000);

  it("joins again when asked while a connect it no longer wants was still running", async () => {
    const app = fakeApp([HLS, WEBRTC, HLS]);
    const view = spaceView(app, "s1");
    document.body.append(view.el);
    await until(() => expect(byTestId(view.el, "join-space")).not.toBeNull());
    (byTestId(view.el, "join-space") as HTMLButtonElement).click();
    await until(() => expect(FakeBroadcastStage.made).toHaveLength(1));
    promote();
    await until(() => expect(FakeSpaceRoom.made).toHaveLength(1));
    const room = FakeSpaceRoom.made[0];
    // The listener leaves the broadcast while the stage's room connects, then rejoins at once.
    FakeBroadcastStage.made[0].hooks.leave?.();
    expect(room.left.count).toBe(1); // not onto the stage either
    (byTestId(view.el, "rejoin") as HTMLButtonElement).click();
    room.failed("Client initiated disconnect"); // what the aborted connect comes to
    await until(() => expect(FakeBroadcastStage.made).toHaveLength(2)); // the rejoin, not dropped
    expect(FakeSpaceRoom.made).toHaveLength(1);
    view.unmount();
  });
});

describe("a reconnect after the room dropped", () => {
  it("keeps saying it is reconnecting while the new room connects, and after it fails", async () => {
    const view = await joinedFromTheCard([WEBRTC, WEBRTC]);
    await until(() => expect(FakeSpaceRoom.made).toHaveLength(1));
    FakeSpaceRoom.made[0].connected();
    await until(() => expect(byTestId(view.el, "controls")).not.toBeNull());

    FakeSpaceRoom.made[0].setStatus({ kind: "ended", message: "The connection to the Space was lost.", canRejoin: true, dropped: true });
    await until(() => expect(FakeSpaceRoom.made).toHaveLength(2));
    const again = FakeSpaceRoom.made[1];
    expect(again.status.kind).toBe("connecting");
    expect(byTestId(view.el, "reconnecting")).not.toBeNull();
    expect(byTestId(view.el, "controls")).toBeNull();

    again.failed("Could not connect to the media server (timeout).");
    await Promise.resolve();
    expect(byTestId(view.el, "reconnecting")).not.toBeNull();
    expect(byTestId(view.el, "controls")).toBeNull();
    expect(byTestId(view.el, "host-away")).toBeNull(); // a speaker's deadline is not theirs
    view.unmount();
  });

  it("tells the host by when they must be back, from the Space read after a failed attempt", async () => {
    spaceNow = { ...SPACE, host: "lee", raised_hands: [] };
    const view = await joinedFromTheCard([{ ...WEBRTC, role: "host" }, { ...WEBRTC, role: "host" }]);
    await until(() => expect(FakeSpaceRoom.made).toHaveLength(1));
    FakeSpaceRoom.made[0].connected();
    await until(() => expect(byTestId(view.el, "controls")).not.toBeNull());
    FakeSpaceRoom.made[0].setStatus({ kind: "ended", message: "The connection to the Space was lost.", canRejoin: true, dropped: true });
    await until(() => expect(FakeSpaceRoom.made).toHaveLength(2));
    const until_ = Date.now() + 120_000;
    spaceNow = { ...spaceNow, host_away_until: new Date(until_).toISOString() }; // the API counts the host away
    FakeSpaceRoom.made[1].failed("Could not connect to the media server (timeout).");
    await until(() => expect(byTestId(view.el, "host-away")?.textContent).toContain("Unless you are back by"));
    expect(byTestId(view.el, "reconnecting")).not.toBeNull();
    view.unmount();
  });
});

describe("a removal the page was away for", () => {
  const REMOVED = refused(409, "a host removed you from this Space at 06:01:00 UTC, after you last joined", "removed");

  it("is told to the reconnect after a drop, which names the grant it dropped with", async () => {
    const view = await joinedFromTheCard([WEBRTC, REMOVED]);
    await until(() => expect(FakeSpaceRoom.made).toHaveLength(1));
    FakeSpaceRoom.made[0].connected();
    await until(() => expect(byTestId(view.el, "controls")).not.toBeNull());
    FakeSpaceRoom.made[0].setStatus({ kind: "ended", message: "The connection to the Space was lost.", canRejoin: true, dropped: true });
    await until(() => expect(byTestId(view.el, "space-message")?.textContent).toBe("You were removed from this Space by a host."));
    expect(sinces).toEqual([null, WEBRTC.issued_at]); // the card's join on purpose, then the comeback
    expect(byTestId(view.el, "rejoin")).toBeNull();
    expect(FakeSpaceRoom.made).toHaveLength(1); // refused: no room
    expect(new Presence(sessionStorage).wasIn("s1")).toBe(false); // a reload shows the card
    view.unmount();
  });

  it("is still told after the reconnect gave up: its Rejoin, and a reload, are the same comeback", async () => {
    fakes.reconnects.quick = 1;
    const lost = refused(503, "the store is busy");
    const view = await joinedFromTheCard([WEBRTC, lost, REMOVED, lost, REMOVED]);
    await until(() => expect(FakeSpaceRoom.made).toHaveLength(1));
    FakeSpaceRoom.made[0].connected();
    await until(() => expect(byTestId(view.el, "controls")).not.toBeNull());
    FakeSpaceRoom.made[0].setStatus({ kind: "ended", message: "The connection to the Space was lost.", canRejoin: true, dropped: true });
    await until(() => expect(byTestId(view.el, "space-message")?.textContent).toBe("The connection to the Space was lost."));
    expect(new Presence(sessionStorage).since("s1")).toBe(WEBRTC.issued_at); // a reload comes back too
    (byTestId(view.el, "rejoin") as HTMLButtonElement).click();
    // The card again (the room was closed when the reconnect gave up), saying why; its Join is on purpose.
    await until(() => expect(view.el.textContent).toContain("You were removed from this Space by a host."));
    expect(byTestId(view.el, "join-space")).not.toBeNull();
    expect(sinces).toEqual([null, WEBRTC.issued_at, WEBRTC.issued_at]);
    expect(new Presence(sessionStorage).wasIn("s1")).toBe(false);
    view.unmount();
  });

  it("is still told after the reloaded page's room could not connect: its Rejoin is the same comeback", async () => {
    new Presence(sessionStorage).entered("s1", "2026-12-05T06:00:00.5Z");
    const view = spaceView(fakeApp([WEBRTC, REMOVED]), "s1");
    document.body.append(view.el);
    await until(() => expect(FakeSpaceRoom.made).toHaveLength(1));
    FakeSpaceRoom.made[0].failed("Could not connect to the media server (timeout).");
    await until(() => expect(byTestId(view.el, "rejoin")).not.toBeNull());
    // Clicked at once, while the failed join is still finishing: queued, not lost.
    (byTestId(view.el, "rejoin") as HTMLButtonElement).click();
    await until(() => expect(view.el.textContent).toContain("You were removed from this Space by a host."));
    // The second asks since the grant the reload got (the removal may have come while it failed).
    expect(sinces).toEqual(["2026-12-05T06:00:00.5Z", WEBRTC.issued_at]);
    view.unmount();
  });

  it("is told to the page reloaded into the Space, whose Join from the card then lets it in", async () => {
    new Presence(sessionStorage).entered("s1", "2026-12-05T06:00:00.5Z");
    const view = spaceView(fakeApp([REMOVED, WEBRTC]), "s1");
    document.body.append(view.el);
    await until(() => expect(byTestId(view.el, "join-space")).not.toBeNull());
    await until(() => expect(view.el.textContent).toContain("You were removed from this Space by a host."));
    expect(sinces).toEqual(["2026-12-05T06:00:00.5Z"]);
    expect(new Presence(sessionStorage).wasIn("s1")).toBe(false);
    (byTestId(view.el, "join-space") as HTMLButtonElement).click();
    await until(() => expect(FakeSpaceRoom.made).toHaveLength(1));
    expect(sinces).toEqual(["2026-12-05T06:00:00.5Z", null]);
    FakeSpaceRoom.made[0].connected();
    await until(() => expect(new Presence(sessionStorage).since("s1")).toBe(WEBRTC.issued_at));
    view.unmount();
  });
});

/** A few macrotask turns: long enough for a settled promise chain to have drawn its result. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

describe("what was live before a drop", () => {
  /** Joined from the card with a microphone and camera allowed; `turnOn` clicked on. */
  async function onStage(grants: JoinGrant[], turnOn: string[]) {
    const view = await joinedFromTheCard(grants);
    await until(() => expect(FakeSpaceRoom.made).toHaveLength(1));
    FakeSpaceRoom.made[0].mayPublish();
    FakeSpaceRoom.made[0].connected();
    for (const what of turnOn) {
      await until(() => expect(byTestId(view.el, `toggle-${what}`)).not.toBeNull());
      (byTestId(view.el, `toggle-${what}`) as HTMLButtonElement).click();
      await until(() => expect(byTestId(view.el, `toggle-${what}`)?.getAttribute("data-on")).toBe("true"));
    }
    return view;
  }

  /** The room `i` drops; the page's reconnect connects room `i + 1`. */
  async function dropAndReconnect(i: number) {
    FakeSpaceRoom.made[i].setStatus({ kind: "ended", message: "The connection to the Space was lost.", canRejoin: true, dropped: true });
    await until(() => expect(FakeSpaceRoom.made).toHaveLength(i + 2));
    FakeSpaceRoom.made[i + 1].mayPublish();
    FakeSpaceRoom.made[i + 1].connected();
  }

  it("turns the microphone and camera back on in the new room", async () => {
    const view = await onStage([WEBRTC, WEBRTC], ["mic", "camera"]);
    await dropAndReconnect(0);
    await until(() => expect(FakeSpaceRoom.made[1].published).toEqual(["mic:true", "camera:true"]));
    view.unmount();
  });

  it("does not turn on a microphone left off since a Leave and a Rejoin", async () => {
    const view = await onStage([WEBRTC, WEBRTC, WEBRTC], ["mic"]);
    (byTestId(view.el, "leave") as HTMLButtonElement).click();
    FakeSpaceRoom.made[0].setStatus({ kind: "ended", message: "You left the Space.", canRejoin: true, dropped: false });
    await until(() => expect(byTestId(view.el, "rejoin")).not.toBeNull());
    (byTestId(view.el, "rejoin") as HTMLButtonElement).click();
    await until(() => expect(FakeSpaceRoom.made).toHaveLength(2));
    FakeSpaceRoom.made[1].mayPublish();
    FakeSpaceRoom.made[1].connected();
    await until(() => expect(byTestId(view.el, "toggle-mic")?.getAttribute("data-on")).toBe("false"));
    await dropAndReconnect(1);
    await settle();
    expect(FakeSpaceRoom.made[2].published).toEqual([]);
    view.unmount();
  });

  it("turns nothing more on once the person left the new room", async () => {
    const view = await onStage([WEBRTC, WEBRTC], ["mic", "camera"]);
    let release!: () => void;
    FakeSpaceRoom.made[0].setStatus({ kind: "ended", message: "The connection to the Space was lost.", canRejoin: true, dropped: true });
    await until(() => expect(FakeSpaceRoom.made).toHaveLength(2));
    const again = FakeSpaceRoom.made[1];
    again.micGate = new Promise<void>((resolve) => (release = resolve));
    again.mayPublish();
    again.connected(); // the microphone is on its way back (held)
    await settle();
    (byTestId(view.el, "leave") as HTMLButtonElement).click();
    again.setStatus({ kind: "ended", message: "You left the Space.", canRejoin: true, dropped: false });
    release();
    await settle();
    expect(again.published).not.toContain("camera:true");
    view.unmount();
  });
});

describe("a removal while watching the broadcast", () => {
  /** When lee was removed: a second after the grant HLS was issued. */
  const REMOVED_AT = Date.parse("2026-12-05T06:00:01Z");
  /** state.json naming lee's tag, removed after the grant HLS. */
  function removedAt4(): void {
    vi.stubGlobal("fetch", async (url: string) =>
      url.endsWith("state.json")
        ? new Response(JSON.stringify({ ...SPACE, space_id: "s1", version: 4, removed_viewers: { someoneElse: 2, tagOfLee: REMOVED_AT } }))
        : new Response("", { status: 404 }),
    );
  }

  it("stops the player and says so, forgets the Space, and lets a join on purpose watch again", async () => {
    removedAt4();
    const view = await joinedFromTheCard([HLS, { ...HLS, issued_at: "2026-12-05T06:00:02Z" }]);
    await until(() => expect(byTestId(view.el, "space-message")?.textContent).toBe(REMOVED_MESSAGE));
    expect(FakeBroadcastStage.made[0].destroyed).toBe(true);
    expect(byTestId(view.el, "broadcast-stage")).toBeNull();
    expect(sessionStorage.getItem(IN_SPACE_KEY)).toBeNull(); // a reload does not come back
    // The same state.json, read by a grant newer than the removal: watching, and staying.
    (byTestId(view.el, "rejoin") as HTMLButtonElement).click();
    await until(() => expect(byTestId(view.el, "broadcast-stage")).not.toBeNull());
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(byTestId(view.el, "space-message")).toBeNull();
    expect(FakeBroadcastStage.made).toHaveLength(2);
    expect(FakeBroadcastStage.made[1].destroyed).toBe(false);
    expect(sinces).toEqual([null, null]); // both joins on purpose
    view.unmount();
  });

  it("drops the promotion under way and the join a poll queued behind it", async () => {
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] }); // the state.json poll, on the test's clock
    try {
      // Promoted at version 2 (the page asks for a token, held), then sent back to the audience
      // (version 3) and removed.
      const docs = [
        { ...SPACE, space_id: "s1", speakers: ["lee"], version: 2 },
        { ...SPACE, space_id: "s1", speakers: ["lee"], version: 2 },
        { ...SPACE, space_id: "s1", speakers: [], version: 3, removed_viewers: { tagOfLee: REMOVED_AT } },
      ];
      let promoted!: () => void;
      const promotion = new Promise<void>((resolve) => (promoted = resolve));
      vi.stubGlobal("fetch", async (url: string) => {
        if (!url.endsWith("state.json")) return new Response("", { status: 404 });
        await promotion;
        return new Response(JSON.stringify(docs.length > 1 ? docs.shift() : docs[0]));
      });
      const view = await joinedFromTheCard([HLS, WEBRTC, WEBRTC]);
      await until(() => expect(byTestId(view.el, "broadcast-stage")).not.toBeNull());
      let release!: () => void;
      tokenGate = new Promise<void>((resolve) => (release = resolve));
      promoted();
      await until(() => expect(tokenCalls).toBe(2)); // the promotion's token request, held
      vi.advanceTimersByTime(STATE_POLL_MS); // the same promotion again: a join queued behind it
      await settle();
      vi.advanceTimersByTime(STATE_POLL_MS); // the removal
      await until(() => expect(byTestId(view.el, "space-message")?.textContent).toBe(REMOVED_MESSAGE));
      release();
      await settle();
      expect(tokenCalls).toBe(2);
      expect(FakeSpaceRoom.made.filter((room) => room.status.kind !== "idle")).toHaveLength(0);
      expect(byTestId(view.el, "space-message")?.textContent).toBe(REMOVED_MESSAGE);
      view.unmount();
    } finally {
      vi.useRealTimers();
    }
  });

  it("is told when the token for a promotion is refused: promoted, then removed from the stage", async () => {
    // No entry in state.json for someone removed from the stage: the promotion's token request says it.
    const view = await joinedFromTheCard([HLS, refused(409, "a host removed you", REMOVED_RULE)]);
    await until(() => expect(byTestId(view.el, "broadcast-stage")).not.toBeNull());
    promote();
    await until(() => expect(byTestId(view.el, "space-message")?.textContent).toBe(REMOVED_MESSAGE));
    expect(sinces).toEqual([null, HLS.issued_at]); // the promotion names the broadcast's grant
    expect(FakeBroadcastStage.made[0].destroyed).toBe(true);
    expect(FakeSpaceRoom.made).toHaveLength(0);
    expect(sessionStorage.getItem(IN_SPACE_KEY)).toBeNull();
    view.unmount();
  });

  it("a Join after leaving the broadcast is on purpose, even after a promotion whose room failed", async () => {
    const { view, room, broadcast } = await promotedWhileWatching([HLS, WEBRTC, HLS]);
    room.failed("Could not connect to the media server (timeout).");
    await until(() => expect(room.left.count).toBe(1));
    broadcast.hooks.leave?.();
    (byTestId(view.el, "rejoin") as HTMLButtonElement).click();
    await until(() => expect(FakeBroadcastStage.made).toHaveLength(2));
    // The promotion named the broadcast's grant; the Join names nothing.
    expect(sinces).toEqual([null, HLS.issued_at, null]);
    view.unmount();
  });

  it("says a block is a block, with nothing to join", async () => {
    removedAt4();
    const view = await joinedFromTheCard([HLS]);
    // Blocked after the card was read (its Join is not offered to someone blocked already).
    spaceNow = { ...SPACE, caller_blocked: true };
    await until(() => expect(byTestId(view.el, "space-message")?.textContent).toBe(BLOCKED_MESSAGE));
    expect(byTestId(view.el, "rejoin")).toBeNull();
    expect(FakeBroadcastStage.made[0].destroyed).toBe(true);
    view.unmount();
  });
});

describe("leaving, and players that cannot load", () => {
  it("forgets the Space when another tab takes the seat, so a reload of this one does not take it back", async () => {
    const view = await joinedFromTheCard([WEBRTC]);
    await until(() => expect(FakeSpaceRoom.made).toHaveLength(1));
    FakeSpaceRoom.made[0].connected();
    await until(() => expect(new Presence(sessionStorage).wasIn("s1")).toBe(true));
    const elsewhere = "You joined this Space from another tab or device.";
    FakeSpaceRoom.made[0].setStatus({ kind: "ended", message: elsewhere, canRejoin: true, dropped: false, seatTaken: true });
    await until(() => expect(byTestId(view.el, "space-message")?.textContent).toBe(elsewhere));
    expect(byTestId(view.el, "rejoin")).not.toBeNull(); // a click takes it back
    expect(sessionStorage.getItem(IN_SPACE_KEY)).toBeNull(); // a reload does not
    view.unmount();
  });

  it("a Rejoin refused because the Space ended meanwhile says it ended, with no Rejoin to click again", async () => {
    const view = await joinedFromTheCard([WEBRTC, refused(409, "the Space is not live")]);
    await until(() => expect(FakeSpaceRoom.made).toHaveLength(1));
    FakeSpaceRoom.made[0].connected();
    await until(() => expect(byTestId(view.el, "controls")).not.toBeNull());
    FakeSpaceRoom.made[0].setStatus({ kind: "ended", message: "You left the Space.", canRejoin: true, dropped: false });
    await until(() => expect(byTestId(view.el, "rejoin")).not.toBeNull());
    spaceNow = { ...SPACE, state: "ended" }; // the host stayed away past the grace period
    (byTestId(view.el, "rejoin") as HTMLButtonElement).click();
    await until(() => expect(byTestId(view.el, "space-message")?.textContent).toBe("This Space has ended."));
    await settle();
    expect(byTestId(view.el, "space-message")?.textContent).toBe("This Space has ended.");
    expect(byTestId(view.el, "rejoin")).toBeNull();
    view.unmount();
  });

  it("a leave while the promotion's token is on its way also drops a join a later poll queued behind it", async () => {
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] }); // the state.json poll, on the test's clock
    try {
      let version = 2;
      let promoted!: () => void;
      const promotion = new Promise<void>((resolve) => (promoted = resolve));
      vi.stubGlobal("fetch", async (url: string) => {
        if (!url.endsWith("state.json")) return new Response("", { status: 404 });
        await promotion;
        return new Response(JSON.stringify({ ...SPACE, space_id: "s1", speakers: ["lee"], version: version++ }));
      });
      const view = await joinedFromTheCard([HLS, WEBRTC, WEBRTC]);
      await until(() => expect(byTestId(view.el, "broadcast-stage")).not.toBeNull());
      let release!: () => void;
      tokenGate = new Promise<void>((resolve) => (release = resolve));
      promoted(); // lee is a speaker now: the page asks for a token (held)
      await until(() => expect(tokenCalls).toBe(2));
      vi.advanceTimersByTime(STATE_POLL_MS); // the next poll asks again: a join queued behind it
      await settle();
      FakeBroadcastStage.made[0].hooks.leave?.();
      release();
      await settle();
      expect(tokenCalls).toBe(2);
      expect(FakeSpaceRoom.made.filter((room) => room.status.kind !== "idle")).toHaveLength(0);
      expect(byTestId(view.el, "space-message")?.textContent).toBe("You left the Space.");
      view.unmount();
    } finally {
      vi.useRealTimers();
    }
  });

  it("a leave while the promotion's token is on its way keeps the listener out of the room", async () => {
    const view = await joinedFromTheCard([HLS, WEBRTC]);
    await until(() => expect(byTestId(view.el, "broadcast-stage")).not.toBeNull());
    let release!: () => void;
    tokenGate = new Promise<void>((resolve) => (release = resolve));
    promote(); // state.json: lee is a speaker now, so the page asks for a token (held)
    await until(() => expect(tokenCalls).toBe(2));
    FakeBroadcastStage.made[0].hooks.leave?.();
    expect(byTestId(view.el, "space-message")?.textContent).toBe("You left the Space.");
    release();
    await settle();
    expect(FakeSpaceRoom.made).toHaveLength(0);
    expect(byTestId(view.el, "controls")).toBeNull();
    expect(byTestId(view.el, "space-message")?.textContent).toBe("You left the Space.");
    view.unmount();
  });

  it("a broadcast player that cannot be loaded says so on the card", async () => {
    FakeBroadcastStage.failNext = new TypeError("Failed to fetch dynamically imported module: /assets/light-abc.js");
    const view = await joinedFromTheCard([HLS]);
    await until(() => expect(byTestId(view.el, "join-error")?.textContent).toContain("Could not open the broadcast"));
    expect(unhandled).toHaveLength(0);
    expect(byTestId(view.el, "broadcast-stage")).toBeNull();
    view.unmount();
  });

  it("a reconnect whose broadcast player cannot load keeps trying", async () => {
    const view = await joinedFromTheCard([WEBRTC, HLS, HLS, HLS]);
    await until(() => expect(FakeSpaceRoom.made).toHaveLength(1));
    FakeSpaceRoom.made[0].connected();
    await until(() => expect(byTestId(view.el, "controls")).not.toBeNull());
    FakeBroadcastStage.failNext = new TypeError("Failed to fetch dynamically imported module");
    FakeSpaceRoom.made[0].setStatus({ kind: "ended", message: "The connection to the Space was lost.", canRejoin: true, dropped: true });
    await until(() => expect(byTestId(view.el, "broadcast-stage")).not.toBeNull()); // the next attempt opened it
    expect(tokenCalls).toBeGreaterThan(2);
    expect(unhandled).toHaveLength(0);
    view.unmount();
  });

  it("a state.json read that answers after the listener left changes nothing on screen", async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    vi.stubGlobal("fetch", async (url: string) => {
      if (!url.endsWith("state.json")) return new Response("", { status: 404 });
      await held;
      return new Response(JSON.stringify({ ...SPACE, space_id: "s1", version: 1 }));
    });
    const view = await joinedFromTheCard([HLS]);
    await until(() => expect(byTestId(view.el, "broadcast-stage")).not.toBeNull());
    FakeBroadcastStage.made[0].hooks.leave?.();
    release(); // the read that was on its way when Leave was clicked
    await settle();
    expect(byTestId(view.el, "space-message")?.textContent).toBe("You left the Space.");
    view.unmount();
  });

  it("a viewer who leaves with a hand up has it lowered, and keeps the message the lower's answer redraws", async () => {
    const view = await joinedFromTheCard([HLS]);
    await until(() => expect(byTestId(view.el, "broadcast-stage")).not.toBeNull());
    FakeBroadcastStage.made[0].hooks.leave?.();
    await until(() => expect(lowered).toBe(1));
    await settle();
    expect(byTestId(view.el, "space-message")?.textContent).toBe("You left the Space.");
    expect(byTestId(view.el, "join-space")).toBeNull();
    view.unmount();
  });
});

describe("a busy API on the join path", () => {
  it("says it is busy and trying again while the token is retried, with a way out, then joins", async () => {
    let free!: () => void;
    const view = spaceView(fakeApp([HLS]), "s1");
    document.body.append(view.el);
    await until(() => expect(byTestId(view.el, "join-space")).not.toBeNull());
    busyGate = new Promise<void>((resolve) => (free = resolve));
    (byTestId(view.el, "join-space") as HTMLButtonElement).click();
    await until(() => expect(byTestId(view.el, "space-message")?.textContent).toBe(BUSY_MESSAGE));
    expect(view.el.querySelector('a[href="#/"]')?.textContent).toBe("Back to Spaces");
    expect(byTestId(view.el, "rejoin")).toBeNull(); // it is already trying: nothing to click twice
    expect(tokenJoins).toHaveLength(1);
    expect(tokenJoins[0]?.signal?.aborted).toBe(false);
    free();
    await until(() => expect(byTestId(view.el, "broadcast-stage")).not.toBeNull());
    view.unmount();
  });

  it("says so while the read a page opens with is retried, then shows the card", async () => {
    let free!: () => void;
    busyGate = new Promise<void>((resolve) => (free = resolve));
    const view = spaceView(fakeApp([HLS]), "s1");
    document.body.append(view.el);
    await until(() => expect(byTestId(view.el, "space-message")?.textContent).toBe(BUSY_MESSAGE));
    expect(readJoins).toHaveLength(1);
    expect(readJoins[0]).toBeDefined();
    free();
    await until(() => expect(byTestId(view.el, "join-space")).not.toBeNull());
    view.unmount();
  });

  it("says the API cannot be reached, not that it is busy, while a read with no answer is retried", async () => {
    let free!: () => void;
    busyGate = new Promise<void>((resolve) => (free = resolve));
    busyStatus = 0; // offline, or the API down: nobody answered
    const view = spaceView(fakeApp([HLS]), "s1");
    document.body.append(view.el);
    await until(() => expect(byTestId(view.el, "space-message")?.textContent).toBe(UNREACHABLE_MESSAGE));
    free();
    await until(() => expect(byTestId(view.el, "join-space")).not.toBeNull());
    view.unmount();
  });

  it("stops the retries when the person leaves the page", async () => {
    busyGate = new Promise<void>(() => undefined); // never less busy
    const view = spaceView(fakeApp([HLS]), "s1");
    document.body.append(view.el);
    await until(() => expect(byTestId(view.el, "space-message")?.textContent).toBe(BUSY_MESSAGE));
    view.unmount(); // Back to Spaces
    expect(readJoins[0]?.signal?.aborted).toBe(true);
  });

  it("leaves a reconnect's token requests to the Reconnector's own pacing", async () => {
    fakes.reconnects.quick = 3;
    const view = await joinedFromTheCard([WEBRTC, WEBRTC]);
    await until(() => expect(FakeSpaceRoom.made).toHaveLength(1));
    FakeSpaceRoom.made[0].connected();
    await until(() => expect(byTestId(view.el, "controls")).not.toBeNull());
    FakeSpaceRoom.made[0].setStatus({ kind: "ended", message: "The connection to the Space was lost.", canRejoin: true, dropped: true });
    await until(() => expect(tokenCalls).toBe(2));
    expect(tokenJoins[0]).toBeDefined(); // the Join
    expect(tokenJoins[1]).toBeUndefined(); // the reconnect's attempt
    view.unmount();
  });
});

describe("notices about what others did to me", () => {
  it("tells a speaker once that a host muted their microphone", async () => {
    const view = await joinedFromTheCard([WEBRTC]);
    await until(() => expect(FakeSpaceRoom.made).toHaveLength(1));
    const room = FakeSpaceRoom.made[0];
    room.connected();
    await until(() => expect(byTestId(view.el, "controls")).not.toBeNull());
    room.mutedByHost();
    expect(document.getElementById("toast")?.textContent).toBe(HOST_MUTED_NOTICE);
    view.unmount();
  });
});

describe("a scheduled Space's card, for its host", () => {
  it("cancels it after a confirmation, and then says it ended", async () => {
    spaceNow = { ...SPACE, state: "scheduled", host: "lee", raised_hands: [] };
    const confirm = vi.fn(() => false);
    vi.stubGlobal("confirm", confirm);
    const view = spaceView(fakeApp([]), "s1");
    document.body.append(view.el);
    await until(() => expect(byTestId(view.el, "cancel-space")).not.toBeNull());
    (byTestId(view.el, "cancel-space") as HTMLButtonElement).click();
    await until(() => expect(confirm).toHaveBeenCalledTimes(1));
    expect(ended).toBe(0); // not confirmed: nothing sent
    confirm.mockReturnValue(true);
    (byTestId(view.el, "cancel-space") as HTMLButtonElement).click();
    await until(() => expect(ended).toBe(1));
    await until(() => expect(byTestId(view.el, "space-card")?.getAttribute("data-state")).toBe("ended"));
    expect(byTestId(view.el, "start-space")).toBeNull();
    view.unmount();
  });
});

describe("a scheduled Space's card, for someone waiting on it", () => {
  it("asks the API when the tab is shown again, and says the Space ended when it was cancelled", async () => {
    spaceNow = { ...SPACE, state: "scheduled", host: "hal", scheduled_start: "2031-05-04T18:30:00Z", start_signal_url: "https://cdn.example/b/s1/state.json" };
    const view = spaceView(fakeApp([]), "s1");
    document.body.append(view.el);
    await until(() => expect(byTestId(view.el, "space-card")?.getAttribute("data-state")).toBe("scheduled"));
    spaceNow = { ...spaceNow, state: "ended", version: (spaceNow.version ?? 0) + 1 }; // the host cancelled it
    document.dispatchEvent(new Event("visibilitychange")); // the person comes back to the tab
    await until(() => expect(byTestId(view.el, "space-card")?.getAttribute("data-state")).toBe("ended"));
    view.unmount();
  });
});

describe("the host panel's stage", () => {
  it("lists co-hosts and speakers the Space stores but the room does not have, as away", async () => {
    spaceNow = { ...SPACE, host: "lee", cohosts: ["cora"], speakers: ["sam"], raised_hands: [] };
    const view = await joinedFromTheCard([{ ...WEBRTC, role: "host" }]);
    await until(() => expect(FakeSpaceRoom.made).toHaveLength(1));
    FakeSpaceRoom.made[0].connected(); // nobody else in the room: cora and sam dropped out
    await until(() => expect(view.el.querySelector('[data-testid="member"][data-identity="cora"]')).not.toBeNull());
    const away = [...view.el.querySelectorAll<HTMLElement>('[data-testid="member"][data-away="true"]')].map((row) => [row.dataset.identity, row.dataset.role]);
    expect(away).toContainEqual(["cora", "cohost"]);
    expect(away).toContainEqual(["sam", "speaker"]);
    view.unmount();
  });
});

describe("the host panel's seats", () => {
  it("tells the host the stage is full on an invitation, without asking the API", async () => {
    spaceNow = { ...SPACE, host: "lee", speakers: ["sam"], raised_hands: ["rae"], seats: { cohosts: 2, speakers: 1 } };
    const view = await joinedFromTheCard([{ ...WEBRTC, role: "host" }]);
    await until(() => expect(FakeSpaceRoom.made).toHaveLength(1));
    FakeSpaceRoom.made[0].connected();
    await until(() => expect(byTestId(view.el, "seats")?.textContent).toBe("1 of 1 speakers · 0 of 2 co-hosts"));
    const invite = () => view.el.querySelector<HTMLButtonElement>('[data-testid="hand"][data-identity="rae"] [data-testid="invite"]')!;
    expect(invite().getAttribute("aria-disabled")).toBe("true");
    invite().click();
    expect(document.getElementById("toast")?.textContent).toContain("The stage is full (1 speaker)");
    expect(roleChanges).toBe(0);
    view.unmount();
  });
});

describe("the host's away notice", () => {
  it("is not shown to the host once their page is back in the room (the read before the join still says away)", async () => {
    // The host reloaded: the Space read before the join was stored while they were out of the room.
    spaceNow = { ...SPACE, host: "lee", raised_hands: [], host_away_until: new Date(Date.now() + 100_000).toISOString() };
    const view = await joinedFromTheCard([{ ...WEBRTC, role: "host" }]);
    await until(() => expect(FakeSpaceRoom.made).toHaveLength(1));
    const hostAway = () => byTestId(view.el, "host-away") as HTMLElement | null;
    await until(() => expect(hostAway()?.hidden).toBe(false)); // connecting: the host is not in the room yet
    FakeSpaceRoom.made[0].connected();
    await until(() => expect(hostAway()?.hidden).toBe(true));
    view.unmount();
  });
});

describe("the host leaving a live Space", () => {
  it("is told on the card, not only in the confirmation, that the Space ends unless they rejoin; a rejoin clears it", async () => {
    spaceNow = { ...SPACE, host: "lee", raised_hands: [] };
    vi.stubGlobal("confirm", vi.fn(() => true));
    const view = await joinedFromTheCard([{ ...WEBRTC, role: "host" }, { ...WEBRTC, role: "host" }]);
    await until(() => expect(FakeSpaceRoom.made).toHaveLength(1));
    FakeSpaceRoom.made[0].connected();
    await until(() => expect(byTestId(view.el, "leave")).not.toBeNull());
    (byTestId(view.el, "leave") as HTMLButtonElement).click();
    FakeSpaceRoom.made[0].setStatus({ kind: "ended", message: "You left the Space.", canRejoin: true, dropped: false });
    await until(() => expect(byTestId(view.el, "space-message")?.textContent).toBe(`You left the Space. ${HOST_LEFT_NOTE}`));
    (byTestId(view.el, "rejoin") as HTMLButtonElement).click();
    await until(() => expect(FakeSpaceRoom.made).toHaveLength(2));
    FakeSpaceRoom.made[1].setStatus({ kind: "ended", message: "You joined this Space from another tab or device.", canRejoin: true, dropped: false });
    await until(() => expect(byTestId(view.el, "space-message")?.textContent).toBe("You joined this Space from another tab or device."));
    vi.unstubAllGlobals();
    view.unmount();
  });
});

describe("a first connect that fails (offline while joining)", () => {
  const offline = "Could not connect to the media server (could not establish signal connection: signal connection timed out).";

  it("says so in words, keeps Back and Rejoin, and tries again with the reconnect's backoff until in", async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    fakes.reconnects.quick = 5;
    const view = await joinedFromTheCard([WEBRTC, WEBRTC]);
    await until(() => expect(FakeSpaceRoom.made).toHaveLength(1));
    tokenGate = gate; // the network is still out: the retry's token request waits for it
    FakeSpaceRoom.made[0].failed(offline, true);
    await until(() => expect(byTestId(view.el, "reconnecting")?.textContent).toBe(FIRST_CONNECT_RETRYING));
    expect(view.el.textContent).not.toContain("signal connection");
    expect(view.el.querySelector('a[href="#/"]')?.textContent).toBe("Back to Spaces");
    expect(byTestId(view.el, "rejoin")).not.toBeNull();
    release(); // the network is back
    await until(() => expect(FakeSpaceRoom.made).toHaveLength(2));
    FakeSpaceRoom.made[1].connected();
    await until(() => expect(byTestId(view.el, "controls")).not.toBeNull());
    expect(tokenCalls).toBe(2);
    view.unmount();
  });

  it("a Rejoin clicked while it retries joins now, and the retries stop", async () => {
    fakes.reconnects.quick = 5;
    tokenGate = null;
    const view = await joinedFromTheCard([WEBRTC, WEBRTC, WEBRTC]);
    await until(() => expect(FakeSpaceRoom.made).toHaveLength(1));
    let release: () => void = () => undefined;
    tokenGate = new Promise<void>((resolve) => (release = resolve));
    FakeSpaceRoom.made[0].failed(offline, true);
    await until(() => expect(byTestId(view.el, "rejoin")).not.toBeNull());
    await until(() => expect(tokenCalls).toBe(2)); // the retry's token request, waiting on the network
    (byTestId(view.el, "rejoin") as HTMLButtonElement).click();
    release();
    // The Rejoin's room only: the cancelled retry's token answer opens none.
    await until(() => expect(tokenCalls).toBe(3));
    await until(() => expect(FakeSpaceRoom.made).toHaveLength(2));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(FakeSpaceRoom.made).toHaveLength(2);
    FakeSpaceRoom.made[1].connected();
    await until(() => expect(byTestId(view.el, "controls")).not.toBeNull());
    view.unmount();
  });
});
