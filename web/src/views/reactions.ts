// Reactions: a bar that posts an emoji (every role; the API rate-limits), and an overlay that
// floats the room's aggregated reactions (one ReactionBurst per window, data topic
// REACTIONS_TOPIC, sent by the control plane) over the stage, sized by count.
import { ApiError } from "../api";
import { REACTION_EMOJI, REACTIONS_TOPIC, type ReactionBurst } from "../contract.gen";

/** Milliseconds a floating reaction stays on screen. */
export const FLOAT_MS = 2500;
/** At most this many bubbles per emoji per burst (a count badge says the rest). */
export const MAX_BUBBLES = 3;

export function parseBurst(data: Uint8Array | string, topic: string | undefined): ReactionBurst | null {
  if (topic !== REACTIONS_TOPIC) return null;
  try {
    const doc = JSON.parse(typeof data === "string" ? data : new TextDecoder().decode(data)) as Partial<ReactionBurst>;
    if (typeof doc.space_id !== "string" || !doc.counts || typeof doc.counts !== "object") return null;
    const counts: Record<string, number> = {};
    for (const [emoji, n] of Object.entries(doc.counts)) {
      if ((REACTION_EMOJI as readonly string[]).includes(emoji) && Number.isInteger(n) && n > 0) counts[emoji] = n;
    }
    return {
      space_id: doc.space_id,
      first_window: Number(doc.first_window),
      last_window: Number(doc.last_window),
      window_seconds: Number(doc.window_seconds),
      counts,
    };
  } catch {
    return null;
  }
}

/** Bubble scale for a count: 1 for one reaction, growing with log2, capped at 2.5. */
export function scaleFor(count: number): number {
  return Math.min(2.5, 1 + Math.log2(Math.max(1, count)) * 0.25);
}

export function prefersReducedMotion(): boolean {
  return typeof window !== "undefined" && !!window.matchMedia?.("(prefers-reduced-motion: reduce)").matches;
}

export class ReactionsOverlay {
  readonly el: HTMLElement;
  /** Sum of every count shown (tests and the e2e read it). */
  shown = 0;

  constructor(
    private readonly reducedMotion: () => boolean = prefersReducedMotion,
    private readonly schedule: (fn: () => void, ms: number) => void = (fn, ms) => void setTimeout(fn, ms),
  ) {
    this.el = document.createElement("div");
    this.el.className = "reactions-overlay";
    this.el.setAttribute("aria-hidden", "true");
    this.el.dataset.testid = "reactions-overlay";
    this.el.dataset.total = "0";
  }

  show(burst: ReactionBurst): void {
    const still = this.reducedMotion();
    for (const [emoji, count] of Object.entries(burst.counts)) {
      this.shown += count;
      const bubbles = Math.min(MAX_BUBBLES, count);
      for (let i = 0; i < bubbles; i++) {
        const b = document.createElement("span");
        b.className = still ? "reaction-bubble still" : "reaction-bubble float";
        b.textContent = emoji;
        b.dataset.emoji = emoji;
        b.style.setProperty("--scale", String(scaleFor(count)));
        b.style.setProperty("--x", `${10 + ((emoji.codePointAt(0) ?? 0) * 37 + i * 23) % 80}%`);
        if (i === 0 && count > 1) {
          const badge = document.createElement("span");
          badge.className = "reaction-count";
          badge.textContent = `×${count}`;
          b.append(badge);
        }
        this.el.append(b);
        this.schedule(() => b.remove(), FLOAT_MS);
      }
    }
    this.el.dataset.total = String(this.shown);
  }
}

/** The emoji bar. `send` posts one reaction; an ApiError 429 pauses the bar for its Retry-After
 * (`retryAfterSeconds`, 1 s without one). */
export function reactionsBar(
  send: (emoji: string) => Promise<void>,
  schedule: (fn: () => void, ms: number) => void = (fn, ms) => void setTimeout(fn, ms),
): HTMLElement {
  const bar = document.createElement("div");
  bar.className = "reactions-bar";
  bar.dataset.testid = "reactions-bar";
  // A group, not a toolbar: a toolbar promises arrow-key movement between its buttons.
  bar.setAttribute("role", "group");
  bar.setAttribute("aria-label", "Reactions");
  const buttons = REACTION_EMOJI.map((emoji, i) => {
    const btn = document.createElement("button");
    btn.type = "button";
    btn.className = "reaction-btn";
    btn.textContent = emoji;
    btn.dataset.testid = `reaction-${i}`;
    btn.setAttribute("aria-label", `React ${emoji}`);
    btn.addEventListener("click", () => {
      if (btn.getAttribute("aria-disabled") === "true") return;
      pause(1);
      send(emoji).catch((err: unknown) => {
        if (err instanceof ApiError && err.status === 429) pause(err.retryAfterSeconds ?? 1);
      });
    });
    return btn;
  });
  // Only the latest pause re-enables the bar: the click's own 1 s must not end a longer 429 pause.
  // Paused buttons are aria-disabled, not disabled: disabling the button that has keyboard focus
  // would throw the focus back to the top of the page after every reaction.
  let pauses = 0;
  const setPaused = (paused: boolean) => buttons.forEach((b) => b.setAttribute("aria-disabled", paused ? "true" : "false"));
  function pause(seconds: number): void {
    const id = ++pauses;
    setPaused(true);
    schedule(() => {
      if (id === pauses) setPaused(false);
    }, seconds * 1000);
  }
  bar.append(...buttons);
  return bar;
}
