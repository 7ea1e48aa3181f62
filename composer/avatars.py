"""Avatars for the composed video: fetched from the URL a person's identity provider gave, safely.

A stage member's `picture` is a URL they chose (a Cognito user edits their own), so fetching it from
inside the VPC is a server-side request forgery path. What the composer will fetch:
- `https` only, to a host on an allow-list (`SPACES_AVATAR_HOSTS`: names, `*.suffix` wildcards, or
  `*` for any public host), on the default port, with no user info in the URL;
- from a public address only: the name is resolved once, every address it resolves to must be
  globally routable (no loopback, private, link-local such as the instance metadata service, CGNAT,
  multicast or reserved ranges, IPv4-mapped ones included), and the connection goes to the address
  that was checked, so a DNS answer that changes between the check and the connect cannot redirect
  it (the TLS certificate is still checked against the host name);
- no redirects, one request, `AVATAR_TIMEOUT_S` per socket operation, at most `AVATAR_MAX_BYTES`;
- a PNG, JPEG, GIF or WebP of at most `AVATAR_MAX_SIDE` pixels a side (read from the header before
  any pixel is decoded, so a decompression bomb is refused unread).

Local mode (`SPACES_MODE=local`, the dev stack and the tests) also allows `http` and loopback
addresses, since the dev avatar server runs on 127.0.0.1.

Fetching never blocks the frame loop: `AvatarCache.get` returns the picture when it has it and
otherwise starts a fetch on a small thread pool and returns None (the card shows initials until the
picture arrives). A refused or failed URL is not asked for again for `AVATAR_RETRY_S`.
"""

from __future__ import annotations

import http.client
import io
import ipaddress
import logging
import socket
import ssl
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import urlsplit

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
AVATAR_RETRY_S = 300.0
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
    if not host_allowed(host, policy.hosts):
        raise AvatarRefused(f"host {host!r} is not in {names.ENV_AVATAR_HOSTS}")
    default = 443 if parts.scheme == "https" else 80
    if port is not None and port != default and not policy.allow_private:
        raise AvatarRefused(f"port {port} is not allowed (only {default})")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return parts.scheme, host, port or default, path


def address_allowed(address: str, allow_private: bool) -> bool:
    """Whether the composer may connect to `address`: a globally routable one (or anything in local mode)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if allow_private:
        return True
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def _resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def pinned_address(host: str, port: int, policy: AvatarPolicy) -> str:
    """The address to connect to: every address `host` resolves to must be allowed (a name that
    resolves to a public and a private address is refused, whichever one a later lookup returns)."""
    try:
        addresses = policy.resolve(host, port)
    except OSError as exc:
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

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, host: str, address: str, port: int, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


def fetch(url: str, policy: AvatarPolicy) -> bytes:
    """The bytes at `url` under the policy (one GET, no redirects); AvatarRefused or OSError."""
    scheme, host, port, path = check_url(url, policy)
    address = pinned_address(host, port, policy)
    connection: http.client.HTTPConnection
    if scheme == "https":
        context = ssl.create_default_context(cafile=policy.ca_file)
        connection = _PinnedHTTPS(host, address, port, policy.timeout_s, context)
    else:
        connection = _PinnedHTTP(host, address, port, policy.timeout_s)
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
        return body
    except http.client.HTTPException as exc:
        raise AvatarRefused(f"{host}: {type(exc).__name__}") from None
    finally:
        connection.close()


def decode(data: bytes, diameter: int, policy: AvatarPolicy) -> Image.Image:
    """The picture as an RGBA circle `diameter` pixels across (centre square, scaled)."""
    try:
        with Image.open(io.BytesIO(data)) as image:
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
    circle = square.resize((diameter, diameter), Image.Resampling.LANCZOS).convert("RGBA")
    mask = Image.new("L", (diameter, diameter), 0)
    ImageDraw.Draw(mask).ellipse((0, 0, diameter - 1, diameter - 1), fill=255)
    circle.putalpha(mask)
    return circle


class AvatarCache:
    """Avatars by (URL, diameter), fetched in the background; thread-safe."""

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
        # (url, diameter) -> the picture, or the time a failed fetch may be retried.
        self._entries: OrderedDict[tuple[str, int], Image.Image | float] = OrderedDict()
        self._pending: set[tuple[str, int]] = set()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="avatar")
        # Bumped whenever a picture arrives: what a drawing cached by the renderer depends on.
        self.generation = 0

    def get(self, url: str, diameter: int) -> Image.Image | None:
        if not url or not self._policy.enabled:
            return None
        key = (url, diameter)
        with self._lock:
            entry = self._entries.get(key)
            if isinstance(entry, Image.Image):
                self._entries.move_to_end(key)
                return entry
            if key in self._pending or (entry is not None and self._clock() < entry):
                return None
            self._pending.add(key)
        self._pool.submit(self._load, key)
        return None

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _load(self, key: tuple[str, int]) -> None:
        url, diameter = key
        result: Image.Image | float
        try:
            result = decode(self._fetch(url, self._policy), diameter, self._policy)
        except (AvatarRefused, OSError) as exc:
            # The URL is the user's own choice: log the reason, never the whole URL's query.
            logger.info("avatar not drawn (%s): %s", _host_of(url), exc)
            result = self._clock() + AVATAR_RETRY_S
        with self._lock:
            self._pending.discard(key)
            self._entries[key] = result
            self._entries.move_to_end(key)
            while len(self._entries) > AVATAR_CACHE_SIZE:
                self._entries.popitem(last=False)
            if isinstance(result, Image.Image):
                self.generation += 1


def _host_of(url: str) -> str:
    try:
        return urlsplit(url).hostname or "no host"
    except ValueError:
        return "not a URL"
