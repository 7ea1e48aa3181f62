"""How large the Space's META item gets (docs/control-plane.md, "The META item's size"): every
strongly consistent read of it costs one RCU per started 4 KB. Sizes follow DynamoDB's rules for
item size (attribute names plus values; 3 bytes per list or map plus 1 per element)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import pytest

from functions.domain.model import Invitation, Limits, Space, SpaceState, VideoPolicy
from functions.domain.people import NAME_MAX_CHARS, PICTURE_MAX_CHARS
from functions.store.dynamodb import _item

pytestmark = pytest.mark.unit


def size(value: dict[str, Any]) -> int:
    ((kind, v),) = value.items()
    if kind == "S":
        return len(v.encode())
    if kind == "N":
        return len(v.lstrip("-").replace(".", "")) // 2 + 2
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "L":
        return 3 + sum(1 + size(x) for x in v)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + size(x) for k, x in v.items())
    raise AssertionError(kind)


def item_size(item: dict[str, Any]) -> int:
    return sum(len(name.encode()) + size(value) for name, value in item.items())


def full_stage(*, id_chars: int, name: str, picture_chars: int) -> Space:
    limits = Limits()
    people = [f"{k:0{id_chars}d}" for k in range(1 + limits.max_cohosts + limits.max_speakers)]
    host, cohosts, speakers = people[0], people[1 : 1 + limits.max_cohosts], people[1 + limits.max_cohosts :]
    now = datetime(2026, 11, 20, tzinfo=UTC)
    return Space(
        id="a" * 32,
        title="\U0001f399" * 120,
        host=host,
        video=VideoPolicy.SPEAKERS,
        created_at=now,
        state=SpaceState.LIVE,
        cohosts=tuple(cohosts),
        speakers=tuple(speakers),
        pinned=speakers[0],
        names=dict.fromkeys(people, name),
        pictures=dict.fromkeys(people, "https://img.example/" + "p" * (picture_chars - 20))
        if picture_chars
        else {},
        scheduled_start=now,
        started_at=now,
        host_away_since=now,
        version=123456,
    )


def rcu(space: Space) -> int:
    return math.ceil(item_size(_item(space)) / 4096)


def test_a_typical_full_stage_fits_one_read_unit() -> None:
    """36-character ids (a UUID, a Cognito sub), 20-character names, ~100-character avatar URLs
    (Google's, Gravatar's), 13 people on stage: one RCU."""
    assert rcu(full_stage(id_chars=36, name="n" * 20, picture_chars=100)) == 1


def test_the_worst_case_full_stage_costs_six_read_units() -> None:
    """128-character ids, names of 64 four-byte characters, 1024-character URLs: ~23 KB, 6 RCU per
    strongly consistent read. Without any avatar the ids and names alone still take 2."""
    worst = full_stage(id_chars=128, name="\U0001f600" * NAME_MAX_CHARS, picture_chars=PICTURE_MAX_CHARS)
    assert 22_000 < item_size(_item(worst)) < 24_000 and rcu(worst) == 6
    assert rcu(full_stage(id_chars=128, name="\U0001f600" * NAME_MAX_CHARS, picture_chars=0)) == 2


def test_removals_told_to_hls_viewers_are_not_on_the_meta_item() -> None:
    """They are items of their own (`VIEWER#<tag>`), which only whole reads query: every join's
    strongly consistent read of META stays the size above."""
    typical = full_stage(id_chars=36, name="n" * 20, picture_chars=100)
    listed = typical.replace(removed_viewers={f"tag{n:05d}": 1_765_000_000_000 + n for n in range(16)})
    assert _item(listed) == _item(typical)


def test_invitations_waiting_never_make_meta_larger_than_a_full_stage() -> None:
    """Each invitation holds a speaker seat (domain/stage.py), so at most the free seats have one;
    an invitation (id, lapse, tag) is smaller than the speaker it stands for (id, name, avatar)."""
    full = full_stage(id_chars=128, name="\U0001f600" * NAME_MAX_CHARS, picture_chars=PICTURE_MAX_CHARS)
    until = datetime(2026, 11, 20, 0, 2, tzinfo=UTC)
    waiting = full.replace(
        speakers=(),
        pinned=None,
        invited={user: Invitation(until=until, tag="t" * 8) for user in full.speakers},
    )
    assert len(waiting.invited) == Limits().max_speakers
    assert item_size(_item(waiting)) < item_size(_item(full))
