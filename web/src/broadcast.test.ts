import { describe, expect, it, vi } from "vitest";

import {
  afterPoll,
  CLOCK_SKEW_LIMIT_S,
  liveLabel,
  parseGrant,
  PlayableSource,
  replayAvailable,
  secondsBehind,
  soundOnlyUri,
  WHOLE_PLAYLIST_AFTER_MS,
} from "./broadcast";

describe("token mode", () => {
  const issued_at = "2030-12-31T23:00:00.000123Z";
  const webrtc = { mode: "webrtc", url: "ws://sfu", token: "jwt", identity: "lena", role: "listener", issued_at, expires_at: "2031-01-01T00:00:00Z", viewer_tag: "lenaTag1" };
  const hls = { mode: "hls", playlist_url: "https://cdn/broadcasts/s1/index.m3u8", identity: "lena", role: "listener", issued_at, expires_at: null };

  it("takes a WebRTC answer as it is", () => {
    expect(parseGrant(webrtc)).toEqual(webrtc);
  });

  it("takes an HLS answer with only the playlist", () => {
    // A control plane without presence: no heartbeats; nor viewer tags: no removal to be told of.
    expect(parseGrant(hls)).toEqual({ ...hls, presence_interval_seconds: null, viewer_tag: null });
    expect(parseGrant({ ...hls, presence_interval_seconds: 300 })).toMatchObject({ presence_interval_seconds: 300 });
    expect(parseGrant({ ...hls, presence_interval_seconds: null })).toMatchObject({ presence_interval_seconds: null });
  });

  it("takes the viewer's tag when the answer has one", () => {
    expect(parseGrant({ ...hls, viewer_tag: "aB3_x-9Z" })).toMatchObject({ viewer_tag: "aB3_x-9Z" });
    // What its heartbeats name: an HLS answer's alone.
    expect(parseGrant({ ...hls, presence_tag: "pR3_x-9Z" })).toMatchObject({ presence_tag: "pR3_x-9Z" });
    expect(parseGrant({ ...hls, presence_tag: 7 })).not.toHaveProperty("presence_tag");
    expect(parseGrant({ ...hls, viewer_tag: 7 })).toMatchObject({ viewer_tag: null });
    // A room member's too (an invitation to speak names it); an older API's answer has none.
    const { viewer_tag: _t, ...untagged } = webrtc;
    expect(parseGrant(untagged)).toMatchObject({ viewer_tag: null });
  });

  it("reads an answer without a mode (a control plane before the broadcast tier) as WebRTC", () => {
    const { mode: _mode, ...old } = webrtc;
    expect(parseGrant(old)).toEqual(webrtc);
  });

  it("reads an answer without issued_at (an older control plane) as one with no time to come back with", () => {
    const { issued_at: _w, ...oldWebrtc } = webrtc;
    const { issued_at: _h, ...oldHls } = hls;
    expect(parseGrant(oldWebrtc)).toMatchObject({ issued_at: null });
    expect(parseGrant(oldHls)).toMatchObject({ issued_at: null });
    expect(parseGrant({ ...webrtc, issued_at: 5 })).toMatchObject({ issued_at: null });
  });

  it("names what is missing or wrong", () => {
    expect(() => parseGrant({ ...hls, playlist_url: "" })).toThrow(/playlist_url/);
    expect(() => parseGrant({ ...webrtc, token: undefined })).toThrow(/token/);
    expect(() => parseGrant({ ...webrtc, role: "admin" })).toThrow(/role "admin"/);
    expect(() => parseGrant({ ...webrtc, mode: "rtmp" })).toThrow(/mode "rtmp"/);
    expect(() => parseGrant(null)).toThrow(/not an object/);
  });
});

describe("seconds behind live", () => {
  const now = 1_800_000_000_000;

  it("is the wall clock minus the PROGRAM-DATE-TIME on screen", () => {
    expect(secondsBehind({ nowMs: now, playingDateMs: now - 3400, edgeLatency: 2.1 })).toBeCloseTo(3.4);
  });

  it("falls back to the distance to the playlist's edge without a PROGRAM-DATE-TIME", () => {
    expect(secondsBehind({ nowMs: now, playingDateMs: null, edgeLatency: 2.1 })).toBeCloseTo(2.1);
  });

  it("does not believe a clock that puts the viewer ahead of the edge (viewer clock slow)", () => {
    expect(secondsBehind({ nowMs: now, playingDateMs: now - 500, edgeLatency: 2.1 })).toBeCloseTo(2.1);
    expect(secondsBehind({ nowMs: now, playingDateMs: now + 5000, edgeLatency: 2.1 })).toBeCloseTo(2.1);
  });

  it("does not believe a clock far ahead of the composer's", () => {
    const skewed = now - (CLOCK_SKEW_LIMIT_S + 10) * 1000;
    expect(secondsBehind({ nowMs: now, playingDateMs: skewed, edgeLatency: 2.1 })).toBeCloseTo(2.1);
  });

  it("uses the clock alone before hls.js knows the edge", () => {
    expect(secondsBehind({ nowMs: now, playingDateMs: now - 4000, edgeLatency: null })).toBeCloseTo(4);
    expect(secondsBehind({ nowMs: now, playingDateMs: null, edgeLatency: null })).toBeNull();
    expect(secondsBehind({ nowMs: now, playingDateMs: null, edgeLatency: Number.NaN })).toBeNull();
  });

  it("reads as whole seconds", () => {
    expect(liveLabel(null)).toBe("LIVE");
    expect(liveLabel(3.4)).toBe("LIVE · 3 s behind");
    expect(liveLabel(3.6)).toBe("LIVE · 4 s behind");
    expect(liveLabel(-0.2)).toBe("LIVE · 0 s behind");
    expect(liveLabel(null, true)).toBe("LIVE · paused");
  });
});

describe("replay offer", () => {
  const now = Date.parse("2031-05-04T12:00:00Z");
  const ended = {
    state: "ended",
    broadcast: { playlist_url: "p", timeline_url: "t" },
    recording_available_until: "2031-06-03T12:00:00Z",
  };

  it("offers an ended Space's recording until its retention ends", () => {
    expect(replayAvailable(ended, now)).toBe(true);
    expect(replayAvailable({ ...ended, recording_available_until: "2031-05-04T11:59:59Z" }, now)).toBe(false);
  });

  it("offers nothing for a live Space, without a broadcast or without a retention date", () => {
    expect(replayAvailable({ ...ended, state: "live" }, now)).toBe(false);
    expect(replayAvailable({ ...ended, broadcast: null }, now)).toBe(false);
    expect(replayAvailable({ ...ended, recording_available_until: null }, now)).toBe(false);
    expect(replayAvailable({ ...ended, recording_available_until: "someday" }, now)).toBe(false);
  });
});

describe("a listener on the broadcast, after each poll", () => {
  const live = { state: "live", host: "hana", cohosts: ["cleo"], speakers: ["alice"] };

  it("keeps watching while in the audience", () => {
    expect(afterPoll(live, "lena")).toBe("watch");
  });

  it("joins the room once promoted to any stage role", () => {
    expect(afterPoll({ ...live, speakers: ["alice", "lena"] }, "lena")).toBe("join-room");
    expect(afterPoll({ ...live, cohosts: ["lena"] }, "lena")).toBe("join-room");
  });

  it("stops when the Space ends, promoted or not", () => {
    expect(afterPoll({ ...live, state: "ended" }, "lena")).toBe("ended");
    expect(afterPoll({ ...live, state: "ended", speakers: ["lena"] }, "lena")).toBe("ended");
  });
});

describe("PlayableSource", () => {
  const base = "https://cdn.example/broadcasts/s1";
  const live = `${base}/live.m3u8`;
  const whole = `${base}/index.m3u8`;
  const having = (...present: string[]) => async (url: string) => present.includes(url);
  const clock = () => {
    const c = { t: 0, now: () => c.t };
    return c;
  };
  /** Looks every 2 s (the player's retry) from `c.t` on, `n` of them, each seeing only the whole playlist. */
  const looks = async (source: PlayableSource, c: { t: number }, n: number) => {
    const seen = [];
    for (let i = 0; i < n; i++) {
      seen.push(await source.choose(having(whole)));
      c.t += 2_000;
    }
    return seen;
  };

  it("plays the live window when it is there, or when nothing is there yet", async () => {
    const source = new PlayableSource(live);
    expect(await source.choose(having(live, whole))).toBe(live);
    expect(await source.choose(having())).toBe(live);
    expect(await source.choose(having(live))).toBe(live);
  });

  it("plays the whole playlist of a Space whose composer writes no window, once it stays that way", async () => {
    const c = clock();
    const source = new PlayableSource(live, c.now);
    const seen = await looks(source, c, WHOLE_PLAYLIST_AFTER_MS / 2_000 + 1);
    expect(seen.slice(0, -1).every((url) => url === live)).toBe(true);
    expect(seen.at(-1)).toBe(whole);
  });

  it("does not leave the window for a start it saw half written (the whole playlist first, a cached 404 of the window)", async () => {
    const c = clock();
    const source = new PlayableSource(live, c.now);
    await looks(source, c, 5);
    expect(await source.choose(having(live, whole))).toBe(live); // the window came: the wait starts over
    c.t += 2_000;
    expect(await looks(source, c, WHOLE_PLAYLIST_AFTER_MS / 2_000)).not.toContain(whole);
  });

  it("counts only looks in a row: an old look, or one before the player played, does not shorten the wait", async () => {
    const c = clock();
    const source = new PlayableSource(live, c.now);
    expect(await source.choose(having(whole))).toBe(live);
    c.t += 10 * 60_000; // ten minutes later, one failed look (a native player's error, back online)
    expect(await source.choose(having(whole))).toBe(live);
    const played = new PlayableSource(live, c.now);
    await looks(played, c, WHOLE_PLAYLIST_AFTER_MS / 2_000);
    played.reset(); // it played meanwhile
    expect(await played.choose(having(whole))).toBe(live);
  });

  it("plays the renditions of a Space that has two, once its window is there too", async () => {
    const variants = `${base}/live-variants.m3u8`;
    const source = new PlayableSource(live);
    expect(await source.choose(having(live, whole, variants))).toBe(variants);
    expect(await source.choose(having(whole, variants))).toBe(live); // a cached 404 of the window: not yet
    expect(await source.choose(having(live, whole))).toBe(live); // audio only, or an older composer
  });

  it("leaves any other playlist alone", async () => {
    const exists = vi.fn(async () => false);
    expect(await new PlayableSource(whole).choose(exists)).toBe(whole);
    expect(exists).not.toHaveBeenCalled();
  });
});

describe("soundOnlyUri", () => {
  const BASE = "https://cdn.example/broadcasts/s1/live-variants.m3u8";
  const picture = '#EXT-X-STREAM-INF:BANDWIDTH=796800,CODECS="avc1.64001e,mp4a.40.2",RESOLUTION=640x360';

  it("finds the variant with no picture whose codecs are all sound, resolved against the playlist", () => {
    const text = ["#EXTM3U", picture, "live-lo.m3u8", '#EXT-X-STREAM-INF:BANDWIDTH=89600,CODECS="mp4a.40.2"', "live-audio.m3u8"].join("\n");
    expect(soundOnlyUri(text, BASE)).toBe("https://cdn.example/broadcasts/s1/live-audio.m3u8");
    expect(soundOnlyUri(text.replaceAll("\n", "\r\n"), BASE)).toBe("https://cdn.example/broadcasts/s1/live-audio.m3u8");
  });

  it("finds none in variants with pictures only, without codecs, or in what is not a playlist", () => {
    expect(soundOnlyUri(["#EXTM3U", picture, "live-lo.m3u8"].join("\n"), BASE)).toBeNull();
    expect(soundOnlyUri(["#EXTM3U", "#EXT-X-STREAM-INF:BANDWIDTH=89600", "a.m3u8"].join("\n"), BASE)).toBeNull();
    expect(soundOnlyUri(["#EXTM3U", '#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS="avc1.64001e"', "v.m3u8"].join("\n"), BASE)).toBeNull();
    expect(soundOnlyUri("<html>not found</html>", BASE)).toBeNull();
  });
});
