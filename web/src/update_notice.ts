/**
 * A page older than the API's last breaking change (contract/names.py PAGE_GENERATION) offers a
 * reload. The API names the generation it serves on every answer; a page keeps running for hours
 * after a deploy (a speaker on stage, a viewer on the broadcast) with the code it loaded, and
 * without this it would fail quietly on the first call the new API no longer takes. Reloading
 * rejoins the Space in the same role (rejoin.ts), so the notice asks and does not force.
 */
import { PAGE_GENERATION, PAGE_GENERATION_HEADER } from "./contract.gen";
import { h } from "./dom";

export const UPDATE_TEXT = "Spaces has been updated. Reload to keep everything working; you come back where you were. ";

/** Whether an answer says the API serves a newer page generation than this page was built for. */
export function servesNewerPage(headers: Pick<Headers, "get">, own: number = PAGE_GENERATION): boolean {
  const served = Number(headers.get(PAGE_GENERATION_HEADER));
  return Number.isInteger(served) && served > own;
}

/** Shows the notice under the top bar, once; `reload` is the page's (a test passes its own). */
export function showUpdateNotice(doc: Document = document, reload: () => void = () => window.location.reload()): void {
  if (doc.querySelector('[data-testid="update-notice"]')) return;
  const notice = h(
    "div",
    { class: "banner update-notice", role: "status", "data-testid": "update-notice" },
    UPDATE_TEXT,
    h("button", { class: "btn small btn-primary", "data-testid": "update-reload", onclick: () => reload() }, "Reload"),
  );
  const bar = doc.querySelector(".topbar");
  if (bar) bar.after(notice);
  else doc.body.prepend(notice);
}
