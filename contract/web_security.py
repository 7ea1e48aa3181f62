"""The web page's security headers, defined once for every place that serves it.

The local server (`make dev`, every e2e test) sends them with the page, so the whole page runs under
them in the browser tests; the stack outputs the same policy for the page's CDN, with its own
origins (`WebContentSecurityPolicy`, docs/web.md "Deploying the static files").

What the page loads, and why each source is allowed:
- scripts and styles: its own files only (the build has no inline script or style; styles set from
  script go through the CSSOM, which style-src does not govern);
- connections: its API, the SFU's signalling (wss, and https for livekit-client's connection check),
  the broadcast's CDN (hls.js fetches playlists and segments) and the sign-in domain (the token
  endpoint of the code exchange and refresh);
- media: MediaSource blobs (hls.js), and the CDN for a player that plays HLS natively;
- images: its own origin, the avatar proxy and the data: favicon;
- workers: blobs (hls.js transmuxes in a worker made from one);
- nothing may frame the page (the host panel's buttons cannot be clicked through another site).
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit


def origin(url: str) -> str:
    """scheme://host[:port] of a URL."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        raise ValueError(f"not an absolute URL: {url!r}")
    return f"{parts.scheme}://{parts.netloc}"


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


def security_headers(policy: str) -> dict[str, str]:
    """Every header the page is served with."""
    return {
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "strict-origin-when-cross-origin",
    }
