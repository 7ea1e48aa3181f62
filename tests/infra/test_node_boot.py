"""The node's boot (infrastructure/node/, written onto the node by the user data) as it runs: the
synthesized user data is executed into a folder (NODE_ROOT) with fakes only for what needs AWS or
root (the `aws` CLI answering from two fake secrets, systemctl, sysctl, useradd, chgrp, and dnf, which
"installs" a CloudWatch agent whose control script records its calls); curl, tar, sha256sum, sed,
timeout and python3 are real, and the release archive is a local file with a stand-in binary."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from contract import names
from infrastructure.constructs import livekit_fleet

from .conftest import Synthesized
from .test_stack import _user_data, node_settings

API_KEY = "APIgeneratedkey"
API_SECRET = "s3cr3t-from-secrets-manager"
REDIS_TOKEN = "redis-auth-token-from-secrets-manager"
FAKE_BINARY = "#!/bin/sh\necho 'livekit-server (stand-in)'\n"
# Where the distribution's package puts the CloudWatch agent, and the file it ships the units' journal from.
AGENT = "opt/aws/amazon-cloudwatch-agent"
UNITS_LOG = "/var/log/livekit/units.log"


@dataclass
class Boot:
    returncode: int
    stderr: str
    root: Path
    calls: list[str]


def _fake_bin(folder: Path, *, agent_installs: bool = True) -> Path:
    bin_dir = folder / "bin"
    bin_dir.mkdir()
    calls = folder / "calls.log"
    ctl = f"$NODE_ROOT/{AGENT}/bin/amazon-cloudwatch-agent-ctl"
    # `dnf install` lays the agent's control script out under NODE_ROOT, as the package does on a node.
    dnf = (
        f'mkdir -p "$(dirname "{ctl}")"\n'
        f'printf \'#!/bin/bash\\necho "amazon-cloudwatch-agent-ctl $*" >> {calls}\\n\' > "{ctl}"\n'
        f'chmod +x "{ctl}"\n'
        if agent_installs
        else "echo \"Error: Failed to download metadata for repo 'amazonlinux'\" >&2; exit 1\n"
    )
    livekit = json.dumps({names.SECRET_FIELD_API_KEY: API_KEY, names.SECRET_FIELD_API_SECRET: API_SECRET})
    scripts = {
        # `aws s3 cp ... s3://BUCKET/KEY FILE` from the folder FAKE_S3, and
        # `aws secretsmanager get-secret-value --secret-id ARN ...` answering from the two fake secrets.
        "aws": (
            'if [ "$1 $2" = "s3 cp" ]; then\n'
            '  a=("$@"); n=$#; cp "$FAKE_S3/${a[n-2]#s3://}" "${a[n-1]}"; exit\n'
            "fi\n"
            'while [ $# -gt 0 ]; do [ "$1" = --secret-id ] && id="$2"; shift; done\n'
            f"case \"$id\" in *LiveKitKeys*) echo '{livekit}' ;; *RedisAuth*) echo '{REDIS_TOKEN}' ;; "
            '*) echo "unknown secret $id" >&2; exit 1 ;; esac\n'
        ),
        "id": "exit 1\n",  # no `livekit` user yet
        "dnf": dnf,
    }
    for logged in ("systemctl", "sysctl", "useradd", "chgrp", "curl"):
        scripts.setdefault(logged, "")
    for name, body in scripts.items():
        path = bin_dir / name
        real = shutil.which(name) if name == "curl" else None
        tail = f'exec {real} "$@"\n' if real else body
        path.write_text(f'#!/bin/bash\necho "{name} $*" >> {calls}\n{tail}')
        path.chmod(0o755)
    # A plain interpreter first on PATH (a pyenv shim would put its own `aws` ahead of the fake).
    (bin_dir / "python3").symlink_to(sys.executable)
    return bin_dir


def _release(folder: Path, arch: str) -> tuple[str, str]:
    """A release folder laid out as GitHub's, with the archive nested one level like the real one."""
    version = names.LIVEKIT_VERSION
    folder = folder / "releases" / version
    folder.mkdir(parents=True)
    binary = folder / "livekit-server"
    binary.write_text(FAKE_BINARY)
    archive = folder / f"livekit_{version.removeprefix('v')}_linux_{arch}.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(binary, arcname=f"livekit_{version.removeprefix('v')}/livekit-server")
    binary.unlink()
    return f"file://{folder.parent}", hashlib.sha256(archive.read_bytes()).hexdigest()


def _boot(
    synth: Synthesized,
    tmp_path: Path,
    *,
    sha256: str | None,
    from_s3: bool = False,
    agent_installs: bool = True,
) -> Boot:
    """Runs the synthesized user data, with `sha256` in place of the synthesized checksum if given;
    `from_s3`: as a stack that ships its own archive writes it (LIVEKIT_ARCHIVE_S3, the asset);
    `agent_installs`: whether dnf installs the CloudWatch agent or fails."""
    settings = node_settings(synth)
    releases, real_sha256 = _release(tmp_path, settings["LIVEKIT_ARCH"])
    script = _user_data(synth)
    if sha256 is not None:
        value = sha256 or "''"
        script = re.sub(r"^export LIVEKIT_SHA256=.*$", f"export LIVEKIT_SHA256={value}", script, flags=re.M)
    script = script.replace("@REAL_SHA256@", real_sha256)
    bucket = tmp_path / "s3" / "cdk-assets"
    bucket.mkdir(parents=True)
    if from_s3:
        archive = next((tmp_path / "releases").rglob("*.tar.gz"))
        archive.rename(bucket / "0123abcd.tar.gz")
        script = re.sub(
            r"^(export LIVEKIT_SHA256=.*)$",
            r"\1\nexport LIVEKIT_ARCHIVE_S3=s3://cdk-assets/0123abcd.tar.gz",
            script,
            flags=re.M,
        )
    root = tmp_path / "root"
    env = {
        **os.environ,
        "PATH": f"{_fake_bin(tmp_path, agent_installs=agent_installs)}:{os.environ['PATH']}",
        "NODE_ROOT": str(root),
        "LIVEKIT_RELEASES": releases,
        "FAKE_S3": str(tmp_path / "s3"),
    }
    result = subprocess.run(["bash"], input=script, env=env, capture_output=True, text=True, timeout=60)
    log = tmp_path / "calls.log"
    calls = log.read_text().splitlines() if log.exists() else []
    return Boot(result.returncode, result.stderr, root, calls)


def test_node_scripts_and_user_data_pass_shellcheck(synth: Synthesized) -> None:
    scripts = sorted(str(p) for p in livekit_fleet.NODE_FILES.glob("*.sh"))
    assert scripts
    result = subprocess.run(["shellcheck", "--severity=style", *scripts], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    result = subprocess.run(
        ["shellcheck", "--shell=bash", "-"], input=_user_data(synth), capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_boot_installs_the_checked_binary_fills_the_config_and_starts_the_units(
    synth: Synthesized, tmp_path: Path
) -> None:
    boot = _boot(synth, tmp_path, sha256="@REAL_SHA256@")
    assert boot.returncode == 0, boot.stderr
    root = boot.root
    assert (root / "usr/local/bin/livekit-server").read_text() == FAKE_BINARY
    assert os.access(root / "usr/local/bin/livekit-server", os.X_OK)

    filled = (root / "etc/livekit/livekit.yaml").read_text()
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
    assert (root / "etc/livekit/livekit.yaml").stat().st_mode & 0o007 == 0
    assert "chgrp livekit " + str(root / "etc/livekit/livekit.yaml") in boot.calls

    units = root / "etc/systemd/system"
    drain = node_settings(synth)["DRAIN_SECONDS"]
    assert (units / "livekit.service.d/drain.conf").read_text() == f"[Service]\nTimeoutStopSec={drain}\n"
    assert "ExecStart=/usr/local/bin/livekit-drain" in (units / "livekit-drain.service").read_text()
    drain_env = (root / "etc/livekit/drain.env").read_text()
    assert f"HOOK_NAME={livekit_fleet.LIFECYCLE_HOOK_NAME}\n" in drain_env
    assert os.access(root / "usr/local/bin/livekit-drain", os.X_OK)
    assert "net.core.rmem_max" in (root / "etc/sysctl.d/90-livekit.conf").read_text()
    assert "systemctl enable --now livekit-drain.service" in boot.calls
    # The scale-in protection reads the running server's metrics, so it starts after it, last.
    assert boot.calls[-1] == "systemctl enable --now livekit-protect.service"
    assert boot.calls.index("systemctl enable --now livekit.service") < len(boot.calls) - 1
    assert "ExecStart=/usr/local/bin/livekit-protect" in (units / "livekit-protect.service").read_text()
    assert os.access(root / "usr/local/bin/livekit-protect", os.X_OK)
    protect_env = (root / "etc/livekit/protect.env").read_text()
    assert f"GROUP_NAME={node_settings(synth)['GROUP_NAME']}\n" in protect_env
    assert f"METRICS_PORT={livekit_fleet.METRICS_PORT}\n" in protect_env
    # The server exports the metrics the unit reads, on the port it reads them from.
    assert config["prometheus"] == {"port": livekit_fleet.METRICS_PORT}


def test_boot_installs_the_stacks_own_archive_from_s3(synth: Synthesized, tmp_path: Path) -> None:
    boot = _boot(synth, tmp_path, sha256="@REAL_SHA256@", from_s3=True)
    assert boot.returncode == 0, boot.stderr
    assert (boot.root / "usr/local/bin/livekit-server").read_text() == FAKE_BINARY
    assert [c for c in boot.calls if c.startswith("aws s3 cp ") and " s3://cdk-assets/0123abcd.tar.gz " in c]
    assert not [c for c in boot.calls if c.startswith("curl")]
    assert "systemctl enable --now livekit.service" in boot.calls


def test_boot_refuses_an_archive_from_s3_it_cannot_verify(synth: Synthesized, tmp_path: Path) -> None:
    boot = _boot(synth, tmp_path, sha256="ab" * 32, from_s3=True)
    assert boot.returncode != 0
    assert "does not match" in boot.stderr, boot.stderr
    assert not (boot.root / "usr/local/bin/livekit-server").exists()


@pytest.mark.parametrize(
    ("sha256", "why"),
    [
        (None, "does not match"),  # as synthesized offline: the placeholder, not this archive's
        ("ab" * 32, "does not match"),
        ("", "must be the SHA-256"),
        ("not-a-checksum", "must be the SHA-256"),
    ],
)
def test_boot_refuses_an_archive_it_cannot_verify(
    synth: Synthesized, tmp_path: Path, sha256: str | None, why: str
) -> None:
    boot = _boot(synth, tmp_path, sha256=sha256)
    assert boot.returncode != 0
    assert why in boot.stderr, boot.stderr
    assert not (boot.root / "usr/local/bin/livekit-server").exists()
    assert not [c for c in boot.calls if c.startswith("systemctl") and "livekit.service" in c]
    assert not [c for c in boot.calls if "livekit-protect" in c]
    # The drain unit runs all the same: the failed node's termination hook is completed at once
    # instead of holding it for the hook's heartbeat (an hour).
    assert [c for c in boot.calls if c.startswith("systemctl enable --now livekit-drain.service")]
    assert (
        f"HOOK_NAME={livekit_fleet.LIFECYCLE_HOOK_NAME}\n"
        in (boot.root / "etc/livekit/drain.env").read_text()
    )
    if why.startswith("must be"):  # refused before downloading anything
        assert not [c for c in boot.calls if c.startswith("curl")]


def _index(calls: list[str], start: str) -> int:
    """The position of the first call that starts with `start`."""
    return next(i for i, c in enumerate(calls) if c.startswith(start))


def test_boot_ships_its_output_and_the_livekit_units_journal_to_the_log_group(
    synth: Synthesized, tmp_path: Path
) -> None:
    boot = _boot(synth, tmp_path, sha256="@REAL_SHA256@")
    assert boot.returncode == 0, boot.stderr
    root, calls = boot.root, boot.calls
    # The agent from the distribution's repository, after the drain unit and before the SFU's download.
    install = "dnf install -y amazon-cloudwatch-agent logrotate"
    assert install in calls
    assert _index(calls, "systemctl enable --now livekit-drain.service") < calls.index(install)
    assert calls.index(install) < _index(calls, "curl ")

    # The agent's config: the boot's output and the units' journal, to the stack's group, a stream
    # each per instance.
    config = json.loads((root / AGENT / "etc/spaces-node.json").read_text())
    collected = {c["file_path"]: c for c in config["logs"]["logs_collected"]["files"]["collect_list"]}
    assert set(collected) == {"/var/log/cloud-init-output.log", UNITS_LOG}
    group = node_settings(synth)["LOG_GROUP"]
    assert {c["log_group_name"] for c in collected.values()} == {group}
    streams = [c["log_stream_name"] for c in collected.values()]
    assert all(s.startswith("{instance_id}/") for s in streams) and len(set(streams)) == 2
    agent_config = f"file:{root}/{AGENT}/etc/spaces-node.json"
    ctl = f"amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s -c {agent_config}"
    assert ctl in calls
    assert calls.index(ctl) < _index(calls, "curl ")

    # The journal of the three units goes to the file the agent reads, rotated by size every hour.
    unit = (root / "etc/systemd/system/livekit-journal.service").read_text()
    (exec_start,) = re.findall(r"^ExecStart=(.*)$", unit, flags=re.M)
    assert exec_start.startswith("/usr/bin/journalctl ") and "--follow" in exec_start
    for name in ("livekit", "livekit-drain", "livekit-protect"):
        assert f"--unit={name}.service" in exec_start.split()
    assert f"StandardOutput=append:{UNITS_LOG}\n" in unit
    assert (root / "var/log/livekit").is_dir()
    rotation = (root / "etc/logrotate.d/livekit").read_text()
    assert rotation.startswith(f"{UNITS_LOG} {{")
    # nodateext: with the distribution's dateext a second rotation the same day is refused.
    assert {"size 100M", "rotate 1", "copytruncate", "nodateext"} <= {
        line.strip() for line in rotation.splitlines()
    }
    timer = (root / "etc/systemd/system/logrotate.timer.d/hourly.conf").read_text()
    assert "OnCalendar=\nOnCalendar=hourly\n" in timer
    assert "systemctl enable --now logrotate.timer livekit-journal.service" in calls
    assert "not shipped" not in boot.stderr


def test_a_boot_that_cannot_install_the_agent_boots_on_and_says_so(
    synth: Synthesized, tmp_path: Path
) -> None:
    boot = _boot(synth, tmp_path, sha256="@REAL_SHA256@", agent_installs=False)
    assert boot.returncode == 0, boot.stderr
    assert "spaces-node: this node's logs are not shipped" in boot.stderr, boot.stderr
    assert "Failed to download metadata" in boot.stderr  # dnf's own reason, above it
    assert not [c for c in boot.calls if c.startswith("amazon-cloudwatch-agent-ctl")]
    # No copy of the journal that nothing ships (the journal itself is on the node, bounded).
    assert not [c for c in boot.calls if "livekit-journal" in c]
    assert (boot.root / "usr/local/bin/livekit-server").read_text() == FAKE_BINARY
    assert "systemctl enable --now livekit.service" in boot.calls
    assert boot.calls[-1] == "systemctl enable --now livekit-protect.service"


def test_a_boot_that_fails_has_started_shipping_its_output_first(synth: Synthesized, tmp_path: Path) -> None:
    """The runbook terminates a node whose boot failed; its root volume goes with it, so why it
    failed must already be on its way to the log group (cloud-init-output.log)."""
    boot = _boot(synth, tmp_path, sha256="ab" * 32)
    assert boot.returncode != 0
    assert "does not match" in boot.stderr, boot.stderr
    started = _index(boot.calls, "amazon-cloudwatch-agent-ctl -a fetch-config")
    assert started < _index(boot.calls, "curl ")


def test_the_node_files_lose_only_their_comment_lines_on_the_way_to_the_node(tmp_path: Path) -> None:
    """The user data writes infrastructure/node/ without its comment lines (EC2's 16 KB): every other
    line is kept, in order, and the scripts as written onto the node still pass shellcheck."""
    for path in sorted(livekit_fleet.NODE_FILES.iterdir()):
        if path.suffix not in livekit_fleet.NODE_FILE_SUFFIXES:
            continue
        text, shipped = path.read_text(), livekit_fleet.node_file_text(path)
        if path.suffix not in livekit_fleet.UNCOMMENTED_SUFFIXES:
            assert shipped == text, path.name
            continue
        lines = text.splitlines(keepends=True)
        # What would make a "#" line part of something else, which the stripping would break: a
        # heredoc, a line continued into it, a string left open across lines (a `#` inside a value
        # on one line, e.g. a URL fragment, is not at a line's start and is kept).
        assert "<<" not in text, f"{path.name}: a heredoc; comment stripping could cut it"
        for before, line in zip(lines, lines[1:], strict=False):
            if line.lstrip().startswith("#"):
                assert not before.rstrip("\n").endswith("\\"), f"{path.name}: a '#' line continues {before!r}"
        kept = [line for line in lines if not line.lstrip().startswith("#")]
        if lines[0].startswith("#!"):
            kept.insert(0, lines[0])
        assert shipped.splitlines(keepends=True) == kept, path.name
        assert not [line for line in shipped.splitlines()[1:] if line.lstrip().startswith("#")], path.name
        if path.suffix == ".sh":
            copy = tmp_path / path.name
            copy.write_text(shipped)
            # bash's own reading of both (its pretty-printer drops comments): the same program, blank
            # lines aside.
            printed = [
                subprocess.run(
                    ["bash", "--pretty-print", str(f)], capture_output=True, text=True, check=True
                ).stdout
                for f in (path, copy)
            ]
            code = [[line for line in text.splitlines() if line.strip()] for text in printed]
            assert code[0] == code[1], path.name
            result = subprocess.run(
                ["shellcheck", "--severity=style", str(copy)], capture_output=True, text=True
            )
            assert result.returncode == 0, result.stdout + result.stderr
