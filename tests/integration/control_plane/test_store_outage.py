"""The API (uvicorn, DynamoDB store) when its store goes away: every request says so with a 503, the
rule and a Retry-After a page on the web origin can read, not a bare 500."""

from __future__ import annotations

from contextlib import ExitStack

import httpx
import pytest

from contract import names
from devstack.ports import free_port
from tests.conftest import LiveKitEndpoint
from tests.support.api_server import api_server
from tests.support.dynamodb_local import dynamodb_server

from .conftest import fresh_dynamo_table

WEB_ORIGIN = "https://web.example"


@pytest.mark.timeout(240)
def test_an_unreachable_store_is_a_503_with_retry_after(livekit_server: LiveKitEndpoint) -> None:
    with ExitStack() as api_stack, ExitStack() as store_stack:
        dynamodb = store_stack.enter_context(dynamodb_server())
        env = {
            names.ENV_STORE: "dynamodb",
            names.ENV_TABLE_NAME: fresh_dynamo_table(dynamodb),
            names.ENV_DYNAMODB_ENDPOINT: dynamodb.url,
            names.ENV_CORS_ORIGINS: WEB_ORIGIN,
        }
        api = api_stack.enter_context(api_server(port=free_port(), livekit=livekit_server, env=env))
        with httpx.Client(base_url=api.url, timeout=60) as client:
            created = client.post(
                "/spaces", json={"title": "Outage", "video": "off"}, headers=api.auth("host-o")
            )
            assert created.status_code == 201, created.text
            space_id = created.json()["id"]

            store_stack.close()  # the store stops answering; the API keeps running

            read = client.get(f"/spaces/{space_id}", headers={**api.auth("host-o"), "Origin": WEB_ORIGIN})
            assert read.status_code == 503, read.text
            assert read.json()["rule"] == "store_unreachable"
            assert int(read.headers["retry-after"]) > 0
            # A page on the web origin is allowed to read when to come back.
            assert read.headers["access-control-allow-origin"] == WEB_ORIGIN
            assert "retry-after" in read.headers["access-control-expose-headers"].lower()

            for method, path, body in [
                ("POST", "/spaces", {"title": "Another", "video": "off"}),
                ("POST", f"/spaces/{space_id}/start", None),
                ("POST", f"/spaces/{space_id}/token", None),
                ("GET", "/spaces?state=live", None),
            ]:
                answer = client.request(method, path, json=body, headers=api.auth("host-o"))
                assert answer.status_code == 503, (method, path, answer.text)
                assert answer.json()["rule"] == "store_unreachable", (method, path)
                assert "retry-after" in answer.headers
