"""The host's listener list: a page of the audience from the store (listeners join the room
hidden, so the SFU cannot list them), with whether each one has a hand raised."""

from __future__ import annotations

from dataclasses import dataclass

from ..domain import audience, viewers
from ..domain.audience import Listener
from .context import Context


@dataclass(frozen=True)
class ListedListener:
    listener: Listener
    hand_raised: bool
    # Their tag in the pushed documents' removals (domain/viewers.py): another moderator's removal
    # takes the row off a moderator's open list without a read.
    viewer_tag: str


@dataclass(frozen=True)
class ListenersPage:
    items: list[ListedListener]
    next_cursor: str | None


def list_listeners(
    ctx: Context, *, actor: str, space_id: str, query: str | None, limit: int, cursor: str | None
) -> ListenersPage:
    after = audience.check_cursor(cursor)
    # Refused on the Space's own fields (one small read) before anything else is read.
    audience.authorize_listing(ctx.store.require_own(space_id), actor=actor)
    # The Space's own partition: roles, hands and blocks (bounded), never the audience.
    space = ctx.store.require(space_id)
    audience.authorize_listing(space, actor=actor)
    if not audience.has_audience(space):
        return ListenersPage(items=[], next_cursor=None)
    page = ctx.store.listeners(
        space_id,
        query=query,
        limit=limit,
        after=after,
        now=ctx.clock(),
        hidden=audience.hidden_users(space),
    )
    hands = frozenset(space.raised_hands)
    key = ctx.settings.viewer_tag_key()
    return ListenersPage(
        items=[
            ListedListener(e, e.user_id in hands, viewers.viewer_tag(key, space_id, e.user_id))
            for e in page.items
        ],
        next_cursor=page.cursor,
    )
