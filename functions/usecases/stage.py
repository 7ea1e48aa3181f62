"""The stage: hands, roles, moderation, the spotlight pin. Each write stores the desired state and
asks the reconciler to make the room follow (permissions, removals, metadata)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from typing import TypeVar

from contract import names

from ..domain import host, people, stage, viewers
from ..domain.errors import Busy, Conflict, DomainError, PartlyDone, TooMany
from ..domain.model import STAGE_ROLES, Role, Space, SpaceState, VideoSource
from ..livekit_edge.gateway import StrandedRoom
from ..store.base import Change
from .context import Accepted, Context

logger = logging.getLogger(__name__)
T = TypeVar("T")


async def _after(
    ctx: Context,
    space: Space,
    *,
    changed: bool,
    evict: frozenset[str] = frozenset(),
    member: str | None = None,
    hands: bool = False,
) -> Accepted:
    if space.state is not SpaceState.LIVE or (not changed and not evict):
        return Accepted(space, converged=True)
    return await ctx.converge(space, evict=evict, member=member, resend_hands=hands, metadata_unchanged=hands)


# What a hand toggle's store failure answers: its limit was spent before the write.
_TOGGLE_SPENT = f"the hand was not changed, but the toggle counts ({stage.HAND_LIMIT.describe()})"


async def _hand_toggle_allowed(ctx: Context, *, actor: str, space_id: str) -> None:
    """Spends one of the actor's hand toggles (stage.HAND_LIMIT) before the Space is read: one small
    conditional write, where the toggle costs a consistent read of the Space, a reconciler pass and
    a hands message."""
    now = ctx.clock().timestamp()
    wait = await asyncio.to_thread(ctx.rate_limits.accept, space_id, actor, now, limit=stage.HAND_LIMIT)
    if wait > 0:
        raise TooMany(
            names.HAND_RATE_LIMITED_RULE,
            f"too many hand raises and lowers: {stage.HAND_LIMIT.describe()}; retry in {wait:.1f} s",
            retry_after=wait,
        )


async def raise_hand(
    ctx: Context, *, actor: str, space_id: str, name: str | None = None, picture: str | None = None
) -> Accepted:
    """`name` and `picture`: the display name and avatar stored with the hand (moderators cannot see
    listeners in the room)."""
    await _hand_toggle_allowed(ctx, actor=actor, space_id=space_id)
    await _refuse_a_full_queue(ctx, actor=actor, space_id=space_id)

    def rule(space: Space) -> Space:
        raised = stage.raise_hand(space, user=actor, limits=ctx.settings.limits)
        if raised is space or name is None:
            return raised
        return people.named(raised, people.Caller(actor, name, picture))

    change = await _hand_update(ctx, space_id, rule)
    # A hand changes the hands message, nothing in the room metadata and nothing about anyone else in
    # the room. The message goes whatever this process sent last: another one may have sent a
    # different one since.
    return await _after(ctx, change.after, changed=change.changed, member=actor, hands=True)


async def _refuse_a_full_queue(ctx: Context, *, actor: str, space_id: str) -> None:
    """A raise into a full queue is refused on the queue's count and the raiser's own read (a few
    items), not after the whole Space's read (every hand and block) and its write: the rule is the
    same, so is the answer (stage.may_raise). Below the limit nothing is decided here; the write
    checks again (the queue may fill meanwhile)."""
    limits = ctx.settings.limits
    queued = await _after_spent_toggle(partial(ctx.store.queued_hands, space_id))
    if queued < limits.max_raised_hands:
        return
    seen = await _after_spent_toggle(partial(ctx.store.require, space_id, member=actor))
    stage.may_raise(seen, user=actor, queued=queued, limits=limits)


async def lower_hand(ctx: Context, *, actor: str, space_id: str) -> Accepted:
    await _hand_toggle_allowed(ctx, actor=actor, space_id=space_id)
    change = await _hand_update(ctx, space_id, lambda s: stage.lower_hand(s, user=actor))
    return await _after(ctx, change.after, changed=change.changed, member=actor, hands=True)


async def _hand_update(ctx: Context, space_id: str, rule: Callable[[Space], Space]) -> Change:
    """The hand's write, after its toggle was spent."""
    return await _after_spent_toggle(partial(ctx.store.update, space_id, rule))


async def _after_spent_toggle(call: Callable[[], T]) -> T:
    """A store call after the hand's toggle was spent: a store that cannot take it says so."""
    try:
        return await asyncio.to_thread(call)
    except Busy as exc:
        raise PartlyDone(_TOGGLE_SPENT) from exc
    except DomainError:
        raise
    except Exception as exc:
        raise PartlyDone(_TOGGLE_SPENT) from exc


async def change_role(
    ctx: Context, *, actor: str, space_id: str, target: str, role: Role, from_role: Role | None = None
) -> Accepted:
    """A listener put on stage without a raised hand (the API's direct promotion: the Space never
    learnt their name) is named from their audience entry, with its avatar, for the room metadata's
    `names` and `pictures` that the stage and HLS viewers show. Someone sent back to the audience is
    listed again by the reconciler, which sees whether they are connected (reconcile/runner.py)."""
    own = await ctx.own(space_id)
    stage.authorize_role_change(own, actor=actor, target=target, role=role)
    entry = await asyncio.to_thread(ctx.store.listed, space_id, target) if role in STAGE_ROLES else None
    if role in STAGE_ROLES and own.role_of(target) is Role.LISTENER:
        removed_at = await asyncio.to_thread(ctx.store.removed_at, space_id, target, now=ctx.clock())
        stage.require_back_since_removal(removed_at, entry.joined_at if entry else None)

    def rule(space: Space) -> Space:
        changed = stage.change_role(
            space,
            actor=actor,
            target=target,
            role=role,
            limits=ctx.settings.limits,
            now=ctx.clock(),
            from_role=from_role,
        )
        if changed is space or entry is None or target in changed.names:
            return changed
        return people.named(changed, people.Caller(target, entry.name, entry.picture))

    change = await asyncio.to_thread(ctx.store.update, space_id, rule)
    return await _after(ctx, change.after, changed=change.changed)


async def invite(ctx: Context, *, actor: str, space_id: str, target: str) -> Accepted:
    """An invitation to speak (stage.invite): only the invitee's page learns it, by their viewer tag
    in the room metadata and state.json. Someone a host removed is invited only once they came back,
    as for a role change (stage.require_back_since_removal). The invitee is named on stage from
    their own sign-in when they agree (answer_invitation)."""
    own = await ctx.own(space_id)
    stage.authorize_invitation(own, actor=actor)
    if own.role_of(target) is Role.LISTENER:
        stage.require_back_since_removal(*await _removal_and_return(ctx, space_id, target))
    tag = viewers.viewer_tag(ctx.settings.viewer_tag_key(), space_id, target)
    change = await asyncio.to_thread(
        ctx.store.update,
        space_id,
        lambda s: stage.invite(
            s, actor=actor, target=target, tag=tag, limits=ctx.settings.limits, now=ctx.clock()
        ),
    )
    return await _after(ctx, change.after, changed=change.changed)


async def answer_invitation(
    ctx: Context,
    *,
    actor: str,
    space_id: str,
    accept: bool,
    name: str | None = None,
    picture: str | None = None,
) -> Accepted:
    """The invitee's answer. Agreeing names them on stage from their own sign-in (`name`, `picture`),
    as a raised hand does. Anyone may send one, invited or not: the caller's own read (the Space's
    own fields, where invitations are, and their hand and block) answers a yes without an
    invitation and a no with nothing to decline, so only a real answer costs the whole Space's read
    and write. A yes from someone a host removed since the invitation was stored (a removal that
    committed while the invitation was being written) is refused as not invited."""
    seen = await asyncio.to_thread(ctx.store.require, space_id, member=actor)
    now = ctx.clock()
    if actor not in stage.pending_invitations(seen, now):
        if accept:
            stage.accept_invitation(seen, user=actor, limits=ctx.settings.limits, now=now)  # refuses
        return Accepted(seen, converged=True)
    if accept:
        stage.require_invitation_after_removal(*await _removal_and_return(ctx, space_id, actor))

    def rule(space: Space) -> Space:
        if not accept:
            return stage.decline_invitation(space, actor=actor, target=actor, now=ctx.clock())
        accepted = stage.accept_invitation(space, user=actor, limits=ctx.settings.limits, now=ctx.clock())
        if accepted is space or name is None:
            return accepted
        return people.named(accepted, people.Caller(actor, name, picture))

    change = await asyncio.to_thread(ctx.store.update, space_id, rule)
    return await _after(ctx, change.after, changed=change.changed)


async def _removal_and_return(
    ctx: Context, space_id: str, user: str
) -> tuple[datetime | None, datetime | None]:
    """When a host last removed `user` without a block (the removal note), and when they were last
    listed in the audience (a join on purpose lists them again): what stage.back_since_removal
    weighs. The entry first, as a role change reads them: a removal between the two reads is then
    seen by the second."""
    entry = await asyncio.to_thread(ctx.store.listed, space_id, user)
    removed_at = await asyncio.to_thread(ctx.store.removed_at, space_id, user, now=ctx.clock())
    return removed_at, entry.joined_at if entry else None


async def withdraw_invitation(ctx: Context, *, actor: str, space_id: str, target: str) -> Accepted:
    """A moderator takes back an invitation not yet answered (the invitee's own refusal is
    answer_invitation)."""
    if actor == target:
        return await answer_invitation(ctx, actor=actor, space_id=space_id, accept=False)
    stage.authorize_invitation(await ctx.own(space_id), actor=actor)
    change = await asyncio.to_thread(
        ctx.store.update,
        space_id,
        lambda s: stage.decline_invitation(s, actor=actor, target=target, now=ctx.clock()),
    )
    return await _after(ctx, change.after, changed=change.changed)


async def hand_over(ctx: Context, *, actor: str, space_id: str, target: str) -> Accepted:
    """The host hands the Space to a co-host and stays as a co-host; the reconciler gives both
    their new grants (role attribute, camera per the video policy) and publishes the metadata."""
    own = await ctx.own(space_id)
    host.check_hand_over(own, actor=actor, target=target)  # before the SFU is asked anything
    present = own.state is not SpaceState.LIVE or await _in_room(ctx, own, target)
    try:
        change = await asyncio.to_thread(
            ctx.store.update,
            space_id,
            lambda s: host.hand_over(s, actor=actor, target=target, present=present),
        )
    except Conflict as exc:
        raise _quota_of(target, exc) from None
    return await _after(ctx, change.after, changed=change.changed)


async def _in_room(ctx: Context, space: Space, user: str) -> bool:
    """Whether `user` is connected to the Space's room now: the room and one participant read
    (ListRooms, GetParticipant), however many the room holds. A GatewayError reaches the API as 502,
    a room no node answers for as 503 `room_unreachable`: nothing was changed."""
    seen = await ctx.gateway.observe_member(space.room_name, user)
    if isinstance(seen, StrandedRoom):
        raise Busy(
            "room_unreachable",
            f"who is in the Space cannot be read now ({seen.reason}); retry",
            retry_after=5,
        )
    return seen is not None and seen.participant is not None


# A hand-over can only meet the quotas of the person it makes host: the store's refusal speaks to the
# caller about their own Spaces ("you", with their ids), which here are someone else's. Only a live
# Space is handed over (to a co-host who joined it: domain/host.py), so only the live quota applies.
_TARGET_QUOTAS = {
    "too_many_live_spaces": ("live Spaces (SPACES_MAX_LIVE_PER_HOST)", "end one"),
}


def _quota_of(target: str, exc: Conflict) -> Conflict:
    quota = _TARGET_QUOTAS.get(exc.rule)
    if quota is None:
        return exc
    what, way_out = quota
    return Conflict(
        exc.rule,
        f"{target} already has the most {what} one person may; once they {way_out}, the Space can be"
        " handed to them",
    )


async def remove(ctx: Context, *, actor: str, space_id: str, target: str, block: bool) -> Accepted:
    """Off the stage (and blocked, if asked) in the store; disconnected by the reconciler, or told
    by state.json when they watch the broadcast (domain/viewers.py: the pass publishes it). A block
    is desired state (every pass removes a blocked user who is connected); a removal without a block
    is a one-time disconnect, repeated within this request's pass only (they may rejoin anyway), and
    a note that makes their page's own comeback tell them (stage.require_not_removed_since) when
    the disconnect found nobody: a page reloading or reconnecting at that moment."""
    stage.authorize_removal(await ctx.own(space_id), actor=actor)
    change = await asyncio.to_thread(
        ctx.store.update,
        space_id,
        lambda s: stage.remove(s, actor=actor, target=target, block=block, limits=ctx.settings.limits),
    )
    # After the write, once for both notes: later than any grant whose read missed this removal.
    # Each is best effort (the removal is committed and answered as it is): a note that could not be
    # written only means a page away at that moment comes back untold, and an entry for viewers that
    # could not be written that an HLS viewer's page plays on until it reloads (both logged).
    at = ctx.clock()
    if not block:
        # Before the disconnect, so a page that comes back right after it meets the note.
        await _follow_up(
            f"{target} removed from {space_id} but the removal was not noted",
            lambda: ctx.store.record_removal(
                space_id, target, at=at, expires_at=at + timedelta(seconds=stage.REMOVAL_NOTICE_SECONDS)
            ),
        )
    if viewers.told_to_viewers(change.before, target):
        # An HLS viewer is in no room: their page learns it from the room metadata, which the
        # composer copies to state.json (domain/viewers.py).
        await _follow_up(
            f"{target} removed from {space_id} but not told to viewers",
            lambda: ctx.store.record_removed_viewer(
                space_id,
                viewers.viewer_tag(ctx.settings.viewer_tag_key(), space_id, target),
                at=at,
                expires_at=at + timedelta(seconds=viewers.REMOVED_VIEWER_SECONDS),
            ),
        )
    # Off the host's listener list now, not when the leave webhook comes (HLS viewers send none).
    # The removal is stored: a failure here leaves the entry to that webhook or its expiry
    # (audience.py) and the blocked hidden, so the answer is "accepted, converging", not an error.
    try:
        await asyncio.to_thread(ctx.store.remove_listener, space_id, target)
        unlisted = True
    except Exception:  # noqa: BLE001 - after a committed write any failure is the follow-up's
        logger.warning("%s removed from %s but still listed", target, space_id, exc_info=True)
        unlisted = False
    accepted = await _after(ctx, change.after, changed=change.changed, evict=frozenset({target}))
    return accepted if unlisted else Accepted(accepted.space, converged=False)


async def _follow_up(failure: str, write: Callable[[], None]) -> None:
    """A write after a committed one: any failure is logged as `failure`, never answered."""
    try:
        await asyncio.to_thread(write)
    except Exception:  # noqa: BLE001 - after a committed write any failure is the follow-up's
        logger.warning(failure, exc_info=True)


async def pin(
    ctx: Context, *, actor: str, space_id: str, target: str | None, source: VideoSource = VideoSource.CAMERA
) -> Accepted:
    stage.authorize_pin(await ctx.own(space_id), actor=actor)
    change = await asyncio.to_thread(
        ctx.store.update, space_id, lambda s: stage.pin(s, actor=actor, target=target, source=source)
    )
    return await _after(ctx, change.after, changed=change.changed)


async def mute(ctx: Context, *, actor: str, space_id: str, target: str) -> Space:
    """An act, not a state: nothing is stored, the SFU mutes the microphone now (the speaker can
    unmute). A GatewayError reaches the API as 502: nothing was changed. The rule needs the Space's
    own fields only; the answer shows the whole Space, read once the mute is allowed."""
    own = await ctx.own(space_id)
    stage.authorize_mute(own, actor=actor, target=target)
    if not await ctx.gateway.mute_microphone(own.room_name, target):
        raise Conflict("not_connected", f"{target} is not connected to the Space")
    return await asyncio.to_thread(ctx.store.require, space_id)
