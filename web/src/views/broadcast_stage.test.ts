// @vitest-environment happy-dom
import { describe, expect, it, vi } from "vitest";

import type { Space } from "../api";
import { FakeHls } from "../fake_hls";
import { BroadcastStage, stageRoster, WAITING_BANNER_MS } from "./broadcast_stage";

vi.mock("hls.js/light", async () => ({ default: (await import("../fake_hls")).FakeHls }));

const SPACE: Space = {
  id: "s1",
  title: "T",
  state: "live",
  host: "h",
  cohosts: ["c"],
  speakers: ["s", "t", "h"],
  video: "off",
  listener_count: 0,
  raised_hands: ["l"],
  names: { h: "Hana Host", s: "Sam", l: "Lee" },
  pictures: { h: "https://img.example/h.png", t: "http://img.example/t.png", l: "https://img.example/l.png" },
};

describe("the broadcast page's stage roster", () => {
  it("names the host, co-hosts and speakers once each, with their faces (https only)", () => {
    expect(stageRoster(SPACE).map((p) => [p.id, p.role, p.name, p.picture])).toEqual([
      ["h", "host", "Hana Host", "https://img.example/h.png"],
      ["c", "cohost", "c", null],
      ["s", "speaker", "Sam", null],
      ["t", "speaker", "t", null],
    ]);
  });

  it("is empty before the Space is live and after it ends", () => {
    expect(stageRoster(null)).toEqual([]);
    expect(stageRoster({ ...SPACE, state: "ended" })).toEqual([]);
    expect(stageRoster({ ...SPACE, state: "scheduled" })).toEqual([]);
  });
});

describe("the broadcast page's header", () => {
  it("counts the viewer, whom the sampled estimate may not show yet", async () => {
    FakeHls.instances = [];
    const hooks = { raiseHand: vi.fn(), leave: vi.fn(), copyLink: vi.fn(), retry: vi.fn(), signIn: vi.fn() };
    const view = await BroadcastStage.open("https://cdn.example/s1/live.m3u8", hooks);
    const count = () => view.el.querySelector('[data-testid="listener-count"]')?.textContent;
    view.update(SPACE, "l");
    expect(count()).toBe("1");
    view.update({ ...SPACE, listener_count: 1200 }, "l");
    expect(count()).toBe("1200");
    const away = () => view.el.querySelector('[data-testid="host-away"]') as HTMLElement;
    view.update({ ...SPACE, host_away_until: 1_800_000_000_000 }, "l"); // from state.json
    expect(away().hidden).toBe(false);
    view.update({ ...SPACE, host_away_until: null }, "l");
    expect(away().hidden).toBe(true);
    view.destroy();
  });

  it("tells the viewer whether the Space is recorded", async () => {
    FakeHls.instances = [];
    const hooks = { raiseHand: vi.fn(), leave: vi.fn(), copyLink: vi.fn(), retry: vi.fn(), signIn: vi.fn() };
    const view = await BroadcastStage.open("https://cdn.example/s1/live.m3u8", hooks);
    const badges = () => view.el.querySelectorAll('[data-testid="recorded"]').length;
    const broadcast = { playlist_url: "u", live_playlist_url: "l", timeline_url: "t" };
    view.update({ ...SPACE, broadcast }, "l");
    expect(badges()).toBe(1);
    view.update({ ...SPACE, broadcast, record: false }, "l");
    expect(badges()).toBe(0);
    view.destroy();
  });
});

describe("the broadcast page's banner", () => {
  const hooks = () => ({ raiseHand: vi.fn(), leave: vi.fn(), copyLink: vi.fn(), retry: vi.fn(), signIn: vi.fn() });
  const banner = (view: BroadcastStage) => view.el.querySelector(".big-tile > .banner") as HTMLElement;

  async function opened() {
    FakeHls.instances = [];
    const h = hooks();
    const view = await BroadcastStage.open("https://cdn.example/s1/live.m3u8", h);
    return { view, hooks: h, hls: FakeHls.instances[0] };
  }

  it("says a broadcast without a picture is listened to, and shows its card", async () => {
    const { view, hls } = await opened();
    const note = () => view.el.querySelector('[data-testid="broadcast-note"]')?.textContent;
    const tile = () => (view.el.querySelector('[data-testid="broadcast"]') as HTMLElement).dataset.video;
    hls.fire("hlsBufferCodecs", { audio: { codec: "mp4a.40.2" }, video: { codec: "avc1.64001f" } });
    expect(tile()).toBe("on");
    expect(note()).toBe("You are watching the broadcast. Raise your hand to join the conversation.");
    hls.fire("hlsBufferCodecs", { audio: { codec: "mp4a.40.2" } });
    expect(tile()).toBe("off");
    expect(note()).toBe("You are listening to the broadcast. Raise your hand to join the conversation.");
    view.destroy();
  });

  it("marks who holds the stage at the moment playing by the servers' clock, whatever the device's says", async () => {
    FakeHls.instances = [];
    const offset = 300_000; // this device's clock is five minutes slow
    const view = await BroadcastStage.open("https://cdn.example/s1/live.m3u8", { ...hooks(), clockOffsetMs: () => offset });
    const hls = FakeHls.instances[0];
    view.update(SPACE, "l");
    await view.player.play();
    hls.latency = 2; // no PROGRAM-DATE-TIME reading: two seconds behind the live edge
    const server = Date.now() + offset;
    view.stageChanges([
      { t: (server - 10_000) / 1000, spotlight: "h", video_spotlight: null, pinned: null, names: {} },
      { t: (server - 1_000) / 1000, spotlight: "s", video_spotlight: null, pinned: null, names: {} },
    ]);
    const holders = () => [...view.el.querySelectorAll<HTMLElement>('[data-holder="true"]')].map((row) => row.dataset.identity);
    expect(holders()).toEqual(["h"]); // by the device's clock it would be five minutes before either
    view.destroy();
  });

  it("offers to resume at the live edge when the live broadcast is paused", async () => {
    const { view, hls } = await opened();
    await view.player.play();
    expect(banner(view).hidden).toBe(true);
    view.player.video.pause();
    expect(banner(view).hidden).toBe(false);
    expect(banner(view).dataset.testid).toBe("paused");
    expect(view.el.querySelector('[data-testid="live-indicator"]')?.textContent).toBe("LIVE · paused");
    hls.liveSyncPosition = 30;
    (view.el.querySelector('[data-testid="resume"]') as HTMLButtonElement).click();
    await vi.waitFor(() => expect(view.player.state).toBe("playing"));
    expect(view.player.video.currentTime).toBe(30);
    expect(banner(view).hidden).toBe(true);
    view.destroy();
  });

  it("says when only the sound plays because the link is too thin, and its button asks for the picture", async () => {
    const { view } = await opened();
    await view.player.play();
    const shows = vi.spyOn(view.player, "showPicture").mockImplementation(() => undefined);
    view.player.soundOnly = true;
    view.player.soundReason = "link";
    view.update(SPACE, "l");
    expect(banner(view).hidden).toBe(false);
    expect(banner(view).dataset.testid).toBe("sound-only");
    expect(banner(view).textContent).toContain("too slow for the picture");
    (view.el.querySelector('[data-testid="show-picture"]') as HTMLButtonElement).click();
    await vi.waitFor(() => expect(shows).toHaveBeenCalled());
    view.player.soundReason = "hidden"; // a hidden page's sound alone says nothing (nobody sees it)
    view.update(SPACE, "l");
    expect(banner(view).hidden).toBe(true);
    view.destroy();
  });

  it("puts the focus on the heading after Resume live, which goes, and keeps it there through redraws", async () => {
    const { view, hls } = await opened();
    document.body.append(view.el);
    try {
      view.update(SPACE, "l");
      await view.player.play();
      view.player.video.pause();
      const resume = view.el.querySelector('[data-testid="resume"]') as HTMLButtonElement;
      resume.focus();
      hls.liveSyncPosition = 30;
      resume.click();
      await vi.waitFor(() => expect(view.player.state).toBe("playing"));
      expect(banner(view).hidden).toBe(true);
      const heading = () => view.el.querySelector("h1");
      expect(document.activeElement).toBe(heading());
      // The count changes (state.json): the header is rebuilt, the focus stays on its heading.
      view.update({ ...SPACE, listener_count: 7 }, "l");
      expect(view.el.querySelector('[data-testid="listener-count"]')?.textContent).toBe("7");
      expect(document.activeElement).toBe(heading());
    } finally {
      view.destroy();
    }
  });

  it("puts the focus on the heading after Click to hear the Space, whose banner goes", async () => {
    const { view } = await opened();
    document.body.append(view.el);
    try {
      view.update(SPACE, "l");
      await view.player.play();
      // The browser refused sound without a click: the player plays muted and the banner asks.
      view.player.needsGesture = true;
      view.player.video.dispatchEvent(new Event("timeupdate"));
      const button = banner(view).querySelector("button") as HTMLButtonElement;
      expect(banner(view).dataset.testid).toBe("enable-audio");
      button.focus();
      button.click();
      await vi.waitFor(() => expect(banner(view).hidden).toBe(true));
      expect(document.activeElement).toBe(view.el.querySelector("h1"));
    } finally {
      view.destroy();
    }
  });

  it("mutes and unmutes the broadcast from its own control, a mute the player's own reloads keep", async () => {
    const { view } = await opened();
    document.body.append(view.el);
    try {
      view.update({ ...SPACE, title: "Night talk" }, "l");
      await view.player.play();
      const sound = () => view.el.querySelector('[data-testid="toggle-sound"]') as HTMLButtonElement;
      expect(view.player.video.getAttribute("aria-label")).toBe("Broadcast: Night talk");
      expect(sound().dataset.on).toBe("true");
      expect(sound().textContent).toBe("Mute broadcast");
      sound().focus();
      sound().click();
      await vi.waitFor(() => expect(sound().dataset.on).toBe("false"));
      expect(view.player.video.muted).toBe(true);
      expect(sound().textContent).toBe("Unmute broadcast");
      expect(document.activeElement).toBe(sound()); // the rebuilt control keeps the focus
      await view.player.play(); // the player asks again (a stall, Resume live): still muted
      expect(view.player.video.muted).toBe(true);
      sound().click();
      await vi.waitFor(() => expect(sound().dataset.on).toBe("true"));
      expect(view.player.video.muted).toBe(false);
    } finally {
      view.destroy();
    }
  });

  it("offers Unmute while the browser holds the sound back until a click", async () => {
    const { view } = await opened();
    view.update(SPACE, "l");
    await view.player.play();
    view.player.needsGesture = true;
    view.player.video.muted = true;
    view.player.video.dispatchEvent(new Event("timeupdate"));
    const sound = view.el.querySelector('[data-testid="toggle-sound"]') as HTMLButtonElement;
    expect(sound.dataset.on).toBe("false");
    sound.click();
    await vi.waitFor(() => expect(view.player.needsGesture).toBe(false));
    expect(view.player.video.muted).toBe(false);
    view.destroy();
  });

  it("says the connection is lost while the browser is offline, and waits again once it is back", async () => {
    const { view } = await opened();
    expect(view.player.state === "loading" || view.player.state === "waiting").toBe(true);
    const online = vi.spyOn(navigator, "onLine", "get").mockReturnValue(false);
    try {
      window.dispatchEvent(new Event("offline"));
      expect(banner(view).dataset.testid).toBe("offline");
      expect(banner(view).textContent).toContain("Connection lost");
      online.mockReturnValue(true);
      window.dispatchEvent(new Event("online"));
      expect(banner(view).dataset.testid).toBe("connecting");
    } finally {
      online.mockRestore();
      view.destroy();
    }
  });

  it("says the broadcast is starting until it first plays, however hls.js waits meanwhile", async () => {
    const { view } = await opened();
    view.player.video.dispatchEvent(new Event("waiting")); // play() asked before the first segment came
    expect(banner(view).hidden).toBe(false);
    expect(banner(view).dataset.testid).toBe("connecting");
    expect(banner(view).textContent).toBe("Starting the broadcast…");
    view.destroy();
  });

  it("shows no banner for a stall shorter than a second, and says it waits after that", async () => {
    const { view } = await opened();
    await view.player.play();
    vi.useFakeTimers();
    try {
      const video = view.player.video;
      // hls.js nudging over a gap, a segment a moment late: the picture holds for a few frames.
      video.dispatchEvent(new Event("waiting"));
      expect(view.player.state).toBe("waiting");
      expect(banner(view).hidden).toBe(true);
      vi.advanceTimersByTime(WAITING_BANNER_MS - 1);
      expect(banner(view).hidden).toBe(true);
      video.dispatchEvent(new Event("playing"));
      vi.advanceTimersByTime(WAITING_BANNER_MS);
      expect(banner(view).hidden).toBe(true);
      // A stall that lasts: said, and gone once it plays again.
      video.dispatchEvent(new Event("waiting"));
      vi.advanceTimersByTime(WAITING_BANNER_MS);
      expect(banner(view).hidden).toBe(false);
      expect(banner(view).textContent).toBe("Waiting for the broadcast…");
      video.dispatchEvent(new Event("playing"));
      expect(banner(view).hidden).toBe(true);
    } finally {
      vi.useRealTimers();
      view.destroy();
    }
  });

  it("still says it waits when its timer fires a moment early by the wall clock", async () => {
    const { view } = await opened();
    await view.player.play();
    vi.useFakeTimers();
    try {
      view.player.video.dispatchEvent(new Event("waiting"));
      vi.setSystemTime(Date.now() - 10); // the wall clock steps back: the timer fires 10 ms "early"
      vi.advanceTimersByTime(WAITING_BANNER_MS);
      expect(banner(view).hidden).toBe(true);
      vi.advanceTimersByTime(10);
      expect(banner(view).hidden).toBe(false);
      expect(banner(view).textContent).toBe("Waiting for the broadcast…");
    } finally {
      vi.useRealTimers();
      view.destroy();
    }
  });

  it("keeps a banner that shows the same thing, so a click on its button is not lost", async () => {
    const { view, hooks, hls } = await opened();
    hls.fire(FakeHls.Events.ERROR, { fatal: true, type: FakeHls.ErrorTypes.OTHER_ERROR, details: "internalException" });
    const retry = view.el.querySelector('[data-testid="retry"]') as HTMLButtonElement;
    expect(banner(view).dataset.testid).toBe("broadcast-error");
    // The player changes again (a time update, several a second): the same button stays.
    view.player.video.dispatchEvent(new Event("timeupdate"));
    hls.fire(FakeHls.Events.LEVEL_UPDATED);
    expect(view.el.querySelector('[data-testid="retry"]')).toBe(retry);
    retry.click();
    expect(hooks.retry).toHaveBeenCalledTimes(1);
    view.destroy();
  });

  it("asks to sign in again once the session expired, while the broadcast plays on", async () => {
    const { view, hooks } = await opened();
    await view.player.play();
    view.update(SPACE, "l");
    expect(banner(view).hidden).toBe(true);
    view.update(SPACE, "l", true);
    expect(banner(view).dataset.testid).toBe("sign-in-again");
    expect(view.player.state).toBe("playing");
    (view.el.querySelector('button[data-testid="sign-in-again"]') as HTMLButtonElement).click();
    expect(hooks.signIn).toHaveBeenCalledTimes(1);
    view.destroy();
  });
});

describe("the broadcast page's hand", () => {
  it("waits for the answer to a click: marked busy, and a second click sends nothing", async () => {
    FakeHls.instances = [];
    let answer: () => void = () => undefined;
    const raiseHand = vi.fn(() => new Promise<void>((resolve) => (answer = resolve)));
    const view = await BroadcastStage.open("https://cdn.example/s1/live.m3u8", { raiseHand, leave: vi.fn(), copyLink: vi.fn(), retry: vi.fn() });
    view.update({ ...SPACE, raised_hands: [] }, "l");
    const hand = () => view.el.querySelector('[data-testid="raise-hand"]') as HTMLButtonElement;
    hand().click();
    expect(hand().getAttribute("aria-busy")).toBe("true");
    expect(hand().getAttribute("aria-disabled")).toBe("true");
    hand().click(); // a slow network: the second click of an impatient listener
    expect(raiseHand).toHaveBeenCalledTimes(1);
    view.update({ ...SPACE, raised_hands: ["l"] }, "l");
    answer();
    await vi.waitFor(() => expect(hand().hasAttribute("aria-busy")).toBe(false));
    expect(hand().textContent).toContain("Lower hand");
    view.destroy();
  });
});
