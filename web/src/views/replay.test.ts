// @vitest-environment happy-dom
import { afterEach, describe, expect, it, vi } from "vitest";

import type { App } from "../app";
import type { Space } from "../api";
import { FakeHls } from "../fake_hls";
import { replayView } from "./replay";

vi.mock("hls.js/light", async () => ({ default: (await import("../fake_hls")).FakeHls }));

const ENDED: Space = {
  id: "s1",
  title: "T",
  state: "ended",
  host: "h",
  cohosts: [],
  speakers: [],
  video: "speakers",
  listener_count: 0,
  raised_hands: [],
  broadcast: { playlist_url: "https://cdn.example/s1/index.m3u8", timeline_url: "https://cdn.example/s1/timeline.json" },
  recording_available_until: "2999-01-01T00:00:00Z",
};

const TIMELINE = { space_id: "s1", started_at: 1_800_000_000, entries: [{ t: 1_800_000_000, spotlight: "h", video_spotlight: null, pinned: null }] };

afterEach(() => {
  FakeHls.instances = [];
  vi.unstubAllGlobals();
});

async function opened() {
  vi.stubGlobal("fetch", vi.fn(async () => new Response(JSON.stringify(TIMELINE))));
  const app = { api: { getSpace: async () => ENDED }, signOut: vi.fn() } as unknown as App;
  const view = replayView(app, "s1");
  await vi.waitFor(() => expect(FakeHls.instances).toHaveLength(1));
  await vi.waitFor(() => expect(view.el.querySelector('[data-testid="timeline-note"]')).not.toBeNull());
  const note = () => view.el.querySelector('[data-testid="timeline-note"]')?.textContent;
  return { view, hls: FakeHls.instances[0], note };
}

describe("the replay page", () => {
  it("says the recording is loading, not that it has no PROGRAM-DATE-TIME, before its playlist arrives", async () => {
    const { view, hls, note } = await opened();
    expect(note()).toBe("Loading the recording…");
    // The playlist arrives: its segments carry PROGRAM-DATE-TIME, and the timeline is placed.
    hls.levels = [{ details: { live: false, fragments: [{ start: 0, duration: 1, programDateTime: 1_800_000_000_000 }] } }];
    hls.currentLevel = 0;
    hls.fire(FakeHls.Events.LEVEL_UPDATED);
    expect(note()).toBe("");
    expect(view.el.querySelectorAll('[data-testid="timeline-segment"]')).toHaveLength(1);
    view.unmount();
  });

  it("says a closed recording with (almost) nothing in it is empty, not that it lacks PROGRAM-DATE-TIME", async () => {
    const { view, hls, note } = await opened();
    hls.levels = [{ details: { live: false, fragments: [] } }];
    hls.currentLevel = 0;
    hls.fire(FakeHls.Events.LEVEL_UPDATED);
    expect(note()).toBe("This recording is empty: the Space ended before its broadcast had begun.");
    hls.levels = [{ details: { live: false, fragments: [{ start: 0, duration: 0.4, programDateTime: 1_800_000_000_000 }] } }];
    hls.fire(FakeHls.Events.LEVEL_UPDATED);
    expect(note()).toContain("empty");
    hls.levels = [{ details: { live: false, fragments: [{ start: 0, duration: 1, programDateTime: 1_800_000_000_000 }] } }];
    hls.fire(FakeHls.Events.LEVEL_UPDATED);
    expect(note()).toBe("");
    view.unmount();
  });

  it("says why a recording that cannot be loaded does not play, while it keeps asking", async () => {
    const { view, hls, note } = await opened();
    hls.fire(FakeHls.Events.ERROR, {
      fatal: true,
      type: FakeHls.ErrorTypes.NETWORK_ERROR,
      details: "manifestLoadError",
      response: { code: 403, text: "Forbidden" },
    });
    expect(note()).toBe("The recording could not be loaded (HTTP 403). Trying again…");
    hls.fire(FakeHls.Events.ERROR, { fatal: true, type: FakeHls.ErrorTypes.NETWORK_ERROR, details: "manifestLoadError" });
    expect(note()).toBe("The recording could not be loaded (no answer). Trying again…");
    view.unmount();
  });

  it("names the Space in the page title, not only the view", async () => {
    const { view } = await opened();
    expect(document.title).toBe("Replay: T · Spaces");
    // And the video, for a screen reader.
    expect(view.el.querySelector("video")?.getAttribute("aria-label")).toBe("Recording: T");
    view.unmount();
  });

  it("shows an audio-only recording's card over the picture's area, keeping the video's controls", async () => {
    const { view, hls } = await opened();
    const tile = () => view.el.querySelector('[data-testid="broadcast"]') as HTMLElement;
    expect(tile().dataset.audioOnly).toBe("false");
    hls.fire("hlsBufferCodecs", { audio: { codec: "mp4a.40.2" } });
    expect(tile().dataset.audioOnly).toBe("true");
    expect(tile().querySelector(".audio-only-card")?.textContent).toBe("Audio-only recording");
    // The video (and so play, seek and volume) stays shown: the card does not take its place.
    expect(tile().dataset.video).toBe("on");
    expect(tile().querySelector("video")?.controls).toBe(true);
    view.unmount();
  });

  it("says a loaded recording without PROGRAM-DATE-TIME cannot place the timeline", async () => {
    const { view, hls, note } = await opened();
    hls.levels = [{ details: { live: false, fragments: [{ start: 0, duration: 1, programDateTime: null }] } }];
    hls.currentLevel = 0;
    hls.fire(FakeHls.Events.LEVEL_UPDATED);
    expect(note()).toBe("The recording has no PROGRAM-DATE-TIME, so the timeline cannot be placed on it.");
    view.unmount();
  });
});
