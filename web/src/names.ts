/** Names shared with the rest of the system come from the generated contract; the rest are the page's own. */
export { ROLE_ATTRIBUTE, STAGE_ATTRIBUTE } from "./contract.gen";

/**
 * How often a listener on the broadcast reads state.json from the CDN (not the API): a promotion
 * reaches them within this plus the CDN's 1 s cache, which is about the stream's own delay.
 */
export const STATE_POLL_MS = 3000;
/**
 * How often the lobby refreshes the lists of Spaces, give or take a fifth (lobby.ts), and only while
 * the tab is visible: each refresh reads three lists of up to 50 Spaces with their counts, and the
 * end of a large Space sends its whole audience "Back to Spaces" at once.
 */
export const LOBBY_POLL_MS = 30000;
