/**
 * A broadcast that stops coming: ask the API, once in a while, whether the Space is still live.
 *
 * An HLS viewer learns the end from the stream (ENDLIST) and state.json, both written by the
 * composer. If no composer sees the end (it crashed and the Space ended before a replacement came),
 * neither is written and the player would wait for ever; if only state.json's end was lost, the
 * player ends on a still picture under "LIVE". So a player that has been waiting (or loading, or has
 * failed, or ended) for STALL_CHECK_MS plus up to STALL_CHECK_JITTER_MS reads the Space once,
 * and again every STALL_RECHECK_MS (plus jitter) while it still waits; an ended Space then ends the
 * page as usual. A composer replacement stays below the first check: 20-30 s after a crash, up to
 * ~50 s after a composer's watchdog ended its stalled job (10 s of stall, then the re-dispatch, the
 * 5 s eviction grace and a start), which with the first check at 45 s had part of a whole audience
 * reading the API in an ordinary replacement. The jitter spreads the reads over half a minute
 * (docs/web.md, "The broadcast").
 */
import type { PlayerState } from "./hls_player";

export const STALL_CHECK_MS = 60_000;
export const STALL_CHECK_JITTER_MS = 30_000;
export const STALL_RECHECK_MS = 60_000;

export interface StallCheckDeps {
  /** Read the Space (its answer reaches the page through the controller). */
  check: () => void;
  random: () => number;
  setTimer: (fn: () => void, ms: number) => unknown;
  clearTimer: (handle: unknown) => void;
}

/**
 * Whether a live player in this state is not showing the Space (and so may be showing a dead
 * stream). Ended counts: the stream's ENDLIST came while the page still reads the Space as live,
 * which happens when the composer's last write of state.json failed (it gives that write 5 s and
 * closes the stream anyway). The page leaves a player that ended with the Space, as state.json
 * says it did, well before the first check (space_session.ts `followBroadcast`).
 */
export function stuck(state: PlayerState): boolean {
  return state === "waiting" || state === "loading" || state === "failed" || state === "ended";
}

export class StallCheck {
  private timer: unknown = null;

  constructor(private readonly deps: StallCheckDeps) {}

  /** The player's state now: stuck arms the check (if it is not armed), anything else disarms it. */
  update(state: PlayerState): void {
    if (!stuck(state)) return this.stop();
    if (this.timer === null) this.arm(STALL_CHECK_MS);
  }

  stop(): void {
    if (this.timer !== null) this.deps.clearTimer(this.timer);
    this.timer = null;
  }

  private arm(after: number): void {
    const wait = after + Math.round(this.deps.random() * STALL_CHECK_JITTER_MS);
    this.timer = this.deps.setTimer(() => {
      this.timer = null;
      this.deps.check();
      this.arm(STALL_RECHECK_MS);
    }, wait);
  }
}
