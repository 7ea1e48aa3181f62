import { describe, expect, it } from "vitest";

import { AHEAD_SEGMENTS, FROZEN_LEVEL_MS, type GuardedHls, lastSequence, RenditionGuard } from "./rendition_guard";

const LOW = "https://cdn.example/s1/live-lo.m3u8";
const MAIN = "https://cdn.example/s1/live.m3u8";

/** A live window of `count` segments from `first` on. */
function windowText(first: number, count: number): string {
  const lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:1", `#EXT-X-MEDIA-SEQUENCE:${first}`];
  for (let n = first; n < first + count; n++) lines.push("#EXTINF:1.000000,", `1000-${n}.hi.ts`);
  return lines.join("\n") + "\n";
}

class Fake implements GuardedHls {
  levels = [{ url: [LOW] }, { url: [MAIN] }];
  loadLevel = 1;
  autoLevelEnabled = true;
  nextAutoLevel = -1;
  nextLoadLevel = -1;
  removed: string[] = [];
  removeLevel(index: number): void {
    this.removed.push(this.levels[index].url[0]);
    this.levels = this.levels.filter((_, i) => i !== index);
    if (this.loadLevel === index) this.loadLevel = -1; // as hls.js leaves it
  }
}

/** A guard over `hls` whose clock the test moves, reading `texts` for the other windows. */
function guarded(texts: Record<string, string | null>) {
  const hls = new Fake();
  const clock = { t: 0 };
  const reads: string[] = [];
  const guard = new RenditionGuard(
    hls,
    async (url) => {
      reads.push(url);
      return texts[url] ?? null;
    },
    () => clock.t,
  );
  /** The low window reloaded every second for `seconds`, its last segment stuck at `endSN`. */
  const frozenFor = async (seconds: number, endSN = 20) => {
    for (let s = 0; s <= seconds; s++) {
      guard.levelLoaded(0, endSN);
      clock.t += 1000;
      await Promise.resolve();
    }
    await new Promise((r) => setTimeout(r, 0));
  };
  return { hls, guard, clock, reads, frozenFor };
}

describe("lastSequence", () => {
  it("reads the last segment's media sequence number of a window", () => {
    expect(lastSequence(windowText(30, 12))).toBe(41);
    expect(lastSequence(windowText(0, 1))).toBe(0);
    expect(lastSequence("#EXTM3U\n#EXT-X-TARGETDURATION:1\n")).toBeNull(); // no segment yet
    expect(lastSequence("<html>403</html>")).toBeNull();
    expect(lastSequence("#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:x\n#EXTINF:1,\na.ts\n")).toBeNull();
  });
});

describe("RenditionGuard", () => {
  it("drops a window that stopped while another goes on (an older composer took the Space over)", async () => {
    const { hls, reads, frozenFor } = guarded({ [MAIN]: windowText(20, 12) }); // ahead by 11
    hls.loadLevel = 0; // playing the low one
    await frozenFor(FROZEN_LEVEL_MS / 1000 - 2);
    expect(reads).toEqual([]); // not frozen long enough yet
    await frozenFor(3);
    expect(reads).toEqual([MAIN]);
    expect(hls.removed).toEqual([LOW]);
    expect(hls.levels.map((l) => l.url[0])).toEqual([MAIN]);
    expect(hls.nextLoadLevel).toBe(0); // it loads from what is left
  });

  it("drops a window that missed its end while the other one ended ahead of it", async () => {
    const { hls, frozenFor } = guarded({ [MAIN]: windowText(10, 12) + "#EXT-X-ENDLIST\n" }); // 21: one ahead
    await frozenFor(FROZEN_LEVEL_MS / 1000 + 1);
    expect(hls.removed).toEqual([LOW]);
  });

  it("keeps both while both are still (a composer replacement) or the other is not far enough ahead", async () => {
    for (const ahead of [0, AHEAD_SEGMENTS - 1]) {
      const { hls, reads, frozenFor } = guarded({ [MAIN]: windowText(9 + ahead, 12) });
      await frozenFor(FROZEN_LEVEL_MS / 1000 + 1);
      expect(reads).toEqual([MAIN]);
      expect(hls.removed).toEqual([]);
    }
    const { hls, frozenFor } = guarded({ [MAIN]: null }); // the other window cannot be read
    await frozenFor(FROZEN_LEVEL_MS / 1000 + 1);
    expect(hls.removed).toEqual([]);
  });

  it("reads the other window at most once per FROZEN_LEVEL_MS, and a window that grows starts afresh", async () => {
    const { guard, clock, reads, frozenFor } = guarded({ [MAIN]: windowText(9, 12) });
    await frozenFor(FROZEN_LEVEL_MS / 1000 + 3);
    expect(reads).toHaveLength(1);
    guard.levelLoaded(0, 21); // it moved
    clock.t += 1000;
    await frozenFor(FROZEN_LEVEL_MS / 1000 - 2, 21);
    expect(reads).toHaveLength(1);
  });

  it("never drops the last window", async () => {
    const { hls, frozenFor } = guarded({ [MAIN]: windowText(20, 12) });
    hls.levels = [{ url: [LOW] }];
    await frozenFor(FROZEN_LEVEL_MS / 1000 + 1);
    expect(hls.removed).toEqual([]);
  });

  it("steps the next load down one rendition on a stall while a segment downloads, else changes nothing", () => {
    const { hls, guard } = guarded({});
    expect(guard.stalled()).toBe(false); // nothing downloading: a composer replacement, a late segment
    expect(hls.nextAutoLevel).toBe(-1);
    guard.download("1:10", true);
    expect(guard.stalled()).toBe(false); // stepped down: not at the lowest yet
    expect(hls.nextAutoLevel).toBe(0);
    hls.nextAutoLevel = -1;
    hls.loadLevel = 0;
    expect(guard.stalled()).toBe(true); // the link's, at the lowest rendition
    expect(hls.nextAutoLevel).toBe(-1);
    guard.download("1:10", false);
    expect(guard.stalled()).toBe(false);
    guard.download("1:11", true);
    hls.loadLevel = 1;
    hls.autoLevelEnabled = false;
    guard.stalled();
    expect(hls.nextAutoLevel).toBe(-1);
  });

  it("times the downloads under way, whatever ends them, however often", () => {
    const { guard, clock } = guarded({});
    guard.download("0:5", true);
    clock.t = 1000;
    guard.download("0:6", true); // two at once count once
    clock.t = 1500;
    guard.download("0:5", false);
    guard.download("0:5", false); // an end said twice (loaded, then an error of the same segment)
    expect(guard.downloadingMs()).toBe(1500);
    clock.t = 3000;
    guard.download("0:6", false); // a fatal error ends it too
    clock.t = 9000;
    expect(guard.downloadingMs()).toBe(3000); // not busy since
    guard.download("0:7", true);
    clock.t = 9500;
    guard.forgetDownloads(); // the player stopped loading
    clock.t = 20_000;
    expect(guard.downloadingMs()).toBe(3500);
    expect(guard.stalled()).toBe(false);
  });

});
