"""What a picture URL may make a server fetch: the one policy the composer (avatars drawn into the
broadcast, composer/avatars.py) and the API's avatar proxy (functions/api/routes/avatars.py) share.

A person's `picture` is a URL they chose (a Cognito user edits their own), so fetching it from
inside our network is a server-side request forgery path. What a server will fetch:
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
  any pixel is decoded, so a decompression bomb is refused unread); what is kept is its centre
  square, re-drawn at most `AVATAR_KEEP_SIDE` pixels a side (nothing of the original file is passed on).

Local mode (`SPACES_MODE=local`, the dev stack and the tests) also allows `http` and loopback
addresses, since the dev avatar server runs on 127.0.0.1.
"""

from __future__ import annotations

import http.client
import io
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

from contract import names

if TYPE_CHECKING:
    from PIL import Image

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
# Pictures are kept at this size: the composer scales it to each circle it draws, the proxy sends it.
AVATAR_KEEP_SIDE = 256
FORMATS = frozenset({"PNG", "JPEG", "GIF", "WEBP"})
# A progressive JPEG is decoded once per scan, and libjpeg accepts any number of them (it only
# warns), so a 1 MB file of tens of thousands of tiny scans costs seconds of CPU per fetch. A real
# progressive JPEG has about ten; the start-of-scan marker cannot occur inside entropy-coded data
# (0xFF is byte-stuffed there), so counting it bounds the decode before it starts.
JPEG_MAX_SCANS = 64
_JPEG_SOS = b"\xff\xda"
# Who asks, as the avatar host sees it: the composer or the API's proxy.
USER_AGENT = "spaces (avatar fetch)"


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
    user_agent: str = USER_AGENT
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


def pinned_address(host: str, port: int, policy: AvatarPolicy, *, within: float | None = None) -> str:
    """The address to connect to: every address `host` resolves to must be allowed (a name that
    resolves to a public and a private address is refused, whichever one a later lookup returns).
    With `within`, a lookup that takes longer is given up (its thread ends when the resolver does)."""
    try:
        addresses = _resolve_within(host, port, policy, within)
    except (OSError, UnicodeError) as exc:
        raise AvatarRefused(f"{host} does not resolve: {type(exc).__name__}") from None
    if not addresses:
        raise AvatarRefused(f"{host} does not resolve")
    for address in addresses:
        if not address_allowed(address, policy.allow_private):
            # Not the address itself: the reason can reach whoever asked (the proxy's 502), and
            # what internal names resolve to is not theirs to learn.
            raise AvatarRefused(f"{host} resolves to an address that is not public")
    return addresses[0]


def _resolve_within(host: str, port: int, policy: AvatarPolicy, seconds: float | None) -> list[str]:
    if seconds is None:
        return policy.resolve(host, port)
    answer: list[list[str] | BaseException] = []

    def lookup() -> None:
        try:
            answer.append(policy.resolve(host, port))
        except BaseException as exc:  # noqa: BLE001 (handed to the caller)
            answer.append(exc)

    thread = threading.Thread(target=lookup, name="avatar-dns", daemon=True)
    thread.start()
    thread.join(max(seconds, 0.0))
    if not answer:
        raise AvatarRefused(f"{host} did not resolve within {seconds:g} s")
    result = answer[0]
    if isinstance(result, BaseException):
        raise result
    return result


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
    started = time.monotonic()
    scheme, host, port, path = check_url(url, policy)
    # The deadline covers the name's lookup too (a slow authoritative server is the URL owner's).
    address = pinned_address(host, port, policy, within=policy.deadline_s)
    remaining = policy.deadline_s - (time.monotonic() - started)
    connection: _PinnedHTTP | _PinnedHTTPS
    if scheme == "https":
        context = ssl.create_default_context(cafile=policy.ca_file)
        connection = _PinnedHTTPS(host, address, port, policy.timeout_s, context)
    else:
        connection = _PinnedHTTP(host, address, port, policy.timeout_s)
    # The socket timeout bounds each read; this bounds the whole fetch (a server sending a byte
    # every few seconds, or endless headers or trailers, would otherwise hold the thread for days).
    expired = threading.Event()
    watchdog = threading.Timer(max(remaining, 0.0), _cut, (connection, expired))
    watchdog.daemon = True
    watchdog.start()
    try:
        connection.request("GET", path, headers={"Accept": "image/*", "User-Agent": policy.user_agent})
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
    except (http.client.HTTPException, OSError, UnicodeError) as exc:
        # UnicodeError: a name the TLS layer cannot encode for SNI (IDNA, a label over 63 characters).
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
    # Imported here, not with the module: the API's settings import this module on every cold
    # start (Lambda), and Pillow alone costs ~50 ms there; only an avatar request decodes.
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data), formats=sorted(FORMATS)) as image:
            if image.format not in FORMATS:
                raise AvatarRefused(f"{image.format} is not an avatar format ({', '.join(sorted(FORMATS))})")
            width, height = image.size
            if max(width, height) > policy.max_side:
                raise AvatarRefused(f"{width}x{height} is larger than {policy.max_side} a side")
            if image.format == "JPEG":
                scans = data.count(_JPEG_SOS)
                if scans > JPEG_MAX_SCANS:
                    raise AvatarRefused(f"a JPEG of {scans} scans (at most {JPEG_MAX_SCANS})")
                # Decode at the smallest DCT scale that still covers what is kept (1/2 .. 1/8).
                image.draft("RGB", (AVATAR_KEEP_SIDE, AVATAR_KEEP_SIDE))
                width, height = image.size
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


def host_of(url: str) -> str:
    """The host of a URL, for logs: a picture URL is its user's own choice, never logged whole."""
    try:
        return urlsplit(url).hostname or "no host"
    except ValueError:
        return "not a URL"
