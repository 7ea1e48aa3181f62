import { ParticipantKind } from "livekit-client";
import { describe, expect, it, vi } from "vitest";

import { agentStage, isStageAgent, publishRights, SCREEN_SHARE, setScreenShare } from "./media";
import { STAGE_ATTRIBUTE } from "./names";

const stage = JSON.stringify({ seq: 3, spotlight: "mallory", video_spotlight: null, speaking: [], video_on: [], pinned: null, t: 1 });

describe("stage source", () => {
  it("takes the stage attribute from an agent", () => {
    const agent = { kind: ParticipantKind.AGENT, attributes: { [STAGE_ATTRIBUTE]: stage } };
    expect(isStageAgent(agent)).toBe(true);
    expect(agentStage(agent)).toBe(stage);
  });

  it("ignores a stage attribute on anyone else", () => {
    for (const kind of [ParticipantKind.STANDARD, ParticipantKind.INGRESS, ParticipantKind.EGRESS, ParticipantKind.SIP]) {
      const person = { kind, attributes: { [STAGE_ATTRIBUTE]: stage } };
      expect(isStageAgent(person)).toBe(false);
      expect(agentStage(person)).toBeUndefined();
    }
  });

  it("has nothing from an agent without the attribute", () => {
    expect(agentStage({ kind: ParticipantKind.AGENT, attributes: {} })).toBeUndefined();
  });
});

describe("publishRights", () => {
  // What publishRights reads of a participant: its SFU permissions.
  const as = (permissions: { canPublish: boolean; canPublishSources: number[] } | undefined) =>
    ({ permissions }) as unknown as Parameters<typeof publishRights>[0];

  it("reads the screen share from the SFU's sources (protocol SCREEN_SHARE = 3)", () => {
    expect(publishRights(as({ canPublish: true, canPublishSources: [2, 1, 3] }), "speakers", "cohost")).toEqual({ mic: true, camera: true, screen: true });
    expect(publishRights(as({ canPublish: true, canPublishSources: [2, 1] }), "speakers", "speaker")).toEqual({ mic: true, camera: true, screen: false });
    expect(publishRights(as({ canPublish: false, canPublishSources: [] }), "speakers", "listener")).toEqual({ mic: false, camera: false, screen: false });
  });

  it("falls back to the role when the SFU says any source", () => {
    expect(publishRights(as({ canPublish: true, canPublishSources: [] }), "host", "cohost").screen).toBe(true);
    expect(publishRights(as({ canPublish: true, canPublishSources: [] }), "off", "host").screen).toBe(false);
    expect(publishRights(as({ canPublish: true, canPublishSources: [] }), "speakers", "speaker").screen).toBe(false);
  });
});

describe("setScreenShare", () => {
  it("asks for video only, at the chosen size, rate and bitrate", async () => {
    const setScreenShareEnabled = vi.fn().mockResolvedValue(undefined);
    await setScreenShare({ setScreenShareEnabled }, true);
    const [on, capture, publish] = setScreenShareEnabled.mock.calls[0];
    expect(on).toBe(true);
    expect(capture).toMatchObject({ audio: false, resolution: { width: 1920, height: 1080, frameRate: 15 } });
    expect(publish).toEqual({ screenShareEncoding: { maxBitrate: SCREEN_SHARE.maxBitrate, maxFramerate: 15 } });
  });

  it("treats a closed picker as no share, and reports anything else", async () => {
    const cancelled = Object.assign(new Error("Permission denied"), { name: "NotAllowedError" });
    await expect(setScreenShare({ setScreenShareEnabled: vi.fn().mockRejectedValue(cancelled) }, true)).resolves.toBeUndefined();
    await expect(setScreenShare({ setScreenShareEnabled: vi.fn().mockRejectedValue(new Error("SFU refused")) }, true)).rejects.toThrow("SFU refused");
  });
});
