/**
 * The recording of an ended Space (`#/spaces/<id>/replay`): its closed broadcast playlist from the
 * first segment, and a speaker timeline from the composer's `timeline.json`. A click on the
 * timeline seeks to that moment: wall-clock times map to media time through PROGRAM-DATE-TIME.
 */
import type { App, View } from "../app";
import { ApiError, type Space } from "../api";
import { replayAvailable } from "../broadcast";
import { avatar, h, stale } from "../dom";
import { personOf } from "../people";
import { BroadcastPlayer } from "../hls_player";
import {
  clock,
  mediaTimeAt,
  parseTimeline,
  recordingSpan,
  type StageSegment,
  stageSegments,
  type Timeline,
  wallClockAt,
} from "../timeline";

/** A closed recording shorter than this (s) is said to be empty (the Space ended as it began). */
export const EMPTY_RECORDING_S = 1;

function day(iso: string | null | undefined): string {
  const d = iso ? new Date(iso) : null;
  return d && !Number.isNaN(d.getTime()) ? d.toLocaleString([], { dateStyle: "medium", timeStyle: "short" }) : "";
}

async function loadTimeline(url: string): Promise<Timeline | null> {
  try {
    const resp = await fetch(url, { cache: "no-store" });
    return resp.ok ? parseTimeline(await resp.json()) : null;
  } catch {
    return null;
  }
}

export function replayView(app: App, spaceId: string): View {
  const el = h("section", { class: "replay", "data-testid": "replay-page", "data-space-id": spaceId }, h("p", { class: "muted" }, "Loading…"));
  // A row of buttons (each seeks to its segment), grouped under the heading's name.
  const bar = h("div", { class: "timeline", "data-testid": "timeline", role: "group", "aria-label": "Who held the stage" });
  const position = h("span", { class: "muted small", "data-testid": "replay-position" });
  const note = h("p", { class: "muted small", "data-testid": "timeline-note" });
  let player: BroadcastPlayer | null = null;
  let timeline: Timeline | null = null;
  let segments: StageSegment[] = [];
  let disposed = false;

  function message(text: string): void {
    el.replaceChildren(
      h("div", { class: "card message" }, h("p", { "data-testid": "space-message" }, text), h("a", { class: "btn", href: "#/" }, "Back to Spaces")),
    );
  }

  /** Redrawn when hls.js updates the playlist (segment times settle) and as playback moves. */
  function draw(): void {
    if (!player) return;
    const anchors = player.anchors();
    const span = recordingSpan(anchors);
    if (timeline && span) segments = stageSegments(timeline.entries, span.from, span.to);
    const total = span ? anchors[anchors.length - 1].start + anchors[anchors.length - 1].duration : 0;
    const now = player.video.currentTime;
    position.textContent = total ? `${clock(now)} / ${clock(total)}` : "";
    if (player.state === "failed") note.textContent = player.error || "The recording cannot be played.";
    // Until its playlist is read the recording has no anchors yet: that is not a missing
    // PROGRAM-DATE-TIME. The player keeps asking for a playlist that does not come; say why.
    else if (!player.loaded) {
      note.textContent = player.loadProblem ? `The recording could not be loaded (${player.loadProblem}). Trying again…` : "Loading the recording…";
    } else if (player.closed && !!player.hls && player.mediaSeconds() < EMPTY_RECORDING_S) {
      // A Space ended as its broadcast began: the API offers its recording, which holds nothing.
      note.textContent = "This recording is empty: the Space ended before its broadcast had begun.";
    } else if (!timeline) note.textContent = "No speaker timeline was recorded for this Space.";
    else if (!span) note.textContent = "The recording has no PROGRAM-DATE-TIME, so the timeline cannot be placed on it.";
    else note.textContent = "";

    if (stale(bar, [segments, anchors.length])) {
      bar.replaceChildren(
        ...segments.map((seg) => {
          const at = mediaTimeAt(seg.start, anchors) ?? 0;
          const label = `${clock(at)} ${seg.name}${seg.pinned ? " (pinned)" : ""}`;
          const button = h(
            "button",
            {
              class: `segment ${seg.holder ? "" : "nobody"}`,
              title: `${label}, ${Math.round(seg.end - seg.start)} s`,
              "data-testid": "timeline-segment",
              "data-holder": seg.holder ?? "",
              "data-media-start": at.toFixed(3),
              onclick: () => player?.seek(at),
            },
            seg.holder ? avatar(seg.holder, "s", { name: seg.name, picture: null }) : "",
            h("span", { class: "segment-name" }, seg.name),
          );
          button.style.flexGrow = String(Math.max(seg.end - seg.start, 0.001));
          return button;
        }),
      );
    }
    // The segment on screen now.
    const wall = wallClockAt(now, anchors);
    bar.querySelectorAll<HTMLElement>("[data-testid=timeline-segment]").forEach((b, i) => {
      const seg = segments[i];
      const current = wall !== null && !!seg && wall >= seg.start && wall < seg.end;
      b.classList.toggle("current", current);
      if (current) b.setAttribute("aria-current", "true");
      else b.removeAttribute("aria-current");
    });
  }

  async function load(): Promise<void> {
    let space: Space;
    try {
      space = await app.api.getSpace(spaceId);
    } catch (err) {
      const e = err as ApiError;
      if (e.status === 401) return app.signOut();
      return message(e.status === 404 || e.status === 422 ? "No Space with this link." : `Could not load the Space: ${e.detail}`);
    }
    if (disposed) return;
    // Which Space's replay, for a tab list or a screen reader (main.ts could only say "Replay").
    if (space.title) document.title = `Replay: ${space.title} · Spaces`;
    if (space.state !== "ended") return message("This Space has not ended yet: its replay starts when it ends.");
    if (!replayAvailable(space) || !space.broadcast) return message("This Space has no recording (it was not broadcast, or its retention has passed).");
    const { playlist_url, timeline_url } = space.broadcast;
    let opened: BroadcastPlayer;
    let loaded: Timeline | null;
    try {
      [opened, loaded] = await Promise.all([BroadcastPlayer.open(playlist_url, { live: false }), loadTimeline(timeline_url)]);
    } catch (err) {
      // The player's code could not be loaded (a deploy removed the old chunk, the network).
      if (!disposed) message(`Could not open the recording: ${(err as Error).message}`);
      return;
    }
    if (disposed) return opened.destroy();
    player = opened;
    timeline = loaded;
    window.spaces = { room: null, broadcast: player };
    player.video.controls = true;
    // The video's name for a screen reader, as the live page's: which Space's recording this is.
    player.video.setAttribute("aria-label", `Recording: ${space.title}`);
    // An audio-only recording (its stream holds no picture) says so, as the live page does, rather
    // than showing an empty black box. The video stays: its controls are the replay's only ones
    // (play, seek, volume), so the card lies over the picture's area, not in place of the element.
    const tile = h("div", { class: "big-tile broadcast", "data-testid": "broadcast", "data-video": "on", "data-audio-only": "false" }, player.video, h("div", { class: "big-face audio-only-card" }, h("p", { class: "muted" }, "Audio-only recording")));
    const drawTile = () => {
      const audioOnly = player?.audioOnlyStream ? "true" : "false";
      if (tile.dataset.audioOnly !== audioOnly) tile.dataset.audioOnly = audioOnly;
    };
    player.onChange(drawTile);
    player.onChange(draw);
    el.replaceChildren(
      h(
        "header",
        { class: "space-header" },
        h("span", { class: "badge" }, "Replay"),
        h("h1", {}, space.title),
        h("span", { class: "muted small" }, `Hosted by ${personOf(space.host, undefined, space.names).name} · ${day(space.started_at)}`),
        h("span", { class: "spacer" }),
        h("span", { class: "muted small", "data-testid": "available-until" }, `Available until ${day(space.recording_available_until)}`),
      ),
      tile,
      h("div", { class: "timeline-head" }, h("h2", {}, "Who held the stage"), position),
      bar,
      note,
    );
    drawTile();
    draw();
  }

  void load();
  return {
    el,
    unmount() {
      disposed = true;
      player?.destroy();
      window.spaces = { room: null };
    },
  };
}
