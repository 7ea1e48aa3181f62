/**
 * One LiveKit connection to a Space: the Room, the agent's stage state, and the connection status.
 * The view subscribes to `onChange` and reads everything back from here.
 */
import {
  ConnectionError,
  DisconnectReason,
  type LocalParticipant,
  type LocalTrackPublication,
  type Participant,
  ParticipantKind,
  type RemoteParticipant,
  type RemoteTrack,
  Room,
  RoomEvent,
  Track,
  type TrackPublication,
} from "livekit-client";

import type { Role } from "./api";
import type { DeviceChoice, DeviceKind } from "./devices";
import { HANDS_TOPIC, type RaisedHands, ROLE_ATTRIBUTE, type RoomMetadata, STAGE_ATTRIBUTE } from "./contract.gen";
import { parseHands, parseRoomMetadata } from "./pushed";
import { reconnectsAfter } from "./rejoin";
import { parseStage, StageTracker } from "./stage";

export type Status =
  | { kind: "idle" }
  | { kind: "connecting" }
  | { kind: "connected" }
  | { kind: "reconnecting" }
  /** `dropped`: the room went away for a reason the page reconnects after by itself (rejoin.ts). */
  | { kind: "ended"; message: string; canRejoin: boolean; dropped: boolean; removed: boolean; seatTaken: boolean };

/** Room metadata as the control plane writes it (contract/schema/room_metadata.schema.json). */
export type RoomInfo = RoomMetadata;

const STAGE_ROLES: ReadonlySet<string> = new Set(["host", "cohost", "speaker"]);

/**
 * Whether a participant is a media agent, by the kind the SFU assigns from the join token (the
 * agent side checks the same kind). An attribute proves nothing: a person could set one.
 */
export function isStageAgent(p: Pick<Participant, "kind">): boolean {
  return p.kind === ParticipantKind.AGENT;
}

/** The raw stage state a participant carries: only an agent's counts. */
export function agentStage(p: Pick<Participant, "kind" | "attributes">): string | undefined {
  return isStageAgent(p) ? p.attributes[STAGE_ATTRIBUTE] : undefined;
}

/** A host removed me: said by the room's disconnect, or by the API to a comeback the page was away for. */
export const REMOVED_MESSAGE = "You were removed from this Space by a host.";

/** What a disconnect means to the person looking at the page. */
export function disconnectMessage(
  reason: DisconnectReason | undefined,
): { message: string; canRejoin: boolean; removed: boolean; seatTaken: boolean } {
  return {
    removed: reason === DisconnectReason.PARTICIPANT_REMOVED,
    // Another tab or device of mine joined: a reload of this tab must not take the seat back by itself.
    seatTaken: reason === DisconnectReason.DUPLICATE_IDENTITY,
    ...reasonMessage(reason),
  };
}

function reasonMessage(reason: DisconnectReason | undefined): { message: string; canRejoin: boolean } {
  switch (reason) {
    case DisconnectReason.CLIENT_INITIATED:
      return { message: "You left the Space.", canRejoin: true };
    case DisconnectReason.ROOM_DELETED:
    case DisconnectReason.ROOM_CLOSED:
      return { message: "This Space has ended.", canRejoin: false };
    case DisconnectReason.PARTICIPANT_REMOVED:
      return { message: REMOVED_MESSAGE, canRejoin: false };
    case DisconnectReason.DUPLICATE_IDENTITY:
      return { message: "You joined this Space from another tab or device.", canRejoin: true };
    case DisconnectReason.JOIN_FAILURE:
      return { message: "The media server could not complete the join.", canRejoin: true };
    default:
      return { message: "The connection to the Space was lost.", canRejoin: true };
  }
}

/** Run a page listener from inside a LiveKit event; its exception is logged, not thrown (see emit). */
function guarded(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    console.error("Space page listener failed", err);
  }
}

export class SpaceRoom {
  readonly room: Room;
  readonly stage = new StageTracker();
  status: Status = { kind: "idle" };
  private listeners = new Set<() => void>();
  private handsListeners = new Set<(hands: RaisedHands) => void>();
  private mutedListeners = new Set<() => void>();
  /** My microphone changes the page is making (setMicrophone): a mute meanwhile is mine, not a host's. */
  private ownMicChanges = 0;
  /** Set by `leave`: a connect it cancels is not a drop (nothing reconnects after it). */
  private leaving = false;
  /** Why the room disconnected while its connect was under way, for connect() to report. */
  private endedWhileConnecting: DisconnectReason | null = null;
  /**
   * Each remote audio track's <audio> in the sink, kept by the page: the SDK detaches a track before
   * it reports it unsubscribed, so `track.detach()` then finds nothing to remove.
   */
  private readonly audio = new Map<RemoteTrack, HTMLMediaElement>();

  /** The microphone, camera and speaker chosen (devices.ts); used while plugged in. */
  private readonly wanted: DeviceChoice;

  constructor(
    private readonly audioSink: HTMLElement,
    devices: DeviceChoice = {},
  ) {
    this.wanted = { ...devices };
    // `ideal`, not `exact`: a device unplugged since falls back to the default instead of failing.
    // Not every browser honours an ideal device (Chromium's capture may take the default anyway):
    // `settle` moves a new track to the chosen device when it opened another.
    this.room = new Room({
      adaptiveStream: true,
      dynacast: true,
      audioCaptureDefaults: devices.audioinput ? { deviceId: { ideal: devices.audioinput } } : undefined,
      videoCaptureDefaults: devices.videoinput ? { deviceId: { ideal: devices.videoinput } } : undefined,
      audioOutput: devices.audiooutput ? { deviceId: devices.audiooutput } : undefined,
    });
    const r = this.room;
    const changed = () => this.emit();
    r.on(RoomEvent.Reconnecting, () => this.setStatus({ kind: "reconnecting" }))
      .on(RoomEvent.SignalReconnecting, () => this.setStatus({ kind: "reconnecting" }))
      .on(RoomEvent.Reconnected, () => this.setStatus({ kind: "connected" }))
      .on(RoomEvent.Disconnected, (reason?: DisconnectReason) => {
        this.stopAllAudio();
        // A connect that fails disconnects too, before connect() rejects: connect() reports it (an
        // end said here first would be the one the page acts on, and it would never try again).
        if (this.status.kind === "connecting") {
          this.endedWhileConnecting = reason ?? DisconnectReason.UNKNOWN_REASON;
          return;
        }
        this.setStatus({ kind: "ended", ...disconnectMessage(reason), dropped: reconnectsAfter(reason) });
      })
      .on(RoomEvent.ParticipantConnected, (p: RemoteParticipant) => {
        this.takeStage(p);
        this.emit();
      })
      .on(RoomEvent.ParticipantDisconnected, (p: RemoteParticipant) => {
        this.stage.forget(p.identity);
        this.emit();
      })
      .on(RoomEvent.ParticipantAttributesChanged, (_changed: Record<string, string>, p: Participant) => {
        this.takeStage(p);
        this.emit();
      })
      .on(RoomEvent.TrackSubscribed, (track: RemoteTrack) => {
        if (track.kind === Track.Kind.Audio) this.playAudio(track);
        this.emit();
      })
      .on(RoomEvent.TrackUnsubscribed, (track: RemoteTrack) => {
        this.stopAudio(track);
        this.emit();
      })
      .on(RoomEvent.TrackMuted, (pub: TrackPublication, p: Participant) => {
        // My microphone muted while the page was not changing it: the server did (a host's mute).
        if (p === r.localParticipant && pub.source === Track.Source.Microphone && this.ownMicChanges === 0) {
          for (const fn of this.mutedListeners) guarded(fn);
        }
        this.emit();
      })
      .on(RoomEvent.TrackUnmuted, changed)
      .on(RoomEvent.TrackPublished, changed)
      .on(RoomEvent.TrackUnpublished, changed)
      .on(RoomEvent.LocalTrackPublished, (pub: LocalTrackPublication) => {
        if (pub.source === Track.Source.Microphone) void this.settle(pub, "audioinput");
        if (pub.source === Track.Source.Camera) void this.settle(pub, "videoinput");
        this.emit();
      })
      .on(RoomEvent.LocalTrackUnpublished, changed)
      .on(RoomEvent.ParticipantPermissionsChanged, changed)
      .on(RoomEvent.RoomMetadataChanged, changed)
      .on(RoomEvent.DataReceived, (payload: Uint8Array, participant?: RemoteParticipant, _kind?: unknown, topic?: string) => {
        // The control plane sends the hands (server API: no sending participant); a person cannot
        // forge them, because listeners may not publish data and a speaker's data has a sender.
        if (topic !== HANDS_TOPIC || participant) return;
        const hands = parseHands(new TextDecoder().decode(payload));
        if (hands) for (const fn of this.handsListeners) guarded(() => fn(hands));
      })
      .on(RoomEvent.AudioPlaybackStatusChanged, changed)
      .on(RoomEvent.MediaDevicesChanged, () => {
        void this.followUnplugged();
        this.emit();
      })
      .on(RoomEvent.ActiveDeviceChanged, changed);
  }

  private playAudio(track: RemoteTrack): void {
    if (this.audio.has(track)) return;
    const el = track.attach();
    this.audio.set(track, el);
    this.audioSink.append(el);
    // A track can end without an unsubscribe (the sender's connection went away first).
    track.mediaStreamTrack.addEventListener("ended", () => this.stopAudio(track), { once: true });
  }

  private stopAudio(track: RemoteTrack): void {
    const el = this.audio.get(track);
    if (!el) return;
    this.audio.delete(track);
    track.detach(el);
    el.remove();
  }

  /** Only this room's elements: the sink is the page's, and the next room may be playing into it. */
  private stopAllAudio(): void {
    for (const track of [...this.audio.keys()]) this.stopAudio(track);
  }

  /** The devices of a kind the browser offers (labels only once the page may capture). */
  async devices(kind: DeviceKind): Promise<MediaDeviceInfo[]> {
    return Room.getLocalDevices(kind, false);
  }

  /** The device in use for a kind, if the room has chosen one. */
  activeDevice(kind: DeviceKind): string | undefined {
    return this.room.getActiveDevice(kind);
  }

  /** Switch a kind to `deviceId` now: the published track is restarted on it, or sound moves to it. */
  async useDevice(kind: DeviceKind, deviceId: string): Promise<void> {
    this.wanted[kind] = deviceId;
    const ok = await this.room.switchActiveDevice(kind, deviceId);
    if (!ok) throw new Error("the browser did not switch to that device");
    this.emit();
  }

  /** A track just opened on another device than the one chosen: move it there, if it is plugged in. */
  private async settle(pub: LocalTrackPublication, kind: "audioinput" | "videoinput"): Promise<void> {
    const wanted = this.wanted[kind];
    const opened = pub.track?.mediaStreamTrack.getSettings().deviceId;
    if (!wanted || !opened || opened === wanted) return;
    const plugged = await Room.getLocalDevices(kind, false).catch(() => []);
    if (!plugged.some((d) => d.deviceId === wanted)) return; // unplugged: the default it took stays
    // Chosen again meanwhile (useDevice switched already): the newer choice stands.
    if (this.wanted[kind] !== wanted) return;
    await this.room.switchActiveDevice(kind, wanted).catch(() => false);
    this.emit();
  }

  /**
   * A device in use was unplugged: the room goes back to the browser's default for that kind. The
   * SDK keeps an exact constraint on the device it switched to, so without this, turning the mic or
   * camera on again would fail. The choice itself is kept: plugged in again, the next track uses it.
   */
  private async followUnplugged(): Promise<void> {
    for (const kind of ["audioinput", "videoinput"] as const) {
      const active = this.room.getActiveDevice(kind);
      if (!active || active === "default") continue;
      const plugged = await Room.getLocalDevices(kind, false).catch(() => null);
      if (!plugged || plugged.some((d) => d.deviceId === active) || this.room.getActiveDevice(kind) !== active) continue;
      await this.room.switchActiveDevice(kind, "default", false).catch(() => false);
      this.emit();
    }
  }

  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /**
   * My microphone was muted by someone else: a moderator's mute reaches the SFU, which mutes the
   * track here; the SDK reports it as any mute, so the page's own changes go through setMicrophone.
   */
  onMutedByHost(fn: () => void): () => void {
    this.mutedListeners.add(fn);
    return () => this.mutedListeners.delete(fn);
  }

  /** Turn my microphone on or off: the page's own change (a mute it makes is not a host's). */
  async setMicrophone(on: boolean): Promise<void> {
    this.ownMicChanges += 1;
    try {
      await this.room.localParticipant.setMicrophoneEnabled(on);
    } finally {
      this.ownMicChanges -= 1;
    }
  }

  /** Raised hands pushed to moderators (topic `spaces.hands`). */
  onHands(fn: (hands: RaisedHands) => void): () => void {
    this.handsListeners.add(fn);
    return () => this.handsListeners.delete(fn);
  }

  /**
   * Tell the page. LiveKit raises its events from inside its signal reader, and an exception that
   * escapes a handler there is taken for a broken connection (it reconnects, and drops a leave it
   * was handling): a listener's bug is logged here and never reaches the SDK.
   */
  private emit(): void {
    for (const fn of this.listeners) guarded(fn);
  }

  private setStatus(status: Status): void {
    this.status = status;
    this.emit();
  }

  /**
   * Join with a token from the API. Throws a message meant for the person if the SFU refuses.
   * Clicking "Join" is the user gesture that lets the page start audio playback.
   */
  async connect(url: string, token: string): Promise<void> {
    this.setStatus({ kind: "connecting" });
    this.endedWhileConnecting = null;
    try {
      await this.room.connect(url, token);
    } catch (err) {
      const reason = this.endedWhileConnecting;
      if (reason !== null && !this.leaving && !reconnectsAfter(reason)) {
        // The SFU ended it for good while it was connecting: removed, the room gone, another tab.
        const ended = disconnectMessage(reason);
        this.setStatus({ kind: "ended", ...ended, dropped: false });
        throw new Error(ended.message);
      }
      const refused = err instanceof ConnectionError && (err.status === 401 || err.status === 403);
      const message = refused
        ? "The media server refused the join token."
        : `Could not connect to the media server (${(err as Error).message}).`;
      // Not refused (the network, the SFU out of reach): the page tries again by itself, as after a
      // drop (a first connect made offline is back once the network is). Not after a Leave: leaving
      // while connecting cancels the connect, and that is no failure to come back from.
      const dropped = !refused && !this.leaving;
      this.setStatus({ kind: "ended", message, canRejoin: true, dropped, removed: false, seatTaken: false });
      throw new Error(message);
    }
    await this.room.startAudio().catch(() => undefined);
    // startAudio waits on the elements' play(): an end in the meantime was held for this method too,
    // or (after a reconnect began) already said; a reconnect still under way says when it is back.
    const ended = this.endedWhileConnecting;
    if (ended !== null) {
      const said = disconnectMessage(ended);
      this.setStatus({ kind: "ended", ...said, dropped: reconnectsAfter(ended) });
      throw new Error(said.message);
    }
    const now = this.status;
    if (now.kind === "ended") throw new Error(now.message);
    if (now.kind === "connecting") this.setStatus({ kind: "connected" });
    for (const p of this.room.remoteParticipants.values()) this.takeStage(p);
  }

  async leave(): Promise<void> {
    this.leaving = true;
    await this.room.disconnect();
    this.stopAllAudio(); // also when no Disconnected event comes (a room that never connected)
  }

  /** Read a stage state from an agent's attribute, if it carries one; anyone else's is ignored. */
  private takeStage(p: Participant): void {
    const raw = agentStage(p);
    if (raw !== undefined) this.stage.offer(p.identity, parseStage(raw));
  }

  get info(): RoomInfo {
    return parseRoomMetadata(this.room.metadata);
  }

  /** Everyone in the room except agents: the local participant first. */
  get people(): Participant[] {
    const remote = [...this.room.remoteParticipants.values()].filter((p) => !p.isAgent);
    return [this.room.localParticipant, ...remote];
  }

  participant(identity: string): Participant | undefined {
    if (identity === this.room.localParticipant.identity) return this.room.localParticipant;
    return this.room.getParticipantByIdentity(identity);
  }
}

/** The role the SFU-side attribute names, if any. */
export function attributeRole(p: Participant): Role | null {
  const role = p.attributes[ROLE_ATTRIBUTE];
  return role === "host" || role === "cohost" || role === "speaker" || role === "listener" ? role : null;
}

export function isStageRole(role: string | null | undefined): boolean {
  return !!role && STAGE_ROLES.has(role);
}

/** The camera track to show for `p`, if it is published, subscribed and not muted. */
export function cameraTrack(p: Participant): Track | null {
  const pub: TrackPublication | undefined = p.getTrackPublication(Track.Source.Camera);
  if (!pub || pub.isMuted || !pub.track) return null;
  return pub.track;
}

/** The screen share track to show for `p`, if it is published, subscribed and not muted. */
export function screenTrack(p: Participant): Track | null {
  const pub: TrackPublication | undefined = p.getTrackPublication(Track.Source.ScreenShare);
  if (!pub || pub.isMuted || !pub.track) return null;
  return pub.track;
}

/** Whether `p` has a screen share published (subscribed or not). */
export function sharing(p: Participant): boolean {
  const pub = p.getTrackPublication(Track.Source.ScreenShare);
  return !!pub && !pub.isMuted;
}

/**
 * How the page captures a screen (docs/screen-share.md, "Limits (chosen)"): 1080p at most, 15 fps, 2.5 Mbps.
 * Text on a slide needs resolution more than frames; the composer scales it into its 720p big tile.
 */
export const SCREEN_SHARE = { width: 1920, height: 1080, frameRate: 15, maxBitrate: 2_500_000 } as const;

/**
 * Start or stop sharing the screen (the browser asks the person which screen, window or tab).
 * Closing the browser's picker is a choice, not a failure: nothing is shared and nothing is reported.
 */
export async function setScreenShare(p: Pick<LocalParticipant, "setScreenShareEnabled">, on: boolean): Promise<void> {
  const { width, height, frameRate, maxBitrate } = SCREEN_SHARE;
  try {
    await p.setScreenShareEnabled(
      on,
      // No tab audio: the grant has no screen-share audio (docs/screen-share.md).
      { audio: false, resolution: { width, height, frameRate }, contentHint: "detail" },
      { screenShareEncoding: { maxBitrate, maxFramerate: frameRate } },
    );
  } catch (err) {
    if (on && (err as { name?: string } | null)?.name === "NotAllowedError") return;
    throw err;
  }
}

/** What the page captures from this browser. */
export type Capture = "microphone" | "camera" | "screen";

/**
 * What to tell the person when turning a microphone, camera or screen share on failed. The browser's
 * capture refusals (getUserMedia's errors, by name) say what to do about them; anything else came
 * from the media server.
 */
export function publishError(err: unknown, what: Capture): string {
  const choose = "or choose another under Devices, then try again.";
  switch ((err as { name?: string } | null)?.name) {
    case "NotAllowedError":
    case "PermissionDeniedError":
    case "SecurityError":
      return `The browser does not let this page use your ${what}: allow it in the site settings (the icon beside the address), then try again.`;
    case "NotFoundError":
    case "DevicesNotFoundError":
      return what === "screen" ? "The browser found nothing to share." : `No ${what} found: plug one in ${choose}`;
    case "NotReadableError":
    case "TrackStartError":
    case "AbortError":
      return `Your ${what} could not be started: another app may be using it. Close that app, then try again.`;
    case "OverconstrainedError":
      return `The ${what} chosen is not available: plug it in ${choose}`;
    case "DeviceUnsupportedError":
    case "NotSupportedError":
      // The browser, not the server: a phone has no screen capture, an old browser no camera API.
      return what === "screen" ? "This browser cannot share a screen: share it from a computer." : `This browser cannot use a ${what} here.`;
    default:
      return `The media server refused: ${(err as Error)?.message ?? String(err)}`;
  }
}

/** Whether `p`'s camera is on (published and not muted), whether or not this page receives it. */
export function cameraOn(p: Participant): boolean {
  const pub = p.getTrackPublication(Track.Source.Camera);
  return !!pub && !pub.isMuted;
}

/** Whether `p`'s microphone is live (published and not muted). */
export function micOn(p: Participant): boolean {
  const pub = p.getTrackPublication(Track.Source.Microphone);
  return !!pub && !pub.isMuted;
}

/** Whether `p` has a microphone published but muted (by themselves, or by a host). */
export function micMuted(p: Participant): boolean {
  const pub = p.getTrackPublication(Track.Source.Microphone);
  return !!pub && pub.isMuted;
}

// livekit protocol TrackSource values, as the SFU lists them in `canPublishSources`.
const SOURCE_CAMERA = 1;
const SOURCE_MICROPHONE = 2;
const SOURCE_SCREEN_SHARE = 3;

/** What the SFU lets the local participant publish right now (its permissions, not its wishes). The
 * control plane always names the sources of a publisher's grant (functions/domain/grants.py); an
 * empty list is the SFU's "any source", and is read as such. */
export function publishRights(p: Participant): PublishRights {
  const perm = p.permissions;
  if (!perm?.canPublish) return { mic: false, camera: false, screen: false };
  const sources = perm.canPublishSources ?? [];
  if (sources.length === 0) return { mic: true, camera: true, screen: true };
  return { mic: sources.includes(SOURCE_MICROPHONE), camera: sources.includes(SOURCE_CAMERA), screen: sources.includes(SOURCE_SCREEN_SHARE) };
}

/** Whether this browser can share a screen at all: phones' browsers (Chrome on Android, Safari on
 * iOS) have no getDisplayMedia, and a Share button there could only fail. */
export function canShareScreen(nav: { mediaDevices?: { getDisplayMedia?: unknown } } | undefined = globalThis.navigator): boolean {
  return typeof nav?.mediaDevices?.getDisplayMedia === "function";
}

export interface PublishRights {
  mic: boolean;
  camera: boolean;
  /** A screen share (host and co-hosts in a Space with video). */
  screen: boolean;
}
