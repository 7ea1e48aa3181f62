// @vitest-environment happy-dom
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import type { RoomMetadata } from "../../contract.gen";
import { FakeHls } from "../../fake_hls";
import { STATE_POLL_MS } from "../../names";
import { BroadcastStage } from "../broadcast_stage";
import { ReactionsOverlay } from "../reactions";
import { BroadcastWatch, type WatchDeps } from "./broadcast_watch";

vi.mock("hls.js/light", async () => ({ default: (await import("../../fake_hls")).FakeHls }));

const PLAYLIST = "https://cdn.example/s1/live.m3u8";
const STATE = "https://cdn.example/s1/state.json";

function doc(version: number): string {
  return JSON.stringify({ space_id: "s1", state: "live", host: "h", title: "T", version, listener_count: 3 });
}

/** A CDN whose answers the test releases one by one (`answer`), recording every URL asked for. */
class FakeCdn {
  asked: string[] = [];
  private waiting: { url: string; resolve: (text: string | null) => void }[] = [];

  fetchText = (url: string): Promise<string | null> => {
    this.asked.push(url);
    return new Promise((resolve) => this.waiting.push({ url, resolve }));
  };

  /** Answer the oldest pending read of `url`. */
  answer(url: string, text: string | null): void {
    const i = this.waiting.findIndex((w) => w.url === url);
    if (i < 0) throw new Error(`no pending read of ${url}`);
    this.waiting.splice(i, 1)[0].resolve(text);
  }
}

async function watching(presenceInterval: number | null = null) {
  FakeHls.instances = [];
  const hooks = { raiseHand: vi.fn(), leave: vi.fn(), copyLink: vi.fn(), retry: vi.fn(), signIn: vi.fn() };
  const view = await BroadcastStage.open(PLAYLIST, hooks);
  const cdn = new FakeCdn();
  const states: RoomMetadata[] = [];
  const deps: WatchDeps = {
    playlistUrl: PLAYLIST,
    presenceInterval,
    sendPresence: vi.fn(async () => undefined),
    check: vi.fn(),
    onState: (d) => states.push(d),
    reactions: new ReactionsOverlay(),
    fetchText: cdn.fetchText,
  };
  return { watch: new BroadcastWatch(view, deps), view, cdn, states, deps };
}

describe("BroadcastWatch", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("reads state.json at once and every poll, and hands each document on", async () => {
    const { watch, cdn, states } = await watching();
    expect(cdn.asked.filter((u) => u === STATE)).toHaveLength(1);
    cdn.answer(STATE, doc(4));
    await vi.advanceTimersByTimeAsync(STATE_POLL_MS);
    expect(cdn.asked.filter((u) => u === STATE)).toHaveLength(2);
    cdn.answer(STATE, null); // a CDN error: nothing handed on, the next poll tries again
    await vi.advanceTimersByTimeAsync(0);
    expect(states.map((s) => s.version)).toEqual([4]);
    watch.close();
  });

  it("marks who holds the stage at the moment the player is at, from state.json's recent changes", async () => {
    const { watch, view, cdn } = await watching();
    const hls = FakeHls.instances[0];
    const speaking = () => [...view.el.querySelectorAll<HTMLElement>('[data-testid="roster-person"]')].filter((r) => r.dataset.holder === "true").map((r) => r.dataset.identity);
    view.update({ id: "s1", title: "T", state: "live", host: "h", cohosts: [], speakers: ["s"], video: "off", listener_count: 3, raised_hands: [] }, "me");
    cdn.answer(
      STATE,
      JSON.stringify({ space_id: "s1", state: "live", host: "h", speakers: ["s"], version: 4, timeline_recent: [
        { t: 1000, spotlight: "h", video_spotlight: null, pinned: null, names: {} },
        { t: 1010, spotlight: "s", video_spotlight: null, pinned: null, names: {} },
      ] }),
    );
    await vi.advanceTimersByTimeAsync(0);
    expect(speaking()).toEqual([]); // not playing: nobody
    await view.player.play();
    hls.playingDate = new Date(1_005_000); // 5 s in: the host's words are what plays
    await vi.advanceTimersByTimeAsync(1000);
    expect(speaking()).toEqual(["h"]);
    hls.playingDate = new Date(1_010_500); // the speaker took over 0.5 s before this moment
    await vi.advanceTimersByTimeAsync(1000);
    expect(speaking()).toEqual(["s"]);
    hls.playingDate = new Date(999_000); // before the first change it knows: nobody
    await vi.advanceTimersByTimeAsync(1000);
    expect(speaking()).toEqual([]);
    watch.close();
  });

  it("after close: no more reads, a read on its way changes nothing, and the player is gone", async () => {
    const { watch, cdn, states } = await watching();
    watch.close();
    watch.close(); // idempotent
    cdn.answer(STATE, doc(9));
    await vi.advanceTimersByTimeAsync(STATE_POLL_MS * 5);
    expect(states).toEqual([]);
    expect(cdn.asked.filter((u) => u === STATE)).toHaveLength(1);
    expect(FakeHls.instances[0].calls).toContain("destroy");
  });

  it("sends a sampled viewer's heartbeat only while the player plays, and none after close", async () => {
    const { watch, view, deps } = await watching(60);
    await vi.advanceTimersByTimeAsync(120_000);
    expect(deps.sendPresence).not.toHaveBeenCalled(); // not playing yet
    await view.player.play();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(deps.sendPresence).toHaveBeenCalledTimes(1);
    watch.close();
    await vi.advanceTimersByTimeAsync(600_000);
    expect(deps.sendPresence).toHaveBeenCalledTimes(1);
  });
});
