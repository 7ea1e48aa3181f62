/** What every view gets: the API client, the signed-in user, navigation. */
import type { Api } from "./api";
import type { Session } from "./auth";

export interface App {
  api: Api;
  session: Session | null;
  signIn(session: Session): void;
  signOut(): void;
  /** Cloud: go to Cognito's managed login (code + PKCE). Null in local mode (dev and pasted tokens). */
  cloudSignIn: (() => Promise<void>) | null;
  navigate(hash: string): void;
}

/** A mounted view; `unmount` stops its timers and connections, and may resolve once what leaving
 * sends (a hand lowered) is sent. `mayLeave`, if any, is asked first when the page would leave the
 * view (a link, Back, signing out): false keeps it. */
export interface View {
  el: HTMLElement;
  unmount(): void | Promise<void>;
  mayLeave?(): boolean;
}
