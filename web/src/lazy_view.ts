/** Views whose code is a chunk loaded on demand (the Space page and the replay bring the SDKs). */
import type { View } from "./app";
import { h } from "./dom";

export const CHUNK_FAILED =
  "This page could not be loaded: the connection dropped, or a new version of Spaces was published meanwhile. Reload to try again.";

/**
 * The view `build` makes from the module `chunk` loads; if the chunk cannot be fetched, a message
 * with *Reload* instead of a page left as it was. A reload also picks up a newer build, whose chunks
 * have other names. Only the fetch is caught: a bug in `build` is not a network problem.
 */
export async function lazyView<M>(chunk: () => Promise<M>, build: (module: M) => View, reload: () => void = () => location.reload()): Promise<View> {
  let module: M;
  try {
    module = await chunk();
  } catch (err) {
    // A module that was fetched but threw while it loaded is a bug, which a reload would not fix.
    if (!isFetchFailure(err)) throw err;
    console.error("Could not load the page's code", err);
    const el = h(
      "div",
      { class: "card message" },
      h("p", { role: "alert", "data-testid": "load-error" }, CHUNK_FAILED),
      h(
        "div",
        { class: "row" },
        h("a", { class: "btn", href: "#/" }, "Back to Spaces"),
        h("button", { class: "btn btn-primary", "data-testid": "reload", onclick: () => reload() }, "Reload"),
      ),
    );
    return { el, unmount: () => undefined };
  }
  return build(module);
}

/**
 * Whether a dynamic import failed to fetch its module (each browser words it its own way: Chromium
 * "Failed to fetch dynamically imported module", Firefox "error loading dynamically imported
 * module", Safari "Importing a module script failed"), rather than the module throwing.
 */
export function isFetchFailure(err: unknown): boolean {
  if (!(err instanceof TypeError)) return false;
  return /dynamically imported module|importing a module script failed/i.test(err.message);
}
