/** Names shared with the rest of the system come from the generated contract; the rest are the page's own. */
export { ROLE_ATTRIBUTE, STAGE_ATTRIBUTE, STAGE_RPC_METHOD } from "./contract.gen";

/** How often the Space page refreshes the Space (listener count, raised hands, roles). */
export const SPACE_POLL_MS = 3000;
/** How often the lobby refreshes the lists of Spaces. */
export const LOBBY_POLL_MS = 10000;
/** How long the page waits for the agent's `get_stage` reply before relying on the attribute alone. */
export const STAGE_RPC_TIMEOUT_MS = 5000;
