"""Local bundling of the control plane Lambda: runtime deps for arm64 + functions/ + contract/.

No Docker: uv's pip downloads manylinux aarch64 wheels only, so what it fetches runs on Lambda
whatever machine runs `cdk deploy`. The bundle never holds CDK or dev tools: the
dependency list is pyproject.toml's [project.dependencies], the Lambda's runtime deps only, at the
exact versions uv.lock pins (the versions the tests ran against).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import DockerImage, ILocalBundling

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("functions", "contract")
# The Lambda's python3.13 runs on Amazon Linux 2023 (glibc 2.34): any manylinux wheel up to glibc
# 2.34 runs there. manylinux2014 (glibc 2.17) alone is too old a target: some pinned packages
# (Pillow 12+) publish aarch64 wheels for manylinux_2_28 only, and the bundle then cannot resolve.
GLIBC_MINOR = 34
UV_PLATFORM = f"aarch64-manylinux_2_{GLIBC_MINOR}"


def runtime_dependencies(pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    with pyproject.open("rb") as f:
        return list(tomllib.load(f)["project"]["dependencies"])


def _uv() -> str:
    """uv: the Makefile bootstraps it (`make venv`), and the venv `cdk` runs in is uv's (no pip)."""
    uv = shutil.which("uv") or str(Path.home() / ".cache/spaces-tools/uv/bin/uv")
    if not Path(uv).is_file():
        raise RuntimeError("bundling the Lambda needs uv: run `make venv` (it installs uv) first")
    return uv


def locked_requirements() -> list[str]:
    """The runtime dependencies with the versions uv.lock pins (the versions the tests ran against)."""
    exported = subprocess.run(
        [
            _uv(),
            "export",
            "--frozen",
            "--no-default-groups",
            "--no-emit-project",
            "--no-hashes",
            "--no-header",
            "--no-annotate",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [line.strip() for line in exported.splitlines() if line.strip() and not line.startswith("#")]


def source_hash() -> str:
    """Changes when the code, the dependency list or the lock changes, without hashing the whole repo."""
    digest = hashlib.sha256("\n".join(runtime_dependencies()).encode())
    digest.update(UV_PLATFORM.encode())  # another target is another bundle
    digest.update((ROOT / "uv.lock").read_bytes())
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            digest.update(str(path.relative_to(ROOT)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


@jsii.implements(ILocalBundling)
class LocalPythonBundling:
    def __init__(self, *, python_version: str) -> None:
        self.python_version = python_version

    def try_bundle(self, output_dir: str, *, image: DockerImage, **_: Any) -> bool:
        with tempfile.NamedTemporaryFile("w", suffix=".txt") as requirements:
            requirements.write("\n".join(locked_requirements()) + "\n")
            requirements.flush()
            subprocess.run(
                [
                    _uv(),
                    "pip",
                    "install",
                    "--python-platform",
                    UV_PLATFORM,
                    "--target",
                    output_dir,
                    "--python-version",
                    self.python_version,
                    "--only-binary=:all:",
                    "-r",
                    requirements.name,
                ],
                check=True,
            )
        for package in PACKAGES:
            shutil.copytree(
                ROOT / package,
                Path(output_dir) / package,
                dirs_exist_ok=True,
                ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "tests"),
            )
        return True
