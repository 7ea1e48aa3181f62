"""Whether a URL names this machine: the rule that keeps the public dev secrets on a developer's box.

One rule for every process that holds them: the media agent refuses the dev key pair with SPACES_MODE
unset unless its server is on loopback (media_agent/dev_keys.py), and the control plane refuses local
mode, which mints tokens for anyone, against any other server (functions/core/config.py).
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit


def is_loopback_url(url: str) -> bool:
    """True for `localhost` or a loopback address (127.0.0.0/8, ::1); False for any other host name
    (`localhost.example.com` included: names resolve elsewhere), no host, or a malformed URL."""
    try:
        host = urlsplit(url).hostname
    except ValueError:  # e.g. an unbalanced "[" in the host
        return False
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name other than localhost
        return False


def normal_host(name: str) -> str:
    """A host name as compared: lower case, an IP address in its canonical form, without brackets."""
    name = name.strip().lower().strip("[]")
    try:
        return str(ipaddress.ip_address(name))
    except ValueError:  # a name, not an address
        return name


def has_port(entry: str) -> bool:
    """Whether a host entry carries a port ("devbox.lan:5173", "[fd00::1]:8000"); a bare IPv6
    address has several colons and no brackets."""
    entry = entry.strip()
    return "]:" in entry if entry.startswith("[") else entry.count(":") == 1
