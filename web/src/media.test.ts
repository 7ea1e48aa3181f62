// @vitest-environment happy-dom
import { ConnectionError, DisconnectReason, ParticipantKind, RoomEvent, Track } from "livekit-client";
import { describe, expect, it, vi } from "vitest";

import { agentStage, canShareScreen, disconnectMessage, isStageAgent, publishError, publishRights, SCREEN_SHARE, setScreenShare, SpaceRoom } from "./media";
import { STAGE_ATTRIBUTE } from "./contract.gen";

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
    expect(publishRights(as({ canPublish: true, canPublishSources: [2, 1, 3] }))).toEqual({ mic: true, camera: true, screen: true });
    expect(publishRights(as({ canPublish: true, canPublishSources: [2, 1] }))).toEqual({ mic: true, camera: true, screen: false });
    expect(publishRights(as({ canPublish: true, canPublishSources: [2] }))).toEqual({ mic: true, camera: false, screen: false });
    expect(publishRights(as({ canPublish: false, canPublishSources: [] }))).toEqual({ mic: false, camera: false, screen: false });
    expect(publishRights(as(undefined))).toEqual({ mic: false, camera: false, screen: false });
  });

  it("reads an empty list of sources as the SFU does: any source", () => {
    expect(publishRights(as({ canPublish: true, canPublishSources: [] }))).toEqual({ mic: true, camera: true, screen: true });
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

describe("remote audio", () => {
  /** A remote audio track as the SDK hands it over: attach() makes an <audio>, detach() forgets it. */
  function audioTrack() {
    let attached: HTMLMediaElement[] = [];
    return {
      kind: Track.Kind.Audio,
      mediaStreamTrack: new EventTarget(),
      attach: () => {
        const el = document.createElement("audio");
        attached.push(el);
        return el;
      },
      detach: (el?: HTMLMediaElement) => {
        const gone = el ? attached.filter((a) => a === el) : attached;
        attached = attached.filter((a) => !gone.includes(a));
        return gone;
      },
    };
  }

  function roomWithSink() {
    const sink = document.createElement("div");
    const room = new SpaceRoom(sink);
    const subscribe = () => {
      const track = audioTrack();
      room.room.emit(RoomEvent.TrackSubscribed, track as never, {} as never, {} as never);
      return track;
    };
    return { sink, room, subscribe };
  }

  it("removes a track's <audio> when it is unsubscribed, though the SDK detached it first", () => {
    const { sink, room, subscribe } = roomWithSink();
    const a = subscribe();
    subscribe();
    expect(sink.querySelectorAll("audio")).toHaveLength(2);
    a.detach(); // the SDK's own detach, before it reports the unsubscribe
    room.room.emit(RoomEvent.TrackUnsubscribed, a as never, {} as never, {} as never);
    expect(sink.querySelectorAll("audio")).toHaveLength(1);
  });

  it("removes a track's <audio> when the track ends", () => {
    const { sink, subscribe } = roomWithSink();
    const a = subscribe();
    a.mediaStreamTrack.dispatchEvent(new Event("ended"));
    expect(sink.querySelectorAll("audio")).toHaveLength(0);
  });

  it("removes only its own elements when the room is left", async () => {
    const { sink, room, subscribe } = roomWithSink();
    subscribe();
    const next = document.createElement("audio"); // the next room's, in the same sink
    sink.append(next);
    await room.leave();
    expect([...sink.querySelectorAll("audio")]).toEqual([next]);
  });
});

describe("publishError", () => {
  const named = (name: string) => Object.assign(new Error("browser words"), { name });

  it("tells the person what to do about each capture refusal", () => {
    expect(publishError(named("NotAllowedError"), "microphone")).toMatch(/does not let this page use your microphone: allow it in the site settings/);
    expect(publishError(named("NotFoundError"), "camera")).toMatch(/^No camera found: plug one in or choose another under Devices/);
    expect(publishError(named("NotReadableError"), "microphone")).toMatch(/another app may be using it/);
    expect(publishError(named("OverconstrainedError"), "camera")).toMatch(/^The camera chosen is not available/);
    expect(publishError(named("NotFoundError"), "screen")).toBe("The browser found nothing to share.");
    // A phone: no screen capture at all (livekit-client's DeviceUnsupportedError), not the server's refusal.
    expect(publishError(named("DeviceUnsupportedError"), "screen")).toBe("This browser cannot share a screen: share it from a computer.");
  });

  it("knows a browser without screen capture (a phone's)", () => {
    expect(canShareScreen({ mediaDevices: { getDisplayMedia: () => undefined } })).toBe(true);
    expect(canShareScreen({ mediaDevices: {} })).toBe(false);
    expect(canShareScreen({})).toBe(false);
    expect(canShareScreen(undefined)).toBe(false);
  });

  it("leaves anything else to the media server", () => {
    expect(publishError(new Error("permission denied by the SFU"), "microphone")).toBe("The media server refused: permission denied by the SFU");
    for (const name of ["NotAllowedError", "NotFoundError", "NotReadableError", "OverconstrainedError"]) {
      expect(publishError(named(name), "microphone")).not.toMatch(/media server/);
    }
  });
});

describe("disconnectMessage", () => {
  it("says why the room ended, whether Rejoin helps, and what the page remembers", () => {
    expect(disconnectMessage(DisconnectReason.PARTICIPANT_REMOVED)).toMatchObject({ canRejoin: false, removed: true, seatTaken: false });
    // Another tab took the seat: Rejoin is offered, but a reload of this tab must not take it back.
    expect(disconnectMessage(DisconnectReason.DUPLICATE_IDENTITY)).toMatchObject({ canRejoin: true, removed: false, seatTaken: true });
    expect(disconnectMessage(DisconnectReason.ROOM_DELETED)).toMatchObject({ message: "This Space has ended.", canRejoin: false, seatTaken: false });
    expect(disconnectMessage(undefined)).toMatchObject({ canRejoin: true, removed: false, seatTaken: false });
  });
});

describe("a host's mute of my microphone", () => {
  /** My microphone's publication as the SDK reports a mute of it. */
  const mic = () => ({ source: Track.Source.Microphone, isMuted: true }) as never;

  it("is told when the SFU mutes it, not when I do, and not for a camera or someone else", async () => {
    const room = new SpaceRoom(document.createElement("div"));
    const told = vi.fn();
    room.onMutedByHost(told);
    const local = room.room.localParticipant;
    // The server's mute (a moderator's POST .../mute): the SDK mutes the track and says so.
    room.room.emit(RoomEvent.TrackMuted, mic(), local);
    expect(told).toHaveBeenCalledTimes(1);
    // My own Mute: the same event, while the page is changing the microphone.
    vi.spyOn(local, "setMicrophoneEnabled").mockImplementation(async () => {
      room.room.emit(RoomEvent.TrackMuted, mic(), local);
      return undefined;
    });
    await room.setMicrophone(false);
    expect(told).toHaveBeenCalledTimes(1);
    // A camera, or another person's microphone: not mine to be told of.
    room.room.emit(RoomEvent.TrackMuted, { source: Track.Source.Camera } as never, local);
    room.room.emit(RoomEvent.TrackMuted, mic(), {} as never);
    expect(told).toHaveBeenCalledTimes(1);
  });
});

describe("a first connect that fails", () => {
  it("is one the page tries again by itself, unless the SFU refused the token", async () => {
    const room = new SpaceRoom(document.createElement("div"));
    vi.spyOn(room.room, "connect").mockRejectedValue(new Error("could not establish signal connection: signal connection timed out"));
    await expect(room.connect("wss://sfu.example", "t")).rejects.toThrow();
    expect(room.status).toMatchObject({ kind: "ended", dropped: true, canRejoin: true });
    const refused = new SpaceRoom(document.createElement("div"));
    vi.spyOn(refused.room, "connect").mockRejectedValue(ConnectionError.notAllowed("refused", 401));
    await expect(refused.connect("wss://sfu.example", "t")).rejects.toThrow("refused the join token");
    expect(refused.status).toMatchObject({ kind: "ended", dropped: false, canRejoin: true });
  });

  it("is tried again though the SDK says the room disconnected before connect() rejects", async () => {
    // What a real browser does offline (found from outside: the page showed the disconnect's
    // "could not complete the join" and never tried again).
    const room = new SpaceRoom(document.createElement("div"));
    vi.spyOn(room.room, "connect").mockImplementation(async () => {
      room.room.emit(RoomEvent.Disconnected, DisconnectReason.JOIN_FAILURE);
      throw new Error("could not establish pc connection");
    });
    const seen: string[] = [];
    room.onChange(() => seen.push(room.status.kind));
    await expect(room.connect("wss://sfu.example", "t")).rejects.toThrow("Could not connect");
    expect(room.status).toMatchObject({ kind: "ended", dropped: true, canRejoin: true });
    expect(seen).toEqual(["connecting", "ended"]); // one end, the one the page acts on
  });

  it("says so and stays out when the SFU ends it for good while it is connecting", async () => {
    const room = new SpaceRoom(document.createElement("div"));
    vi.spyOn(room.room, "connect").mockImplementation(async () => {
      room.room.emit(RoomEvent.Disconnected, DisconnectReason.PARTICIPANT_REMOVED);
      throw ConnectionError.leaveRequest("removed", DisconnectReason.PARTICIPANT_REMOVED);
    });
    await expect(room.connect("wss://sfu.example", "t")).rejects.toThrow();
    expect(room.status).toMatchObject({ kind: "ended", dropped: false, removed: true, canRejoin: false });
  });

  it("is ended, not connected, when the SFU ends it while the audio is being started", async () => {
    // connect() resolved; startAudio waits on the elements' play(), and the host removes the person
    // meanwhile (found by a review: the page then showed a live stage with no media).
    const room = new SpaceRoom(document.createElement("div"));
    vi.spyOn(room.room, "connect").mockResolvedValue(undefined);
    vi.spyOn(room.room, "startAudio").mockImplementation(async () => {
      room.room.emit(RoomEvent.Disconnected, DisconnectReason.PARTICIPANT_REMOVED);
    });
    const seen: string[] = [];
    room.onChange(() => seen.push(room.status.kind));
    await expect(room.connect("wss://sfu.example", "t")).rejects.toThrow();
    expect(room.status).toMatchObject({ kind: "ended", removed: true, dropped: false, canRejoin: false });
    expect(seen).toEqual(["connecting", "ended"]);
  });

  it("is ended, not connected, when a reconnect begins and fails while the audio is being started", async () => {
    const room = new SpaceRoom(document.createElement("div"));
    vi.spyOn(room.room, "connect").mockResolvedValue(undefined);
    vi.spyOn(room.room, "startAudio").mockImplementation(async () => {
      room.room.emit(RoomEvent.SignalReconnecting);
      room.room.emit(RoomEvent.Disconnected, DisconnectReason.PARTICIPANT_REMOVED);
    });
    const seen: string[] = [];
    room.onChange(() => seen.push(room.status.kind));
    await expect(room.connect("wss://sfu.example", "t")).rejects.toThrow();
    expect(room.status).toMatchObject({ kind: "ended", removed: true });
    expect(seen).toEqual(["connecting", "reconnecting", "ended"]);
  });

  it("stays reconnecting when a reconnect begins while the audio is being started", async () => {
    const room = new SpaceRoom(document.createElement("div"));
    vi.spyOn(room.room, "connect").mockResolvedValue(undefined);
    vi.spyOn(room.room, "startAudio").mockImplementation(async () => {
      room.room.emit(RoomEvent.SignalReconnecting);
    });
    await room.connect("wss://sfu.example", "t");
    expect(room.status.kind).toBe("reconnecting");
    room.room.emit(RoomEvent.Reconnected);
    expect(room.status.kind).toBe("connected");
  });

  it("is no drop when the person left while it was connecting", async () => {
    const room = new SpaceRoom(document.createElement("div"));
    let cancel: (err: Error) => void = () => undefined;
    vi.spyOn(room.room, "connect").mockImplementation(() => new Promise((_, reject) => (cancel = reject)));
    vi.spyOn(room.room, "disconnect").mockImplementation(async () => {
      cancel(ConnectionError.cancelled("client initiated disconnect"));
    });
    const connecting = room.connect("wss://sfu.example", "t");
    await room.leave();
    await expect(connecting).rejects.toThrow();
    expect(room.status).toMatchObject({ kind: "ended", dropped: false });
  });
});
