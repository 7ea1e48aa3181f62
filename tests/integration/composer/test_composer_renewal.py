"""A warm camera subscribed to afresh, against a real livekit-server (composer/worker.py `_await_full`).

livekit-server moves a warm (lowest-layer) subscription up only while it judges the composer's
downlink stable, so the composer renews a shown camera that stayed at its warm layer. Here the wait
is set far below the SFU's own 100 ms debounce of a layer change
(SPACES_COMPOSER_FULL_PICTURE_WAIT_S=0.01), so every switch to a warm camera is renewed: the
renewed subscription must bring the camera's top layer, and the renewal must not be given up.
(The SFU's congestion control is off on this server, conftest.py: what is under test is the
composer's unsubscribe and subscribe, not livekit-server's bandwidth estimate.)
Its own workers (module fixture) and Space, the speakers and helpers of test_composer_live.py.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from composer.settings import FULL_PICTURE_WAIT_ENV
from tests.support.agent_process import AgentProcess, start_agent, start_composer
from tests.support.eventually import eventually_async

from .test_composer_live import (
    COMPOSER_ENV,
    SPEAKERS,
    WORKER_START_S,
    Space,
    Workers,
    close_space,
    open_space,
    picture_lines,
    reaches_top_layer,
    talk,
)


def renewal_line(composer: AgentProcess, identity: str) -> int | None:
    """The index of the composer's log line saying it renews `identity`'s camera, or None."""
    mark = f"video {identity}: no full picture"
    return next((i for i, line in enumerate(composer.process.lines) if mark in line), None)


@pytest.fixture(scope="module")
def renewing_workers(steady_livekit: Any) -> Iterator[Workers]:
    keys = {
        "ws_url": steady_livekit.ws_url,
        "api_key": steady_livekit.api_key,
        "api_secret": steady_livekit.api_secret,
    }
    broadcast_dir = Path(tempfile.mkdtemp(prefix="spaces-broadcast-renewal-"))
    stage_agent = start_agent(**keys, name="stage-renewal", timeout=WORKER_START_S)
    composers = []
    try:
        composers.append(
            start_composer(
                **keys,
                broadcast_dir=broadcast_dir,
                env={**COMPOSER_ENV, FULL_PICTURE_WAIT_ENV: "0.01"},
                name="composer-renewal",
                timeout=WORKER_START_S,
            )
        )
        yield Workers(stage_agent=stage_agent, composers=composers, broadcast_dir=broadcast_dir)
    finally:
        for worker in [*composers, stage_agent]:
            worker.kill()
        shutil.rmtree(broadcast_dir, ignore_errors=True)


@pytest.fixture(scope="module")
async def renewing_space(steady_livekit: Any, renewing_workers: Workers) -> AsyncIterator[Space]:
    space = await open_space(steady_livekit, renewing_workers, video="speakers", speakers=SPEAKERS)
    try:
        yield space
    finally:
        await close_space(space)


async def test_a_renewed_warm_camera_comes_back_at_its_top_layer(renewing_space: Space) -> None:
    space = renewing_space
    composer = space.workers.composers[-1]
    for identity in ("alice", "bob"):
        turn = asyncio.create_task(talk(space, identity))
        await space.wait_stage(
            lambda s, who=identity: s["video_spotlight"] == who,
            what=f"the stage gives {identity} the big tile",
        )
        await turn
    # Bob's camera was warm when the stage switched to it: it was renewed, and came back full.
    await eventually_async(
        lambda: renewal_line(composer, "bob") is not None,
        what="the renewal of bob's camera",
    )
    renewed = renewal_line(composer, "bob")
    assert renewed is not None
    # The renewed subscription's first picture (a new subscription logs its size)...
    await eventually_async(
        lambda: len(picture_lines(composer, "bob", since=renewed)) > 1,
        what="a picture of bob's renewed subscription",
    )
    # ...and its top layer (the SFU asked for it with the subscription).
    await reaches_top_layer(space, composer, "bob", since=renewed)
    assert not any("brought nothing" in line for line in composer.process.lines)
