"""Who may put whom on stage, take them off, mute, remove, block and pin. Pure functions over a Space.

Every function returns the new Space (the same object when nothing changes, so callers can skip the
write) or raises a DomainError naming the rule.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from contract import names

from .errors import Conflict, Forbidden
from .grants import screen_share_allowed
from .lifecycle import require_live, require_not_blocked
from .model import STAGE_ROLES, Invitation, Limits, Role, Space, SpaceState, VideoSource
from .reactions import RateLimit

MODERATORS = frozenset({Role.HOST, Role.COHOST})
ASSIGNABLE = frozenset({Role.COHOST, Role.SPEAKER, Role.LISTENER})
# How a role reads in a refusal ("... is a co-host now, not in the audience").
_ROLE_NAMES = {
    Role.HOST: "the host",
    Role.COHOST: "a co-host",
    Role.SPEAKER: "a speaker",
    Role.LISTENER: "in the audience",
}
# How long a removal without a block is remembered for the page of the person removed: a page that
# was away (reloading, reconnecting) when it happened learns of it when it comes back by itself
# (require_not_removed_since), however long the Space runs; a join they make on purpose is let in.
REMOVAL_NOTICE_SECONDS = 24 * 3600
# Hand raises and lowers per user and Space, kept by the reactions' limiter (store.accept): each
# one reads the Space, runs a pass of the reconciler and sends the moderators a hands message. A
# mis-tap and its correction, or a few changes of mind, pass at once; a script gets one a second.
HAND_LIMIT = RateLimit(name="hand", min_interval=0.0, burst=5, burst_seconds=5.0)
# Join-token requests per user, whatever the Space, kept in each process's memory
# (store/process_limits.py): each one reads the caller's part of a Space and may write their listener
# entry or a seat. A page asks once per join and per reconnect attempt (1, 2, 4, 8, then every 10 s);
# a join refused as busy is sent again after a second or more. A loop gets one a second.
JOIN_LIMIT = RateLimit(name="token", min_interval=0.0, burst=10, burst_seconds=10.0)
# How long an invitation to speak waits for the listener's answer. It holds a speaker seat meanwhile,
# so one sent to a page nobody watches must not hold it for long; two minutes is time to notice the
# prompt, find the headphones and agree. A moderator may send it again.
INVITATION_SECONDS = 120


# The authorize_* checks decide by the Space's own fields alone (roles, state: store.get_own), so
# a moderator-only request is refused on one small read before the store reads every hand and
# block its rule needs. Each rule checks them again on the full, latest state.


def authorize_role_change(
    space: Space, *, actor: str, target: str | None = None, role: Role | None = None
) -> Role:
    """The actor's role, if it may make this change at all: the host and co-hosts change roles, and
    anyone but the host may move themselves to the audience (a speaker's or a co-host's slot is not
    held by someone who has walked away until a moderator notices)."""
    if steps_down(space, actor=actor, target=target, role=role):
        return space.role_of(actor)
    return _require_moderator(space, actor=actor, doing="change roles")


def steps_down(space: Space, *, actor: str, target: str | None, role: Role | None) -> bool:
    """Someone moving themselves to the audience: a speaker or a co-host (the host hands over or
    ends), or a listener already there (a step-down sent again: the no-op any repeat is)."""
    return target == actor and role is Role.LISTENER and space.role_of(actor) is not Role.HOST


def change_role(
    space: Space,
    *,
    actor: str,
    target: str,
    role: Role,
    limits: Limits,
    now: datetime,
    from_role: Role | None = None,
) -> Space:
    """`from_role`: the role the caller saw, when they acted on it (a raised hand's row, a button on
    a stage row). If the person's role has changed since, nothing is changed: a row read from a stale
    list must not turn a co-host into a speaker. Putting a listener on stage here does not ask them
    (the API's direct promotion); the page asks through `invite` instead."""
    _require_not_ended(space)
    own_step_down = steps_down(space, actor=actor, target=target, role=role)
    actor_role = space.role_of(actor) if own_step_down else authorize_role_change(space, actor=actor)
    current = space.role_of(target)
    if role not in ASSIGNABLE:
        raise Forbidden("host_role_fixed", "the host role belongs to the creator and cannot be assigned")
    if current is Role.HOST:
        raise Forbidden("host_role_fixed", "the host's role cannot be changed")
    if from_role is not None and current is not from_role and role is not current:
        # Before the co-host check: the row was out of date whoever clicked it (roles are public).
        # A repeat of a change that went through (a double click, a retried PUT) is the no-op below.
        raise Conflict(
            names.ROLE_CHANGED_RULE,
            f"they are {_ROLE_NAMES[current]} now, not {_ROLE_NAMES[from_role]}: nothing was changed",
        )
    if actor_role is not Role.HOST and not own_step_down and (role is Role.COHOST or current is Role.COHOST):
        raise Forbidden("only_host_assigns_cohosts", "only the host assigns or removes co-hosts")
    if target in space.blocked and role is not Role.LISTENER:
        raise Conflict(names.USER_BLOCKED_RULE, "a blocked user cannot be put on stage")
    if role is current:
        return space

    cohosts = tuple(u for u in space.cohosts if u != target)
    speakers = tuple(u for u in space.speakers if u != target)
    on_stage = role in STAGE_ROLES
    # Being brought on stage answers an invitation of theirs too; the others keep their seats.
    invited = {u: i for u, i in pending_invitations(space, now).items() if u != target or not on_stage}
    if role is Role.COHOST:
        if len(cohosts) >= limits.max_cohosts:
            raise Conflict("cohost_limit", f"a Space has at most {limits.max_cohosts} co-hosts")
        cohosts += (target,)
    elif role is Role.SPEAKER:
        _require_speaker_seat(speakers, invited, limits)
        speakers += (target,)
    changed = space.replace(
        cohosts=cohosts,
        speakers=speakers,
        # Being brought on stage answers the raised hand.
        raised_hands=_without(space.raised_hands, target) if on_stage else space.raised_hands,
        invited=invited,
        pinned=space.pinned if on_stage or space.pinned != target else None,
    )
    return _valid_pin_source(changed)


def pending_invitations(space: Space, now: datetime) -> dict[str, Invitation]:
    """The invitations to speak still waiting at `now`: a lapsed one is dropped by the next
    invitation, answer or role change (stored, it is only read through this)."""
    return {user: invitation for user, invitation in space.invited.items() if invitation.until > now}


def authorize_invitation(space: Space, *, actor: str) -> None:
    """Whether the actor may invite anyone at all, or withdraw an invitation (host, co-hosts)."""
    _require_moderator(space, actor=actor, doing="invite people to speak or withdraw invitations")


def invite(space: Space, *, actor: str, target: str, tag: str, limits: Limits, now: datetime) -> Space:
    """A moderator asks a listener to speak; the listener answers (accept_invitation,
    decline_invitation). Until then nothing about them changes and nobody else learns who they
    are: their name and microphone go on stage, into the broadcast and its recording only once they
    agree. The invitation holds a speaker seat for INVITATION_SECONDS. Someone whose hand is raised
    asked already: they are brought on stage at once, as approving the hand does. Sending it again
    restarts its wait. `tag`: the invitee's viewer tag (viewers.viewer_tag)."""
    require_live(space)
    authorize_invitation(space, actor=actor)
    current = space.role_of(target)
    if current is not Role.LISTENER:
        raise Conflict(
            names.ROLE_CHANGED_RULE,
            f"they are {_ROLE_NAMES[current]} now, not in the audience: nothing was changed",
        )
    if target in space.blocked:
        raise Conflict(names.USER_BLOCKED_RULE, "a blocked user cannot be invited to speak")
    if target in space.raised_hands:
        return change_role(space, actor=actor, target=target, role=Role.SPEAKER, limits=limits, now=now)
    invited = pending_invitations(space, now)
    if target not in invited:
        _require_speaker_seat(space.speakers, invited, limits)
    invited[target] = Invitation(until=now + timedelta(seconds=INVITATION_SECONDS), tag=tag)
    return space.replace(invited=invited)


def accept_invitation(space: Space, *, user: str, limits: Limits, now: datetime) -> Space:
    """The invitee agrees: they are a speaker now, in the seat their invitation held."""
    require_live(space)
    require_not_blocked(space, user)
    invited = pending_invitations(space, now)
    if user not in invited:
        if space.on_stage(user):
            return space  # a repeat of an answer that went through (a double click, a retry)
        raise Conflict(
            names.NOT_INVITED_RULE,
            "no invitation to speak is waiting for you: it was withdrawn, it lapsed (an invitation waits"
            f" {INVITATION_SECONDS} s), or none was sent. Nothing was changed; raise your hand to ask",
        )
    others = {u: i for u, i in invited.items() if u != user}
    _require_speaker_seat(space.speakers, others, limits)
    return space.replace(
        speakers=(*space.speakers, user), raised_hands=_without(space.raised_hands, user), invited=others
    )


def require_invitation_after_removal(removed_at: datetime | None, listed_since: datetime | None) -> None:
    """An invitation answered by someone a host removed (without a block) and who has not joined
    again since: it was stored by a write that raced the removal (which takes invitations away), so
    it is not theirs to answer."""
    if back_since_removal(removed_at, listed_since):
        return
    raise Conflict(
        names.NOT_INVITED_RULE,
        "no invitation to speak is waiting for you: a host removed you from this Space after it was sent."
        " Nothing was changed",
    )


def decline_invitation(space: Space, *, actor: str, target: str, now: datetime) -> Space:
    """The invitee says no, or a moderator withdraws the invitation. Nothing to withdraw is the
    no-op any repeat is."""
    if actor != target:
        authorize_invitation(space, actor=actor)
    waiting = pending_invitations(space, now)
    if target not in waiting:
        return space
    return space.replace(invited={u: i for u, i in waiting.items() if u != target})


def _require_speaker_seat(speakers: tuple[str, ...], invited: dict[str, Invitation], limits: Limits) -> None:
    """A free speaker seat: one not taken by a speaker nor held by someone else's invitation."""
    if len(speakers) + len(invited) < limits.max_speakers:
        return
    held = f" ({len(invited)} held by invitations waiting for an answer)" if invited else ""
    raise Conflict("speaker_limit", f"a Space has at most {limits.max_speakers} speakers{held}")


def raise_hand(space: Space, *, user: str, limits: Limits) -> Space:
    if not may_raise(space, user=user, queued=len(space.raised_hands), limits=limits):
        return space
    return space.replace(raised_hands=(*space.raised_hands, user))


def may_raise(space: Space, *, user: str, queued: int, limits: Limits) -> bool:
    """Whether `user` may add a hand to a queue of `queued` (False: theirs is raised already, nothing
    to do); the refusal as an error. `space` needs no more than the user's own hand and block: a
    member's read with a queue length read apart refuses as the whole Space would."""
    require_live(space)
    require_not_blocked(space, user)
    if space.on_stage(user):
        raise Conflict("already_on_stage", "you are already on stage")
    if user in space.raised_hands:
        return False
    if queued >= limits.max_raised_hands:
        raise Conflict("hand_queue_full", f"at most {limits.max_raised_hands} hands can be raised at once")
    return True


def lower_hand(space: Space, *, user: str) -> Space:
    if user not in space.raised_hands:
        return space
    return space.replace(raised_hands=_without(space.raised_hands, user))


def authorize_removal(space: Space, *, actor: str) -> None:
    """Whether the actor may remove anyone at all (host, co-host); whom: the rule."""
    _require_moderator(space, actor=actor, doing="can have someone removed")


def remove(space: Space, *, actor: str, target: str, block: bool, limits: Limits) -> Space:
    _require_not_ended(space)
    _require_may_moderate(space, actor=actor, target=target, verb="removed")
    blocked = space.blocked
    if block and target not in blocked:
        if len(blocked) >= limits.max_blocked:
            raise Conflict("block_list_full", f"a Space blocks at most {limits.max_blocked} users")
        blocked += (target,)
    return space.replace(
        cohosts=_without(space.cohosts, target),
        speakers=_without(space.speakers, target),
        raised_hands=_without(space.raised_hands, target),
        invited={u: i for u, i in space.invited.items() if u != target},
        blocked=blocked,
        pinned=None if space.pinned == target else space.pinned,
        pinned_source=VideoSource.CAMERA if space.pinned == target else space.pinned_source,
    )


def removed_since(removed_at: datetime | None, since: datetime) -> bool:
    """Whether a host's removal (without a block) came after `since`, when a grant was issued."""
    return removed_at is not None and removed_at > since


def require_not_removed_since(removed_at: datetime | None, *, since: datetime) -> None:
    """A page joining by itself (a reload, a reconnect, a promotion from the broadcast) names when it
    last joined: a host who removed its person after that was not seen by it (nobody was connected
    to the room), so it is told now and does not slip back in. Joining again on purpose asks without
    `since` and is let in (a removal without a block is not a ban)."""
    if removed_at is not None and removed_since(removed_at, since):
        raise Conflict(
            names.REMOVED_RULE,
            f"a host removed you from this Space at {removed_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC,"
            " after you last joined; ask for a token without rejoin_since to join again",
        )


def back_since_removal(removed_at: datetime | None, listed_since: datetime | None) -> bool:
    """Whether someone is not held back by a host's removal (without a block): there was none, or
    they joined again on purpose after it (their audience entry was listed after it)."""
    return removed_at is None or (listed_since is not None and listed_since > removed_at)


def require_back_since_removal(removed_at: datetime | None, listed_since: datetime | None) -> None:
    """Someone a host removed (without a block) is brought on stage only once they came back (a
    join on purpose lists them again, `listed_since`): an invitation from a list read before the
    removal (another moderator's page) must not put them on stage, where their next join would
    land them."""
    if removed_at is None or back_since_removal(removed_at, listed_since):
        return
    raise Conflict(
        names.TARGET_REMOVED_RULE,
        f"they were removed from this Space by a host at {removed_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
        " and have not joined again since; they can be invited once they do. Nothing was changed",
    )


def as_seen_by(space: Space, viewer: str) -> Space:
    """The Space as `viewer` may see it: the queue of raised hands and the invitations waiting are
    the host's and co-hosts' to act on; anyone else sees at most their own hand (and so only its
    name) and their own invitation."""
    if space.role_of(viewer) in MODERATORS:
        return space
    return space.replace(
        raised_hands=tuple(user for user in space.raised_hands if user == viewer),
        invited={user: i for user, i in space.invited.items() if user == viewer},
    )


def authorize_mute(space: Space, *, actor: str, target: str) -> None:
    """Muting changes nothing stored: it only checks the rule before the SFU mutes the tracks. The
    Space's own fields decide it (store.get_own)."""
    require_live(space)
    if actor != target:
        _require_may_moderate(space, actor=actor, target=target, verb="muted")
    if not space.on_stage(target):
        raise Conflict("not_on_stage", "only people on stage publish audio; there is nothing to mute")


def authorize_pin(space: Space, *, actor: str) -> None:
    if actor != space.host:
        raise Forbidden("only_host_pins", "only the host pins the spotlight")


def pin(space: Space, *, actor: str, target: str | None, source: VideoSource = VideoSource.CAMERA) -> Space:
    """Pin someone's camera, or the screen share of the host or a co-host (null unpins). A screen pin
    holds while they are not sharing: the agent shows the share whenever it is published."""
    _require_not_ended(space)
    authorize_pin(space, actor=actor)
    if target is not None and not space.on_stage(target):
        raise Conflict("pin_not_on_stage", "only someone on stage can be pinned")
    if target is None:
        source = VideoSource.CAMERA  # null unpins, whatever the source
    elif source is VideoSource.SCREEN_SHARE and not screen_share_allowed(space.role_of(target), space.video):
        raise Conflict(
            "pin_screen_not_allowed",
            "only the host and co-hosts share a screen, and only in a Space with video",
        )
    if (target, source) == (space.pinned, space.pinned_source):
        return space
    return space.replace(pinned=target, pinned_source=source)


def join_role(space: Space, *, user: str) -> Role:
    """The role a join token is minted for: the stored role, never anything the caller asks for."""
    require_live(space)
    require_not_blocked(space, user)
    return space.role_of(user)


def _require_moderator(space: Space, *, actor: str, doing: str) -> Role:
    actor_role = space.role_of(actor)
    if actor_role not in MODERATORS:
        raise Forbidden("moderators_only", f"only the host and co-hosts {doing}")
    return actor_role


def _require_may_moderate(space: Space, *, actor: str, target: str, verb: str) -> None:
    actor_role = _require_moderator(space, actor=actor, doing=f"can have someone {verb}")
    target_role = space.role_of(target)
    if target_role is Role.HOST:
        raise Forbidden("host_protected", f"the host cannot be {verb}")
    if target_role is Role.COHOST and actor_role is not Role.HOST:
        raise Forbidden("only_host_moderates_cohosts", f"only the host can have a co-host {verb}")


def _valid_pin_source(space: Space) -> Space:
    """A screen pin on someone who may no longer share (demoted to speaker) becomes a camera pin;
    no pin at all is always a camera pin."""
    if space.pinned_source is VideoSource.CAMERA:
        return space
    if space.pinned is not None and screen_share_allowed(space.role_of(space.pinned), space.video):
        return space
    return space.replace(pinned_source=VideoSource.CAMERA)


def _require_not_ended(space: Space) -> None:
    if space.state is SpaceState.ENDED:
        raise Conflict("space_ended", "the Space has ended")


def _without(users: tuple[str, ...], user: str) -> tuple[str, ...]:
    return tuple(u for u in users if u != user)
