"""Run the Spaces API as a real uvicorn process for integration and e2e tests.

    with api_server(port=webhook_port, livekit=livekit_server, workdir=tmp_path) as api:
        httpx.post(f"{api.url}/spaces", headers=api.auth("alice"), json={...})

Runs with SPACES_MODE=local, the given LiveKit endpoint and a SQLite file in `workdir` (or any
extra env, e.g. the DynamoDB store). Use the `webhook_port` fixture's port so the test server's
webhooks reach this API.

The broadcast, as `make dev` runs it: `broadcast_dir=` makes the API serve that directory at
`<api>/broadcast/` and hand out `<api>/broadcast/<space>/index.m3u8` (start the composer with the
same SPACES_BROADCAST_DIR, see `ApiServer.broadcast_env`); `webrtc_listener_limit=` sets the
threshold (0: every listener gets HLS).
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

from contract import names
from devstack.processes import ManagedProcess, http_ok

ROOT = Path(__file__).resolve().parents[2]


class LiveKitLike(Protocol):
    ws_url: str
    api_key: str
    api_secret: str


@dataclass
class ApiServer:
    url: str
    # None when an API that another fixture started on the same port is shared (reuse_running).
    process: ManagedProcess | None
    env: dict[str, str]

    def token(self, user_id: str) -> str:
        from functions.dev_token import dev_token

        return dev_token(user_id, secret=self.env[names.ENV_DEV_JWT_SECRET])

    def auth(self, user_id: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user_id)}"}

    @property
    def broadcast_env(self) -> dict[str, str]:
        """The broadcast variables this API runs with, for the composer process (empty if none)."""
        keys = (names.ENV_BROADCAST_DIR, names.ENV_BROADCAST_BASE_URL)
        return {k: self.env[k] for k in keys if k in self.env}


def broadcast_env(
    *, api_url: str, broadcast_dir: Path | None, webrtc_listener_limit: int | None
) -> dict[str, str]:
    env: dict[str, str] = {}
    if broadcast_dir is not None:
        env[names.ENV_BROADCAST_DIR] = str(broadcast_dir)
        env[names.ENV_BROADCAST_BASE_URL] = f"{api_url}/broadcast"
    if webrtc_listener_limit is not None:
        env[names.ENV_WEBRTC_LISTENER_LIMIT] = str(webrtc_listener_limit)
    return env


def api_env(
    *, livekit: LiveKitLike, sqlite_path: Path, extra: dict[str, str] | None = None
) -> dict[str, str]:
    return {
        names.ENV_MODE: "local",
        names.ENV_LIVEKIT_URL: livekit.ws_url,
        names.ENV_LIVEKIT_API_KEY: livekit.api_key,
        names.ENV_LIVEKIT_API_SECRET: livekit.api_secret,
        names.ENV_STORE: "sqlite",
        names.ENV_SQLITE_PATH: str(sqlite_path),
        names.ENV_DEV_JWT_SECRET: names.DEV_JWT_SECRET,
        **(extra or {}),
    }


@contextmanager
def api_server(
    *,
    port: int,
    livekit: LiveKitLike,
    workdir: Path | None = None,
    env: dict[str, str] | None = None,
    log: IO[str] | None = None,
    timeout: float = 30.0,
    reuse_running: bool = False,
    broadcast_dir: Path | None = None,
    webrtc_listener_limit: int | None = None,
) -> Iterator[ApiServer]:
    """Start the API on `port`, or with `reuse_running`, share the one already answering there.

    The SFU's webhooks go to one port per test session, so test packages that each need "the API
    on the webhook port" share it: whichever starts first owns the process, later ones reuse it
    (it is the same local-mode API with the dev secret; only `env` extras may differ)."""
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="spaces-api-") as tmp:
        folder = workdir or Path(tmp)
        broadcast = broadcast_env(
            api_url=url, broadcast_dir=broadcast_dir, webrtc_listener_limit=webrtc_listener_limit
        )
        full_env = api_env(
            livekit=livekit, sqlite_path=folder / "spaces.sqlite3", extra={**broadcast, **(env or {})}
        )
        if reuse_running and http_ok(f"{url}/healthz")():
            if broadcast:
                # The running API has its own settings; a test that needs the broadcast must own it.
                raise RuntimeError(
                    f"an API already runs on port {port}; broadcast settings need an API of their own"
                )
            yield ApiServer(url=url, process=None, env=full_env)
            return
        process = ManagedProcess(
            "api",
            [
                sys.executable,
                "-m",
                "uvicorn",
                "functions.api.main:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            env=full_env,
            cwd=ROOT,
            log=log,
        )
        try:
            process.wait_until(http_ok(f"{url}/healthz"), timeout=timeout, what="answering /healthz")
            yield ApiServer(url=url, process=process, env=full_env)
        finally:
            process.stop()
