import { ParticipantKind } from "livekit-client";
import { describe, expect, it } from "vitest";

import { agentStage, isStageAgent } from "./media";
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
