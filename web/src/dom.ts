/** A few lines instead of a UI framework: build elements, swap views. */

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

/** A stable color and initials per identity, for avatars. */
export function avatarStyle(identity: string): { initials: string; hue: number } {
  let hash = 0;
  for (const ch of identity) hash = (hash * 31 + ch.charCodeAt(0)) >>> 0;
  const words = identity.replace(/[-_.@]+/g, " ").trim().split(/\s+/);
  const initials = (words.length > 1 ? words[0][0] + words[1][0] : identity.slice(0, 2)).toUpperCase();
  return { initials, hue: hash % 360 };
}

export function avatar(identity: string, size: "s" | "l" = "s"): HTMLElement {
  const { initials, hue } = avatarStyle(identity);
  const el = h("div", { class: `avatar avatar-${size}`, "data-testid": "avatar" }, initials);
  el.style.setProperty("--hue", String(hue));
  return el;
}

let toastTimer: number | undefined;

/** A short message at the bottom of the screen: action results and refusals. */
export function toast(message: string, kind: "info" | "error" = "info"): void {
  let el = document.getElementById("toast");
  if (!el) {
    el = h("div", { id: "toast", role: "status", "aria-live": "polite", "data-testid": "toast" });
    document.body.append(el);
  }
  el.textContent = message;
  el.className = `toast toast-${kind} show`;
  window.clearTimeout(toastTimer);
  toastTimer = window.setTimeout(() => el?.classList.remove("show"), 5000);
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
  document.getElementById("toast")?.classList.remove("show");
}
