"""Spaces: create, read, discover, start, end."""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from datetime import UTC, datetime

from ..domain import lifecycle, people
from ..domain.model import Space, SpaceState, VideoPolicy
from ..domain.stage import MODERATORS
from ..store.base import IdempotencyKey, Page
from .context import Accepted, Context


def create(
    ctx: Context,
    *,
    actor: str,
    title: str,
    video: VideoPolicy,
    scheduled_start: datetime | None,
    idempotency_key: str | None,
    name: str | None = None,
    picture: str | None = None,
    groups: frozenset[str] = frozenset(),
    record: bool = True,
) -> Space:
    """`name` and `picture`: the host's display name and avatar, stored with the Space (the id and
    initials are shown without them); `groups`: the caller's groups (who may host); `record`:
    whether its broadcast is kept as a recording (Space.record)."""
    lifecycle.authorize_hosting(groups, host_group=ctx.settings.host_group)
    space = lifecycle.new_space(
        space_id=uuid.uuid4().hex,
        title=title,
        host=actor,
        video=video,
        now=ctx.clock(),
        scheduled_start=scheduled_start,
        record=record,
    )
    if name is not None:
        space = people.named(space, people.Caller(actor, name, picture))
    key = None
    if idempotency_key is not None:
        # The instant, not how it was written: 01:00+01:00 and 00:00Z are the same request.
        start = scheduled_start.astimezone(UTC).isoformat() if scheduled_start else None
        # `record` only when it is not the default, so keys sent before it existed still match.
        asked = json.dumps([title, video.value, start] + ([] if record else [False]))
        key = IdempotencyKey(
            owner=actor, key=idempotency_key, fingerprint=hashlib.sha256(asked.encode()).hexdigest()
        )
    return ctx.store.create(space, idempotency=key)


def get(ctx: Context, space_id: str, *, viewer: str) -> Space:
    """The Space as `viewer` may see it. The host and co-hosts read all of it (the queue of raised
    hands); anyone else reads it as one member (their own hand at most), eventually consistent: a
    constant few items whatever the Space's size, as every listener of a join storm reads it once
    (docs/control-plane.md, "Reads"). Their page follows the room's pushes from there."""
    space = ctx.store.get(space_id, member=viewer, consistent=False)
    if space is None or space.state is SpaceState.SCHEDULED:
        # Just created or just started, the cheap read may not show it yet: a page opened right
        # after the create would say "no Space", one opened right after the start "not started".
        space = ctx.store.require(space_id, member=viewer)
    if space.role_of(viewer) in MODERATORS:
        return ctx.store.require(space_id)
    return space


def discover(ctx: Context, *, state: SpaceState, limit: int, cursor: str | None) -> Page:
    """A page of Spaces in `state`; scheduled ones only while they are due within the grace
    (lifecycle.SCHEDULE_GRACE), so a Space planned for 1971 is not at the head of the lobby forever."""
    since = lifecycle.listed_since(ctx.clock()) if state is SpaceState.SCHEDULED else None
    return ctx.store.discover(state, limit=limit, cursor=cursor, since=since)


async def start(ctx: Context, *, actor: str, space_id: str) -> Accepted:
    """Store the Space as live; the reconciler creates the room with its agents."""
    lifecycle.authorize_start(await ctx.own(space_id), actor=actor)
    now = ctx.clock()
    change = await asyncio.to_thread(
        ctx.store.update, space_id, lambda s: lifecycle.start(s, actor=actor, now=now)
    )
    return await ctx.converge(change.after)


async def end(ctx: Context, *, actor: str, space_id: str) -> Accepted:
    """Store the Space as ended; the reconciler deletes the room (everyone is disconnected)."""
    lifecycle.authorize_end(await ctx.own(space_id), actor=actor)
    now = ctx.clock()
    change = await asyncio.to_thread(
        ctx.store.update, space_id, lambda s: lifecycle.end(s, actor=actor, now=now)
    )
    return await ctx.converge(change.after)
