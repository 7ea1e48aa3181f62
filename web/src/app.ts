/** What every view gets: the API client, the signed-in user, navigation. */
import type { Api } from "./api";
import type { Session } from "./auth";

export interface App {
  api: Api;
  session: Session | null;
  signIn(session: Session): void;
  signOut(): void;
  navigate(hash: string): void;
}

/** A mounted view; `unmount` stops its timers and connections. */
export interface View {
  el: HTMLElement;
  unmount(): void;
}
