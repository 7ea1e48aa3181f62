/**
 * Keeps a live player that plays a video Space's two renditions (docs/broadcast.md, "Renditions")
 * on windows that move, and off the big one when its link falls behind:
 *
 * - A window that stopped growing while another one goes on is dropped from the player's levels.
 *   A composer of an older release that takes a Space over writes the main window only, so the low
 *   window it leaves behind stops for good; hls.js sees no error in that (a live playlist that does
 *   not change is reloaded for ever), and a viewer on the low rendition would wait for ever. A
 *   window is judged frozen after FROZEN_LEVEL_MS without a new segment, and dropped only if another
 *   window is at least AHEAD_SEGMENTS segments further: a composer replacement (both windows still
 *   for 20-30 s) drops nothing.
 * - A stall while a segment is downloading steps the next load down one rendition. hls.js' own
 *   emergency switch never steps down from the second-lowest level (`abr-controller.ts`,
 *   `_abandonRulesCheck`, 1.7), so with two renditions a link that worsened mid-stream stalled for
 *   ~9 s, with jumps to the live edge, before its estimate came down (an outside review, CDP
 *   throttling from 10 to 1.2 Mb/s). A stall with no download under way (a composer replacement, a
 *   segment published late) is not the link's, and changes nothing. One at the lowest rendition is
 *   said to the player, which may play the sound alone instead (sound_only.ts, `ThinLink`).
 */

export const FROZEN_LEVEL_MS = 10_000;
export const AHEAD_SEGMENTS = 3;

/** The media sequence number of a media playlist's last segment, or null if it is not one. */
export function lastSequence(text: string): number | null {
  if (!text.startsWith("#EXTM3U")) return null;
  let sequence = 0;
  let segments = 0;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line.startsWith("#EXT-X-MEDIA-SEQUENCE:")) sequence = Number(line.slice("#EXT-X-MEDIA-SEQUENCE:".length));
    else if (line && !line.startsWith("#")) segments += 1;
  }
  return Number.isInteger(sequence) && segments > 0 ? sequence + segments - 1 : null;
}

/** The part of hls.js the guard uses. */
export interface GuardedHls {
  readonly levels: readonly { readonly url: readonly string[] }[];
  readonly loadLevel: number;
  readonly autoLevelEnabled: boolean;
  nextAutoLevel: number;
  nextLoadLevel: number;
  removeLevel(index: number): void;
}

export class RenditionGuard {
  /** Per window URL: its last segment and when it was first seen. */
  private grew = new Map<string, { endSN: number; at: number }>();
  private checking = false;
  private checkedAt = -Infinity;
  /**
   * Segments of the main stream being downloaded, by level and sequence number (FRAG_LOADING, until
   * FRAG_LOADED, an abort or an error of that segment, fatal or not): an end seen twice, or for a
   * segment whose download had ended, changes nothing.
   */
  private downloading = new Set<string>();
  /** Time with a download under way (ms), up to `busySince` when one is. */
  private busyMs = 0;
  private busySince: number | null = null;

  constructor(
    private readonly hls: GuardedHls,
    /** A playlist's text, or null when it cannot be read. */
    private readonly fetchText: (url: string) => Promise<string | null>,
    private readonly now: () => number = Date.now,
  ) {}

  /** hls.js loaded the playlist of level `level` (LEVEL_LOADED), whose last segment is `endSN`. */
  levelLoaded(level: number, endSN: number): void {
    const url = this.hls.levels[level]?.url[0];
    if (url === undefined) return;
    const t = this.now();
    const seen = this.grew.get(url);
    if (!seen || endSN > seen.endSN) {
      this.grew.set(url, { endSN, at: t });
      return;
    }
    if (this.hls.levels.length < 2 || this.checking) return;
    if (t - seen.at < FROZEN_LEVEL_MS || t - this.checkedAt < FROZEN_LEVEL_MS) return;
    void this.dropIfOthersMove(url, seen.endSN);
  }

  /** Milliseconds during which a segment of the main stream was downloading, since the player began. */
  downloadingMs(): number {
    return this.busyMs + (this.busySince === null ? 0 : this.now() - this.busySince);
  }

  /**
   * hls.js started (true) or ended (false: loaded, aborted or failed) the download of segment `key`
   * ("<level>:<sn>").
   */
  download(key: string, started: boolean): void {
    const busy = this.downloading.size > 0;
    if (started) this.downloading.add(key);
    else this.downloading.delete(key);
    this.settle(busy);
  }

  /** The player stopped loading (hls.js drops what it was downloading, saying nothing of it). */
  forgetDownloads(): void {
    const busy = this.downloading.size > 0;
    this.downloading.clear();
    this.settle(busy);
  }

  private settle(wasBusy: boolean): void {
    const busy = this.downloading.size > 0;
    if (busy && !wasBusy) this.busySince = this.now();
    if (!busy && wasBusy && this.busySince !== null) {
      this.busyMs += this.now() - this.busySince;
      this.busySince = null;
    }
  }

  /**
   * The player stalled: while a segment downloads, load the next one a rendition lower. Whether
   * the stall is the link's at the lowest rendition already (nothing lower to step to).
   */
  stalled(): boolean {
    const hls = this.hls;
    if (this.downloading.size === 0) return false;
    if (hls.autoLevelEnabled && hls.loadLevel > 0) hls.nextAutoLevel = hls.loadLevel - 1;
    return hls.loadLevel <= 0;
  }

  private async dropIfOthersMove(frozen: string, endSN: number): Promise<void> {
    this.checking = true;
    this.checkedAt = this.now();
    try {
      for (const other of this.hls.levels.map((level) => level.url[0]).filter((url) => url !== frozen)) {
        const text = await this.fetchText(other);
        const last = text === null ? null : lastSequence(text);
        // Far enough ahead, or ahead and ended (the stopped window missed its closing write).
        const ended = text?.includes("#EXT-X-ENDLIST") ?? false;
        if (last === null || (last < endSN + AHEAD_SEGMENTS && !(ended && last > endSN))) continue;
        // Found again by its URL: the levels may have changed while the other window was read.
        const index = this.hls.levels.findIndex((level) => level.url[0] === frozen);
        if (index >= 0 && this.hls.levels.length > 1) {
          this.hls.removeLevel(index);
          // As hls.js does after removing a level it was loading: load from the lowest left.
          if (this.hls.loadLevel === -1) this.hls.nextLoadLevel = 0;
        }
        this.grew.delete(frozen);
        return;
      }
    } finally {
      this.checking = false;
    }
  }
}
