import { describe, expect, it } from "vitest";

import { PublishMemory } from "./publishing";

const ALL = { mic: true, camera: true, screen: true };
const NONE = { mic: false, camera: false, screen: false };

describe("PublishMemory", () => {
  it("remembers my toggles and what it saw live, and brings back what the new grant allows", () => {
    const memory = new PublishMemory();
    memory.chose("mic", true);
    memory.observe(ALL, { mic: false, camera: true, screen: false }); // the camera was on already
    const was = memory.snapshot();
    expect(was).toEqual({ mic: true, camera: true, screen: false });
    expect(memory.restore(was, { mic: true, camera: false, screen: false })).toEqual({ mic: true, camera: false, screenLost: false });
  });

  it("keeps a choice whose track is not up yet, and drops one a host muted or the grant took away", () => {
    const memory = new PublishMemory();
    memory.chose("mic", true);
    memory.chose("camera", true);
    memory.observe(ALL, NONE); // still being captured: not live yet, still chosen
    expect(memory.snapshot()).toMatchObject({ mic: true, camera: true });
    memory.observe(ALL, { mic: false, camera: true, screen: false }, true); // a host muted the microphone
    expect(memory.snapshot()).toMatchObject({ mic: false, camera: true });
    memory.chose("mic", true); // unmuted by the speaker
    memory.observe(NONE, NONE); // moved to the audience
    expect(memory.snapshot()).toEqual(NONE);
  });

  it("forgets on a join of mine or a Leave, and after a lost share", () => {
    const memory = new PublishMemory();
    memory.observe(ALL, ALL);
    const was = memory.snapshot();
    expect(memory.restore(was, ALL)).toEqual({ mic: true, camera: true, screenLost: true });
    expect(memory.snapshot().screen).toBe(false); // the share needs a click again
    memory.chose("mic", false);
    memory.forget();
    expect(memory.snapshot()).toEqual(NONE);
  });
});
