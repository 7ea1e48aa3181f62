"""The avatar fetch over real sockets and real TLS: a local HTTPS server with a certificate from a CA
made for the test, and the composer's fetch under its SSRF policy (composer/avatars.py)."""

from __future__ import annotations

import io
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler

import pytest
from PIL import Image

from composer.avatars import AvatarCache
from contract.avatar_fetch import AvatarPolicy, AvatarRefused, fetch
from tests.support.avatar_host import serve_tls
from tests.support.eventually import eventually

MAX_BYTES = 64 * 1024


def png(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (48, 48), colour).save(out, "PNG")
    return out.getvalue()


YELLOW_PNG = png((230, 200, 20))


class Handler(BaseHTTPRequestHandler):
    requests: list[str]

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.requests.append(self.path)
        if self.path == "/yellow.png":
            self._send(200, YELLOW_PNG, {"Content-Type": "image/png"})
        elif self.path == "/moved":
            self._send(302, b"", {"Location": "/yellow.png"})
        elif self.path == "/declared-too-big":
            self._send(200, b"x" * 16, {"Content-Length": str(MAX_BYTES * 4)})
        elif self.path == "/trickle":
            # A byte every 0.2 s: each read is quick, the whole answer never ends.
            self.send_response(200)
            self.send_header("Content-Length", str(MAX_BYTES))
            self.end_headers()
            for _ in range(MAX_BYTES):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(0.2)
        elif self.path == "/endless-trailer":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"4\r\nabcd\r\n0\r\n")
            while True:
                self.wfile.write(b"X-Trailer: " + b"y" * 60 + b"\r\n")
                self.wfile.flush()
                time.sleep(0.01)
        elif self.path == "/too-big":
            # No length: the body runs until the connection closes.
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"\x89PNG" + b"x" * MAX_BYTES)
            self.close_connection = True
        else:
            self._send(404, b"", {})

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        headers.setdefault("Content-Length", str(len(body)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@dataclass
class Server:
    port: int
    ca_file: str
    requests: list[str]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # One certificate for avatars.example, localhost and 127.0.0.1.
    requests: list[str] = []
    handler = type("RecordingHandler", (Handler,), {"requests": requests})
    workdir = tmp_path_factory.mktemp("avatar-tls")
    with serve_tls(handler, workdir, dns_names=("avatars.example", "localhost")) as (port, ca_file):
        yield Server(port=port, ca_file=ca_file, requests=requests)


def local_policy(server: Server, *hosts: str) -> AvatarPolicy:
    """Local mode's policy (loopback allowed), trusting the test CA; every name resolves to 127.0.0.1."""
    return AvatarPolicy(
        hosts=frozenset(hosts),
        allow_private=True,
        ca_file=server.ca_file,
        max_bytes=MAX_BYTES,
        resolve=lambda host, port: ["127.0.0.1"],
    )


def test_the_picture_comes_over_tls_from_the_checked_address(server: Server) -> None:
    # avatars.example is in no DNS: the connection goes to the address the policy checked, and TLS
    # still verifies the certificate for the name in the URL.
    policy = local_policy(server, "avatars.example")
    assert fetch(f"https://avatars.example:{server.port}/yellow.png", policy) == YELLOW_PNG


def test_a_certificate_for_another_name_is_refused(server: Server) -> None:
    policy = local_policy(server, "other.example")
    with pytest.raises(ssl.SSLCertVerificationError):
        fetch(f"https://other.example:{server.port}/yellow.png", policy)


def test_a_redirect_is_not_followed(server: Server) -> None:
    before = len(server.requests)
    with pytest.raises(AvatarRefused, match="answered 302"):
        fetch(f"https://avatars.example:{server.port}/moved", local_policy(server, "avatars.example"))
    assert server.requests[before:] == ["/moved"]


@pytest.mark.parametrize("path", ["/declared-too-big", "/too-big"])
def test_a_body_over_the_limit_is_refused(server: Server, path: str) -> None:
    with pytest.raises(AvatarRefused, match=f"than {MAX_BYTES}"):
        fetch(f"https://avatars.example:{server.port}{path}", local_policy(server, "avatars.example"))


@pytest.mark.parametrize("path", ["/trickle", "/endless-trailer"])
def test_an_answer_that_never_ends_is_cut_off_at_the_deadline(server: Server, path: str) -> None:
    policy = replace(local_policy(server, "avatars.example"), timeout_s=1.0, deadline_s=1.5)
    with pytest.raises(AvatarRefused, match="took longer than 1.5 s"):
        fetch(f"https://avatars.example:{server.port}{path}", policy)


def test_outside_local_mode_a_loopback_host_is_never_connected_to(server: Server) -> None:
    cloud = AvatarPolicy(hosts=frozenset({"localhost", "127.0.0.1"}), ca_file=server.ca_file)
    before = len(server.requests)
    with pytest.raises(AvatarRefused, match="resolves to an address that is not public"):
        fetch("https://localhost/yellow.png", cloud)
    with pytest.raises(AvatarRefused, match="port"):
        fetch(f"https://localhost:{server.port}/yellow.png", cloud)
    with pytest.raises(AvatarRefused, match="scheme 'http'"):
        fetch("http://127.0.0.1/yellow.png", cloud)
    assert server.requests[before:] == []


def test_the_cache_draws_what_the_server_sent(server: Server) -> None:
    cache = AvatarCache(local_policy(server, "avatars.example"))
    url = f"https://avatars.example:{server.port}/yellow.png"
    try:
        picture = eventually(lambda: cache.get(url, 31), what="the avatar, fetched in the background")
        assert picture.size == (31, 31)
        centre = picture.getpixel((15, 15))
        assert isinstance(centre, tuple) and abs(centre[0] - 230) <= 8 and abs(centre[2] - 20) <= 8
    finally:
        cache.close()


def test_a_name_tls_cannot_encode_is_refused_not_raised(server: Server) -> None:
    # A label over 63 characters resolves (here) but cannot be sent as SNI: a refusal, not a crash.
    long_name = "a" * 64 + ".example"
    policy = local_policy(server, long_name)
    with pytest.raises(AvatarRefused, match="UnicodeError"):
        fetch(f"https://{long_name}:{server.port}/yellow.png", policy)
