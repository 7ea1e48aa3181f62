"""Holds livekit-server's webhooks instead of delivering them, so that a test decides which of them
reach the API and when (a lost or a late webhook, on purpose). What is held is the server's own
request, signed with its key; the test posts the ones it chooses to the API unchanged.

    with webhook_hold() as held:
        server = livekit.start_local(api_key=..., api_secret=..., webhook_url=held.url)
        ...
        (published,) = held.take("track_published")
        published.deliver(api.url)
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

# The headers livekit-server's webhook request carries that the receiver reads.
_FORWARDED = ("Authorization", "Content-Type")


@dataclass(frozen=True)
class HeldWebhook:
    event: str
    body: bytes
    headers: dict[str, str]

    def deliver(self, api_url: str) -> httpx.Response:
        """Post it to the API as livekit-server would have."""
        return httpx.post(f"{api_url}/livekit/webhook", content=self.body, headers=self.headers, timeout=30)


class WebhookHold:
    def __init__(self, url: str) -> None:
        self.url = url
        self._lock = threading.Lock()
        self._held: list[HeldWebhook] = []

    def _keep(self, hook: HeldWebhook) -> None:
        with self._lock:
            self._held.append(hook)

    def events(self) -> list[str]:
        """The events held so far, in arrival order."""
        with self._lock:
            return [h.event for h in self._held]

    def take(self, event: str) -> list[HeldWebhook]:
        """Remove and return the held webhooks of one event (the others stay held)."""
        with self._lock:
            taken = [h for h in self._held if h.event == event]
            self._held = [h for h in self._held if h.event != event]
            return taken


@contextmanager
def webhook_hold() -> Iterator[WebhookHold]:
    """A loopback HTTP endpoint that answers every webhook 200 and keeps it."""
    hold: WebhookHold | None = None

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            headers = {k: v for k in _FORWARDED if (v := self.headers.get(k)) is not None}
            assert hold is not None
            hold._keep(HeldWebhook(event=json.loads(body)["event"], body=body, headers=headers))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:  # quiet: the test reads `events()`
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    hold = WebhookHold(f"http://127.0.0.1:{server.server_address[1]}/livekit/webhook")
    thread = threading.Thread(target=server.serve_forever, name="webhook-hold", daemon=True)
    thread.start()
    try:
        yield hold
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
