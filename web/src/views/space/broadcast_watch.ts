/**
 * One viewing of the broadcast (an HLS viewer, beyond the interactive threshold): the opened player
 * view and everything that runs while it is watched. It sends the presence heartbeat (sampled viewers,
 * while playing), runs the stall check (a stream that stops coming reads the Space now and then),
 * polls the reactions feed and reads state.json, the room metadata for viewers without a room, from
 * the CDN. `close()` stops all of it; nothing it started reports after that.
 */
import type { RoomMetadata } from "../../contract.gen";
import { Heartbeat } from "../../heartbeat";
import { STATE_POLL_MS } from "../../names";
import { parseRoomMetadata, stateUrl } from "../../pushed";
import { FeedPoller, reactionsUrl } from "../../reaction_feed";
import { StallCheck } from "../../stall_check";
import type { BroadcastStage } from "../broadcast_stage";
import type { ReactionsOverlay } from "../reactions";

export interface WatchDeps {
  playlistUrl: string;
  /** Seconds between heartbeats, or null: this viewer is not sampled and sends none. */
  presenceInterval: number | null;
  /** One heartbeat (POST /spaces/{id}/presence). */
  sendPresence(): Promise<void>;
  /** The stall check's read of the Space. */
  check(): void;
  /** A state.json document read while this viewing lasts. */
  onState(doc: RoomMetadata): void;
  /** Where the reactions of reactions.json float. */
  reactions: ReactionsOverlay;
  fetchText(url: string): Promise<string | null>;
}

export class BroadcastWatch {
  private closed = false;
  private readonly stops: (() => void)[] = [];

  constructor(
    readonly view: BroadcastStage,
    private readonly deps: WatchDeps,
  ) {
    const player = view.player;
    const beat = new Heartbeat(deps.presenceInterval, {
      send: () => deps.sendPresence(),
      nowMs: () => Date.now(),
      random: () => Math.random(),
      setTimer: (fn, ms) => window.setTimeout(fn, ms),
      clearTimer: (handle) => window.clearTimeout(handle as number),
    });
    const follow = (): void => beat.setPlaying(player.state === "playing");
    this.stops.push(player.onChange(follow), () => beat.stop());
    follow();

    const stall = new StallCheck({
      check: () => deps.check(),
      random: () => Math.random(),
      setTimer: (fn, ms) => window.setTimeout(fn, ms),
      clearTimer: (handle) => window.clearTimeout(handle as number),
    });
    this.stops.push(player.onChange(() => stall.update(player.state)), () => stall.stop());
    stall.update(player.state);

    // HLS viewers see the room's reactions from reactions.json when their playback reaches them
    // (docs/reactions.md).
    view.overlay(deps.reactions.el);
    const feed = new FeedPoller(reactionsUrl(deps.playlistUrl), {
      fetchText: (url) => deps.fetchText(url),
      playingDateMs: () => player.playbackClockMs(),
      onPlayback: (fn) => player.onChange(fn),
      show: (burst) => deps.reactions.show(burst),
      every: (fn, ms) => window.setInterval(fn, ms),
      stopEvery: (handle) => window.clearInterval(handle as number),
    });
    feed.start();
    this.stops.push(() => feed.stop());

    const url = stateUrl(deps.playlistUrl);
    const timer = window.setInterval(() => void this.readState(url), STATE_POLL_MS);
    this.stops.push(() => window.clearInterval(timer));
    void this.readState(url);
  }

  get playlistUrl(): string {
    return this.deps.playlistUrl;
  }

  /** Stop everything this viewing runs and remove its player. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const stop of this.stops) stop();
    this.view.destroy();
  }

  /** One read of state.json: an answer that comes after the viewing closed changes nothing. */
  private async readState(url: string): Promise<void> {
    try {
      const text = await this.deps.fetchText(url);
      if (text === null || this.closed) return;
      const doc = parseRoomMetadata(text);
      this.view.stageChanges(doc.timeline_recent ?? []);
      this.deps.onState(doc);
    } catch {
      // The next read tries again; the stream itself goes on.
    }
  }
}
