"""Reactions benchmarks: an audience-scale burst (`__main__`) and a trickle (`trickle`)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from functions.domain import lifecycle
from functions.domain.model import Space, VideoPolicy
from functions.store.base import SpaceStore


def live_space(spaces: SpaceStore) -> Space:
    """A new live Space to react in (hosted by "host", no video)."""
    now = datetime.now(UTC)
    space = lifecycle.new_space(
        space_id=uuid.uuid4().hex,
        title="bench",
        host="host",
        video=VideoPolicy.OFF,
        now=now,
        scheduled_start=None,
    )
    spaces.create(space)
    spaces.update(space.id, lambda s: lifecycle.start(s, actor="host", now=now))
    return space
