"""A verified webhook records the facts it carries, each at most once (keyed by the event id), and
wakes the reconciler for its room. It decides nothing else: who may publish, who must leave and
which agent is missing are the reconciler's business, read from the room itself."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from ..domain import broadcast, grants, host, lifecycle, stage
from ..domain.errors import NotFound
from ..domain.model import Role, space_id_from_room
from ..livekit_edge.webhooks import WebhookFacts
from .context import Context

logger = logging.getLogger(__name__)

# Events after which the room may differ from the desired state: someone (or an agent) came or went,
# a track appeared, or the room itself started or finished.
WAKES = frozenset(
    {"room_started", "room_finished", "participant_joined", "participant_left", "track_published"}
)


def record(ctx: Context, facts: WebhookFacts) -> str:
    """The stored effects of a webhook (listener count, the end of a Space). Returns what was done."""
    space_id = space_id_from_room(facts.room_name)
    if space_id is None:
        return "ignored: not a Space room"
    if facts.event == "room_finished":
        # The end first, then the event id: an end that failed (the store was busy) is applied when
        # LiveKit sends the event again, instead of being taken for a duplicate. Ending is idempotent.
        now = ctx.clock()
        try:
            ctx.store.update(space_id, lambda s: lifecycle.room_closed(s, now=now))
        except NotFound:
            return "ignored: unknown Space"
        if not ctx.store.claim_event(facts.id):
            return "duplicate"
        return "space ended"
    if facts.event in ("participant_joined", "participant_left") and facts.role == Role.HOST.value:
        return _host_presence(ctx, space_id, facts)
    if facts.event in ("participant_joined", "participant_left"):
        # Agents and stage members are not audience; only listener joins and leaves are counted.
        # A participant whose role changes live is counted by the reconciler (diff.UpdateParticipant).
        if facts.is_agent:
            return "not a listener"
        if facts.role != Role.LISTENER.value:
            # A promoted listener keeps their list entry (hidden while on stage): gone when they go.
            if facts.event == "participant_left":
                _unlist(ctx, space_id, facts)
            return "not a listener"
        if facts.event == "participant_left":
            # Off the list before the count claims the event: a store that fails here answers
            # "nothing was changed, retry", and the retry finds the event unclaimed (removing the
            # entries again removes nothing more).
            _unlist(ctx, space_id, facts)
        delta = 1 if facts.event == "participant_joined" else -1
        if not ctx.store.adjust_listeners(space_id, delta, event_id=facts.id):
            return "duplicate"
        if facts.event == "participant_joined":
            _free_seat(ctx, space_id, facts)
        return "counted"
    return "nothing to record"


def _free_seat(ctx: Context, space_id: str, facts: WebhookFacts) -> None:
    """Counted now: the seat that held their place until this webhook is free again (once per seat:
    a second join with the same token frees nothing). Best effort: the join is counted already, and
    a seat not freed lapses within 10 s (domain/broadcast.py)."""
    bucket = broadcast.seat_of(facts.seat)
    if bucket is None or facts.identity is None:
        return
    try:
        ctx.store.release_seat(space_id, facts.identity, bucket)
    except Exception:  # noqa: BLE001 - a store error must not undo the counted join's webhook
        logger.warning("seat of %s in %s not freed; it lapses", facts.identity, space_id, exc_info=True)


def _host_presence(ctx: Context, space_id: str, facts: WebhookFacts) -> str:
    """The host left (the grace period starts at the event) or came back (it stops). Keyed by the
    event id; the reconciler's pass that follows checks it against the room (a leave delivered
    after a rejoin that replaced the session some other way is undone there)."""
    if facts.is_agent or facts.identity is None:
        return "not a person"
    if facts.event == "participant_left" and facts.replaced:
        # A reload or a reconnect: the newer session is in the room. Recorded as a departure, the
        # pass that follows would publish "the host has left" to the whole room before undoing it.
        return "host's session replaced by a newer one: still here"
    if not ctx.store.claim_event(facts.id):
        return "duplicate"
    user, now = facts.identity, ctx.clock()
    rule = (
        (lambda s: host.host_left(s, user=user, now=now))
        if facts.event == "participant_left"
        else (lambda s: host.host_back(s, user=user))
    )
    try:
        change = ctx.store.update(space_id, rule)
    except NotFound:
        return "ignored: unknown Space"
    except Exception:
        # Claimed first, so a retry of an event already applied stays a duplicate (a "left" sent
        # again after the host came back must not start the grace period again). Not applied, the
        # claim is let go: the answer says "nothing was changed, retry", and the retry applies it.
        _release(ctx, facts.id)
        raise
    if not change.changed:
        return "host presence unchanged"
    return "host left: grace period started" if facts.event == "participant_left" else "host is back"


def _release(ctx: Context, event_id: str) -> None:
    try:
        ctx.store.release_event(event_id)
    except Exception:  # noqa: BLE001 - the store is failing already; the patrol observes the room
        logger.warning(
            "webhook %s claimed but not applied; its retry is a duplicate", event_id, exc_info=True
        )


def _unlist(ctx: Context, space_id: str, facts: WebhookFacts) -> None:
    """Off the host's listener list: the entries written up to this session's connection. A leave
    delivered late, after the same user took a new token, keeps the newer entry. A session a newer
    one replaced (a reconnect with the same token, whose entry is older than both sessions) leaves
    the person in the room: listed until that newer session's own leave."""
    if facts.identity is None or facts.replaced:
        return
    before = None if facts.joined_at_ms is None else datetime.fromtimestamp(facts.joined_at_ms / 1000, UTC)
    ctx.store.remove_listener(space_id, facts.identity, joined_before=before)


async def handle(ctx: Context, facts: WebhookFacts) -> str:
    outcome = await asyncio.to_thread(record, ctx, facts)
    space_id = space_id_from_room(facts.room_name)
    if space_id is None or facts.event not in WAKES or outcome == "duplicate":
        return outcome
    evict = await asyncio.to_thread(_removed_since_token, ctx, space_id, facts)
    woke = await ctx.reconciler.wake(
        space_id, budget=ctx.settings.reconcile_budget_seconds, member=audience_member(facts), evict=evict
    )
    state = woke.note or ("converged" if woke.converged else "converging")
    return f"{outcome}; reconciler: {state}" + ("; removed since their token" if evict else "")


def _removed_since_token(ctx: Context, space_id: str, facts: WebhookFacts) -> frozenset[str]:
    """Someone joining with a token issued before a host removed them (without a block): the
    removal's own disconnect found nobody, since they were still connecting, so this join is
    undone (they are told: the SFU's reason is a removal). One read per join; a read that fails
    lets the join stand (logged), as a removal without a block is no ban."""
    if facts.event != "participant_joined" or facts.is_agent or facts.identity is None:
        return frozenset()
    issued = grants.issued_at_of(facts.issued_at)
    if issued is None:
        return frozenset()
    try:
        removed = ctx.store.removed_at(space_id, facts.identity, now=ctx.clock())
    except Exception:  # noqa: BLE001 - the join itself is recorded; this check is best effort
        logger.warning(
            "could not read whether %s was removed from %s", facts.identity, space_id, exc_info=True
        )
        return frozenset()
    return frozenset({facts.identity}) if stage.removed_since(removed, issued) else frozenset()


def audience_member(facts: WebhookFacts) -> str | None:
    """A listener whose join or leave this is: the reconciler then reads that person and the room's
    metadata, not the whole room (reconcile/runner.py, "audience pass"). Anyone else's event (a
    stage member, the host, an agent, a track) wakes a full pass."""
    if facts.event not in ("participant_joined", "participant_left") or facts.is_agent:
        return None
    return facts.identity if facts.role == Role.LISTENER.value else None
