// @vitest-environment happy-dom
import { describe, expect, it } from "vitest";

import { ApiError } from "../api";
import { LOBBY_POLL_MS } from "../names";
import { createErrorText, localMinute, lobbyPollDelay, metaItems } from "./lobby";

/** The stylesheet as written (vitest empties a CSS import): read from disk, node's fs untyped here. */
const nodeFs = "node:fs";
const { readFileSync } = (await import(/* @vite-ignore */ nodeFs)) as { readFileSync(path: string, encoding: "utf8"): string };
const css = readFileSync("src/style.css", "utf8") // vitest runs in web/;

describe("the create form", () => {
  it("says what to change for a refused title or time, not the schema's pattern", () => {
    const pattern = "title: String should match pattern '[^\\u0000-\\u0020]'";
    expect(createErrorText(new ApiError(422, pattern))).toMatch(/^Give the Space a title/);
    expect(createErrorText(new ApiError(422, "scheduled_start: Input should be a valid datetime"))).toBe("Choose a valid start time.");
    expect(createErrorText(new ApiError(422, "video: Input should be 'off', 'host' or 'speakers'"))).toContain("video");
    expect(createErrorText(new ApiError(429, "slow down"))).toBe("slow down");
  });

  it("offers no start time already past", () => {
    expect(localMinute(new Date(2026, 11, 3, 9, 5, 59))).toBe("2026-12-03T09:05");
  });
});

describe("the lobby's refresh", () => {
  it("waits the poll period give or take a fifth, spread by the random draw", () => {
    expect(lobbyPollDelay(() => 0)).toBe(Math.round(LOBBY_POLL_MS * 0.8));
    expect(lobbyPollDelay(() => 0.5)).toBe(LOBBY_POLL_MS);
    expect(lobbyPollDelay(() => 0.999)).toBeLessThan(LOBBY_POLL_MS * 1.2);
    expect(lobbyPollDelay(() => 0.999)).toBeGreaterThan(LOBBY_POLL_MS * 1.19);
  });
});

describe("a card's facts", () => {
  it("carry no dot of their own: the separator is drawn between two on a line, clipped at a line's start", () => {
    const host = document.createElement("span");
    host.textContent = "Hosted by كارول Carol 🌟";
    const count = document.createElement("span");
    count.textContent = "12 listening";
    const el = metaItems(host, count, false);
    // A wrapped line starts with its fact: no "·" in the text, one list the stylesheet separates.
    expect(el.textContent).not.toContain("·");
    const list = el.querySelector(".meta-list") as HTMLElement;
    expect([...list.children]).toEqual([host, count]);
    expect(css).toMatch(/\.meta-list > span::before \{[^}]*content: "·"/);
    expect(css).toMatch(/\.meta-items \{[^}]*overflow: hidden/);
    expect(css).toMatch(/\.meta-list \{[^}]*margin-left: -1rem/);
  });
});

describe("a hidden toast", () => {
  it("is moved down by its whole height and the offset it stands at, not 150 % of it", () => {
    const rule = /\.toast \{([^}]*)\}/.exec(css)?.[1] ?? "";
    expect(rule).toContain("bottom: 1.5rem");
    expect(rule).toContain("transform: translate(-50%, calc(100% + 1.5rem + 2px))");
  });
});
