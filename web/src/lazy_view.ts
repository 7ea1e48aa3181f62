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
