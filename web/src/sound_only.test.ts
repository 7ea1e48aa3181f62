import { describe, expect, it } from "vitest";

import { LIVE_HLS_CONFIG } from "./broadcast";
import {
  IN_STEP_MS,
  LinkRecovery,
  RECOVERY_AFTER_MS,
  RECOVERY_MARGIN,
  RECOVERY_MEMORY_MS,
  RECOVERY_SAMPLES,
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

describe("LinkRecovery", () => {
  const PICTURE_KBPS = 800;
  /** A segment of 10 kB at `kbps` (its bytes over its time). */
  const segment = (recovery: LinkRecovery, kbps: number) => recovery.downloaded(10_000, (10_000 * 8) / kbps);
  const fast = RECOVERY_MARGIN * PICTURE_KBPS;

  it("gives the picture back after RECOVERY_SAMPLES segments in a row at the margin, not before its first wait", () => {
    const recovery = new LinkRecovery();
    expect(recovery.recovered(1e9, PICTURE_KBPS)).toBe(false); // never on the link's sound
    recovery.switched(0);
    for (let i = 0; i < RECOVERY_SAMPLES - 1; i++) segment(recovery, fast);
    expect(recovery.recovered(RECOVERY_AFTER_MS[0], PICTURE_KBPS)).toBe(false); // one segment short
    segment(recovery, fast);
    expect(recovery.recovered(RECOVERY_AFTER_MS[0] - 1, PICTURE_KBPS)).toBe(false); // too soon
    expect(recovery.recovered(RECOVERY_AFTER_MS[0], PICTURE_KBPS)).toBe(true);
    expect(recovery.recovered(RECOVERY_AFTER_MS[0], fast / RECOVERY_MARGIN + 1)).toBe(false); // a bigger picture
  });

  it("asks for every one of the latest segments to be fast: one slow one waits for RECOVERY_SAMPLES more", () => {
    const recovery = new LinkRecovery();
    recovery.switched(0);
    for (let i = 0; i < RECOVERY_SAMPLES; i++) segment(recovery, i === 2 ? fast - 1 : fast);
    expect(recovery.recovered(RECOVERY_AFTER_MS[0], PICTURE_KBPS)).toBe(false);
    for (let i = 0; i < 2; i++) segment(recovery, fast); // the slow one is still among the latest
    expect(recovery.recovered(RECOVERY_AFTER_MS[0], PICTURE_KBPS)).toBe(false);
    segment(recovery, fast);
    expect(recovery.recovered(RECOVERY_AFTER_MS[0], PICTURE_KBPS)).toBe(true);
  });

  it("ignores segments with nothing to go by", () => {
    const recovery = new LinkRecovery();
    recovery.switched(0);
    for (let i = 0; i < RECOVERY_SAMPLES - 1; i++) segment(recovery, fast);
    recovery.downloaded(10_000, 0);
    recovery.downloaded(0, 10);
    recovery.downloaded(Number.NaN, 10);
    expect(recovery.recovered(RECOVERY_AFTER_MS[0], PICTURE_KBPS)).toBe(false);
    expect(recovery.recovered(RECOVERY_AFTER_MS[0], 0)).toBe(false);
  });

  it("waits longer after each switch that follows the one before within RECOVERY_MEMORY_MS, and forgets after", () => {
    const recovery = new LinkRecovery();
    let now = 0;
    const waitsFor = (): number => {
      for (let i = 0; i < RECOVERY_SAMPLES; i++) segment(recovery, fast);
      let waited = 0;
      while (!recovery.recovered(now + waited, PICTURE_KBPS)) waited += 1000;
      return waited;
    };
    recovery.switched(now);
    expect(waitsFor()).toBe(RECOVERY_AFTER_MS[0]);
    now += 120_000; // the picture failed again two minutes later
    recovery.switched(now);
    expect(recovery.recovered(now + RECOVERY_AFTER_MS[0], PICTURE_KBPS)).toBe(false); // measured afresh
    expect(waitsFor()).toBe(RECOVERY_AFTER_MS[1]);
    for (const _ of [1, 2]) {
      now += 120_000;
      recovery.switched(now);
    }
    expect(waitsFor()).toBe(RECOVERY_AFTER_MS[RECOVERY_AFTER_MS.length - 1]);
    now += RECOVERY_MEMORY_MS; // a good half hour of picture
    recovery.switched(now);
    expect(waitsFor()).toBe(RECOVERY_AFTER_MS[0]);
  });
});
