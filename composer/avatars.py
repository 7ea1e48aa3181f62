"""Avatars for the composed video: fetched from the URL a person's identity provider gave, safely.

A stage member's `picture` is a URL they chose (a Cognito user edits their own), so fetching it from
inside the VPC is a server-side request forgery path. What the composer will fetch:
- `https` only, to a host on an allow-list (`SPACES_AVATAR_HOSTS`: names, `*.suffix` wildcards, or
  `*` for any public host), on the default port, with no user info in the URL;
- from a public IPv4 address only (the VPC is IPv4-only): the name is resolved once, every address
  it resolves to must be globally routable (no loopback, private, link-local such as the instance
  and task metadata endpoints, CGNAT, multicast or reserved ranges; IPv6 literals, and IPv6 forms
  that embed an IPv4 address such as NAT64 or 6to4, are refused too), and the connection goes to
  the address that was checked, so a DNS answer that changes between the check and the connect
  cannot redirect it (the TLS certificate is still checked against the host name);
- no redirects, one request, `AVATAR_TIMEOUT_S` per socket operation and `AVATAR_DEADLINE_S` for
  the whole fetch (a server trickling bytes is cut off), at most `AVATAR_MAX_BYTES`;
- a PNG, JPEG, GIF or WebP of at most `AVATAR_MAX_SIDE` pixels a side (read from the header before
  any pixel is decoded, so a decompression bomb is refused unread).

Local mode (`SPACES_MODE=local`, the dev stack and the tests) also allows `http` and loopback
addresses, since the dev avatar server runs on 127.0.0.1.

Fetching never blocks the frame loop: `AvatarCache.get` returns the picture when it has it and
otherwise starts a fetch on a small thread pool and returns None (the card shows initials until the
picture arrives). A refused or failed URL is asked for again after `AVATAR_RETRY_S`, a picture after
`AVATAR_REFRESH_S` (one changed at the same URL shows within the hour).
"""

from __future__ import annotations

import http.client
import io
import ipaddress
import logging
import math
import socket
import ssl
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

from PIL import Image, ImageDraw

from contract import names

logger = logging.getLogger("composer.avatars")

# Where a hosted IdP's avatars live. Cognito has no avatar hosting: a user's `picture` points at
# wherever they keep one, most often one of these. Operators widen or narrow the list with
# SPACES_AVATAR_HOSTS (the CDK context `avatar_hosts`).
DEFAULT_HOSTS = (
    "lh3.googleusercontent.com",
    "avatars.githubusercontent.com",
    "secure.gravatar.com",
    "www.gravatar.com",
    "pbs.twimg.com",
)
AVATAR_MAX_BYTES = 1024 * 1024
AVATAR_MAX_SIDE = 2048
AVATAR_TIMEOUT_S = 3.0
AVATAR_DEADLINE_S = 5.0
AVATAR_RETRY_S = 300.0
AVATAR_REFRESH_S = 3600.0
# Pictures are kept at this size and scaled to each circle drawn (the card's and the strip's).
AVATAR_KEEP_SIDE = 256
# A stage has at most 13 people; a few more for those who just left.
AVATAR_CACHE_SIZE = 32
FORMATS = frozenset({"PNG", "JPEG", "GIF", "WEBP"})
USER_AGENT = "spaces-composer (avatar fetch)"


class AvatarRefused(ValueError):
    """The URL or what it answered is not an avatar the composer will draw; says why."""


@dataclass(frozen=True)
class AvatarPolicy:
    hosts: frozenset[str] = frozenset(DEFAULT_HOSTS)
    # Local mode only: http, and loopback / private addresses.
    allow_private: bool = False
    max_bytes: int = AVATAR_MAX_BYTES
    max_side: int = AVATAR_MAX_SIDE
    timeout_s: float = AVATAR_TIMEOUT_S
    deadline_s: float = AVATAR_DEADLINE_S
    # Extra CA certificates to trust (tests serve https with their own CA); None: the system's.
    ca_file: str | None = None
    resolve: Callable[[str, int], list[str]] = field(default=lambda host, port: _resolve(host, port))

    @property
    def enabled(self) -> bool:
        return bool(self.hosts)


def policy_from_env(env: Mapping[str, str]) -> AvatarPolicy:
    """SPACES_AVATAR_HOSTS (comma-separated; unset: DEFAULT_HOSTS; empty: no avatars, initials)."""
    raw = env.get(names.ENV_AVATAR_HOSTS)
    hosts = DEFAULT_HOSTS if raw is None else tuple(h.strip().lower() for h in raw.split(",") if h.strip())
    return AvatarPolicy(hosts=frozenset(hosts), allow_private=env.get(names.ENV_MODE) == "local")


def host_allowed(host: str, hosts: frozenset[str]) -> bool:
    host = host.lower().rstrip(".")
    if "*" in hosts or host in hosts:
        return True
    return any(h.startswith("*.") and host.endswith(h[1:]) and len(host) > len(h) - 1 for h in hosts)


def check_url(url: str, policy: AvatarPolicy) -> tuple[str, str, int, str]:
    """(scheme, host, port, path with query) of a URL the policy allows; AvatarRefused otherwise."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise AvatarRefused(f"not a URL: {exc}") from None
    schemes = ("https", "http") if policy.allow_private else ("https",)
    if parts.scheme not in schemes:
        raise AvatarRefused(f"scheme {parts.scheme!r} is not allowed (only {', '.join(schemes)})")
    if parts.username is not None or parts.password is not None:
        raise AvatarRefused("a URL with user info is not fetched")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise AvatarRefused("the URL has no host")
    if not host.isascii():
        raise AvatarRefused("the host must be ASCII (an international name in its xn-- form)")
    if not host_allowed(host, policy.hosts):
        raise AvatarRefused(f"host {host!r} is not in {names.ENV_AVATAR_HOSTS}")
    default = 443 if parts.scheme == "https" else 80
    if port is not None and port != default and not policy.allow_private:
        raise AvatarRefused(f"port {port} is not allowed (only {default})")
    # Non-ASCII characters are sent percent-encoded (what a browser does); the rest as given.
    path = quote(parts.path or "/", safe=_URL_SAFE)
    if parts.query:
        path += "?" + quote(parts.query, safe=_URL_SAFE)
    return parts.scheme, host, port or default, path


# Everything a URL may keep unencoded: RFC 3986's reserved and unreserved characters, and "%".
_URL_SAFE = "/:@!$&'()*+,;=-._~%?"


def address_allowed(address: str, allow_private: bool) -> bool:
    """Whether the composer may connect to `address`: a globally routable IPv4 address (or anything
    in local mode). IPv6 is refused outside local mode: the VPC has none, and several IPv6 forms
    embed an IPv4 address (NAT64, 6to4, IPv4-compatible, site-local) that `is_global` passes on some
    Python versions."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if allow_private:
        return True
    return isinstance(ip, ipaddress.IPv4Address) and ip.is_global and not ip.is_multicast


def _resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, family=socket.AF_INET, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def pinned_address(host: str, port: int, policy: AvatarPolicy) -> str:
    """The address to connect to: every address `host` resolves to must be allowed (a name that
    resolves to a public and a private address is refused, whichever one a later lookup returns)."""
    try:
        addresses = policy.resolve(host, port)
    except (OSError, UnicodeError) as exc:
        raise AvatarRefused(f"{host} does not resolve: {exc}") from None
    if not addresses:
        raise AvatarRefused(f"{host} does not resolve")
    for address in addresses:
        if not address_allowed(address, policy.allow_private):
            raise AvatarRefused(f"{host} resolves to {address}, which is not a public address")
    return addresses[0]


class _PinnedHTTPS(http.client.HTTPSConnection):
    """HTTPS to a checked address, with SNI and certificate checks for the host name."""

    def __init__(self, host: str, address: str, port: int, timeout: float, context: ssl.SSLContext) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self._address = address
        self._tls = context
        self.raw: socket.socket | None = None

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        # A second descriptor of the same socket for the deadline: wrapping detaches this one.
        self.raw = sock.dup()
        self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, host: str, address: str, port: int, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address
        self.raw: socket.socket | None = None

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)
        self.raw = self.sock.dup()


def _cut(connection: _PinnedHTTP | _PinnedHTTPS, expired: threading.Event) -> None:
    """The deadline passed: shut the socket, so whatever read or handshake is waiting fails now."""
    expired.set()
    raw = connection.raw
    if raw is not None:
        try:
            raw.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # not connected yet, or already closed


def fetch(url: str, policy: AvatarPolicy) -> bytes:
    """The bytes at `url` under the policy (one GET, no redirects); AvatarRefused or OSError."""
    scheme, host, port, path = check_url(url, policy)
    address = pinned_address(host, port, policy)
    connection: _PinnedHTTP | _PinnedHTTPS
    if scheme == "https":
        context = ssl.create_default_context(cafile=policy.ca_file)
        connection = _PinnedHTTPS(host, address, port, policy.timeout_s, context)
    else:
        connection = _PinnedHTTP(host, address, port, policy.timeout_s)
    # The socket timeout bounds each read; this bounds the whole fetch (a server sending a byte
    # every few seconds, or endless headers or trailers, would otherwise hold the thread for days).
    expired = threading.Event()
    watchdog = threading.Timer(policy.deadline_s, _cut, (connection, expired))
    watchdog.daemon = True
    watchdog.start()
    try:
        connection.request("GET", path, headers={"Accept": "image/*", "User-Agent": USER_AGENT})
        response = connection.getresponse()
        if response.status != 200:
            raise AvatarRefused(f"{host} answered {response.status} (redirects are not followed)")
        length = response.getheader("Content-Length")
        if length is not None and length.isdigit() and int(length) > policy.max_bytes:
            raise AvatarRefused(f"{length} bytes is more than {policy.max_bytes}")
        body = response.read(policy.max_bytes + 1)
        if len(body) > policy.max_bytes:
            raise AvatarRefused(f"more than {policy.max_bytes} bytes")
        if expired.is_set():
            raise AvatarRefused(f"{host} took longer than {policy.deadline_s:g} s")
        return body
    except (http.client.HTTPException, OSError) as exc:
        if expired.is_set():
            raise AvatarRefused(f"{host} took longer than {policy.deadline_s:g} s") from None
        if isinstance(exc, OSError):
            raise
        raise AvatarRefused(f"{host}: {type(exc).__name__}") from None
    finally:
        watchdog.cancel()
        connection.close()
        if connection.raw is not None:
            connection.raw.close()


def decode(data: bytes, policy: AvatarPolicy) -> Image.Image:
    """The picture's centre square, in RGB, at most AVATAR_KEEP_SIDE pixels a side."""
    try:
        with Image.open(io.BytesIO(data), formats=sorted(FORMATS)) as image:
            if image.format not in FORMATS:
                raise AvatarRefused(f"{image.format} is not an avatar format ({', '.join(sorted(FORMATS))})")
            width, height = image.size
            if max(width, height) > policy.max_side:
                raise AvatarRefused(f"{width}x{height} is larger than {policy.max_side} a side")
            side = min(width, height)
            left, top = (width - side) // 2, (height - side) // 2
            square = image.convert("RGB").crop((left, top, left + side, top + side))
    except AvatarRefused:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise AvatarRefused(f"not a readable image: {exc}") from None
    if side > AVATAR_KEEP_SIDE:
        square = square.resize((AVATAR_KEEP_SIDE, AVATAR_KEEP_SIDE), Image.Resampling.LANCZOS)
    return square


def circle(square: Image.Image, diameter: int) -> Image.Image:
    """`square` as an RGBA circle `diameter` pixels across."""
    drawn = square.resize((diameter, diameter), Image.Resampling.LANCZOS).convert("RGBA")
    mask = Image.new("L", (diameter, diameter), 0)
    ImageDraw.Draw(mask).ellipse((0, 0, diameter - 1, diameter - 1), fill=255)
    drawn.putalpha(mask)
    return drawn


@dataclass
class _Entry:
    square: Image.Image | None  # None: refused or failed
    due: float  # when it is asked for again (a retry, or a refresh of a picture)
    circles: dict[int, Image.Image] = field(default_factory=dict)  # by diameter


class AvatarCache:
    """Avatars by URL, fetched in the background; thread-safe."""

    def __init__(
        self,
        policy: AvatarPolicy,
        *,
        workers: int = 2,
        clock: Callable[[], float] = time.monotonic,
        fetcher: Callable[[str, AvatarPolicy], bytes] = fetch,
    ) -> None:
        self._policy = policy
        self._clock = clock
        self._fetch = fetcher
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._pending: set[str] = set()
        self._next_due = math.inf
        self._closed = False
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="avatar")
        self._generation = 0

    @property
    def generation(self) -> int:
        """What a drawing that used this cache depends on: it changes when a picture arrives, and
        when an entry is due again (so the drawing is redone, and asks for it)."""
        with self._lock:
            now = self._clock()
            if now >= self._next_due:
                self._generation += 1
                self._reschedule(now)
            return self._generation

    def get(self, url: str, diameter: int) -> Image.Image | None:
        """The picture at `url` as a circle, if it has arrived; otherwise None, and it is fetched."""
        if not url or not self._policy.enabled:
            return None
        with self._lock:
            entry = self._entries.get(url)
            if entry is not None:
                self._entries.move_to_end(url)
            due = entry is None or self._clock() >= entry.due
            fetch_now = due and url not in self._pending and not self._closed
            if fetch_now:
                self._pending.add(url)
            picture = None
            if entry is not None and entry.square is not None:
                picture = entry.circles.get(diameter)
                if picture is None:
                    picture = entry.circles[diameter] = circle(entry.square, diameter)
        if fetch_now:
            try:
                self._pool.submit(self._load, url)
            except RuntimeError:  # closed meanwhile
                with self._lock:
                    self._pending.discard(url)
        return picture

    def close(self) -> None:
        with self._lock:
            self._closed = True
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _load(self, url: str) -> None:
        square: Image.Image | None = None
        try:
            square = decode(self._fetch(url, self._policy), self._policy)
        except Exception as exc:  # noqa: BLE001 (whatever a URL did, it only costs its picture)
            # The URL is the user's own choice: log its host and the reason, never the whole URL.
            logger.info("avatar not drawn (%s): %s", _host_of(url), exc)
        finally:
            with self._lock:
                self._pending.discard(url)
                now = self._clock()
                old = self._entries.get(url)
                if square is None and old is not None and old.square is not None:
                    # A refresh failed: keep the picture we have, try again later.
                    old.due = now + AVATAR_RETRY_S
                else:
                    due = now + (AVATAR_REFRESH_S if square is not None else AVATAR_RETRY_S)
                    self._entries[url] = _Entry(square=square, due=due)
                    if square is not None:
                        self._generation += 1
                self._entries.move_to_end(url)
                while len(self._entries) > AVATAR_CACHE_SIZE:
                    self._entries.popitem(last=False)
                self._reschedule(now)

    def _reschedule(self, now: float) -> None:
        """The next time an entry falls due (one already due waits until it is asked for)."""
        self._next_due = min(
            (entry.due for entry in self._entries.values() if entry.due > now), default=math.inf
        )


def _host_of(url: str) -> str:
    try:
        return urlsplit(url).hostname or "no host"
    except ValueError:
        return "not a URL"
