"""An HLS viewer's presence heartbeat: counted once per (user, window) into the sharded counters
the reconciler turns into the HLS part of the listener count (domain/presence.py)."""

from __future__ import annotations

from ..domain import broadcast, presence, viewers
from ..domain.errors import Forbidden
from .context import Context

# Seconds a window's counters and markers are kept after the window closed: the reconciler reads a
# window during the next one (its sweep runs every minute), so one hour is ample; TTL deletes them.
KEEP_AFTER_WINDOW = 3600


def heartbeat(ctx: Context, *, actor: str, space_id: str, presence_tag: str) -> bool:
    """Count the caller in the current window; False when they already are (a repeat, a retry).
    `presence_tag`: the one the caller's HLS join answer gave (only those carry it); without it
    anyone signed in could count themselves (or a crowd of accounts) as viewers of any live Space
    without watching it."""
    if not viewers.holds_presence_tag(ctx.settings.viewer_tag_key(), space_id, actor, presence_tag):
        raise Forbidden(
            "presence_not_hls",
            "only a viewer the API sent to this Space's broadcast is counted: send the presence_tag "
            "of your HLS join answer",
        )
    seconds = ctx.settings.presence_window_seconds
    ctx.spend_process_limit(  # before the store is read
        space_id,
        actor,
        limit=presence.heartbeat_limit(seconds),
        rule="presence_rate_limited",
        what="presence heartbeats",
    )
    # Only the caller's own block record is read: one round trip, whatever the Space's size.
    space = ctx.store.require(space_id, member=actor)
    broadcast.check_heartbeat(space, user=actor, sampled=presence.sampled(actor))
    window = presence.window_of(ctx.clock().timestamp(), seconds)
    expires = (window + 1) * seconds + KEEP_AFTER_WINDOW
    return ctx.store.record_presence(space_id, actor, window, expires_at=expires)


def interval_for(ctx: Context, user: str) -> int | None:
    """What the HLS join answer tells the page: heartbeat every window, or (not sampled) never."""
    return ctx.settings.presence_window_seconds if presence.sampled(user) else None
