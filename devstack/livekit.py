"""A real livekit-server on loopback, configured by contract.livekit_config."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from contract import livekit_config
from contract.livekit_config import LiveKitConfig, RedisSettings

from .ports import free_port
from .processes import ManagedProcess, http_ok

ROOT = Path(__file__).resolve().parent.parent
BINARY_ENV = "LIVEKIT_SERVER_BIN"


def find_binary() -> str:
    """The pinned binary that scripts/install-livekit.sh links into .tools/bin."""
    candidates = [os.environ.get(BINARY_ENV), str(ROOT / ".tools" / "bin" / "livekit-server")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return candidate
    found = shutil.which("livekit-server")
    if found:
        return found
    raise FileNotFoundError("livekit-server not found: run `make tools` (scripts/install-livekit.sh)")


@dataclass
class LiveKitServer:
    config: LiveKitConfig
    process: ManagedProcess
    config_path: Path

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.config.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.config.port}"

    @property
    def api_key(self) -> str:
        return self.config.api_key

    @property
    def api_secret(self) -> str:
        return self.config.api_secret

    def stop(self) -> None:
        # An idle server drains instantly; a short grace keeps test teardown quick.
        self.process.stop(grace=1.0)
        self.config_path.unlink(missing_ok=True)


def start(
    config: LiveKitConfig, *, name: str = "livekit", log: IO[str] | None = None, timeout: float = 30.0
) -> LiveKitServer:
    fd, path = tempfile.mkstemp(prefix="livekit-", suffix=".yaml")
    with os.fdopen(fd, "w") as f:
        f.write(livekit_config.render_yaml(config))
    process = ManagedProcess(name, [find_binary(), "--config", path], log=log)
    server = LiveKitServer(config=config, process=process, config_path=Path(path))
    try:
        process.wait_until(http_ok(server.http_url), timeout=timeout, what="answering GET /")
    except BaseException:
        server.stop()
        raise
    return server


def start_local(
    *,
    api_key: str,
    api_secret: str,
    webhook_url: str | None = None,
    port: int | None = None,
    redis: RedisSettings | None = None,
    name: str = "livekit",
    log: IO[str] | None = None,
    congestion_control: bool = True,
) -> LiveKitServer:
    def configured() -> LiveKitConfig:
        return livekit_config.local_config(
            api_key=api_key,
            api_secret=api_secret,
            port=port or free_port(),
            rtc_tcp_port=free_port(),
            rtc_udp_port=free_port(),
            webhook_url=webhook_url,
            redis=redis,
            congestion_control=congestion_control,
        )

    return start_on_free_ports(configured, name=name, log=log)


def start_on_free_ports(
    configured: Callable[[], LiveKitConfig], *, name: str = "livekit", log: IO[str] | None = None
) -> LiveKitServer:
    """Start a server on the ports `configured()` draws, drawing again when one was taken.

    free_port() only says a port was free a moment ago: another process on the machine (a parallel
    test run, a browser) can take it before the server binds it. Then the server exits at once.
    """
    for _ in range(BIND_ATTEMPTS - 1):
        try:
            return start(configured(), name=name, log=log)
        except RuntimeError as exc:
            if "address already in use" not in str(exc):
                raise
    return start(configured(), name=name, log=log)


BIND_ATTEMPTS = 3
