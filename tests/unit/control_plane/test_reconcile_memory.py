"""What a long-running reconciler remembers per Space is forgotten once the Space is gone."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI
from fastapi.testclient import TestClient

from functions.reconcile.runner import Memory

from .conftest import auth
from .fakes import FakeGateway
from .test_api import live_space, sweep


def test_a_space_absent_from_two_sweeps_in_a_row_is_forgotten_and_a_held_lock_is_kept() -> None:
    memory = Memory()
    memory.metadata_published.update(a=1.0, b=2.0)
    memory.hands_sent["b"] = ((), ())
    memory.audience_renewed["b"] = 3.0
    memory.count_drift["b"] = (1, 2, 3.0)
    memory.dirty |= {"b", "c"}
    memory.dispatched[("space-b", "agent")] = 4.0

    async def run() -> None:
        held = memory.lock("b")
        await held.acquire()
        memory.lock("d")
        memory.keep_only({"a"})  # once: b, c and d may only be listed late
        assert set(memory.metadata_published) == {"a", "b"} and memory.dirty == {"b", "c"}
        memory.keep_only({"a", "c"})  # c is back: kept
        assert set(memory.metadata_published) == {"a"}
        assert not memory.hands_sent and not memory.audience_renewed and not memory.count_drift
        assert memory.dirty == {"c"} and not memory.dispatched
        assert memory.lock("b") is held  # held: kept
        held.release()

    asyncio.run(run())


def test_an_ended_space_leaves_nothing_in_the_apps_reconciler_memory(
    client: TestClient, app: FastAPI, gateway: FakeGateway
) -> None:
    space_id = live_space(client)
    sweep(app, gateway)
    memory: Memory = app.state.reconcile_memory
    assert space_id in memory.metadata_published
    assert client.post(f"/spaces/{space_id}/end", headers=auth("host")).status_code == 200
    sweep(app, gateway)
    sweep(app, gateway)
    assert space_id not in memory.metadata_published and space_id not in memory.hands_sent
    assert all(room != f"space-{space_id}" for room, _ in memory.dispatched)
