"""A stand-in for an avatar host (Google's, GitHub's): HTTPS on 127.0.0.1 with a certificate for
`localhost` from a CA made for the test, serving a small PNG for any `/<name>.png` and recording
who asked (path and User-Agent). Servers that fetch from it trust the CA through `SSL_CERT_FILE`
(OpenSSL's default verify path, which `ssl.create_default_context()` reads)."""

from __future__ import annotations

import io
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from PIL import Image

from tests.support.tls_ca import write_certificates

# The colour of every picture it serves: far from the page's initials colours and backgrounds.
COLOUR = (20, 160, 230)


def png(colour: tuple[int, int, int] = COLOUR, side: int = 48) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (side, side), colour).save(out, "PNG")
    return out.getvalue()


@dataclass
class AvatarHost:
    base_url: str
    ca_file: str
    # (path, User-Agent) of every request, in order.
    requests: list[tuple[str, str]] = field(default_factory=list)

    def picture(self, name: str) -> str:
        return f"{self.base_url}/{name}.png"

    @property
    def env(self) -> dict[str, str]:
        """What a local-mode server needs to fetch from it: the host allowed, the CA trusted."""
        return {"SPACES_AVATAR_HOSTS": "localhost", "SSL_CERT_FILE": self.ca_file}


@contextmanager
def serve_tls(
    handler: type[BaseHTTPRequestHandler], workdir: Path, dns_names: tuple[str, ...] = ("localhost",)
) -> Iterator[tuple[int, str]]:
    """`handler` over TLS on 127.0.0.1 (a free port), with a certificate for `dns_names` and
    127.0.0.1; yields (port, CA file)."""
    ca_file, cert_file, key_file = write_certificates(workdir, dns_names=dns_names, prefix="avatars")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd.server_address[1], str(ca_file)
    finally:
        httpd.shutdown()
        httpd.server_close()


@contextmanager
def avatar_host(workdir: Path) -> Iterator[AvatarHost]:
    requests: list[tuple[str, str]] = []
    body = png()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            requests.append((self.path, self.headers.get("User-Agent", "")))
            if self.path.endswith(".png"):
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            else:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    with serve_tls(Handler, workdir) as (port, ca_file):
        yield AvatarHost(base_url=f"https://localhost:{port}", ca_file=ca_file, requests=requests)
