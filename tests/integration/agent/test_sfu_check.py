"""A worker asks the real SFU once, with its own key pair, before livekit-agents' hour of tries
(media_agent/sfu_check.py): refused or not a LiveKit server, it exits at once; not answering, it
waits."""

from __future__ import annotations

import os
import subprocess
import sys

from contract import names
from devstack.ports import free_port
from media_agent.sfu_check import sfu_refusal
from tests.conftest import LiveKitEndpoint


def _env(url: str, key: str, secret: str) -> dict[str, str]:
    return {
        names.ENV_LIVEKIT_URL: url,
        names.ENV_LIVEKIT_API_KEY: key,
        names.ENV_LIVEKIT_API_SECRET: secret,
    }


async def test_the_sfu_accepts_the_workers_own_key_pair(livekit_server: LiveKitEndpoint) -> None:
    env = _env(livekit_server.ws_url, livekit_server.api_key, livekit_server.api_secret)
    assert await sfu_refusal(env) is None


async def test_a_key_pair_the_sfu_refuses_is_a_reason_to_exit(livekit_server: LiveKitEndpoint) -> None:
    env = _env(livekit_server.ws_url, livekit_server.api_key, "not-the-servers-secret-" + "x" * 20)
    refusal = await sfu_refusal(env)
    assert refusal is not None and "refused the worker's key pair" in refusal and "401" in refusal
    env = _env(livekit_server.ws_url, "an-unknown-key", livekit_server.api_secret)
    assert await sfu_refusal(env) is not None


async def test_an_sfu_that_does_not_answer_is_waited_for() -> None:
    env = _env(f"ws://127.0.0.1:{free_port()}", "a-key", "a-secret-of-thirty-two-characters")
    assert await sfu_refusal(env, timeout_s=2.0) is None


def test_a_worker_with_a_refused_key_pair_exits_at_once(livekit_server: LiveKitEndpoint) -> None:
    env = {
        **os.environ,
        **_env(livekit_server.ws_url, "an-unknown-key", "not-the-servers-secret-" + "x" * 20),
        names.ENV_MODE: "local",
    }
    done = subprocess.run(
        [sys.executable, "-m", "media_agent", "start"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1, done.stderr[-2000:]
    assert "refused the worker's key pair" in done.stderr


async def test_a_url_where_no_livekit_server_answers_is_a_reason_to_exit() -> None:
    """A web server that is not LiveKit (the API's domain given as the SFU's, say) answers 404."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class NotLiveKit(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (the standard library's name)
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), NotLiveKit)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        env = _env(f"ws://127.0.0.1:{server.server_address[1]}", "a-key", "a-secret-of-thirty-two-characters")
        refusal = await sfu_refusal(env)
        assert refusal is not None and "is not a LiveKit server" in refusal
    finally:
        server.shutdown()
        server.server_close()
