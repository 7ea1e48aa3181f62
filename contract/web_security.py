"""The web page's security headers, defined once for every place that serves it.

The local server (`make dev`, every e2e test) sends them with the page, so the whole page runs under
them in the browser tests; the page the stack hosts carries the same policy with the stack's origins
in a <meta> element (`page_with_policy`; its distribution sends `hosted_headers`), and the stack
outputs it for a page served elsewhere (`WebContentSecurityPolicy`, docs/web.md "Deploying the
page").

What the page loads, and why each source is allowed:
- scripts and styles: its own files only (the build has no inline script or style; styles set from
  script go through the CSSOM, which style-src does not govern);
- connections: its API, the SFU's signalling (wss, and https for livekit-client's connection check),
  the broadcast's CDN (hls.js fetches playlists and segments), the sign-in domain (the code
  exchange and the sign-out's revocation) and Cognito's regional API (`cognito_api_origin`: the
  page renews its 1-hour ID token there with the refresh token, web/src/auth.ts cognitoRefresh);
- media: MediaSource blobs (hls.js), and the CDN for a player that plays HLS natively;
- images: its own origin, the avatar proxy and the data: favicon;
- workers: blobs (hls.js transmuxes in a worker made from one);
- nothing may frame the page (the host panel's buttons cannot be clicked through another site).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

# Directives a policy in a <meta> element cannot carry (the browser ignores them there, with a
# console warning); the stack's page CDN sends FRAME_POLICY as a header instead.
HEADER_ONLY_DIRECTIVES = ("frame-ancestors", "report-uri", "sandbox")
# What the stack's page CDN sends as a header: its policy is in the page (`page_with_policy`), whose
# origins are only known at deploy time, and a header holds what a <meta> element cannot.
FRAME_POLICY = "frame-ancestors 'none'"
# The first element of the page's <head> that must come after the policy: its charset declaration
# stays first, and every script and stylesheet must load under the policy.
_CHARSET = re.compile(r"<meta\s+charset=[^>]*>", re.IGNORECASE)


def origin(url: str) -> str:
    """scheme://host[:port] of a URL."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        raise ValueError(f"not an absolute URL: {url!r}")
    return f"{parts.scheme}://{parts.netloc}"


def cognito_api_origin(region: str) -> str:
    """Where the page renews a session: Cognito's regional API (InitiateAuth with the refresh token,
    web/src/auth.ts cognitoRefresh). Refused by the page's policy, every session would end when its
    ID token does, an hour after sign-in."""
    return f"https://cognito-idp.{region}.amazonaws.com"


def signalling_origins(livekit_url: str) -> tuple[str, str]:
    """The SFU's WebSocket origin and the http(s) one livekit-client checks a failed connection on."""
    ws = origin(livekit_url)
    scheme, rest = ws.split("://", 1)
    http = {"ws": "http", "wss": "https"}.get(scheme)
    if http is None:
        raise ValueError(f"not a ws:// or wss:// URL: {livekit_url!r}")
    return ws, f"{http}://{rest}"


def content_security_policy(
    *, connect: Iterable[str], media: Iterable[str] = (), images: Iterable[str] = ()
) -> str:
    """The page's Content-Security-Policy; `connect`, `media`, `images`: origins beyond its own."""
    directives: dict[str, list[str]] = {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", *images],
        "media-src": ["'self'", "blob:", *media],
        "connect-src": ["'self'", *connect],
        "worker-src": ["'self'", "blob:"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
    return "; ".join(f"{name} {' '.join(dict.fromkeys(values))}" for name, values in directives.items())


def meta_policy(policy: str) -> str:
    """`policy` without the directives a <meta> element cannot carry."""
    kept = [part for part in policy.split("; ") if part.split(" ", 1)[0] not in HEADER_ONLY_DIRECTIVES]
    return "; ".join(kept)


def page_with_policy(index_html: str, policy: str) -> str:
    """The built page with `policy` in a <meta> element right after its charset, before anything it
    loads: how the stack serves it, whose origins are deploy-time values (infrastructure/constructs/
    web_site.py). The header-only directives go in headers (`hosted_headers`).

    The policy is escaped here, where a deploy-time value is still CDK's placeholder; what replaces it
    at deploy time is not escaped. The stack's values are AWS-made host names (the API's, the CDN's,
    the sign-in domain's account and region), which hold no quote or markup."""
    match = _CHARSET.search(index_html)
    if match is None:
        raise ValueError("the page has no <meta charset> to put its policy after")
    element = (
        f'\n    <meta http-equiv="Content-Security-Policy" content="{_attribute(meta_policy(policy))}" />'
    )
    return index_html[: match.end()] + element + index_html[match.end() :]


def _attribute(value: str) -> str:
    """`value` for a double-quoted HTML attribute (the policy's single quotes stay readable)."""
    return html.escape(value, quote=False).replace('"', "&quot;")


def hosted_headers() -> dict[str, str]:
    """The headers the stack's page CDN sends with every file: those of `security_headers` that hold
    no origin, and the frame policy a <meta> element cannot carry (also as X-Frame-Options, for a
    browser that reads no frame-ancestors)."""
    return {**security_headers(FRAME_POLICY), "X-Frame-Options": "DENY"}


def security_headers(policy: str) -> dict[str, str]:
    """Every header the page is served with."""
    return {
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "strict-origin-when-cross-origin",
    }
