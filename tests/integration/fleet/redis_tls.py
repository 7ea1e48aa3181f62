"""A real redis-server (Debian's) with TLS and AUTH on loopback, standing in for ElastiCache."""

from __future__ import annotations

import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from devstack.ports import free_port
from devstack.processes import ManagedProcess
from tests.support.tls_ca import write_certificates


@dataclass
class LocalRedis:
    process: ManagedProcess
    port: int
    password: str
    ca_file: Path

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def cli(self, *args: str) -> str:
        """redis-cli over TLS with AUTH, verifying the server against the test CA."""
        out = subprocess.run(
            [
                "redis-cli",
                "--tls",
                "--cacert",
                str(self.ca_file),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "--no-auth-warning",
                "-a",
                self.password,
                *args,
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=10,
        )
        return out.stdout.strip()

    def stop(self) -> None:
        self.process.stop()


def start(folder: Path) -> LocalRedis:
    binary = shutil.which("redis-server")
    if binary is None:
        raise FileNotFoundError(
            "redis-server not found: run `make system-deps` (Debian package redis-server)"
        )
    ca_file, cert_file, key_file = write_certificates(folder, prefix="redis")
    port = free_port()
    password = secrets.token_urlsafe(24)
    process = ManagedProcess(
        "redis",
        [
            binary,
            "--port",
            "0",
            "--tls-port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--tls-cert-file",
            str(cert_file),
            "--tls-key-file",
            str(key_file),
            "--tls-ca-cert-file",
            str(ca_file),
            # Clients authenticate with AUTH (as with ElastiCache), not with client certificates.
            "--tls-auth-clients",
            "no",
            "--requirepass",
            password,
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(folder),
        ],
    )
    redis = LocalRedis(process=process, port=port, password=password, ca_file=ca_file)

    def answers() -> bool:
        try:
            return redis.cli("PING") == "PONG"
        except subprocess.SubprocessError:
            return False

    try:
        process.wait_until(answers, timeout=15, what="answering PING over TLS")
    except BaseException:
        process.stop()
        raise
    return redis
