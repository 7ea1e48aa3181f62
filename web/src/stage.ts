/**
 * The stage as the media agent publishes it, and what the page draws from it. Pure: no DOM, no SDK.
 *
 * The agent decides the spotlight; this module only accepts its states in order and turns the
 * latest one into a layout. No viewer ever computes a spotlight from local audio levels, so every
 * viewer switches on the same state.
 */

import type { Speaking, StageState, VideoSource } from "./contract.gen";

export type { Speaking, StageState, VideoSource };

const str = (v: unknown): string | null => (typeof v === "string" && v ? v : null);

/** The agent's JSON (participant attribute `stage` or the `get_stage` RPC reply), or null if malformed. */
export function parseStage(json: string | undefined | null): StageState | null {
  if (!json) return null;
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return null;
  }
  if (!raw || typeof raw !== "object" || typeof raw.seq !== "number") return null;
  const speaking = Array.isArray(raw.speaking)
    ? raw.speaking
        .map((s: { identity?: unknown; level?: unknown }) => ({
          identity: str(s?.identity) ?? "",
          level: typeof s?.level === "number" ? Math.max(0, Math.min(1, s.level)) : 0,
        }))
        .filter((s) => s.identity)
    : [];
  return {
    seq: raw.seq,
    spotlight: str(raw.spotlight),
    video_spotlight: str(raw.video_spotlight),
    // An older agent sends no source: its big tile is always a camera.
    video_source: raw.video_source === "screen_share" ? "screen_share" : "camera",
    speaking,
    video_on: Array.isArray(raw.video_on) ? raw.video_on.filter((v): v is string => typeof v === "string") : [],
    pinned: str(raw.pinned),
    t: typeof raw.t === "number" ? raw.t : 0,
  };
}

/**
 * Keeps the newest stage state. `seq` is monotonic across agent restarts, so an older state that
 * arrives late (an RPC reply racing an attribute update) is dropped. When the agent that gave the
 * current state leaves, its successor's states are accepted whatever their seq.
 */
export class StageTracker {
  private state: StageState | null = null;
  private source: string | null = null;

  get current(): StageState | null {
    return this.state;
  }

  /** Returns true if `state` became the current one. */
  offer(source: string, state: StageState | null): boolean {
    if (!state) return false;
    if (this.state && this.source !== null && state.seq <= this.state.seq) return false;
    this.state = state;
    this.source = source;
    return true;
  }

  /** The agent `source` left the room. Its spotlight stays until a successor's stage comes (the big
   * tile does not go blank meanwhile: about 20 s after a crash, docs/agent.md), but who it heard
   * talking is over: nobody stays ringed as speaking while no agent listens. */
  forget(source: string): void {
    if (this.source !== source) return;
    this.source = null;
    if (this.state && this.state.speaking.length > 0) this.state = { ...this.state, speaking: [] };
  }

  clear(): void {
    this.state = null;
    this.source = null;
  }
}

export interface Layout {
  /** Who fills the big tile: the video spotlight, else the (audio) spotlight, else nobody yet. */
  big: string | null;
  /** Whether the big tile is meant to show that person's video. */
  bigVideo: boolean;
  /** Which of their video tracks: their camera, or the screen share the host pinned. */
  bigSource: VideoSource;
  /** Everybody else on stage, in stage order (a presenter whose screen is on the big tile too, with their camera). */
  strip: string[];
  speaking: Map<string, number>;
  pinned: string | null;
  /**
   * Whether the pin holds the stage now, so the page may say "pinned": a camera pin always does; a
   * screen pin only while its share is on the big tile (without the share the stage follows the
   * speakers, and the pinned person's camera may be large only because they spoke last).
   */
  pinHolds: boolean;
}

/**
 * The layout for `members` (stage participants in stage order) under the agent's `stage`;
 * `pinnedSource` is what the host pinned (room metadata), the camera when absent.
 */
export function layoutFor(stage: StageState | null, members: readonly string[], pinnedSource: VideoSource = "camera"): Layout {
  const big = stage ? (stage.video_spotlight ?? stage.spotlight) : null;
  const speaking = new Map((stage?.speaking ?? []).map((s) => [s.identity, s.level]));
  const bigSource: VideoSource = stage?.video_spotlight != null && stage.video_source === "screen_share" ? "screen_share" : "camera";
  return {
    big,
    bigVideo: stage?.video_spotlight != null,
    bigSource,
    strip: members.filter((m) => m !== big || bigSource === "screen_share"),
    speaking,
    pinned: stage?.pinned ?? null,
    pinHolds: stage?.pinned != null && (bigSource === "screen_share" || pinnedSource !== "screen_share"),
  };
}

const STAGE_ORDER = { host: 0, cohost: 1, speaker: 2 } as const;

/** The stage in the order its members took their seats (`stageOrder`'s `seated`): the host, the
 * co-hosts, the speakers, as the Space or the room metadata stores them (contract/room_metadata.py
 * `RoomMetadata.seated` is the same rule). */
export function seatedOf(stage: { host: string; cohosts: readonly string[]; speakers: readonly string[] }): string[] {
  return [stage.host, ...stage.cohosts, ...stage.speakers].filter((id) => id);
}

/** Stage order: host, co-hosts, speakers; within a role in the order they took their seats
 * (`seated`: the Space's host, co-hosts and speakers as stored, which the control plane appends to),
 * so a newcomer joins the end of the strip and nobody moves. Anyone not in `seated` comes after,
 * by identity compared as plain strings (not by locale: for the ASCII ids the control plane issues,
 * Python's order). The broadcast draws its strip by the same rule
 * (composer/layout.py `stage_order`), so every viewer agrees. */
export function stageOrder(
  members: ReadonlyArray<{ identity: string; role: string }>,
  seated: readonly string[] = [],
): string[] {
  const rank = (role: string) => STAGE_ORDER[role as keyof typeof STAGE_ORDER] ?? 3;
  const seats = new Map<string, number>();
  seated.forEach((id, i) => {
    if (!seats.has(id)) seats.set(id, i);
  });
  const seat = (id: string) => seats.get(id) ?? seated.length;
  const plain = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return [...members]
    .sort((a, b) => rank(a.role) - rank(b.role) || seat(a.identity) - seat(b.identity) || plain(a.identity, b.identity))
    .map((m) => m.identity);
}
