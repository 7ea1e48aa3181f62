"""The node's scale-in protection (infrastructure/node/livekit-protect.sh) against a real fleet node:
the script reads the room count from the real livekit-server's metrics and sets the instance's
protection through the `aws` CLI. Only what needs AWS is a stand-in: the instance metadata service
(a local HTTP server) and `aws` (a script that logs its arguments)."""

from __future__ import annotations

import http.server
import os
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from livekit import api as lkapi

from devstack.livekit import LiveKitServer
from infrastructure.constructs import livekit_fleet
from tests.support.eventually import eventually

from . import nodes as fleet_nodes
from . import redis_tls

SCRIPT = livekit_fleet.NODE_FILES / "livekit-protect.sh"
INSTANCE = "i-0123456789abcdef0"
GROUP = "spaces-test-livekit"
PROTECT = "--protected-from-scale-in"
UNPROTECT = "--no-protected-from-scale-in"


@dataclass
class Metadata:
    """What the instance metadata service answers, and how often the lifecycle state was read."""

    lifecycle: str = "InService"
    reads: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def _metadata_server(state: Metadata) -> http.server.ThreadingHTTPServer:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_PUT(self) -> None:  # noqa: N802 (the stdlib's name)
            # IMDSv2: a session token first, as on a node whose launch template requires it.
            self._answer("token-123" if self.path == "/latest/api/token" else None)

        def do_GET(self) -> None:  # noqa: N802
            if self.headers.get("X-aws-ec2-metadata-token") != "token-123":
                self._answer(None, status=401)
            elif self.path == "/latest/meta-data/instance-id":
                self._answer(INSTANCE)
            elif self.path == "/latest/meta-data/autoscaling/target-lifecycle-state":
                with state.lock:
                    state.reads += 1
                    self._answer(state.lifecycle)
            else:
                self._answer(None)

        def _answer(self, body: str | None, status: int = 200) -> None:
            data = (body or "").encode()
            self.send_response(status if body is not None or status != 200 else 404)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@dataclass
class Node:
    server: LiveKitServer
    metadata: Metadata
    aws_log: Path

    def protection_calls(self) -> list[str]:
        """The protection each `aws` call asked for, in order."""
        if not self.aws_log.exists():
            return []
        calls = self.aws_log.read_text().splitlines()
        for call in calls:
            assert "autoscaling set-instance-protection" in call, call
            assert f"--auto-scaling-group-name {GROUP} --instance-ids {INSTANCE}" in call, call
        return [PROTECT if call.endswith(PROTECT) else UNPROTECT for call in calls]

    def after_more_passes(self, passes: int) -> None:
        """Waits until the script has read the lifecycle state `passes` more times."""
        with self.metadata.lock:
            target = self.metadata.reads + passes
        eventually(lambda: self.metadata.reads >= target, timeout=30, what=f"{passes} more passes")


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    folder = tmp_path_factory.mktemp("protect")
    aws_log = folder / "aws.log"
    bin_dir = folder / "bin"
    bin_dir.mkdir()
    aws = bin_dir / "aws"
    aws.write_text(f'#!/bin/bash\necho "aws $*" >> {aws_log}\n')
    aws.chmod(0o755)
    metadata = Metadata()
    imds = _metadata_server(metadata)
    redis = redis_tls.start(Path(tmp_path_factory.mktemp("redis")))
    server: LiveKitServer | None = None
    script: subprocess.Popen[bytes] | None = None
    try:
        server = fleet_nodes.start("livekit-protect", redis, 41800)
        assert server.config.metrics_port is not None
        env = {
            **os.environ,
            "PATH": f"{bin_dir}:{os.environ['PATH']}",
            "AWS_REGION": "eu-west-1",
            "GROUP_NAME": GROUP,
            "METRICS_PORT": str(server.config.metrics_port),
            "PROTECT_INTERVAL_SECONDS": "0.1",
            "IMDS_URL": f"http://127.0.0.1:{imds.server_address[1]}",
        }
        script = subprocess.Popen(["bash", str(SCRIPT)], env=env)
        yield Node(server=server, metadata=metadata, aws_log=aws_log)
    finally:
        if script is not None:
            script.kill()
            script.wait()
        if server is not None:
            server.process.kill()
            server.config_path.unlink(missing_ok=True)
        redis.stop()
        imds.shutdown()


async def _create_room(node: Node, name: str) -> None:
    server = node.server
    async with lkapi.LiveKitAPI(server.http_url, server.api_key, server.api_secret) as client:
        await client.room.create_room(lkapi.CreateRoomRequest(name=name, empty_timeout=300))


async def _delete_room(node: Node, name: str) -> None:
    server = node.server
    async with lkapi.LiveKitAPI(server.http_url, server.api_key, server.api_secret) as client:
        await client.room.delete_room(lkapi.DeleteRoomRequest(room=name))


async def test_a_node_is_protected_from_scale_in_exactly_while_it_holds_a_room(node: Node) -> None:
    # An empty node says so once (a restarted unit does not know what it set before).
    eventually(lambda: node.protection_calls() == [UNPROTECT], timeout=30, what="unprotected while empty")

    await _create_room(node, "space-protect-a")
    eventually(lambda: node.protection_calls() == [UNPROTECT, PROTECT], timeout=30, what="protected")
    # A second room changes nothing, and neither do the passes in between: one call per change.
    await _create_room(node, "space-protect-b")
    node.after_more_passes(5)
    assert node.protection_calls() == [UNPROTECT, PROTECT]

    await _delete_room(node, "space-protect-a")
    node.after_more_passes(5)
    assert node.protection_calls() == [UNPROTECT, PROTECT], "still holds a room"
    await _delete_room(node, "space-protect-b")
    eventually(
        lambda: node.protection_calls() == [UNPROTECT, PROTECT, UNPROTECT],
        timeout=30,
        what="unprotected once the last room is gone",
    )


async def test_a_terminating_node_leaves_its_protection_alone(node: Node) -> None:
    # Once the group has picked the node (an instance refresh, every node busy), it drains instead;
    # the group would refuse the call anyway.
    before = node.protection_calls()
    with node.metadata.lock:
        node.metadata.lifecycle = "Terminated"
    try:
        await _create_room(node, "space-protect-c")
        node.after_more_passes(5)
        assert node.protection_calls() == before
    finally:
        with node.metadata.lock:
            node.metadata.lifecycle = "InService"
    # Back in service (a test-only transition), the room it holds is protected again.
    eventually(lambda: node.protection_calls() == [*before, PROTECT], timeout=30, what="protected again")
    await _delete_room(node, "space-protect-c")
