"""The API is what its OpenAPI says: schemathesis, every check, against the real app.

The app runs as the integration tests run it (uvicorn, SQLite store, a real livekit-server), so
`POST /spaces/{id}/start` really creates a room. Schemathesis' CLI runs all four phases: examples,
coverage (every documented and undocumented method, boundary and missing values), fuzzing, and
stateful sequences that follow the schema's OpenAPI links from `POST /spaces` to the operations on
that Space. Any failure of any check fails the test, and its report is printed.

The settings (seed, examples per operation, steps) live in tests/integration/control_plane/
schemathesis.toml: a fixed seed and deterministic generation keep CI reproducible.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.api_server import ApiServer

CONFIG = Path(__file__).with_name("schemathesis.toml")
# The whole run (about a minute here); the pytest timeout above it is raised for this test only.
RUN_TIMEOUT = 420


def _operations(api: ApiServer) -> set[str]:
    schema = httpx.get(f"{api.url}/openapi.json").json()
    return {f"{method.upper()} {path}" for path, item in schema["paths"].items() for method in item}


@pytest.mark.timeout(RUN_TIMEOUT + 60)
def test_api_conforms_to_its_openapi(api: ApiServer, tmp_path: Path) -> None:
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
    statuses = {phase: info["status"] for phase, info in results["phases"].items()}
    assert statuses == dict.fromkeys(("examples", "coverage", "fuzzing", "stateful"), "success"), (
        statuses,
        output,
    )
