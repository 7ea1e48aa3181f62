/**
 * Entry point: configuration, the signed-in user, and hash routing (`#/`, `#/spaces/<id>`,
 * `#/spaces/<id>/replay`).
 */
import "./style.css";

import { Api } from "./api";
import type { App, View } from "./app";
import {
  clearSession,
  cognitoRefresh,
  loadRefreshToken,
  loadSession,
  refreshSession,
  resumeSession,
  saveRefreshToken,
  saveSession,
  sessionFromToken,
} from "./auth";
import { avatar, h } from "./dom";
import { loadConfig } from "./config";
import { lazyView } from "./lazy_view";
import { useAvatarProxy } from "./people";
import { beginSignIn, cloudSignOut, completeSignIn, hostedLogin, parseCallback, redirectUriOf, SignInError } from "./oauth";
import { parseRoute } from "./route";
import { showUpdateNotice } from "./update_notice";
import { lobbyView } from "./views/lobby";
import { signInView } from "./views/signin";

/** How long signing out waits for the view's leaving (a raised hand lowered) before it goes on. */
const SIGN_OUT_WAIT_MS = 3000;

async function boot(): Promise<void> {
  const config = await loadConfig();
  useAvatarProxy(config.avatarUrl);
  const root = document.getElementById("app") as HTMLElement;
  const whoami = document.getElementById("whoami") as HTMLElement;
  let current: View | null = null;
  let signingOut = false;
  const login = hostedLogin(config.cognito);
  const redirectUri = redirectUriOf(window.location.origin);
  let signInProblem: string | null = null;

  // Back from Cognito's managed login (`/?code=…&state=…`): exchange the code, then drop the query
  // (the code is single-use and must not stay in the address bar or history).
  const callback = login ? parseCallback(window.location.search) : null;
  if (login && callback) {
    try {
      const result = await completeSignIn(login, callback, { storage: sessionStorage, redirectUri, fetch: (...a) => fetch(...a) });
      const session = sessionFromToken(result.idToken);
      if (!session) throw new SignInError("The sign-in service returned a token the page cannot read.");
      saveSession(session);
      saveRefreshToken(result.refreshToken);
      history.replaceState(null, "", `${window.location.pathname}${result.returnTo}`);
    } catch (err) {
      signInProblem = err instanceof SignInError ? err.message : "Sign-in failed. Sign in again.";
      history.replaceState(null, "", `${window.location.pathname}${window.location.hash}`);
    }
  }

  const session = await resumeSession({
    stored: loadSession,
    save: saveSession,
    cognito: config.cognito,
    refreshToken: loadRefreshToken,
    forgetRefreshToken: () => saveRefreshToken(null),
    cognitoRefresh,
  });
  const app: App = {
    session,
    api: new Api(
      config.apiUrl,
      () => app.session?.token ?? null,
      async () => {
        // A 401 mid-Space: renew the token in place. No re-route: the room and its media stay up.
        const current = app.session;
        if (!current) return false;
        const next = await refreshSession(current, {
          devToken: (userId, profile) => app.api.devToken(userId, profile),
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
      if (signingOut || (current?.mayLeave && !current.mayLeave())) return;
      signingOut = true;
      const view = current;
      current = null;
      routing++; // a route still on its way (a lazy view loading) must not show itself meanwhile
      root.replaceChildren(h("p", { class: "muted", role: "status" }, "Signing out…"));
      // Out of the view first, while the token still works (a raised hand is lowered), for at most
      // SIGN_OUT_WAIT_MS: signing out is not held up by a slow network, nor by a view that fails.
      const left = Promise.resolve().then(() => view?.unmount());
      const waited = new Promise((done) => setTimeout(done, SIGN_OUT_WAIT_MS));
      void Promise.race([left, waited])
        .catch(() => undefined)
        .finally(() => signedOut());
    },
    cloudSignIn: login
      ? async () => {
          window.location.assign(await beginSignIn(login, { storage: sessionStorage, redirectUri, returnTo: location.hash }));
        }
      : null,
    navigate(hash) {
      if (location.hash === hash) void route();
      else location.hash = hash;
    },
  };
  // The API was deployed with a change this page's code cannot follow: offer a reload.
  app.api.onNewerPage = () => showUpdateNotice();

  function signedOut(): void {
    signingOut = false;
    const refresh = loadRefreshToken();
    clearSession();
    saveRefreshToken(null);
    app.session = null;
    if (login) {
      // Revoke, then end the managed-login session (else "Sign in" would sign the same user in silently).
      void cloudSignOut(login, refresh, { fetch: (...a) => fetch(...a), logoutUri: redirectUri }).then((url) =>
        window.location.assign(url),
      );
      return;
    }
    void route();
  }

  let routing = 0;
  // The hash of the view shown: what a refused navigation puts back.
  let shownHash = location.hash;

  async function route(): Promise<void> {
    const turn = ++routing;
    current?.unmount();
    current = null;
    whoami.replaceChildren(
      ...(app.session
        ? [
            h("span", { class: "muted" }, "Signed in as "),
            avatar(app.session.userId, "s", { name: app.session.name ?? app.session.userId, picture: app.session.picture }),
            h("strong", { "data-testid": "whoami-user", "data-user-id": app.session.userId, title: app.session.userId }, app.session.name ?? app.session.userId),
            h("button", { class: "btn small", "data-testid": "signout", onclick: () => app.signOut() }, "Sign out"),
          ]
        : []),
    );
    const target = parseRoute(location.hash);
    let view: View;
    let notice: HTMLElement | null = null;
    if (!app.session) {
      view = signInView(app, signInProblem); // the hash is kept, so a deep link continues after sign-in
      signInProblem = null;
    } else if (target.kind === "space") {
      // The LiveKit SDK is most of the bundle: load it only when a Space is opened.
      view = await lazyView(() => import("./views/space"), (m) => m.spaceView(app, target.spaceId));
    } else if (target.kind === "replay") {
      view = await lazyView(() => import("./views/replay"), (m) => m.replayView(app, target.spaceId));
    } else {
      view = lobbyView(app);
      if (target.problem) {
        notice = h("p", { class: "banner", role: "alert", "data-testid": "route-problem" }, target.problem);
      }
    }
    if (turn !== routing) return void view.unmount(); // another navigation happened meanwhile
    current = view;
    shownHash = location.hash;
    // What a tab, a history list and a screen reader call the page (a Space names itself once read).
    document.title = !app.session ? "Sign in · Spaces" : target.kind === "replay" ? "Replay · Spaces" : target.kind === "space" ? "Space · Spaces" : "Spaces";
    root.replaceChildren(...(notice ? [notice] : []), view.el);
    // The page changed under a keyboard or screen-reader user: start them at its top (the old
    // focused control is gone, which would leave them at the start of the document, unannounced).
    root.setAttribute("tabindex", "-1");
    root.focus({ preventScroll: true });
  }

  window.addEventListener("hashchange", () => {
    if (current?.mayLeave && location.hash !== shownHash && !current.mayLeave()) {
      // Kept: the address goes back to the view's, as a new entry (no hashchange, no route).
      history.pushState(null, "", shownHash || location.pathname + location.search);
      return;
    }
    void route();
  });
  await route();
}

void boot();
