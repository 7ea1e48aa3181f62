"""`make dev`: a real livekit-server, the Spaces API (which also serves the web page) and the media agent.

Everything runs in the foreground with prefixed logs; Ctrl-C stops all of it. Ports are the fixed
local ones from contract.names so that bookmarks and the README's URLs work.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path

from contract import names
from contract.livekit_config import local_config

from . import livekit
from .processes import ManagedProcess, http_ok

ROOT = Path(__file__).resolve().parent.parent
STATE_DIR = ROOT / ".dev"


def main() -> int:
    STATE_DIR.mkdir(exist_ok=True)
    api_url = f"http://127.0.0.1:{names.DEV_API_PORT}"
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
        print("dev: starting the media agent", flush=True)
        agent = ManagedProcess("agent", [sys.executable, "-m", "media_agent", "dev"], env=env, cwd=ROOT)
        started.append(agent)
        print(
            "\n"
            f"  Web page:   {api_url}/\n"
            f"  API docs:   {api_url}/docs\n"
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
