// @vitest-environment happy-dom
import { afterEach, describe, expect, it, vi } from "vitest";

import { FakeHls } from "./fake_hls";
import { BroadcastPlayer } from "./hls_player";

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
      hls.levels = [{}]; // the playlist had loaded
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
