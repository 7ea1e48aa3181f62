"""A real DynamoDB-compatible server for the tests: Amazon's DynamoDB Local (Java), in memory.

The jars come from Maven Central (com.amazonaws:DynamoDBLocal plus its sqlite4java native library)
through `mvn dependency:copy-dependencies`, cached under ~/.cache/spaces-tools so that only the first
run on a machine downloads them. Outside CI, falls back to moto's server mode if Java/Maven are
missing, with a warning in the run's summary (docs/control-plane.md says why DynamoDB Local is
preferred); under CI=true a missing Java/Maven fails the tests that need the store instead
(scripts/install-system-deps.sh, which .ci/run calls, installs both).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from devstack.ports import free_port
from devstack.processes import ManagedProcess
from tests.support.ci import in_ci

DYNAMODB_LOCAL_VERSION = "2.5.2"
CACHE = Path(os.environ.get("SPACES_TOOLS_CACHE", Path.home() / ".cache" / "spaces-tools"))
JARS = CACHE / f"dynamodb-local-{DYNAMODB_LOCAL_VERSION}"
# Credentials are required by the client but checked by neither server.
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_DEFAULT_REGION": "us-east-1",
}

POM = f"""<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>spaces.local</groupId><artifactId>dynamodb-local-fetch</artifactId><version>1</version>
  <dependencies>
    <dependency>
      <groupId>com.amazonaws</groupId><artifactId>DynamoDBLocal</artifactId>
      <version>{DYNAMODB_LOCAL_VERSION}</version>
    </dependency>
  </dependencies>
</project>
"""


@dataclass(frozen=True)
class DynamoEndpoint:
    url: str
    kind: str  # "dynamodb-local" | "moto"


def fetch_jars() -> Path:
    """Download DynamoDB Local and its dependencies (once). Returns the folder of jars."""
    marker = JARS / ".complete"
    if marker.exists():
        return JARS
    JARS.mkdir(parents=True, exist_ok=True)
    (JARS / "pom.xml").write_text(POM)
    print(
        f"dynamodb-local: fetching {DYNAMODB_LOCAL_VERSION} from Maven Central into {JARS}", file=sys.stderr
    )
    subprocess.run(
        [
            "mvn",
            "-q",
            "-B",
            "-f",
            str(JARS / "pom.xml"),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={JARS / 'lib'}",
        ],
        check=True,
        timeout=900,
    )
    marker.touch()
    return JARS


def java_available() -> bool:
    return shutil.which("java") is not None and shutil.which("mvn") is not None


def backend() -> str:
    """The server `dynamodb_server()` starts on this machine: "dynamodb-local" or "moto".

    Raises under CI=true when it would be moto: CI tests the store against Amazon's engine."""
    if java_available():
        return "dynamodb-local"
    missing = " and ".join(tool for tool in ("java", "mvn") if shutil.which(tool) is None)
    if in_ci():
        raise RuntimeError(
            f"CI=true: DynamoDB Local needs {missing} on PATH (scripts/install-system-deps.sh installs "
            "them); the tests do not fall back to moto in CI"
        )
    return "moto"


def _start_dynamodb_local(port: int) -> ManagedProcess:
    lib = fetch_jars() / "lib"
    return ManagedProcess(
        "dynamodb-local",
        [
            "java",
            f"-Djava.library.path={lib}",
            "-cp",
            f"{lib}/*",
            "com.amazonaws.services.dynamodbv2.local.main.ServerRunner",
            "-inMemory",
            "-port",
            str(port),
        ],
    )


def _start_moto(port: int) -> ManagedProcess:
    return ManagedProcess("moto", [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)])


def _answers(url: str) -> bool:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=1):
            return True
    except urllib.error.HTTPError:
        return True  # DynamoDB Local answers GET / with 400: it is up
    except (urllib.error.URLError, OSError):
        return False


# A port found free can be taken by another process before the server binds it (another test
# session on the machine): the server then exits at once, and a new port is tried.
START_ATTEMPTS = 3


@contextmanager
def dynamodb_server() -> Iterator[DynamoEndpoint]:
    os.environ.update({k: os.environ.get(k, v) for k, v in FAKE_CREDENTIALS.items()})
    kind = backend()
    if kind == "moto":
        warnings.warn(
            "java or mvn missing: the DynamoDB tests run against moto's server, not DynamoDB Local",
            stacklevel=3,
        )
    for attempt in range(1, START_ATTEMPTS + 1):
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        process = _start_dynamodb_local(port) if kind == "dynamodb-local" else _start_moto(port)
        print(f"dynamodb: {kind} at {url}", file=sys.stderr)
        try:
            process.wait_until(lambda url=url: _answers(url), timeout=60, what="answering HTTP")
        except RuntimeError:  # exited before answering: most likely the port was taken meanwhile
            process.stop()
            if attempt == START_ATTEMPTS:
                raise
            continue
        break
    try:
        yield DynamoEndpoint(url=url, kind=kind)
    finally:
        process.stop()
