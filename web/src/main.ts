/**
 * Entry point: configuration, the signed-in user, and hash routing (`#/`, `#/spaces/<id>`,
 * `#/spaces/<id>/replay`).
 */
import "./style.css";

import { Api } from "./api";
import type { App, View } from "./app";
import { clearSession, cognitoRefresh, loadRefreshToken, loadSession, refreshSession, saveRefreshToken, saveSession } from "./auth";
import { h } from "./dom";
import { loadConfig } from "./config";
import { parseRoute } from "./route";
import { lobbyView } from "./views/lobby";
import { signInView } from "./views/signin";

async function boot(): Promise<void> {
  const config = await loadConfig();
  const root = document.getElementById("app") as HTMLElement;
  const whoami = document.getElementById("whoami") as HTMLElement;
  let current: View | null = null;

  const app: App = {
    session: loadSession(),
    api: new Api(
      config.apiUrl,
      () => app.session?.token ?? null,
      async () => {
        // A 401 mid-Space: renew the token in place. No re-route: the room and its media stay up.
        const current = app.session;
        if (!current) return false;
        const next = await refreshSession(current, {
          devToken: (userId) => app.api.devToken(userId),
          cognito: config.cognito,
          refreshToken: loadRefreshToken,
          cognitoRefresh,
        });
        if (!next) return false;
        saveSession(next);
        app.session = next;
        return true;
      },
    ),
    signIn(session) {
      saveSession(session);
      app.session = session;
      void route();
    },
    signOut() {
      clearSession();
      saveRefreshToken(null);
      app.session = null;
      void route();
    },
    navigate(hash) {
      if (location.hash === hash) void route();
      else location.hash = hash;
    },
  };

  let routing = 0;

  async function route(): Promise<void> {
    const turn = ++routing;
    current?.unmount();
    current = null;
    whoami.replaceChildren(
      ...(app.session
        ? [
            h("span", { class: "muted" }, "Signed in as "),
            h("strong", { "data-testid": "whoami-user" }, app.session.userId),
            h("button", { class: "btn small", "data-testid": "signout", onclick: () => app.signOut() }, "Sign out"),
          ]
        : []),
    );
    const target = parseRoute(location.hash);
    let view: View;
    let notice: HTMLElement | null = null;
    if (!app.session) {
      view = signInView(app); // the hash is kept, so a deep link continues after sign-in
    } else if (target.kind === "space") {
      // The LiveKit SDK is most of the bundle: load it only when a Space is opened.
      const { spaceView } = await import("./views/space");
      view = spaceView(app, target.spaceId);
    } else if (target.kind === "replay") {
      const { replayView } = await import("./views/replay");
      view = replayView(app, target.spaceId);
    } else {
      view = lobbyView(app);
      if (target.problem) {
        notice = h("p", { class: "banner", role: "alert", "data-testid": "route-problem" }, target.problem);
      }
    }
    if (turn !== routing) return view.unmount(); // another navigation happened meanwhile
    current = view;
    root.replaceChildren(...(notice ? [notice] : []), view.el);
  }

  window.addEventListener("hashchange", () => void route());
  await route();
}

void boot();
