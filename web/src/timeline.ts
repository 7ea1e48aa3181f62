/**
 * A recording's speaker timeline: who held the stage when, from the composer's `timeline.json`,
 * and the mapping between its wall-clock times and the recording's media time through the
 * playlist's PROGRAM-DATE-TIME. Pure: no DOM, no hls.js. The file's shape is the contract's
 * (contract/schema/broadcast.schema.json); this module only refuses what does not match it.
 */

import type { BroadcastTimeline as Timeline, TimelineEntry } from "./contract.gen";

export type { Timeline, TimelineEntry };

const idOrNull = (v: unknown): string | null => (typeof v === "string" && v ? v : null);

/** `timeline.json`, checked; malformed entries are dropped, entries come out in time order. */
export function parseTimeline(raw: unknown): Timeline | null {
  if (!raw || typeof raw !== "object") return null;
  const r = raw as Record<string, unknown>;
  if (typeof r.started_at !== "number" || !Array.isArray(r.entries)) return null;
  return {
    space_id: typeof r.space_id === "string" ? r.space_id : "",
    started_at: r.started_at,
    ended: r.ended === true,
    entries: parseEntries(r.entries),
  };
}

/** Timeline entries (timeline.json's, state.json's `timeline_recent`), checked: malformed ones are
 * dropped, the rest come out in time order. */
export function parseEntries(raw: unknown): TimelineEntry[] {
  if (!Array.isArray(raw)) return [];
  const entries: TimelineEntry[] = [];
  for (const e of raw as unknown[]) {
    if (!e || typeof e !== "object") continue;
    const x = e as Record<string, unknown>;
    if (typeof x.t !== "number" || !Number.isFinite(x.t)) continue;
    const names: Record<string, string> = {};
    if (x.names && typeof x.names === "object") {
      for (const [id, name] of Object.entries(x.names as Record<string, unknown>)) {
        if (typeof name === "string" && name) names[id] = name;
      }
    }
    entries.push({
      t: x.t,
      spotlight: idOrNull(x.spotlight),
      video_spotlight: idOrNull(x.video_spotlight),
      pinned: idOrNull(x.pinned),
      names,
    });
  }
  entries.sort((a, b) => a.t - b.t);
  return entries;
}

/** Who held the spotlight at `ms` (epoch ms, a player's PROGRAM-DATE-TIME): the latest entry at or
 * before it; null before the first, or without a time. */
export function spotlightAt(entries: readonly TimelineEntry[], ms: number | null): string | null {
  if (ms === null) return null;
  let holder: string | null = null;
  for (const e of entries) {
    if (e.t * 1000 > ms) break;
    holder = e.spotlight;
  }
  return holder;
}

/**
 * Who fills the big tile for an entry: the same rule as the live page's layout (stage.ts) and the
 * composer's frame, the video spotlight, else the spotlight. So a click on a segment lands on
 * frames that show that person.
 */
export function stageHolder(e: Pick<TimelineEntry, "spotlight" | "video_spotlight">): string | null {
  return e.video_spotlight ?? e.spotlight;
}

export interface StageSegment {
  /** Epoch seconds. */
  start: number;
  end: number;
  /** Who held the stage (the spotlight), or null while nobody had spoken. */
  holder: string | null;
  /** The holder's display name (their id when the timeline names nobody). */
  name: string;
  /** Whether a host had pinned the holder there. */
  pinned: boolean;
}

/**
 * Segments shorter than this are folded into the next one (the last into the one before). The
 * composer records the first stage a moment after its first segment starts, and a switch back and
 * forth within a frame or two is not a turn anyone can click on.
 */
export const MIN_SEGMENT_S = 0.5;

/**
 * The timeline as segments of one holder each, clipped to the recording [from, to] (epoch s):
 * consecutive entries with the same holder and pin merge, slivers shorter than MIN_SEGMENT_S fold
 * into a neighbour, and an empty recording has none.
 */
export function stageSegments(entries: readonly TimelineEntry[], from: number, to: number): StageSegment[] {
  const names = new Map<string, string>();
  for (const e of entries) for (const [id, name] of Object.entries(e.names)) names.set(id, name);
  // null: nobody has spoken yet (the stage itself is seldom empty: the host is on it).
  const nameOf = (id: string | null) => (id === null ? "Nobody speaking" : (names.get(id) ?? id));

  const out: StageSegment[] = [];
  const push = (start: number, holder: string | null, pinned: boolean) => {
    const last = out[out.length - 1];
    if (last && last.holder === holder && last.pinned === pinned) return;
    if (last) last.end = start;
    out.push({ start, end: to, holder, name: nameOf(holder), pinned });
  };
  let before: TimelineEntry | null = null; // the entry in force when the recording starts
  for (const e of entries) {
    if (e.t <= from) before = e;
  }
  push(from, before ? stageHolder(before) : null, !!before && before.pinned !== null && before.pinned === stageHolder(before));
  for (const e of entries) {
    if (e.t <= from || e.t >= to) continue;
    const holder = stageHolder(e);
    push(e.t, holder, e.pinned !== null && e.pinned === holder);
  }
  return foldSlivers(out.filter((s) => s.end > s.start));
}

function foldSlivers(segments: StageSegment[]): StageSegment[] {
  const out: StageSegment[] = [];
  let carry: number | null = null; // start of slivers waiting for the next segment
  for (const seg of segments) {
    const start: number = carry ?? seg.start;
    if (seg.end - seg.start < MIN_SEGMENT_S && seg !== segments[segments.length - 1]) {
      carry = start;
      continue;
    }
    carry = null;
    const last = out[out.length - 1];
    if (last && last.holder === seg.holder && last.pinned === seg.pinned) last.end = seg.end;
    else if (last && seg.end - seg.start < MIN_SEGMENT_S) last.end = seg.end; // a sliver at the end
    else out.push({ ...seg, start });
  }
  return out;
}

/** One media segment's place in both clocks: from the playlist, via hls.js's fragments. */
export interface PdtAnchor {
  /** Media time of the segment's first frame, seconds. */
  start: number;
  duration: number;
  /** Its PROGRAM-DATE-TIME, epoch ms. */
  pdt: number;
}

/**
 * Media time (s) that shows wall-clock time `t` (epoch s). Inside a segment: by its
 * PROGRAM-DATE-TIME. In a gap between segments (a replaced composer left a discontinuity): the
 * start of the next segment. Before the recording: its start; after: its end. Null without anchors.
 */
export function mediaTimeAt(t: number, anchors: readonly PdtAnchor[]): number | null {
  if (anchors.length === 0) return null;
  const ms = t * 1000;
  for (const a of anchors) {
    if (ms < a.pdt) return a.start; // before this segment (and after the previous one)
    if (ms < a.pdt + a.duration * 1000) return a.start + (ms - a.pdt) / 1000;
  }
  const last = anchors[anchors.length - 1];
  return last.start + last.duration;
}

/** Wall-clock time (epoch s) shown at media time `m`, or null outside the recording. */
export function wallClockAt(m: number, anchors: readonly PdtAnchor[]): number | null {
  for (const a of anchors) {
    if (m >= a.start && m < a.start + a.duration) return (a.pdt + (m - a.start) * 1000) / 1000;
  }
  return null;
}

/** The recording's wall-clock span [first PDT, end of the last segment], epoch s. */
export function recordingSpan(anchors: readonly PdtAnchor[]): { from: number; to: number } | null {
  if (anchors.length === 0) return null;
  const last = anchors[anchors.length - 1];
  return { from: anchors[0].pdt / 1000, to: (last.pdt + last.duration * 1000) / 1000 };
}

/** "m:ss" (or "h:mm:ss") for a media time. */
export function clock(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return hh > 0 ? `${hh}:${String(mm).padStart(2, "0")}:${ss}` : `${mm}:${ss}`;
}
