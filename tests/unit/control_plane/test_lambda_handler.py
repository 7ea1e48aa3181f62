"""The Lambda entry point fed real API Gateway HTTP API (payload 2.0) events with JWT authorizer claims."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from functions.api import deps
from functions.core.config import Settings
from functions.handler import app, handler

from .fakes import FakeGateway


class LambdaContext:
    function_name = "spaces-api"
    aws_request_id = "req-1"
    memory_limit_in_mb = 512

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def http_api_event(
    method: str,
    path: str,
    *,
    sub: str | None,
    body: Any = None,
    query: str = "",
    headers: dict[str, str] | None = None,
    claims: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The shape API Gateway HTTP APIs send to Lambda (payload format 2.0) behind a JWT authorizer."""
    context: dict[str, Any] = {
        "accountId": "123456789012",
        "apiId": "api1234",
        "domainName": "api1234.execute-api.eu-west-1.amazonaws.com",
        "domainPrefix": "api1234",
        "http": {
            "method": method,
            "path": path,
            "protocol": "HTTP/1.1",
            "sourceIp": "203.0.113.7",
            "userAgent": "pytest",
        },
        "requestId": "JKJaXmPLvHcESHA=",
        "routeKey": "$default",
        "stage": "$default",
        "time": "20/Nov/2026:12:00:00 +0000",
        "timeEpoch": 1795176000000,
    }
    if sub is not None:
        context["authorizer"] = {
            "jwt": {
                "claims": {
                    "sub": sub,
                    "iss": "https://idp.example",
                    "aud": "spaces",
                    "exp": "1795179600",
                    **(claims or {}),
                },
                "scopes": None,
            }
        }
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "cookies": [],
        "headers": {"content-type": "application/json", "host": context["domainName"], **(headers or {})},
        "requestContext": context,
        "body": json.dumps(body) if body is not None else None,
        "isBase64Encoded": False,
    }


@pytest.fixture
def cloud(settings: Settings, gateway: FakeGateway) -> Iterator[Settings]:
    cloud = settings.model_copy(update={"mode": "cloud"})
    # The handler module's app is built at import; point it at the test settings for this test.
    previous = app.state.settings
    app.state.settings = cloud
    app.dependency_overrides[deps.get_gateway] = lambda: gateway
    yield cloud
    app.dependency_overrides.clear()
    app.state.settings = previous


def call(event: dict[str, Any]) -> tuple[int, Any]:
    response = handler(event, LambdaContext())
    return response["statusCode"], json.loads(response["body"]) if response["body"] else None


def test_identity_comes_from_the_authorizer_claims(cloud: Settings) -> None:
    status, space = call(http_api_event("POST", "/spaces", sub="alice", body={"title": "From Lambda"}))
    assert status == 201 and space["host"] == "alice"
    status, fetched = call(http_api_event("GET", f"/spaces/{space['id']}", sub="bob"))
    assert status == 200 and fetched["id"] == space["id"]


def test_with_a_host_group_only_its_members_create_spaces(cloud: Settings) -> None:
    """API Gateway's JWT authorizer passes Cognito's `cognito:groups` list on as one string."""
    app.state.settings = cloud.model_copy(update={"host_group": "hosts"})
    status, problem = call(http_api_event("POST", "/spaces", sub="mallory", body={"title": "Mine"}))
    assert status == 403 and problem["rule"] == "hosting_not_allowed", problem
    assert "'hosts'" in problem["detail"]
    status, problem = call(
        http_api_event(
            "POST", "/spaces", sub="eve", body={"title": "Mine"}, claims={"cognito:groups": "[hostsx admins]"}
        )
    )
    assert status == 403 and problem["rule"] == "hosting_not_allowed", problem
    status, page = call(http_api_event("GET", "/spaces", sub="x", query="state=scheduled"))
    assert status == 200 and page["items"] == []
    status, space = call(
        http_api_event(
            "POST",
            "/spaces",
            sub="alice",
            body={"title": "Ours"},
            claims={"cognito:groups": "[admins hosts]"},
        )
    )
    assert status == 201 and space["host"] == "alice", space


def test_without_authorizer_claims_the_cloud_app_refuses(cloud: Settings) -> None:
    # A bearer header alone proves nothing in the cloud: API Gateway is the verifier.
    status, body = call(http_api_event("GET", "/spaces", sub=None, headers={"authorization": "Bearer x"}))
    assert status == 401 and "authorizer" in body["detail"]


def test_full_flow_through_lambda_events(cloud: Settings, gateway: FakeGateway) -> None:
    _, space = call(
        http_api_event(
            "POST",
            "/spaces",
            sub="host",
            body={"title": "t", "video": "host"},
            headers={"idempotency-key": "k"},
        )
    )
    status, live = call(http_api_event("POST", f"/spaces/{space['id']}/start", sub="host"))
    assert status == 200 and live["state"] == "live" and live["room_name"] in gateway.rooms
    status, token = call(http_api_event("POST", f"/spaces/{space['id']}/token", sub="listener1"))
    assert status == 200 and token["role"] == "listener" and token["identity"] == "listener1"
    status, page = call(http_api_event("GET", "/spaces", sub="x", query="state=live&limit=5"))
    assert status == 200 and [s["id"] for s in page["items"]] == [space["id"]]
    status, problem = call(
        http_api_event(
            "PUT", f"/spaces/{space['id']}/roles/listener1", sub="listener1", body={"role": "speaker"}
        )
    )
    assert status == 403 and problem["rule"] == "moderators_only"
    status, problem = call(http_api_event("POST", "/spaces", sub="host", body={"title": ""}))
    assert status == 422 and problem["detail"][0]["loc"] == ["body", "title"]


def test_environments_restored_from_one_snapshot_draw_different_random_numbers() -> None:
    import random

    from functions.handler import ReseedOnFirstCall

    snapshot = random.getstate()
    draws = []
    for _ in range(2):
        random.setstate(snapshot)  # SnapStart: every environment starts from the same state
        handler = ReseedOnFirstCall(lambda event, context: [random.random() for _ in range(3)])
        draws.append(handler({}, None))
    assert draws[0] != draws[1]
    # Without the wrapper they would be the same numbers.
    random.setstate(snapshot)
    plain = [random.random() for _ in range(3)]
    random.setstate(snapshot)
    assert plain == [random.random() for _ in range(3)]


def test_the_sqlite_path_imports_no_aws_sdk_and_no_livekit_api(tmp_path: Any) -> None:
    """boto3 (~80 ms), livekit-api and PyJWT stay off the handler's import on the SQLite store: a
    cold start pays for them only where they are used (docs/benchmarks.md, "Control plane")."""
    import os
    import subprocess
    import sys

    from contract import names

    env = {
        **os.environ,
        names.ENV_MODE: "cloud",
        names.ENV_STORE: "sqlite",
        names.ENV_SQLITE_PATH: str(tmp_path / "spaces.sqlite3"),
        names.ENV_LIVEKIT_URL: "ws://127.0.0.1:7880",
        names.ENV_LIVEKIT_API_KEY: "key",
        names.ENV_LIVEKIT_API_SECRET: "secret-long-enough-for-hs256-signing-xx",
    }
    probe = (
        "import sys, functions.handler; "
        "print(sorted({'boto3', 'livekit', 'jwt'} & {m.split('.')[0] for m in sys.modules}))"
    )
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout
