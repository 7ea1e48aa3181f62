/** A few lines instead of a UI framework: build elements, swap views. */
import { avatarSource, initialsOf } from "./people";

type Child = Node | string | null | undefined | false;
type Attrs = Record<string, string | number | boolean | null | undefined | EventListener>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      el.className = String(value);
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child);
  }
  return el;
}

export function clear(el: Element): void {
  while (el.firstChild) el.firstChild.remove();
}

/**
 * Which control `el` is within `root`, across a rebuild: its `data-testid` and whose row it is in (the
 * nearest `data-identity` or `data-space-id` inside `root`), since rows repeat their buttons' testids.
 */
function controlKey(root: HTMLElement, el: HTMLElement): string | undefined {
  const testid = el.dataset.testid;
  if (testid === undefined) return undefined;
  return `${ownerOf(root, el)}\u0000${testid}`;
}

/** The id of the person's or Space's row `el` is in within `root` ("" outside any row). */
function ownerOf(root: HTMLElement, el: HTMLElement): string {
  const row = el.closest<HTMLElement>("[data-identity],[data-space-id]");
  return row && row !== root && root.contains(row) ? (row.dataset.identity ?? row.dataset.spaceId ?? "") : "";
}

/**
 * Rebuild `el`'s children with `build`, keeping keyboard focus on the control that had it (the new
 * one with the same `data-testid` in the same person's or Space's row): a rebuilt control is a new
 * element, and a focused element that is removed sends a keyboard or screen-reader user back to the
 * top of the page. When the control is gone (what it did moved the person: Invite, Mute, Make
 * co-host, To audience), focus goes to the first button of that person's row, else to `el`'s first
 * heading (an outside review found focus back on the page's body after each of those).
 */
export function rebuildKeepingFocus(el: HTMLElement, build: () => void): void {
  const active = document.activeElement;
  const inside = active instanceof HTMLElement && el.contains(active);
  const key = inside ? controlKey(el, active) : undefined;
  const owner = inside ? ownerOf(el, active) : "";
  clear(el);
  build();
  if (!inside) return;
  const controls = [...el.querySelectorAll<HTMLElement>("[data-testid]")];
  const again =
    (key !== undefined ? controls.find((e) => controlKey(el, e) === key) : undefined) ??
    (owner ? [...el.querySelectorAll<HTMLElement>("button")].find((b) => ownerOf(el, b) === owner) : undefined) ??
    focusableHeading(el);
  again?.focus();
}

/** `el`'s first heading, made focusable by script only (tabindex -1), or none. */
function focusableHeading(el: HTMLElement): HTMLElement | undefined {
  const heading = el.querySelector<HTMLElement>("h1, h2, h3");
  if (!heading) return undefined;
  heading.setAttribute("tabindex", "-1");
  return heading;
}

/** A stable color per identity and initials of the name shown (the identity without one), for avatars. */
export function avatarStyle(identity: string, name: string = identity): { initials: string; hue: number } {
  let hash = 0;
  for (const ch of identity) hash = (hash * 31 + ch.charCodeAt(0)) >>> 0;
  return { initials: initialsOf(name), hue: hash % 360 };
}

/**
 * A face: the person's picture (https only, through the avatar proxy, people.ts) or their initials
 * on a colour of their id.
 * The name goes in as text (textContent, alt), never as HTML.
 */
export function avatar(identity: string, size: "s" | "l" = "s", person?: { name: string; picture: string | null }): HTMLElement {
  const name = person?.name ?? identity;
  const { initials, hue } = avatarStyle(identity, name);
  // Hidden from screen readers: the name is always written beside a face, and initials read aloud
  // ("A L, Hosted by Alice") are noise.
  const el = h("div", { class: `avatar avatar-${size}`, "data-testid": "avatar", title: name, "aria-hidden": "true" });
  el.style.setProperty("--hue", String(hue));
  const source = avatarSource(person?.picture);
  if (source) {
    const img = h("img", { src: source, alt: "", referrerpolicy: "no-referrer", loading: "lazy", decoding: "async" });
    // A picture that does not load leaves the initials.
    img.addEventListener("error", () => el.replaceChildren(initials));
    el.append(img);
    el.dataset.picture = "on";
  } else {
    el.append(initials);
  }
  return el;
}

/** `text` cut to `max` characters as the API counts them (code points: Python's len, pydantic's
 * max_length), never inside a surrogate pair. */
export function cutToCodePoints(text: string, max: number): string {
  const chars = Array.from(text);
  return chars.length <= max ? text : chars.slice(0, max).join("");
}

/**
 * At most `max` characters in `input`, counted as the API counts them: `maxlength` counts UTF-16
 * units, so a name with emoji (two units each) was cut well before the API's limit. Not while an
 * input method is composing (that would break the composition): at its end.
 */
export function limitCodePoints(input: HTMLInputElement, max: number): void {
  input.removeAttribute("maxlength");
  input.dataset.maxChars = String(max);
  const cut = () => {
    const kept = cutToCodePoints(input.value, max);
    if (kept !== input.value) input.value = kept;
  };
  input.addEventListener("input", (ev) => {
    if (!(ev as InputEvent).isComposing) cut();
  });
  input.addEventListener("compositionend", cut);
}

/**
 * A button whose action is on its way: `aria-disabled` and `aria-busy` (not `disabled`, which would
 * drop the keyboard focus), so a second click is not a second request; its onclick checks `isBusy`.
 */
export function markBusy(button: HTMLElement, busy: boolean): void {
  if (busy) {
    button.setAttribute("aria-disabled", "true");
    button.setAttribute("aria-busy", "true");
  } else {
    button.removeAttribute("aria-disabled");
    button.removeAttribute("aria-busy");
  }
}

/** Whether markBusy marked `button` as on its way. */
export function isBusy(button: Element): boolean {
  return button.getAttribute("aria-busy") === "true";
}

/**
 * `bar` holds the room's controls, stuck to the bottom of the screen once the page is longer than
 * it: its height goes to the `--dock-height` property, which sizes the big tile on a short screen,
 * and toasts rise above it while it is in view (`toastLift`). Returns the undo, for when it goes.
 */
export function dockAtBottom(bar: HTMLElement): () => void {
  bar.dataset.toastsAbove = "true";
  const root = document.documentElement;
  const observer =
    typeof ResizeObserver === "undefined" ? null : new ResizeObserver(() => root.style.setProperty("--dock-height", `${Math.round(bar.getBoundingClientRect().height)}px`));
  observer?.observe(bar);
  return () => {
    delete bar.dataset.toastsAbove;
    observer?.disconnect();
    root.style.removeProperty("--dock-height");
  };
}

/** The band at the bottom of the screen a toast stands in (its 1rem off the bottom and a line or
 * two of text): controls reaching into it would be covered. */
const TOAST_BAND_PX = 80;

/** How far above the bottom of the screen a toast must stand to leave the controls uncovered (a
 * notice used to hide the very button it spoke of, "turn it on to speak" over the microphone, for
 * its 5 s): to the top of the bar marked by dockAtBottom when that bar reaches into the toast's
 * band (stuck to the bottom, or ending just above it), else 0 (a short page's bar mid-screen, or
 * none). */
export function toastLift(): number {
  const bar = document.querySelector<HTMLElement>("[data-toasts-above]");
  if (!bar) return 0;
  const r = bar.getBoundingClientRect();
  const inBand = r.height > 0 && r.top < window.innerHeight && r.bottom > window.innerHeight - TOAST_BAND_PX;
  return inBand ? Math.round(window.innerHeight - r.top) : 0;
}

let toastTimer: number | undefined;
let toastClearTimer: number | undefined;
/** How long a toast takes to slide out (style.css `.toast` transition). */
const TOAST_SLIDE_MS = 250;

/** A short message at the bottom of the screen: action results and refusals. */
export function toast(message: string, kind: "info" | "error" = "info"): void {
  // Measured before a first toast is added: a layout read after it would give the new element a
  // style to transition from (none), and it would slide in from the side.
  const lift = toastLift();
  let el = document.getElementById("toast");
  if (!el) {
    el = h("div", { id: "toast", role: "status", "aria-live": "polite", "data-testid": "toast" });
    document.body.append(el);
  }
  window.clearTimeout(toastClearTimer);
  el.style.setProperty("--toast-lift", `${lift}px`);
  el.textContent = message;
  el.className = `toast toast-${kind} show`;
  window.clearTimeout(toastTimer);
  toastTimer = window.setTimeout(slideOut, 5000);
}

/**
 * The toast slides out, and once out of sight its text goes: the region stays in the accessibility
 * tree (a live region hidden between messages may not be announced when shown with its text), but
 * a screen reader browsing the page no longer comes upon an old notice (an outside review did).
 */
function slideOut(): void {
  const el = document.getElementById("toast");
  if (!el) return;
  el.classList.remove("show");
  window.clearTimeout(toastClearTimer);
  toastClearTimer = window.setTimeout(() => {
    if (!el.classList.contains("show")) el.textContent = "";
  }, TOAST_SLIDE_MS);
}

const shown = new WeakMap<Element, string>();

/**
 * True if `el` has to be rebuilt because what it shows (`inputs`) changed since the last call.
 * The stage state changes several times a second; rebuilding buttons that often would swallow
 * clicks and lose focus, so the parts around the stage are rebuilt only when their inputs change.
 */
export function stale(el: Element, inputs: unknown): boolean {
  const key = JSON.stringify(inputs);
  if (shown.get(el) === key) return false;
  shown.set(el, key);
  return true;
}

/** Drop a pending toast: it belonged to the view that just went away. */
export function hideToast(): void {
  window.clearTimeout(toastTimer);
  slideOut();
}

/** A time from the API (ISO 8601) in the reader's own zone and words; "" when there is none. */
export function localTime(iso: string | null | undefined): string {
  if (!iso) return "";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? "" : d.toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
}
