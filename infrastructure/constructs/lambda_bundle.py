"""Local bundling of the control plane Lambda: runtime deps for arm64 + functions/ + contract/.

No Docker: pip (uv's, or pip itself) downloads manylinux aarch64 wheels only, so what it fetches
runs on Lambda whatever machine runs `cdk deploy`. The bundle never holds CDK or dev tools: the
dependency list is pyproject.toml's [project.dependencies], the Lambda's runtime deps only.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import DockerImage, ILocalBundling

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("functions", "contract")
PLATFORM = "manylinux2014_aarch64"


def runtime_dependencies(pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    with pyproject.open("rb") as f:
        return list(tomllib.load(f)["project"]["dependencies"])


def source_hash() -> str:
    """Changes when the code or the dependency list changes, without hashing the whole repo."""
    digest = hashlib.sha256("\n".join(runtime_dependencies()).encode())
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            digest.update(str(path.relative_to(ROOT)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _installer() -> list[str]:
    """uv's pip when it is there (the Makefile bootstraps it), else pip: same wheels either way."""
    uv = shutil.which("uv") or str(Path.home() / ".cache/spaces-tools/uv/bin/uv")
    if Path(uv).is_file():
        return [uv, "pip", "install", "--python-platform", "aarch64-manylinux2014"]
    return [sys.executable, "-m", "pip", "install", "--platform", PLATFORM, "--implementation", "cp"]


@jsii.implements(ILocalBundling)
class LocalPythonBundling:
    def __init__(self, *, python_version: str) -> None:
        self.python_version = python_version

    def try_bundle(self, output_dir: str, *, image: DockerImage, **_: Any) -> bool:
        subprocess.run(
            [
                *_installer(),
                "--target",
                output_dir,
                "--python-version",
                self.python_version,
                "--only-binary=:all:",
                *runtime_dependencies(),
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
