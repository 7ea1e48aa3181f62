/** The page's own timings. Names shared with the rest of the system are in the generated contract.gen.ts. */

/**
 * How often a listener on the broadcast reads state.json from the CDN (not the API): a promotion
 * reaches them within this plus the CDN's 1 s cache, which is about the stream's own delay.
 */
export const STATE_POLL_MS = 3000;
/**
 * How often the lobby refreshes the live list, give or take a fifth (lobby.ts), and only while the
 * tab is visible: each refresh reads a list of up to 50 Spaces with their counts, and the end of a
 * large Space sends its whole audience "Back to Spaces" at once.
 */
export const LOBBY_POLL_MS = 30000;
/**
 * The scheduled list and the recordings change over minutes, not seconds: a refresh reads them only
 * when they are this old (the view's first refresh, a tab shown again after longer: at once), so a
 * visible lobby tab costs the API ~2.8 requests a minute instead of 6 (three lists every refresh).
 */
export const LOBBY_SLOW_MS = 150000;
