"""Start and stop child processes with readable, prefixed logs; wait for them to be ready."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO

# The output lines a process keeps for its readers (error messages, tests and benches that search a
# log): the latest ones only, so a `make dev` stack that runs for days does not grow without end.
# ~20,000 lines of JSON logs are a few MB, far more than one test module's process writes.
LINES_KEPT = 20_000


class ManagedProcess:
    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        log: IO[str] | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self._log = log if log is not None else sys.stderr
        self._lines: deque[str] = deque(maxlen=LINES_KEPT)
        self._lines_lock = threading.Lock()
        self.proc = subprocess.Popen(
            self.argv,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            start_new_session=True,
        )
        self._reader = threading.Thread(target=self._pump, daemon=True)
        self._reader.start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._lines_lock:
                self._lines.append(line)
            try:
                self._log.write(f"[{self.name}] {line}")
                self._log.flush()
            except ValueError:  # log closed at interpreter exit
                return

    @property
    def lines(self) -> list[str]:
        """A copy of the latest LINES_KEPT output lines (the reader thread keeps appending)."""
        with self._lines_lock:
            return list(self._lines)

    @property
    def running(self) -> bool:
        return self.proc.poll() is None

    def wait_until(self, ready: Callable[[], bool], *, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running:
                tail = "".join(self.lines[-30:])
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode} before {what}:\n{tail}")
            if ready():
                return
            time.sleep(0.1)
        raise TimeoutError(f"{self.name}: not {what} after {timeout}s")

    def stop(self, *, grace: float = 3.0, timeout: float = 10.0) -> None:
        """SIGTERM, then a second SIGTERM after `grace` (livekit-server and uvicorn treat the second
        as "force": the first waits for rooms/connections to drain), then SIGKILL."""
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGTERM, timeout)):
            if not self.running:
                return
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.proc.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue
        self.kill()

    def kill(self) -> None:
        if self.running:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)


def http_ok(url: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                return bool(resp.status == 200)
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            return False

    return check


def tcp_open(port: int) -> Callable[[], bool]:
    """Ready when something accepts TCP connections on 127.0.0.1:`port`."""

    def check() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            return False

    return check
