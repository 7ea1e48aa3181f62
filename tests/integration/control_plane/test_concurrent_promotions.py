"""20 parallel promotions over HTTP into a Space with 10 free speaker slots: exactly 10 speakers,
with the API running on each store (SQLite file, DynamoDB Local)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from contract import names
from devstack.ports import free_port
from tests.conftest import LiveKitEndpoint
from tests.support.api_server import ApiServer, api_server
from tests.support.dynamodb_local import DynamoEndpoint

from .conftest import fresh_dynamo_table
from .livekit_helpers import live_space, post


@pytest.fixture(params=["sqlite", "dynamodb"])
def any_store_api(
    request: pytest.FixtureRequest, api: ApiServer, livekit_server: LiveKitEndpoint
) -> Iterator[ApiServer]:
    if request.param == "sqlite":
        yield api
        return
    dynamodb: DynamoEndpoint = request.getfixturevalue("dynamodb")
    env = {
        names.ENV_STORE: "dynamodb",
        names.ENV_TABLE_NAME: fresh_dynamo_table(dynamodb),
        names.ENV_DYNAMODB_ENDPOINT: dynamodb.url,
    }
    with api_server(port=free_port(), livekit=livekit_server, env=env) as server:
        yield server


async def test_twenty_parallel_promotions_fill_exactly_ten_slots(any_store_api: ApiServer) -> None:
    api = any_store_api
    space = live_space(api, "host-p")
    assert post(
        api, f"/spaces/{space['id']}/roles/co-p", "host-p", method="PUT", json={"role": "cohost"}
    ).is_success
    users = [f"cand-{i}" for i in range(20)]
    async with httpx.AsyncClient(base_url=api.url, timeout=60) as client:
        # Host and co-host promote at the same time, as they would in a busy Space.
        responses = await asyncio.gather(
            *[
                client.put(
                    f"/spaces/{space['id']}/roles/{user}",
                    json={"role": "speaker"},
                    headers=api.auth("host-p" if i % 2 else "co-p"),
                )
                for i, user in enumerate(users)
            ]
        )
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] * 10 + [409] * 10
    assert {r.json()["rule"] for r in responses if r.status_code == 409} == {"speaker_limit"}
    final = httpx.get(f"{api.url}/spaces/{space['id']}", headers=api.auth("host-p"), timeout=10).json()
    winners = {u for u, r in zip(users, responses, strict=True) if r.status_code == 200}
    assert len(final["speakers"]) == 10 and set(final["speakers"]) == winners
