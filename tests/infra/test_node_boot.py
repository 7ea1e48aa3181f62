"""The node's boot script, as synthesized: valid bash, and its secret-filling step produces the
fleet livekit.yaml with the real key pair and Redis token (a fake `aws` CLI stands in for Secrets
Manager; the script's own text is what runs)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from infrastructure.constructs import livekit_fleet

from .conftest import Synthesized
from .test_stack import _user_data

API_KEY = "APIgeneratedkey"
API_SECRET = "s3cr3t-from-secrets-manager"
REDIS_TOKEN = "redis-auth-token-from-secrets-manager"


def test_boot_script_is_valid_bash(synth: Synthesized) -> None:
    result = subprocess.run(["bash", "-n"], input=_user_data(synth), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def _fake_aws(folder: Path) -> Path:
    """`aws secretsmanager get-secret-value --secret-id ARN ...` answering from the two fake secrets."""
    bin_dir = folder / "bin"
    bin_dir.mkdir()
    aws = bin_dir / "aws"
    livekit = json.dumps({"api_key": API_KEY, "api_secret": API_SECRET})
    aws.write_text(
        "#!/bin/bash\n"
        'while [ $# -gt 0 ]; do [ "$1" = --secret-id ] && id="$2"; shift; done\n'
        f"case \"$id\" in *LiveKitKeys*) echo '{livekit}' ;; *RedisAuth*) echo '{REDIS_TOKEN}' ;; "
        '*) echo "unknown secret $id" >&2; exit 1 ;; esac\n'
    )
    aws.chmod(0o755)
    # A plain interpreter first on PATH (a pyenv shim would put its own `aws` ahead of the fake).
    (bin_dir / "python3").symlink_to(sys.executable)
    return bin_dir


def test_boot_fills_the_rendered_config_from_secrets_manager(synth: Synthesized, tmp_path: Path) -> None:
    script = _user_data(synth)
    start = script.index("cat > /etc/livekit/livekit.template.yaml")
    end = script.index("\nFILL\n", start) + len("\nFILL\n")
    fill = script[start:end].replace("/etc/livekit", str(tmp_path))
    env = {**os.environ, "PATH": f"{_fake_aws(tmp_path)}:{os.environ['PATH']}"}
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", fill], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr

    filled = (tmp_path / "livekit.yaml").read_text()
    config = json.loads(filled)
    assert config["keys"] == {API_KEY: API_SECRET}
    assert config["webhook"]["api_key"] == API_KEY
    assert config["redis"]["password"] == REDIS_TOKEN
    for placeholder in (
        livekit_fleet.API_KEY_PLACEHOLDER,
        livekit_fleet.API_SECRET_PLACEHOLDER,
        livekit_fleet.REDIS_PASSWORD_PLACEHOLDER,
    ):
        assert placeholder not in filled
    # Readable by the service's group only, never by everyone.
    assert (tmp_path / "livekit.yaml").stat().st_mode & 0o007 == 0
