import { describe, expect, it } from "vitest";

import { LIVE_HLS_CONFIG } from "./broadcast";
import { IN_STEP_MS, soundOnlyConfig, stepSeconds } from "./sound_only";

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
