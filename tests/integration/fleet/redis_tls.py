"""A real redis-server (Debian's) with TLS and AUTH on loopback, standing in for ElastiCache."""

from __future__ import annotations

import datetime
import ipaddress
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from devstack.ports import free_port
from devstack.processes import ManagedProcess


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


def _write_certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for 127.0.0.1 signed by it."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "spaces fleet test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    ca_file, cert_file, key_file = folder / "ca.pem", folder / "redis.pem", folder / "redis.key"
    ca_file.write_bytes(ca.public_bytes(pem))
    cert_file.write_bytes(cert.public_bytes(pem))
    key_file.write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return ca_file, cert_file, key_file


def start(folder: Path) -> LocalRedis:
    binary = shutil.which("redis-server")
    if binary is None:
        raise FileNotFoundError(
            "redis-server not found: run `make system-deps` (Debian package redis-server)"
        )
    ca_file, cert_file, key_file = _write_certificates(folder)
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
