"""An HLS viewer's presence heartbeat: counted once per (user, slot) into the sharded counters the
reconciler turns into the HLS part of the listener count (domain/presence.py), and their entry in
the host's listener list kept alive while they watch (docs/listeners.md)."""

from __future__ import annotations

from datetime import timedelta

from ..domain import audience, broadcast, presence
from ..domain.people import Caller
from .context import Context

# Seconds a window's counters and markers are kept after the window closed: the reconciler reads a
# window during the next one (its sweep runs every minute), so one hour is ample; TTL deletes them.
KEEP_AFTER_WINDOW = 3600
# A heartbeat keeps the viewer listed this many intervals ahead: two missed heartbeats (a network
# blip, a tab in the background) do not unlist someone still watching; one who left is unlisted
# within this long (or an hour, whichever is longer: the entry their token wrote lives that long).
LISTED_INTERVALS = 3


def heartbeat(ctx: Context, *, actor: Caller, space_id: str) -> bool:
    """Count the caller in the current window (once per slot) and keep them listed; False when the
    slot already counts them (a repeat, a retry)."""
    # Only the caller's own block record is read: one round trip, whatever the Space's size.
    space = ctx.store.require(space_id, member=actor.id)
    broadcast.check_heartbeat(space, user=actor.id)
    seconds = ctx.settings.presence_window_seconds
    now = ctx.clock()
    window = presence.window_of(now.timestamp(), seconds)
    expires = (window + 1) * seconds + KEEP_AFTER_WINDOW
    counted = ctx.store.record_presence(space_id, actor.id, window, expires_at=expires)
    # Their entry as their token listed it (the same name): extended, never created, so a removal
    # or a block is never undone (domain/audience.py, SpaceStore.renew_listeners).
    listed_for = max(audience.HLS_ENTRY_TTL_SECONDS, LISTED_INTERVALS * presence.interval(seconds))
    ctx.store.renew_listeners(
        space_id, [(actor.id, actor.name)], expires_at=now + timedelta(seconds=listed_for)
    )
    return counted


def interval_for(ctx: Context) -> int:
    """What the HLS join answer tells the page: a heartbeat every this many seconds while playing."""
    return presence.interval(ctx.settings.presence_window_seconds)
