import { describe, expect, it } from "vitest";

import { LIVE_HLS_CONFIG } from "./broadcast";
import {
  IN_STEP_MS,
  LinkRecovery,
  pictureFetchMs,
  RECOVERY_AFTER_MS,
  RECOVERY_HELD_MS,
  RECOVERY_MARGIN,
  RECOVERY_SAMPLES,
  type SegmentTiming,
  soundOnlyConfig,
  stepSeconds,
} from "./sound_only";

describe("stepSeconds", () => {
  it("is the distance to the other player's moment, or nothing when in step or unknown", () => {
    expect(stepSeconds(1000, 3000)).toBe(2);
    expect(stepSeconds(3000, 1000)).toBe(-2);
    expect(stepSeconds(1000, 1000 + IN_STEP_MS)).toBe(0);
    expect(stepSeconds(1000, 1000 + IN_STEP_MS + 1)).toBeCloseTo((IN_STEP_MS + 1) / 1000);
    expect(stepSeconds(null, 1000)).toBe(0);
    expect(stepSeconds(1000, null)).toBe(0);
  });
});

describe("soundOnlyConfig", () => {
  it("starts the sound alone as far behind as the video, with room before hls.js pulls it to the edge", () => {
    expect(soundOnlyConfig(LIVE_HLS_CONFIG, 2.5)).toMatchObject({ liveSyncDuration: 2.5, liveMaxLatencyDuration: 6.5 });
    // Never closer than the page's hold-back, never further than the video can be.
    expect(soundOnlyConfig(LIVE_HLS_CONFIG, 0.2).liveSyncDuration).toBe(LIVE_HLS_CONFIG.liveSyncDuration);
    expect(soundOnlyConfig(LIVE_HLS_CONFIG, 30).liveSyncDuration).toBe(LIVE_HLS_CONFIG.liveMaxLatencyDuration);
    expect(soundOnlyConfig(LIVE_HLS_CONFIG, null).liveSyncDuration).toBe(LIVE_HLS_CONFIG.liveSyncDuration);
    expect(soundOnlyConfig(LIVE_HLS_CONFIG, 2.5).maxLiveSyncPlaybackRate).toBe(LIVE_HLS_CONFIG.maxLiveSyncPlaybackRate);
  });
});

describe("pictureFetchMs", () => {
  it("is the segment's first byte plus the picture's bytes at the rate the rest of the segment came", () => {
    // 10 kB whose bytes after the first took 320 ms: 250 kb/s; a 1 s picture segment at 800 kb/s.
    expect(pictureFetchMs({ bytes: 10_000, firstByteMs: 40, restMs: 320, durationS: 1 }, 800)).toBeCloseTo(40 + 3200);
    // A fast link far away: the bytes come at once, the round trip is what counts.
    expect(pictureFetchMs({ bytes: 10_000, firstByteMs: 150, restMs: 0, durationS: 1 }, 800)).toBeCloseTo(150 + 10);
  });
});

describe("LinkRecovery", () => {
  const PICTURE_KBPS = 800;
  /** A 1 s segment of 10 kB after `firstByteMs`, its bytes at `kbps`. */
  const segment = (kbps: number, firstByteMs = 20): SegmentTiming => ({
    bytes: 10_000,
    firstByteMs,
    restMs: (10_000 * 8) / kbps,
    durationS: 1,
  });
  /** The slowest rate at which a segment still says the picture would come in time (with a 20 ms first byte). */
  const enough = Math.ceil((PICTURE_KBPS * 1000) / (1000 / RECOVERY_MARGIN - 20));
  const feed = (recovery: LinkRecovery, n: number, s: SegmentTiming = segment(enough)) => {
    for (let i = 0; i < n; i++) recovery.downloaded(s);
  };

  it("gives the picture back after RECOVERY_SAMPLES segments in a row that say so, not before its first wait", () => {
    const recovery = new LinkRecovery();
    feed(recovery, RECOVERY_SAMPLES);
    expect(recovery.recovered(1e9, PICTURE_KBPS)).toBe(false); // the sound is not heard for the link
    recovery.switched(0);
    feed(recovery, RECOVERY_SAMPLES - 1);
    expect(recovery.recovered(RECOVERY_AFTER_MS[0], PICTURE_KBPS)).toBe(false); // one segment short
    feed(recovery, 1);
    expect(recovery.recovered(RECOVERY_AFTER_MS[0] - 1, PICTURE_KBPS)).toBe(false); // too soon
    expect(recovery.recovered(RECOVERY_AFTER_MS[0], PICTURE_KBPS)).toBe(true);
    expect(recovery.recovered(RECOVERY_AFTER_MS[0], PICTURE_KBPS * 1.1)).toBe(false); // a bigger picture
  });

  it("takes a fast link with a long round trip, and not a thin one with a short round trip", () => {
    const recovery = new LinkRecovery();
    recovery.switched(0);
    feed(recovery, RECOVERY_SAMPLES, segment(5_000, 150)); // 5 Mb/s, 150 ms to the first byte
    expect(recovery.recovered(RECOVERY_AFTER_MS[0], PICTURE_KBPS)).toBe(true);
    feed(recovery, RECOVERY_SAMPLES, segment(250, 5)); // 250 kb/s next door
    expect(recovery.recovered(RECOVERY_AFTER_MS[0], PICTURE_KBPS)).toBe(false);
    feed(recovery, RECOVERY_SAMPLES, segment(50_000, 700)); // the first byte alone is too late
    expect(recovery.recovered(RECOVERY_AFTER_MS[0], PICTURE_KBPS)).toBe(false);
  });

  it("wants the run unbroken: a slow segment, or one that failed, starts it again", () => {
    const recovery = new LinkRecovery();
    recovery.switched(0);
    feed(recovery, 2);
    recovery.downloaded(segment(enough - 50));
    feed(recovery, RECOVERY_SAMPLES - 1);
    expect(recovery.recovered(RECOVERY_AFTER_MS[0], PICTURE_KBPS)).toBe(false); // still among the latest
    feed(recovery, 1);
    expect(recovery.recovered(RECOVERY_AFTER_MS[0], PICTURE_KBPS)).toBe(true);
    recovery.downloaded(null); // a segment that did not come
    feed(recovery, RECOVERY_SAMPLES - 1);
    expect(recovery.recovered(RECOVERY_AFTER_MS[0], PICTURE_KBPS)).toBe(false);
  });

  it("ignores segments with nothing to go by: from the cache, empty, or without a duration", () => {
    const recovery = new LinkRecovery();
    recovery.switched(0);
    feed(recovery, RECOVERY_SAMPLES - 1);
    recovery.downloaded({ bytes: 10_000, firstByteMs: 0.2, restMs: 0.3, durationS: 1 });
    recovery.downloaded({ ...segment(enough), bytes: 0 });
    recovery.downloaded({ ...segment(enough), durationS: Number.NaN });
    expect(recovery.recovered(RECOVERY_AFTER_MS[0], PICTURE_KBPS)).toBe(false);
    expect(recovery.recovered(RECOVERY_AFTER_MS[0], 0)).toBe(false);
  });

  it("waits longer after each return that did not hold, and afresh after one that held RECOVERY_HELD_MS", () => {
    const recovery = new LinkRecovery();
    let now = 0;
    const waitsFor = (): number => {
      feed(recovery, RECOVERY_SAMPLES);
      let waited = 0;
      while (!recovery.recovered(now + waited, PICTURE_KBPS)) waited += 1000;
      return waited;
    };
    recovery.switched(now);
    expect(waitsFor()).toBe(RECOVERY_AFTER_MS[0]);
    now += RECOVERY_AFTER_MS[0];
    recovery.returned(now);
    now += 60_000; // the picture failed a minute later
    recovery.switched(now);
    expect(waitsFor()).toBe(RECOVERY_AFTER_MS[1]);
    now += RECOVERY_AFTER_MS[1];
    recovery.notReturned(now); // the picture asked for did not play
    expect(waitsFor()).toBe(RECOVERY_AFTER_MS[2]);
    for (const wait of [RECOVERY_AFTER_MS[2], RECOVERY_AFTER_MS[3]]) {
      now += wait;
      recovery.returned(now);
      now += RECOVERY_HELD_MS - 1; // it held, not quite long enough
      recovery.switched(now);
    }
    expect(waitsFor()).toBe(RECOVERY_AFTER_MS[3]); // at most every half hour, however often
    now += RECOVERY_AFTER_MS[3];
    recovery.returned(now);
    now += RECOVERY_HELD_MS; // this one held
    recovery.switched(now);
    expect(waitsFor()).toBe(RECOVERY_AFTER_MS[0]);
    recovery.returned(now + 1);
    expect(recovery.recovered(now + 1e9, PICTURE_KBPS)).toBe(false); // the picture is back
  });
});
