"""`make dev`: a real livekit-server, the Spaces API (which also serves the web page and the
broadcasts), the media agent and the broadcast composer.

Everything runs in the foreground with prefixed logs; Ctrl-C stops all of it. Ports are the fixed
local ones from contract.names so that bookmarks and the README's URLs work.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import sys
import threading
from pathlib import Path

from contract import names
from contract.livekit_config import local_config

from . import livekit
from .ports import free_port
from .processes import ManagedProcess, http_ok

ROOT = Path(__file__).resolve().parent.parent
STATE_DIR = ROOT / ".dev"
# The composer writes the broadcasts here; the API serves them at /broadcast/.
BROADCAST_DIR = STATE_DIR / "broadcast"
# The workers' health/status servers: `start` mode would put both on their production default port;
# free ports (names.ENV_AGENT_HTTP_PORT, ENV_COMPOSER_HTTP_PORT) keep them apart and off anything else.


def composer_installed() -> bool:
    """The composer's entry point (`python -m composer`) is present. Found without running it (PyAV
    and NumPy load slowly); a checkout without it still gets a working stack, minus the broadcast."""
    try:
        return importlib.util.find_spec("composer.__main__") is not None
    except ImportError:  # no `composer` package at all
        return False


def broadcast_env(api_url: str) -> dict[str, str]:
    """What the API and the composer need to agree on: where the files go and where they are served.
    SPACES_WEBRTC_LISTENER_LIMIT is left to the caller's environment (0 sends every listener to HLS)."""
    return {
        names.ENV_BROADCAST_DIR: str(BROADCAST_DIR),
        names.ENV_BROADCAST_BASE_URL: f"{api_url}/broadcast",
    }


def main() -> int:
    STATE_DIR.mkdir(exist_ok=True)
    api_url = f"http://127.0.0.1:{names.DEV_API_PORT}"
    broadcasting = composer_installed()
    if broadcasting:
        BROADCAST_DIR.mkdir(exist_ok=True)
    lk_config = local_config(
        api_key=names.DEV_API_KEY,
        api_secret=names.DEV_API_SECRET,
        port=names.DEV_LIVEKIT_PORT,
        rtc_tcp_port=names.DEV_LIVEKIT_TCP_PORT,
        rtc_udp_port=names.DEV_LIVEKIT_TCP_PORT + 1,
        webhook_url=f"{api_url}/livekit/webhook",
    )
    env = {
        names.ENV_MODE: "local",
        names.ENV_LIVEKIT_URL: f"ws://127.0.0.1:{names.DEV_LIVEKIT_PORT}",
        names.ENV_LIVEKIT_API_KEY: names.DEV_API_KEY,
        names.ENV_LIVEKIT_API_SECRET: names.DEV_API_SECRET,
        names.ENV_STORE: "sqlite",
        names.ENV_SQLITE_PATH: str(STATE_DIR / "spaces.sqlite3"),
        "PYTHONUNBUFFERED": "1",
        **(broadcast_env(api_url) if broadcasting else {}),
    }
    started: list[ManagedProcess | livekit.LiveKitServer] = []
    stop = threading.Event()

    def shutdown(*_: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, shutdown)
    signal.signal(signal.SIGTERM, shutdown)
    try:
        print(f"dev: livekit-server {names.LIVEKIT_VERSION} on :{names.DEV_LIVEKIT_PORT}", flush=True)
        started.append(livekit.start(lk_config))
        print(f"dev: starting the Spaces API on {api_url}", flush=True)
        api = ManagedProcess(
            "api",
            [
                sys.executable,
                "-m",
                "uvicorn",
                "functions.api.main:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(names.DEV_API_PORT),
                "--log-level",
                "info",
            ],
            env=env,
            cwd=ROOT,
        )
        started.append(api)
        api.wait_until(http_ok(f"{api_url}/healthz"), timeout=30, what="healthy")
        # `start`, not the agents CLI's `dev`: `dev` is deprecated in livekit-agents 1.x (moved to
        # `lk agent dev`, without in-process reload) and skips the drain and load limits we run with.
        print("dev: starting the media agent", flush=True)
        agent = ManagedProcess(
            "agent",
            [sys.executable, "-m", "media_agent", "start"],
            env={**env, names.ENV_AGENT_HTTP_PORT: str(free_port())},
            cwd=ROOT,
        )
        started.append(agent)
        if broadcasting:
            print(f"dev: starting the broadcast composer (writes {BROADCAST_DIR})", flush=True)
            composer = ManagedProcess(
                "composer",
                [sys.executable, "-m", "composer", "start"],
                env={**env, names.ENV_COMPOSER_HTTP_PORT: str(free_port())},
                cwd=ROOT,
            )
            started.append(composer)
        else:
            print("dev: no composer package; Spaces run without a broadcast (everyone on WebRTC)", flush=True)
        broadcasts = f"{api_url}/broadcast/<space id>/{names.BROADCAST_PLAYLIST}" if broadcasting else "off"
        print(
            "\n"
            f"  Web page:   {api_url}/\n"
            f"  API docs:   {api_url}/docs\n"
            f"  Broadcast:  {broadcasts}\n"
            f"  LiveKit:    ws://127.0.0.1:{names.DEV_LIVEKIT_PORT}  (key {names.DEV_API_KEY}, local only)\n"
            f"  Dev token:  .venv/bin/python -m functions.dev_token alice\n"
            "  Ctrl-C stops everything.\n",
            flush=True,
        )
        while not stop.wait(0.5):
            for proc in started:
                process = proc.process if isinstance(proc, livekit.LiveKitServer) else proc
                if not process.running:
                    print(f"dev: {process.name} exited with {process.proc.returncode}; stopping", flush=True)
                    stop.set()
        return 0
    finally:
        for proc in reversed(started):
            proc.stop()
        print("dev: stopped", flush=True)


if __name__ == "__main__":
    os.chdir(ROOT)
    raise SystemExit(main())
