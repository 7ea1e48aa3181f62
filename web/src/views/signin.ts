/**
 * Sign in. Cloud (config.json names the Cognito domain): a button to Cognito's managed login
 * (authorization code + PKCE, web/src/oauth.ts). Local mode: a dev user (the API mints the token).
 * Both: any bearer token pasted in.
 */
import type { App, View } from "../app";
import { ApiError } from "../api";
import { sessionFromToken } from "../auth";
import { h, limitCodePoints } from "../dom";
import { cleanDisplayName, NAME_MAX_CHARS } from "../people";

const USER_ID = /^[A-Za-z0-9_.@-]{1,64}$/;

export function signInView(app: App, problem: string | null = null): View {
  const error = h("p", { id: "signin-error", class: "form-error", "data-testid": "signin-error", role: "alert" }, problem ?? "");
  /** The refusal, tied to the field it is about (read with it, marked invalid, focused); "" clears. */
  const refuse = (message: string, field: HTMLInputElement | HTMLTextAreaElement | null = null): void => {
    error.textContent = message;
    for (const input of [userInput, pictureInput, tokenInput]) {
      if (input === field && message !== "") input.setAttribute("aria-invalid", "true");
      else input.removeAttribute("aria-invalid");
    }
    field?.focus();
  };
  const userInput = h("input", {
    id: "user-id",
    name: "user-id",
    placeholder: "e.g. alice",
    autocomplete: "username",
    required: true,
    maxlength: 64,
    "data-testid": "signin-user",
  });
  // What other people see instead of the id (docs/identity.md): the dev token's `name` and
  // `picture` claims, as an identity provider's ID token would carry them.
  const nameInput = h("input", {
    id: "display-name",
    name: "display-name",
    placeholder: "e.g. Alice Liddell",
    autocomplete: "name",
    "data-testid": "signin-name",
  });
  // Counted as the API counts (code points), not in UTF-16 units as maxlength would: an emoji is one.
  limitCodePoints(nameInput, NAME_MAX_CHARS);
  const pictureInput = h("input", {
    id: "picture-url",
    name: "picture-url",
    type: "url",
    placeholder: "https://…",
    maxlength: 1024,
    "data-testid": "signin-picture",
  });
  const tokenInput = h("textarea", {
    id: "bearer-token",
    rows: 3,
    placeholder: "eyJhbGciOi…",
    "data-testid": "signin-token",
  });
  // Every field's refusal is the one message below the forms.
  for (const input of [userInput, nameInput, pictureInput, tokenInput]) input.setAttribute("aria-describedby", "signin-error");

  const devForm = h(
    "form",
    {
      class: "stack",
      onsubmit: async (ev: Event) => {
        ev.preventDefault();
        refuse("");
        const userId = userInput.value.trim();
        if (!USER_ID.test(userId)) {
          refuse("A user id is 1 to 64 letters, digits or . _ @ -", userInput);
          return;
        }
        const picture = pictureInput.value.trim();
        if (picture && !/^https?:\/\//i.test(picture)) {
          refuse("An avatar is an https:// link to an image (or leave it empty).", pictureInput);
          return;
        }
        try {
          const { token } = await app.api.devToken(userId, { name: cleanDisplayName(nameInput.value) || null, picture: picture || null });
          const session = sessionFromToken(token);
          if (!session) throw new ApiError(0, "the API returned a token the page cannot read");
          app.signIn(session);
        } catch (err) {
          const e = err as ApiError;
          error.textContent =
            e.status === 404 || e.status === 405
              ? "This API does not hand out dev tokens (it is not in local mode). Paste a bearer token below."
              : `Sign-in failed: ${e.detail ?? e.message}`;
        }
      },
    },
    h("label", { for: "user-id" }, "Dev user"),
    userInput,
    h("label", { for: "display-name" }, "Display name ", h("span", { class: "muted small" }, "(what others see; empty: the user id)")),
    nameInput,
    h("label", { for: "picture-url" }, "Avatar URL ", h("span", { class: "muted small" }, "(optional)")),
    pictureInput,
    h("button", { type: "submit", class: "btn btn-primary", "data-testid": "signin-submit" }, "Sign in"),
  );

  const tokenForm = h(
    "form",
    {
      class: "stack",
      onsubmit: (ev: Event) => {
        ev.preventDefault();
        const session = sessionFromToken(tokenInput.value);
        if (!session) {
          refuse("That is not a valid, unexpired JWT with a subject.", tokenInput);
          return;
        }
        app.signIn(session);
      },
    },
    h("label", { for: "bearer-token" }, "Bearer token"),
    tokenInput,
    h("button", { type: "submit", class: "btn", "data-testid": "signin-token-submit" }, "Use token"),
  );

  const cloudSignIn = app.cloudSignIn;
  const cloudButton = cloudSignIn
    ? h(
        "button",
        {
          type: "button",
          class: "btn btn-primary",
          "data-testid": "signin-cloud",
          onclick: () => {
            error.textContent = "";
            cloudSignIn().catch(() => {
              error.textContent = "Sign-in could not start (this browser lacks Web Crypto?).";
            });
          },
        },
        "Sign in",
      )
    : null;

  const el = h(
    "section",
    { class: "card signin", "data-testid": "signin" },
    h("h1", {}, "Spaces"),
    h("p", { class: "muted" }, "Live audio rooms with a stage that follows whoever speaks."),
    cloudButton ?? devForm,
    h(
      "details",
      {},
      h("summary", {}, "Paste a bearer token"),
      h("p", { class: "muted small" }, "For example the output of ", h("code", {}, "python -m functions.dev_token alice"), "."),
      tokenForm,
    ),
    error,
  );
  queueMicrotask(() => (cloudButton ?? userInput).focus());
  return { el, unmount() {} };
}
