"""The API is what its OpenAPI says: schemathesis, every check, against the real app.

The app runs as the integration tests run it (uvicorn, SQLite store, a real livekit-server), so
`POST /spaces/{id}/start` really creates a room. It runs on a port of its own with the broadcast
tier configured (a broadcast directory and base URL), so the Spaces it answers carry their
`broadcast` links and those branches of the schema are checked too. Schemathesis' CLI runs all
four phases: examples, coverage (every documented and undocumented method, boundary and missing
values), fuzzing, and stateful sequences that follow the schema's OpenAPI links from
`POST /spaces` to the operations on that Space. Any failure of any check fails the test, and its
report is printed.

The settings (examples per operation, scenario steps, deterministic generation) live in
tests/integration/control_plane/schemathesis.toml.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from contract import names
from devstack.ports import free_port
from tests.conftest import LiveKitEndpoint
from tests.support.api_server import ApiServer, api_server

CONFIG = Path(__file__).with_name("schemathesis.toml")
# The whole run (about a minute here); the pytest timeout above it is raised for this test only.
RUN_TIMEOUT = 420


@pytest.fixture
def conformance_api(livekit_server: LiveKitEndpoint, tmp_path: Path) -> Iterator[ApiServer]:
    port = free_port()
    broadcast = {
        names.ENV_BROADCAST_DIR: str(tmp_path / "broadcast"),
        names.ENV_BROADCAST_BASE_URL: f"http://127.0.0.1:{port}/broadcast",
    }
    with api_server(port=port, livekit=livekit_server, workdir=tmp_path, env=broadcast) as api:
        yield api


def _operations(api: ApiServer) -> set[str]:
    schema = httpx.get(f"{api.url}/openapi.json").json()
    return {f"{method.upper()} {path}" for path, item in schema["paths"].items() for method in item}


@pytest.mark.timeout(RUN_TIMEOUT + 60)
def test_api_conforms_to_its_openapi(conformance_api: ApiServer, tmp_path: Path) -> None:
    api = conformance_api
    report = tmp_path / "report.json"
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(CONFIG),
        "run",
        f"{api.url}/openapi.json",
        "--checks",
        "all",
        "--header",
        f"Authorization: Bearer {api.token('conformance-host')}",
        "--report",
        "json",
        "--report-json-path",
        str(report),
        "--no-color",
    ]
    run = subprocess.run(command, capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output

    # Zero failures only counts if every operation was exercised in every phase, statefully too.
    results = json.loads(report.read_text())
    assert results["failures"] == [] and results["errors"] == [], output
    operations = results["operations"]
    assert operations["tested"] == operations["total"] == len(_operations(api)), (operations, output)
    assert operations["errored"] == 0, output
    # The stateful phase followed the links into real Spaces: at least as many link edges as there
    # are operations on a Space were taken (a deterministic run takes the same ones every time).
    covered = re.search(r"API Links:\s+(\d+) covered", output)
    on_a_space = {op for op in _operations(api) if "{space_id}" in op}
    assert covered is not None and int(covered.group(1)) >= len(on_a_space), output
    statuses = {phase: info["status"] for phase, info in results["phases"].items()}
    assert statuses == dict.fromkeys(("examples", "coverage", "fuzzing", "stateful"), "success"), (
        statuses,
        output,
    )
