// @vitest-environment happy-dom
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { FakeHls } from "./fake_hls";
import { BroadcastPlayer, positionOf } from "./hls_player";
import {
  HANDOVER_PATIENCE_MS,
  RECOVERY_AFTER_MS,
  RECOVERY_MARGIN,
  RECOVERY_SAMPLES,
  SOUND_ONLY_AFTER_MS,
  THIN_LINK_REST_MS,
  THIN_LINK_STALL_MS,
} from "./sound_only";

vi.mock("hls.js/light", async () => ({ default: (await import("./fake_hls")).FakeHls }));

const URL = "https://cdn.example/s1/live.m3u8";

afterEach(() => {
  FakeHls.instances = [];
});

async function livePlayer(): Promise<{ player: BroadcastPlayer; hls: FakeHls; plays: string[] }> {
  const player = await BroadcastPlayer.open(URL, { live: true });
  const hls = FakeHls.instances[0];
  // What the player asked of the element, in order with hls.js's calls.
  const plays = hls.calls;
  const play = player.video.play.bind(player.video);
  vi.spyOn(player.video, "play").mockImplementation(() => {
    plays.push("play");
    return play();
  });
  return { player, hls, plays };
}

/** Every file answers 200 (fetch stubbed); the URLs asked, in order. */
function everythingThere(): string[] {
  const asked: string[] = [];
  vi.stubGlobal(
    "fetch",
    vi.fn(async (u: string) => {
      asked.push(u);
      return new Response(null, { status: 200 });
    }),
  );
  return asked;
}

const mediaError = { fatal: true, type: FakeHls.ErrorTypes.MEDIA_ERROR, details: "bufferAppendError" };

describe("BroadcastPlayer on hls.js", () => {
  it("starts playing again after recovering from a media error", async () => {
    const { player, hls, plays } = await livePlayer();
    hls.fire(FakeHls.Events.ERROR, mediaError);
    expect(plays.slice(plays.indexOf("recoverMediaError"))).toEqual(["recoverMediaError", "play"]);
    await vi.waitFor(() => expect(player.state).toBe("playing"));
    player.destroy();
  });

  it("swaps the audio codec on the second media error in a row, and gives up on the third", async () => {
    const { player, hls } = await livePlayer();
    for (let i = 0; i < 3; i++) hls.fire(FakeHls.Events.ERROR, mediaError);
    expect(hls.calls.filter((c) => c === "recoverMediaError")).toHaveLength(2);
    expect(hls.calls.filter((c) => c === "swapAudioCodec")).toHaveLength(1);
    expect(player.state).toBe("failed");
    player.destroy();
  });

  it("resumes a paused live broadcast at the live edge", async () => {
    const { player, hls } = await livePlayer();
    await player.play();
    player.video.pause();
    expect(player.state).toBe("paused");
    hls.liveSyncPosition = 42;
    await player.resumeLive();
    expect(player.video.currentTime).toBe(42);
    expect(player.state).toBe("playing");
    player.destroy();
  });

  it("stays paused, with its way back to live, through a network error", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      const { player, hls } = await livePlayer();
      hls.levels = [{ url: [URL] }]; // the playlist had loaded
      await player.play();
      player.video.pause();
      hls.fire(FakeHls.Events.ERROR, { fatal: true, type: FakeHls.ErrorTypes.NETWORK_ERROR, details: "levelLoadError" });
      vi.advanceTimersByTime(5000); // the player's retry has run
      expect(hls.calls).toContain("startLoad");
      expect(player.state).toBe("paused");
      await player.resumeLive();
      expect(player.state).toBe("playing");
      player.destroy();
    } finally {
      vi.useRealTimers();
    }
  });
});

describe("BroadcastPlayer and the Space's renditions", () => {
  afterEach(() => {
    vi.restoreAllMocks();
    vi.unstubAllGlobals();
    vi.useRealTimers();
  });
  const stall = { fatal: false, type: FakeHls.ErrorTypes.MEDIA_ERROR, details: FakeHls.ErrorDetails.BUFFER_STALLED_ERROR };
  const VARIANTS = URL.replace("/live.m3u8", "/live-variants.m3u8");

  it("looks again for the renditions when it stalls on a single window, at most every 30 s", async () => {
    const { player, hls } = await livePlayer(); // offline at its start: the window it was given
    expect(hls.url).toBe(URL);
    const heads = everythingThere();
    player.video.dispatchEvent(new Event("playing"));
    hls.fire(FakeHls.Events.ERROR, stall); // it plays again by the time the look comes back
    await vi.waitFor(() => expect(heads.length).toBeGreaterThan(0));
    await Promise.resolve();
    expect(hls.url).toBe(URL);
    vi.spyOn(Date, "now").mockReturnValue(Date.now() + 31_000);
    player.video.dispatchEvent(new Event("waiting")); // a stall
    hls.fire(FakeHls.Events.ERROR, stall);
    await vi.waitFor(() => expect(hls.url).toBe(VARIANTS));
    const looks = heads.length;
    hls.url = URL; // as if it were on the window again
    hls.fire(FakeHls.Events.ERROR, stall);
    await Promise.resolve();
    expect(heads.length).toBe(looks); // not again within VARIANTS_LOOK_MS
    player.destroy();
  });

  it("steps down on a stall and drops a window that stopped while the other goes on", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const { player, hls } = await livePlayer();
    hls.url = VARIANTS;
    hls.levels = [{ url: [URL.replace("/live.m3u8", "/live-lo.m3u8")] }, { url: [URL] }];
    hls.loadLevel = 1;
    hls.fire(FakeHls.Events.ERROR, stall); // nothing downloading: not the link's
    expect(hls.nextAutoLevel).toBe(-1);
    hls.fire(FakeHls.Events.FRAG_LOADING, { frag: { type: "main" } });
    hls.fire(FakeHls.Events.ERROR, stall);
    expect(hls.nextAutoLevel).toBe(0);
    const main = "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:30\n#EXTINF:1,\na.hi.ts\n";
    vi.stubGlobal("fetch", vi.fn(async () => new Response(main, { status: 200 })));
    for (let s = 0; s <= 11; s++) {
      hls.fire(FakeHls.Events.LEVEL_LOADED, { level: 0, details: { endSN: 20 } });
      vi.advanceTimersByTime(1000);
    }
    await vi.waitFor(() => expect(hls.calls).toContain("removeLevel 0"));
    player.destroy();
  });
});

describe("BroadcastPlayer in a hidden page", () => {
  const visibility = (state: "hidden" | "visible") => {
    Object.defineProperty(document, "visibilityState", { value: state, configurable: true });
    document.dispatchEvent(new Event("visibilitychange"));
  };

  afterEach(() => visibility("visible"));

  it("keeps to the lowest rendition while hidden, from its first load on, and climbs again when shown", async () => {
    FakeHls.instances = [];
    const player = await BroadcastPlayer.open(URL, { live: true });
    const hls = FakeHls.instances[0];
    visibility("hidden");
    expect(hls.autoLevelCapping).toBe(0);
    hls.autoLevelCapping = -1; // what hls.js does at a load
    hls.fire(FakeHls.Events.MANIFEST_PARSED);
    expect(hls.autoLevelCapping).toBe(0);
    visibility("visible");
    expect(hls.autoLevelCapping).toBe(-1);
    player.destroy();
    visibility("hidden");
    expect(hls.autoLevelCapping).toBe(-1); // a destroyed player listens no more
  });
});

describe("BroadcastPlayer in a page that is only heard", () => {
  const VARIANTS = URL.replace("/live.m3u8", "/live-variants.m3u8");
  const SOUND = URL.replace("/live.m3u8", "/live-audio.m3u8");
  const T = Date.UTC(2026, 11, 7, 12);
  const visibility = (state: "hidden" | "visible") => {
    Object.defineProperty(document, "visibilityState", { value: state, configurable: true });
    document.dispatchEvent(new Event("visibilitychange"));
  };
  const variantsText = (withSound: boolean) =>
    [
      "#EXTM3U",
      '#EXT-X-STREAM-INF:BANDWIDTH=796800,CODECS="avc1.64001e,mp4a.40.2",RESOLUTION=640x360',
      "live-lo.m3u8",
      ...(withSound ? ['#EXT-X-STREAM-INF:BANDWIDTH=89600,AVERAGE-BANDWIDTH=89600,CODECS="mp4a.40.2"', "live-audio.m3u8"] : []),
    ].join("\n");

  /** A live player on the variants (every HEAD answers), playing at T; the variants say `withSound`. */
  async function playing(withSound = true): Promise<{ player: BroadcastPlayer; hls: FakeHls }> {
    vi.stubGlobal(
      "fetch",
      vi.fn(async (_url: string, init?: RequestInit) =>
        init?.method === "HEAD" ? new Response(null, { status: 200 }) : new Response(variantsText(withSound), { status: 200 }),
      ),
    );
    const player = await BroadcastPlayer.open(URL, { live: true });
    const hls = FakeHls.instances[0];
    expect(hls.url).toBe(VARIANTS);
    hls.playingDate = new Date(T);
    player.video.dispatchEvent(new Event("playing"));
    expect(player.state).toBe("playing");
    return { player, hls };
  }

  /** Hidden for SOUND_ONLY_AFTER_MS: the sound-only hls.js, once it asked for its playlist. */
  async function hiddenLongEnough(): Promise<FakeHls | undefined> {
    visibility("hidden");
    await vi.advanceTimersByTimeAsync(SOUND_ONLY_AFTER_MS - 1);
    expect(FakeHls.instances).toHaveLength(1); // a glance at another tab keeps the video
    await vi.advanceTimersByTimeAsync(1);
    for (let i = 0; i < 5; i++) await Promise.resolve();
    return FakeHls.instances[1];
  }

  beforeEach(() => {
    FakeHls.instances = [];
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
  });
  afterEach(() => {
    visibility("visible");
    vi.restoreAllMocks();
    vi.unstubAllGlobals();
    vi.useRealTimers();
  });

  it("plays the sound alone in step once hidden long enough, stops the video, and hands it back when shown", async () => {
    const { player, hls } = await playing();
    hls.latency = 2.5; // the video's hold-back: the sound alone starts as far behind
    const sound = await hiddenLongEnough();
    expect(sound?.url).toBe(SOUND);
    expect(sound?.config).toMatchObject({ liveSyncDuration: 2.5, liveMaxLatencyDuration: 6.5 });
    const audio = player.soundAudio!;
    expect(audio.muted).toBe(true); // warming up: the video is still heard
    sound!.playingDate = new Date(T - 400); // 0.4 s behind the picture
    audio.currentTime = 10;
    audio.dispatchEvent(new Event("playing"));
    expect(audio.currentTime).toBeCloseTo(10.4); // stepped to the picture's moment
    audio.dispatchEvent(new Event("playing")); // that seek's own "playing": not a second step
    expect(audio.currentTime).toBeCloseTo(10.4);
    sound!.playingDate = new Date(T - 200); // the step landed short (the end of what is buffered)
    audio.dispatchEvent(new Event("seeked"));
    expect(audio.currentTime).toBeCloseTo(10.6); // so it steps again
    expect(player.soundOnly).toBe(false);
    sound!.playingDate = new Date(T);
    audio.dispatchEvent(new Event("seeked"));
    expect(player.soundOnly).toBe(true);
    expect(audio.muted).toBe(false);
    expect(player.video.muted).toBe(true);
    expect(hls.calls.at(-1)).toBe("stopLoad");
    player.video.dispatchEvent(new Event("pause")); // the stopped video is no pause
    expect(player.state).toBe("playing");
    sound!.playingDate = new Date(T + 60_000);
    expect(player.playingDateMs()).toBe(T + 60_000);

    const plays = vi.spyOn(player.video, "play").mockResolvedValue(undefined); // events come below
    visibility("visible");
    expect(hls.calls.at(-1)).toBe("startLoad");
    expect(player.soundOnly).toBe(true); // heard until the video plays in step
    // hls.js resumes where the video stopped; once its playlist is fresh, the video is put at the
    // sound's moment (through the fragments' dates) and played.
    expect(plays).not.toHaveBeenCalled();
    const behind = [{ start: 98, duration: 1, programDateTime: T + 58_000 }];
    sound!.playingDate = new Date(T + 60_300);
    hls.fire(FakeHls.Events.LEVEL_UPDATED, { details: { fragments: behind } }); // not there yet
    expect(plays).not.toHaveBeenCalled();
    const fragments = [...behind, { start: 99, duration: 1, programDateTime: T + 59_000 }, { start: 100, duration: 1, programDateTime: T + 60_000 }];
    hls.fire(FakeHls.Events.LEVEL_UPDATED, { details: { fragments } });
    expect(player.video.currentTime).toBeCloseTo(100.3);
    expect(plays).toHaveBeenCalledTimes(1);
    hls.fire(FakeHls.Events.LEVEL_UPDATED, { details: { fragments } }); // done with reloads
    expect(plays).toHaveBeenCalledTimes(1);
    hls.playingDate = new Date(T + 60_300 - 2000); // it plays 2 s short of the sound
    player.video.dispatchEvent(new Event("playing"));
    expect(player.video.currentTime).toBeCloseTo(102.3);
    player.video.dispatchEvent(new Event("playing")); // the step's own "playing" is not a second step
    expect(player.video.currentTime).toBeCloseTo(102.3);
    expect(player.soundOnly).toBe(true);
    hls.playingDate = new Date(T + 60_300);
    player.video.dispatchEvent(new Event("seeked"));
    expect(player.soundOnly).toBe(false);
    expect(player.handoverGapsMs).toEqual([0, 0]); // both handovers in step
    expect(player.video.muted).toBe(false);
    expect(sound!.calls).toContain("destroy");
    player.destroy();
  });

  it("keeps the person's mute across both handovers", async () => {
    const { player } = await playing();
    await player.setMuted(true);
    const sound = await hiddenLongEnough();
    const audio = player.soundAudio!;
    sound!.playingDate = new Date(T);
    audio.dispatchEvent(new Event("playing"));
    expect(player.soundOnly).toBe(true);
    expect(audio.muted).toBe(true);
    await player.setMuted(false); // a click on a locked phone's controls
    expect(audio.muted).toBe(false);
    expect(player.video.muted).toBe(true);
    visibility("visible");
    await vi.advanceTimersByTimeAsync(HANDOVER_PATIENCE_MS); // no fresh playlist, the video never played: taken back anyway
    expect(player.soundOnly).toBe(false);
    expect(player.video.muted).toBe(false);
    player.destroy();
  });

  it("follows a pause from the lock screen, and the video takes over paused when shown", async () => {
    const { player, hls } = await playing();
    const sound = await hiddenLongEnough();
    const audio = player.soundAudio!;
    sound!.playingDate = new Date(T);
    audio.dispatchEvent(new Event("playing"));
    expect(player.soundOnly).toBe(true);
    audio.dispatchEvent(new Event("pause"));
    expect(player.state).toBe("paused");
    audio.dispatchEvent(new Event("playing"));
    expect(player.state).toBe("playing");
    audio.dispatchEvent(new Event("pause"));
    const plays = vi.spyOn(player.video, "play");
    visibility("visible");
    expect(player.soundOnly).toBe(false);
    expect(plays).not.toHaveBeenCalled();
    expect(player.state).toBe("paused");
    expect(hls.calls.at(-1)).toBe("startLoad"); // "Resume live" finds it loading
    player.destroy();
  });

  it("keeps the video paused when the person pauses while it comes back", async () => {
    const { player, hls } = await playing();
    const sound = await hiddenLongEnough();
    const audio = player.soundAudio!;
    sound!.playingDate = new Date(T);
    audio.dispatchEvent(new Event("playing"));
    const plays = vi.spyOn(player.video, "play").mockResolvedValue(undefined);
    const pauses = vi.spyOn(player.video, "pause");
    visibility("visible");
    audio.dispatchEvent(new Event("pause")); // the media keys, during the hand-back
    hls.fire(FakeHls.Events.LEVEL_UPDATED, { details: { fragments: [{ start: 0, duration: 1, programDateTime: T }] } });
    expect(plays).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(HANDOVER_PATIENCE_MS);
    expect(player.soundOnly).toBe(false);
    expect(player.state).toBe("paused");
    expect(pauses).toHaveBeenCalled();
    player.destroy();
  });

  it("goes back to the video when the sound alone fails, and does not try again until shown", async () => {
    const { player, hls } = await playing();
    const sound = await hiddenLongEnough();
    sound!.fire(FakeHls.Events.ERROR, { fatal: true, type: FakeHls.ErrorTypes.NETWORK_ERROR, details: "manifestLoadError" });
    expect(sound!.calls).toContain("destroy");
    expect(player.soundOnly).toBe(false);
    expect(hls.calls).not.toContain("stopLoad");
    player.video.dispatchEvent(new Event("playing"));
    await vi.advanceTimersByTimeAsync(2 * SOUND_ONLY_AFTER_MS);
    expect(FakeHls.instances).toHaveLength(2);
    player.destroy();
  });

  it("gives the sound alone up when it does not start within its patience", async () => {
    const { player } = await playing();
    const sound = await hiddenLongEnough();
    await vi.advanceTimersByTimeAsync(HANDOVER_PATIENCE_MS);
    expect(sound!.calls).toContain("destroy");
    expect(player.soundOnly).toBe(false);
    player.destroy();
  });

  describe("on a link too thin for the lowest picture", () => {
    const stall = { fatal: false, type: FakeHls.ErrorTypes.MEDIA_ERROR, details: FakeHls.ErrorDetails.BUFFER_STALLED_ERROR };
    const flush = async () => {
      for (let i = 0; i < 5; i++) await Promise.resolve();
    };
    /** The picture runs dry at the lowest rendition while its next segment downloads. */
    function stalls(player: BroadcastPlayer, hls: FakeHls): void {
      hls.fire(FakeHls.Events.FRAG_LOADING, { frag: { type: "main" } });
      player.video.dispatchEvent(new Event("waiting"));
      hls.fire(FakeHls.Events.ERROR, stall);
    }

    it("plays the sound alone after two stalls, keeps it when the page is shown, and gives the picture back when asked", async () => {
      const { player, hls } = await playing();
      hls.loadLevel = 0; // already on the lowest picture
      stalls(player, hls);
      await flush();
      expect(FakeHls.instances).toHaveLength(1); // one stall: not yet
      player.video.dispatchEvent(new Event("playing"));
      stalls(player, hls);
      await flush();
      const sound = FakeHls.instances[1];
      expect(sound?.url).toBe(SOUND);
      expect(player.soundReason).toBe("link");
      const audio = player.soundAudio!;
      sound.playingDate = new Date(T);
      audio.dispatchEvent(new Event("playing"));
      expect(player.soundOnly).toBe(true);
      expect(player.state).toBe("playing"); // heard, though the picture stalled
      expect(hls.calls.at(-1)).toBe("stopLoad");
      expect(audio.muted).toBe(false);

      visibility("hidden");
      visibility("visible"); // shown again: the link is no better for it
      expect(player.soundOnly).toBe(true);
      expect(hls.calls.at(-1)).toBe("stopLoad");

      const plays = vi.spyOn(player.video, "play").mockResolvedValue(undefined);
      sound.playingDate = new Date(T + 30_000);
      player.showPicture();
      expect(hls.calls.at(-1)).toBe("startLoad");
      hls.fire(FakeHls.Events.LEVEL_UPDATED, { details: { fragments: [{ start: 50, duration: 1, programDateTime: T + 30_000 }] } });
      expect(player.video.currentTime).toBeCloseTo(50);
      expect(plays).toHaveBeenCalledTimes(1);
      hls.playingDate = new Date(T + 30_000);
      player.video.dispatchEvent(new Event("playing"));
      expect(player.soundOnly).toBe(false);
      expect(player.soundReason).toBeNull();
      expect(sound.calls).toContain("destroy");

      // Counted afresh: one stall more is not enough.
      player.video.dispatchEvent(new Event("playing"));
      stalls(player, hls);
      await flush();
      expect(FakeHls.instances).toHaveLength(2);
      player.destroy();
    });

    it("plays the sound alone when a wait with a segment downloading lasts long enough, at any rendition", async () => {
      const { player, hls } = await playing();
      hls.loadLevel = 1; // the big picture, abandoning segments at the live edge one after another
      player.video.dispatchEvent(new Event("waiting")); // nothing downloading: a late segment
      await vi.advanceTimersByTimeAsync(2 * THIN_LINK_STALL_MS);
      expect(FakeHls.instances).toHaveLength(1);
      hls.fire(FakeHls.Events.FRAG_LOADING, { frag: { type: "main" } }); // it comes, and crawls
      await vi.advanceTimersByTimeAsync(THIN_LINK_STALL_MS);
      await flush();
      expect(FakeHls.instances[1]?.url).toBe(SOUND);
      expect(player.soundReason).toBe("link");
      player.destroy();
    });

    it("keeps the picture through a wait shorter than that, and in a replay", async () => {
      const { player, hls } = await playing();
      hls.fire(FakeHls.Events.FRAG_LOADING, { frag: { type: "main" } });
      player.video.dispatchEvent(new Event("waiting"));
      await vi.advanceTimersByTimeAsync(THIN_LINK_STALL_MS - 1);
      player.video.dispatchEvent(new Event("playing")); // it played again in time
      await vi.advanceTimersByTimeAsync(2 * THIN_LINK_STALL_MS);
      expect(FakeHls.instances).toHaveLength(1);
      player.destroy();

      FakeHls.instances = [];
      const replay = await BroadcastPlayer.open("https://cdn.example/s1/index.m3u8", { live: false });
      const vod = FakeHls.instances[0];
      replay.video.dispatchEvent(new Event("playing"));
      vod.fire(FakeHls.Events.FRAG_LOADING, { frag: { type: "main" } });
      replay.video.dispatchEvent(new Event("waiting"));
      await vi.advanceTimersByTimeAsync(2 * THIN_LINK_STALL_MS);
      expect(FakeHls.instances).toHaveLength(1); // a replay waits for its segments (docs/web.md)
      replay.destroy();
    });

    /** The link's sound alone, started by a long wait with a segment downloading. */
    async function onTheLinksSound(player: BroadcastPlayer, hls: FakeHls): Promise<FakeHls> {
      hls.fire(FakeHls.Events.FRAG_LOADING, { frag: { type: "main", level: 0, sn: 1 } });
      player.video.dispatchEvent(new Event("waiting"));
      await vi.advanceTimersByTimeAsync(THIN_LINK_STALL_MS);
      await flush();
      return FakeHls.instances.at(-1)!;
    }

    it("goes back to the picture when the link's sound cannot play, watches it, and tries again after a rest", async () => {
      const { player, hls } = await playing();
      const sound = await onTheLinksSound(player, hls);
      expect(sound.url).toBe(SOUND);
      await vi.advanceTimersByTimeAsync(HANDOVER_PATIENCE_MS); // it never starts (the link, a replacement)
      expect(sound.calls).toContain("destroy");
      expect(player.soundReason).toBeNull();
      await vi.advanceTimersByTimeAsync(THIN_LINK_REST_MS - 1);
      expect(FakeHls.instances).toHaveLength(2); // resting: the video still downloads, still waits
      await vi.advanceTimersByTimeAsync(THIN_LINK_STALL_MS + 1);
      await flush();
      expect(FakeHls.instances).toHaveLength(3); // watched all along, tried again
      expect(player.soundReason).toBe("link");
      player.destroy();
    });

    it("keeps the sound alone when the picture asked for cannot take it back (the link is still too thin)", async () => {
      const { player, hls } = await playing();
      const sound = await onTheLinksSound(player, hls);
      sound.playingDate = new Date(T);
      player.soundAudio!.dispatchEvent(new Event("playing"));
      expect(player.soundOnly).toBe(true);
      vi.spyOn(player.video, "play").mockResolvedValue(undefined);
      player.showPicture();
      expect(hls.calls.at(-1)).toBe("startLoad");
      await vi.advanceTimersByTimeAsync(HANDOVER_PATIENCE_MS); // no fresh playlist, nothing plays
      expect(player.soundOnly).toBe(true);
      expect(player.soundReason).toBe("link");
      expect(hls.calls.at(-1)).toBe("stopLoad");
      expect(sound.calls).not.toContain("destroy");
      player.showPicture(); // and it may be asked again
      expect(hls.calls.at(-1)).toBe("startLoad");
      player.destroy();
    });

    it("counts a segment's fatal error as the end of its download: a wait after it is not the link's", async () => {
      const { player, hls } = await playing();
      hls.fire(FakeHls.Events.FRAG_LOADING, { frag: { type: "main", level: 0, sn: 7 } });
      hls.fire(FakeHls.Events.ERROR, {
        fatal: true,
        type: FakeHls.ErrorTypes.NETWORK_ERROR,
        details: "fragLoadError",
        frag: { type: "main", level: 0, sn: 7 },
      });
      player.video.dispatchEvent(new Event("waiting")); // a composer replacement after it
      await vi.advanceTimersByTimeAsync(3 * THIN_LINK_STALL_MS);
      await flush();
      expect(FakeHls.instances).toHaveLength(1);
      player.destroy();
    });

    it("says when the sound alone itself waits for data", async () => {
      const { player, hls } = await playing();
      const sound = await onTheLinksSound(player, hls);
      sound.playingDate = new Date(T);
      const audio = player.soundAudio!;
      audio.dispatchEvent(new Event("playing"));
      expect(player.state).toBe("playing");
      audio.dispatchEvent(new Event("waiting"));
      expect(player.state).toBe("waiting");
      audio.dispatchEvent(new Event("playing"));
      expect(player.state).toBe("playing");
      player.destroy();
    });

    it("resumes the sound alone at its live edge after a pause", async () => {
      const { player, hls } = await playing();
      hls.loadLevel = 0;
      for (let i = 0; i < 2; i++) stalls(player, hls);
      await flush();
      const sound = FakeHls.instances[1];
      const audio = player.soundAudio!;
      sound.playingDate = new Date(T);
      audio.dispatchEvent(new Event("playing"));
      audio.dispatchEvent(new Event("pause")); // the media keys
      expect(player.state).toBe("paused");
      sound.liveSyncPosition = 77;
      const plays = vi.spyOn(audio, "play").mockResolvedValue(undefined);
      const videoPlays = vi.spyOn(player.video, "play");
      await player.resumeLive();
      expect(audio.currentTime).toBe(77);
      expect(plays).toHaveBeenCalled();
      expect(videoPlays).not.toHaveBeenCalled();
      player.destroy();
    });

    describe("once the link carries the picture again", () => {
      const LOW_BPS = 796_800; // the lowest picture's BANDWIDTH
      /** One of the sound's segments: 1 s, 10 kB, its first byte after `firstByteMs`, the rest at `kbps`. */
      const segment = (sound: FakeHls, kbps: number, firstByteMs = 20) =>
        sound.fire(FakeHls.Events.FRAG_LOADED, {
          frag: {
            type: "main",
            duration: 1,
            stats: { loaded: 10_000, loading: { start: 100, first: 100 + firstByteMs, end: 100 + firstByteMs + (10_000 * 8) / kbps } },
          },
        });
      /** The slowest rate that still says the picture would come in time (a 20 ms first byte). */
      const fast = Math.ceil(LOW_BPS / (1000 / RECOVERY_MARGIN - 20));
      const backOnSound = async (player: BroadcastPlayer, hls: FakeHls): Promise<FakeHls> => {
        hls.levels = [{ bitrate: LOW_BPS }, { bitrate: 2_900_000 }];
        const sound = await onTheLinksSound(player, hls);
        sound.playingDate = new Date(T);
        player.soundAudio!.dispatchEvent(new Event("playing"));
        expect(player.soundOnly).toBe(true);
        vi.spyOn(player.video, "play").mockResolvedValue(undefined);
        return sound;
      };
      const pictureAsked = (hls: FakeHls) => hls.calls.at(-1) === "startLoad";

      it("gives the picture back by itself, after RECOVERY_AFTER_MS and RECOVERY_SAMPLES fast segments", async () => {
        const { player, hls } = await playing();
        const sound = await backOnSound(player, hls);
        for (let i = 0; i < RECOVERY_SAMPLES; i++) segment(sound, fast);
        expect(pictureAsked(hls)).toBe(false); // not before its first wait
        await vi.advanceTimersByTimeAsync(RECOVERY_AFTER_MS[0]);
        segment(sound, fast - 2); // a slow one among the latest
        for (let i = 0; i < RECOVERY_SAMPLES - 1; i++) segment(sound, fast);
        expect(pictureAsked(hls)).toBe(false);
        segment(sound, fast);
        expect(pictureAsked(hls)).toBe(true);
        expect(player.pictureAskedBy).toBe("link");
        // It takes the sound back as at a click.
        hls.fire(FakeHls.Events.LEVEL_UPDATED, { details: { fragments: [{ start: 50, duration: 1, programDateTime: T }] } });
        hls.playingDate = new Date(T);
        player.video.dispatchEvent(new Event("playing"));
        expect(player.soundOnly).toBe(false);
        expect(sound.calls).toContain("destroy");
        player.destroy();
      });

      it("gives it back on a fast link with a long round trip, and not on a thin one next door", async () => {
        const { player, hls } = await playing();
        const sound = await backOnSound(player, hls);
        await vi.advanceTimersByTimeAsync(RECOVERY_AFTER_MS[0]);
        for (let i = 0; i < 2 * RECOVERY_SAMPLES; i++) segment(sound, 250, 5);
        expect(pictureAsked(hls)).toBe(false);
        for (let i = 0; i < RECOVERY_SAMPLES; i++) segment(sound, 20_000, 150);
        expect(pictureAsked(hls)).toBe(true);
        player.destroy();
      });

      it("leaves a return the person asked for as theirs, and a fatal error of the picture's meanwhile does not stop the sound's state", async () => {
        const { player, hls } = await playing();
        const sound = await backOnSound(player, hls);
        await vi.advanceTimersByTimeAsync(RECOVERY_AFTER_MS[0]);
        player.showPicture();
        expect(player.pictureAskedBy).toBe("person");
        for (let i = 0; i < RECOVERY_SAMPLES; i++) segment(sound, fast);
        expect(player.pictureAskedBy).toBe("person"); // already on its way back
        hls.fire(FakeHls.Events.ERROR, { fatal: true, type: FakeHls.ErrorTypes.NETWORK_ERROR, details: "levelLoadError" });
        expect(player.state).toBe("playing"); // the sound is still what is heard
        player.destroy();
      });

      it("keeps the sound while the page is hidden or the segments are slow, and tries later after a return that fails", async () => {
        const { player, hls } = await playing();
        const sound = await backOnSound(player, hls);
        await vi.advanceTimersByTimeAsync(RECOVERY_AFTER_MS[0]);
        for (let i = 0; i < 2 * RECOVERY_SAMPLES; i++) segment(sound, fast / 2); // still thin
        expect(pictureAsked(hls)).toBe(false);
        visibility("hidden");
        for (let i = 0; i < RECOVERY_SAMPLES; i++) segment(sound, fast);
        expect(pictureAsked(hls)).toBe(false);
        visibility("visible");
        segment(sound, fast);
        expect(pictureAsked(hls)).toBe(true);

        // The picture does not play: the sound stays, and the next try waits RECOVERY_AFTER_MS[1].
        await vi.advanceTimersByTimeAsync(HANDOVER_PATIENCE_MS);
        expect(player.soundOnly).toBe(true);
        expect(hls.calls.at(-1)).toBe("stopLoad");
        for (let i = 0; i < RECOVERY_SAMPLES; i++) segment(sound, fast);
        await vi.advanceTimersByTimeAsync(RECOVERY_AFTER_MS[1] - 1000);
        segment(sound, fast);
        expect(pictureAsked(hls)).toBe(false); // too soon
        sound.fire(FakeHls.Events.ERROR, { fatal: false, type: FakeHls.ErrorTypes.NETWORK_ERROR, details: "fragLoadError", frag: {} });
        await vi.advanceTimersByTimeAsync(1000);
        for (let i = 0; i < RECOVERY_SAMPLES - 1; i++) segment(sound, fast);
        expect(pictureAsked(hls)).toBe(false); // the segment that failed broke the run
        segment(sound, fast);
        expect(pictureAsked(hls)).toBe(true);
        player.destroy();
      });

      it("never leaves a hidden page's sound by itself (its picture is not seen)", async () => {
        const { player, hls } = await playing();
        hls.levels = [{ bitrate: LOW_BPS }];
        const sound = await hiddenLongEnough();
        sound!.playingDate = new Date(T);
        player.soundAudio!.dispatchEvent(new Event("playing"));
        expect(player.soundReason).toBe("hidden");
        await vi.advanceTimersByTimeAsync(RECOVERY_AFTER_MS[0]);
        for (let i = 0; i < RECOVERY_SAMPLES; i++) segment(sound!, fast);
        expect(pictureAsked(hls)).toBe(false);
        expect(player.soundOnly).toBe(true);
        player.destroy();
      });
    });
  });

  describe("a replay", () => {
    const RECORDING = "https://cdn.example/s1/index.m3u8";
    const RECORDING_VARIANTS = RECORDING.replace("/index.m3u8", "/index-variants.m3u8");
    const RECORDING_SOUND = RECORDING.replace("/index.m3u8", "/index-audio.m3u8");
    const recordingVariants = [
      "#EXTM3U",
      '#EXT-X-STREAM-INF:BANDWIDTH=796800,CODECS="avc1.64001e,mp4a.40.2",RESOLUTION=640x360',
      "index-lo.m3u8",
      '#EXT-X-STREAM-INF:BANDWIDTH=89600,AVERAGE-BANDWIDTH=89600,CODECS="mp4a.40.2"',
      "index-audio.m3u8",
    ].join("\n");
    // The recording's segments: 1 s each from T.
    const fragments = Array.from({ length: 120 }, (_, n) => ({ start: n, duration: 1, programDateTime: T + n * 1000 }));

    /** A replay on the recording's variants, playing at 30 s in. */
    async function replaying(): Promise<{ player: BroadcastPlayer; hls: FakeHls }> {
      vi.stubGlobal(
        "fetch",
        vi.fn(async (_url: string, init?: RequestInit) =>
          init?.method === "HEAD" ? new Response(null, { status: 200 }) : new Response(recordingVariants, { status: 200 }),
        ),
      );
      const player = await BroadcastPlayer.open(RECORDING, { live: false });
      const hls = FakeHls.instances[0];
      expect(hls.url).toBe(RECORDING_VARIANTS);
      hls.levels = [{ details: { fragments } }];
      hls.currentLevel = 0;
      player.video.currentTime = 30;
      hls.playingDate = new Date(T + 30_000);
      player.video.dispatchEvent(new Event("playing"));
      return { player, hls };
    }

    it("plays the recording's sound alone from where the video is, and the video comes back at the sound's moment", async () => {
      const { player, hls } = await replaying();
      const sound = await hiddenLongEnough();
      expect(sound?.url).toBe(RECORDING_SOUND);
      expect(sound?.config).toMatchObject({ startPosition: 30 });
      const audio = player.soundAudio!;
      sound!.playingDate = new Date(T + 30_000);
      audio.dispatchEvent(new Event("playing"));
      expect(player.soundOnly).toBe(true);
      expect(hls.calls.at(-1)).toBe("stopLoad");

      const plays = vi.spyOn(player.video, "play").mockResolvedValue(undefined);
      sound!.playingDate = new Date(T + 75_400); // 45 s later, heard on a locked phone
      visibility("visible");
      // The video is put at the sound's moment from the playlist it has, loads from there, plays.
      expect(player.video.currentTime).toBeCloseTo(75.4);
      expect(hls.calls.at(-1)).toMatch(/^startLoad 75\.4/);
      expect(plays).toHaveBeenCalledTimes(1);
      expect(player.soundOnly).toBe(true); // heard until the video plays in step
      hls.playingDate = new Date(T + 75_400);
      player.video.dispatchEvent(new Event("playing"));
      expect(player.soundOnly).toBe(false);
      expect(player.video.muted).toBe(false);
      expect(player.handoverGapsMs).toEqual([0, 0]);
      expect(sound!.calls).toContain("destroy");
      player.destroy();
    });

    it("keeps what the person does to the replay's video while it takes the sound back", async () => {
      const { player, hls } = await replaying();
      const sound = await hiddenLongEnough();
      sound!.playingDate = new Date(T + 30_000);
      player.soundAudio!.dispatchEvent(new Event("playing"));
      expect(player.soundOnly).toBe(true);
      vi.spyOn(player.video, "play").mockResolvedValue(undefined);
      sound!.playingDate = new Date(T + 75_400);
      visibility("visible");
      player.video.currentTime = 5; // a click on the timeline, before the video played there
      hls.playingDate = new Date(T + 5_000);
      player.video.dispatchEvent(new Event("playing"));
      expect(player.soundOnly).toBe(false); // heard where the person put it, not stepped back
      expect(player.video.currentTime).toBe(5);

      // Again, and this time the person pauses it with its controls during the hand-back.
      visibility("hidden");
      await vi.advanceTimersByTimeAsync(SOUND_ONLY_AFTER_MS);
      for (let i = 0; i < 5; i++) await Promise.resolve();
      const again = FakeHls.instances.at(-1)!;
      again.playingDate = hls.playingDate;
      player.soundAudio!.dispatchEvent(new Event("playing"));
      expect(player.soundOnly).toBe(true);
      visibility("visible");
      player.video.dispatchEvent(new Event("pause"));
      expect(player.soundOnly).toBe(false);
      expect(player.state).toBe("paused");
      expect(again.calls).toContain("destroy");
      player.destroy();
    });

    it("takes the video back paused at the end when the recording ended on the sound alone", async () => {
      const { player, hls } = await replaying();
      const sound = await hiddenLongEnough();
      const audio = player.soundAudio!;
      sound!.playingDate = new Date(T + 30_000);
      audio.dispatchEvent(new Event("playing"));
      expect(player.soundOnly).toBe(true);
      sound!.playingDate = new Date(T + 119_900);
      audio.dispatchEvent(new Event("ended"));
      expect(player.state).toBe("ended");
      const plays = vi.spyOn(player.video, "play");
      visibility("visible");
      expect(player.soundOnly).toBe(false);
      expect(player.video.currentTime).toBeCloseTo(119.9);
      expect(plays).not.toHaveBeenCalled();
      expect(player.state).toBe("ended");
      expect(hls.calls.at(-1)).toMatch(/^startLoad 119\.9/);
      player.destroy();
    });
  });

  it("keeps the lowest rendition when the variants name no sound alone (a Space of an older composer)", async () => {
    const { player, hls } = await playing(false);
    expect(await hiddenLongEnough()).toBeUndefined();
    expect(hls.autoLevelCapping).toBe(0);
    player.destroy();
  });
});

describe("BroadcastPlayer on the browser's own HLS (no Media Source Extensions)", () => {
  /** A native player: hls.js unsupported, the element says it plays HLS. */
  async function nativePlayer(url = URL, live = true): Promise<BroadcastPlayer> {
    vi.spyOn(FakeHls, "isSupported").mockReturnValue(false);
    vi.spyOn(HTMLMediaElement.prototype, "canPlayType").mockReturnValue("maybe");
    // The window and the whole playlist there, no renditions (the HEAD probes of a live player).
    vi.stubGlobal(
      "fetch",
      vi.fn(async (u: string) => new Response(null, { status: u.endsWith("/live-variants.m3u8") ? 404 : 200 })),
    );
    return BroadcastPlayer.open(url, { live });
  }

  /** The element failed as a media element does when its playlist is missing or the network went. */
  function failWith(player: BroadcastPlayer, code: number): void {
    Object.defineProperty(player.video, "error", { value: { code, message: "" }, configurable: true });
    player.video.dispatchEvent(new Event("error"));
    player.video.dispatchEvent(new Event("pause")); // the element stops, as Chromium's does
  }

  afterEach(() => {
    vi.restoreAllMocks();
    vi.unstubAllGlobals();
    vi.useRealTimers();
  });

  it("waits and asks again for a playlist that is not there yet, instead of stopping for good", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const player = await nativePlayer();
    expect(player.hls).toBeNull();
    expect(player.video.src).toBe(URL);
    const loads = vi.spyOn(player.video, "load");
    failWith(player, 4); // MEDIA_ERR_SRC_NOT_SUPPORTED: what a 404 playlist gives
    expect(player.state).toBe("waiting");
    expect(player.loadProblem).toBe("no playlist");
    await vi.advanceTimersByTimeAsync(2000);
    expect(loads).toHaveBeenCalledTimes(1); // the source asked again
    expect(player.video.src).toBe(URL);
    Object.defineProperty(player.video, "error", { value: null, configurable: true });
    player.video.dispatchEvent(new Event("playing"));
    expect(player.state).toBe("playing");
    player.destroy();
  });

  it("starts a live player on the Space's renditions when it has two, and a replay on the recording's", async () => {
    vi.spyOn(FakeHls, "isSupported").mockReturnValue(false);
    vi.spyOn(HTMLMediaElement.prototype, "canPlayType").mockReturnValue("maybe");
    const heads = everythingThere();
    const live = await BroadcastPlayer.open(URL, { live: true });
    expect(live.video.src).toBe(URL.replace("/live.m3u8", "/live-variants.m3u8"));
    live.destroy();
    heads.length = 0;
    const whole = URL.replace("/live.m3u8", "/index.m3u8");
    const recording = URL.replace("/live.m3u8", "/index-variants.m3u8");
    const replay = await BroadcastPlayer.open(whole, { live: false });
    expect(replay.video.src).toBe(recording);
    expect(heads).toEqual([recording]);
    replay.destroy();
    vi.stubGlobal("fetch", vi.fn(async () => new Response(null, { status: 404 })));
    const single = await BroadcastPlayer.open(whole, { live: false }); // audio only, or one rendition
    expect(single.video.src).toBe(whole);
    single.destroy();
  });

  it("asks again when the browser is back online while it waits", async () => {
    const player = await nativePlayer();
    const loads = vi.spyOn(player.video, "load");
    player.video.dispatchEvent(new Event("playing"));
    player.video.dispatchEvent(new Event("waiting")); // the network went: the element waits for ever
    window.dispatchEvent(new Event("online"));
    await vi.waitFor(() => expect(loads).toHaveBeenCalledTimes(1));
    // Playing: a network coming back changes nothing.
    player.video.dispatchEvent(new Event("playing"));
    window.dispatchEvent(new Event("online"));
    await Promise.resolve();
    expect(loads).toHaveBeenCalledTimes(1);
    player.destroy();
  });

  it("stops when the browser refuses a playlist that is there, in a row for half a minute", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
    const player = await nativePlayer(); // every HEAD answers 200
    const start = Date.now();
    let refusals = 0;
    const state = (): string => player.state; // read afresh: the loop's awaits change it
    while (state() !== "failed" && refusals < 30) {
      failWith(player, 4);
      refusals += 1;
      await vi.waitFor(() => expect(["waiting", "failed"]).toContain(state()));
      await Promise.resolve();
      if (state() !== "failed") await vi.advanceTimersByTimeAsync(2000); // asked again
    }
    expect(player.state).toBe("failed");
    // Not after three refusals in 4 s (a live edge's segments not there yet), but once they span 30 s.
    expect(refusals).toBeGreaterThan(3);
    expect(Date.now() - start).toBeGreaterThanOrEqual(30_000);
    expect(Date.now() - start).toBeLessThan(34_000);
    expect(player.error).toContain("cannot play the broadcast's format");
    const loads = vi.spyOn(player.video, "load");
    await vi.advanceTimersByTimeAsync(10_000);
    expect(loads).not.toHaveBeenCalled(); // no more asking
    player.destroy();
  });

  it("asks no more once it has stopped, though a reload was already on its way (a slow HEAD)", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
    const player = await nativePlayer();
    // Every HEAD answers 200, 2.5 s late: the 2 s retry's reload is waiting on one when the third
    // refusal's judgement stops the player (found by a review: it went on reloading for ever).
    const slowOk = () => new Promise<Response>((done) => setTimeout(() => done(new Response(null, { status: 200 })), 2500));
    vi.stubGlobal("fetch", vi.fn(slowOk));
    const loads = vi.spyOn(player.video, "load").mockImplementation(() => queueMicrotask(() => failWith(player, 4)));
    failWith(player, 4);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(player.state).toBe("failed");
    const before = loads.mock.calls.length;
    await vi.advanceTimersByTimeAsync(60_000);
    expect(loads.mock.calls.length - before).toBe(0);
    expect(player.state).toBe("failed");
    player.destroy();
  });

  it("keeps asking while the refused playlist is missing, and counts afresh once it played", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const player = await nativePlayer();
    const answers = vi.fn(async () => new Response(null, { status: 404 }));
    vi.stubGlobal("fetch", answers);
    for (let refusal = 0; refusal < 5; refusal++) {
      failWith(player, 4);
      await vi.waitFor(() => expect(answers).toHaveBeenCalled());
      answers.mockClear();
      await vi.advanceTimersByTimeAsync(2000);
      expect(player.state).toBe("waiting");
    }
    vi.stubGlobal("fetch", vi.fn(async () => new Response(null, { status: 200 })));
    failWith(player, 4);
    failWith(player, 4);
    Object.defineProperty(player.video, "error", { value: null, configurable: true });
    player.video.dispatchEvent(new Event("playing")); // it played: earlier refusals no longer count
    for (let refusal = 0; refusal < 2; refusal++) {
      failWith(player, 4);
      await vi.advanceTimersByTimeAsync(2000);
    }
    expect(player.state).not.toBe("failed");
    player.destroy();
  });

  it("stops with the reason on a decode error", async () => {
    const player = await nativePlayer();
    failWith(player, 3); // MEDIA_ERR_DECODE
    expect(player.state).toBe("failed");
    expect(player.error).toContain("cannot be played");
    player.destroy();
  });
});

describe("positionOf", () => {
  const T = Date.UTC(2026, 11, 7, 12);
  const fragments = [
    { start: 10, duration: 1, programDateTime: T },
    { start: 11, duration: 1, programDateTime: T + 1000 },
  ];

  it("finds the media time of a date in the fragment that holds it", () => {
    expect(positionOf(fragments, T + 1250)).toBeCloseTo(11.25);
    expect(positionOf(fragments, T)).toBe(10);
  });

  it("starts at the first fragment for an older date, and says a newer one is later", () => {
    expect(positionOf(fragments, T - 5000)).toBe(10);
    expect(positionOf(fragments, T + 2000)).toBe("later");
  });

  it("knows nothing without a date or dated fragments", () => {
    expect(positionOf(fragments, null)).toBeNull();
    expect(positionOf([{ start: 0, duration: 1, programDateTime: null }], T)).toBeNull();
  });
});
