"""Stands in for what a worker asks of ECS (AWS is not under test; the worker against LiveKit is).

One local HTTP server plays three parts:

- the container agent's task-protection endpoint (`ECS_AGENT_URI`, media_agent/scale_in.py);
- the task metadata endpoint v4 (`ECS_CONTAINER_METADATA_URI_V4`: `GET /task`);
- the ECS API's DescribeTasks and DescribeServices in its JSON protocol, which the worker's boto3
  client reaches through `AWS_ENDPOINT_URL_ECS` (media_agent/deployment.py).

`primary` is the service's primary deployment, which a test changes to play a deployment, and
`active` the older deployments whose tasks still run.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from media_agent.deployment import CHECK_S_ENV, METADATA_ENV
from media_agent.scale_in import ECS_AGENT_URI_ENV, STATE_PATH

CLUSTER = "arn:aws:ecs:us-east-1:123456789012:cluster/spaces-workers"
TASK = "arn:aws:ecs:us-east-1:123456789012:task/spaces-workers/0123456789abcdef"
SERVICE = "spaces-stage-agents"
TASK_DEFINITION = "arn:aws:ecs:us-east-1:123456789012:task-definition/spaces-stage-agent:{}"
API_TARGET = "AmazonEC2ContainerServiceV20141113."


@dataclass
class Deployment:
    revision: int
    desired: int = 1
    running: int = 1

    def as_ecs(self, status: str = "PRIMARY") -> dict[str, Any]:
        return {
            "id": f"ecs-svc/{self.revision}",
            "status": status,
            "taskDefinition": TASK_DEFINITION.format(self.revision),
            "desiredCount": self.desired,
            "runningCount": self.running,
            "pendingCount": 0,
        }


class FakeEcs:
    def __init__(self, own_revision: int = 1, *, in_service: bool = True) -> None:
        self.protection_requests: list[dict[str, Any]] = []
        self.api_calls: list[str] = []
        self.own_revision = own_revision
        self.in_service = in_service
        self.primary = Deployment(own_revision)
        # Older deployments still running tasks (status ACTIVE), as during a rollout.
        self.active: list[Deployment] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> Any:
                length = int(self.headers.get("Content-Length", 0))
                return json.loads(self.rfile.read(length) or b"{}")

            def do_PUT(self) -> None:  # noqa: N802 - http.server's naming
                if self.path != STATE_PATH:
                    return self._answer(404, {})
                fake.protection_requests.append(self._body())
                self._answer(200, {})

            def do_GET(self) -> None:  # noqa: N802
                if self.path != "/metadata/task":
                    return self._answer(404, {})
                self._answer(200, {"Cluster": CLUSTER, "TaskARN": TASK, "Family": "spaces-stage-agent"})

            def do_POST(self) -> None:  # noqa: N802
                target = self.headers.get("X-Amz-Target", "").removeprefix(API_TARGET)
                body = self._body()
                fake.api_calls.append(target)
                if target == "DescribeTasks" and body.get("tasks") == [TASK]:
                    task = {"taskArn": TASK, "taskDefinitionArn": TASK_DEFINITION.format(fake.own_revision)}
                    task["group"] = f"service:{SERVICE}" if fake.in_service else "family:spaces-stage-agent"
                    return self._answer(200, {"tasks": [task], "failures": []})
                if target == "DescribeServices" and body.get("services") == [SERVICE]:
                    deployments = [fake.primary.as_ecs(), *(d.as_ecs("ACTIVE") for d in fake.active)]
                    service = {"serviceName": SERVICE, "deployments": deployments}
                    return self._answer(200, {"services": [service], "failures": []})
                self._answer(400, {"__type": "InvalidParameterException", "message": f"unexpected {target}"})

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.uri = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def protected(self) -> bool | None:
        return self.protection_requests[-1]["ProtectionEnabled"] if self.protection_requests else None

    def protection_env(self) -> dict[str, str]:
        """What a task's worker needs for scale-in protection only."""
        return {ECS_AGENT_URI_ENV: self.uri}

    def task_env(self, check_s: float = 1.0) -> dict[str, str]:
        """Everything ECS gives a task's worker, plus the API endpoint and a short check interval."""
        return {
            **self.protection_env(),
            METADATA_ENV: f"{self.uri}/metadata",
            "AWS_ENDPOINT_URL_ECS": self.uri,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            CHECK_S_ENV: str(check_s),
        }

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
