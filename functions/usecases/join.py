"""A join: a WebRTC token whose grants follow the stored role, or the HLS broadcast."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from contract import names

from ..domain import audience, broadcast, grants, people, stage, viewers
from ..domain.broadcast import JoinMode
from ..domain.model import STAGE_ROLES, Role
from ..livekit_edge import tokens
from ..store.process_limits import ANY_SPACE
from . import presence
from .context import Context


@dataclass(frozen=True)
class JoinGrant:
    """Join the room over WebRTC."""

    url: str
    token: str
    identity: str
    role: Role
    issued_at: datetime
    expires_at: datetime
    # Where the room metadata tells this person of an invitation to speak (domain/viewers.py).
    viewer_tag: str = ""


@dataclass(frozen=True)
class BroadcastGrant:
    """Watch the HLS broadcast: the room's WebRTC audience is full."""

    playlist_url: str
    identity: str
    role: Role
    issued_at: datetime
    # Seconds between the page's presence heartbeats while playing; None: not sampled, none.
    presence_interval_seconds: int | None = None
    # Where state.json tells this viewer of a removal after this grant, and of an invitation to
    # speak (domain/viewers.py).
    viewer_tag: str = ""
    # What this viewer's presence heartbeats name: only HLS answers carry it (domain/viewers.py).
    presence_tag: str = ""


def join(
    ctx: Context,
    *,
    actor: str,
    space_id: str,
    name: str | None = None,
    picture: str | None = None,
    rejoin_since: datetime | None = None,
) -> JoinGrant | BroadcastGrant:
    """`name` and `picture` (already cleaned, domain/people.py) go into the token: the participant's
    name and its PICTURE_ATTRIBUTE, which everyone in the room sees. A listener's are also stored
    with their entry in the host's listener list (the user id when no name is known).
    `rejoin_since`: a page coming back by itself, last joined then (the `issued_at` of its grant);
    refused if a host removed the caller after that."""
    settings = ctx.settings
    # Taken before the read: a removal the read did not see is later than the grant's issued_at, so
    # the page's next comeback (and the room, when it connects: usecases/webhooks.py) learns of it.
    now = ctx.clock()
    ctx.spend_process_limit(
        ANY_SPACE,
        actor,
        limit=stage.JOIN_LIMIT,
        rule=names.TOKEN_RATE_LIMITED_RULE,
        what="join token requests",
    )
    # Only the caller's own block/hand records are read: one round trip, whatever the Space's size.
    space = ctx.store.require(space_id, member=actor)
    role = stage.join_role(space, user=actor)
    if rejoin_since is not None:
        # A second read, only when the page joins by itself (a reload, a reconnect, a promotion from
        # the broadcast): joins on purpose cost none.
        stage.require_not_removed_since(ctx.store.removed_at(space_id, actor, now=now), since=rejoin_since)
    if name is not None and role in STAGE_ROLES:
        caller = people.Caller(actor, name, picture)
        if not people.knows(space, caller):
            _remember_stage_name(ctx, space_id, caller)
    policy = settings.broadcast
    mode = broadcast.join_mode(role, listener_count=space.listener_count, policy=policy)
    seat: int | None = None
    if mode is JoinMode.WEBRTC and role is Role.LISTENER and policy.enabled:
        # Below the counted limit: a seat, or the broadcast (the count lags a burst of tokens).
        claim = broadcast.seat_claim(actor, listener_count=space.listener_count, policy=policy, now=now)
        seat = None if claim is None else ctx.store.claim_seat(space.id, claim)
        if seat is None:
            mode = JoinMode.HLS
    tag = viewers.viewer_tag(settings.viewer_tag_key(), space.id, actor)
    if mode is JoinMode.HLS and policy.base_url is not None:
        links = broadcast.links(policy.base_url, space.id)
        # Not in the room, so no leave will come: listed until the entry expires (renewed by the
        # next token request; no periodic call, issue 9).
        _list(ctx, space.id, actor, name, picture, now=now, hls=True)
        return BroadcastGrant(
            playlist_url=links.live_playlist_url,
            identity=actor,
            role=role,
            issued_at=now,
            presence_interval_seconds=presence.interval_for(ctx, actor),
            viewer_tag=tag,
            presence_tag=viewers.presence_tag(settings.viewer_tag_key(), space.id, actor),
        )
    if role is Role.LISTENER:
        # Removed by the participant_left webhook (usecases/webhooks.py); renewed while connected
        # by the reconciler, so it expires if that webhook is lost or nobody connects.
        _list(ctx, space.id, actor, name, picture, now=now, hls=False)
    creds = settings.livekit_credentials()
    minted = tokens.mint(
        api_key=creds.api_key,
        api_secret=creds.api_secret,
        room=space.room_name,
        identity=actor,
        permission=grants.permission_for(role, space.video),
        attributes=grants.participant_attributes(role)
        | grants.issued_attributes(now)
        | people.picture_attributes(picture)
        | broadcast.seat_attributes(seat),
        ttl=timedelta(seconds=settings.token_ttl_seconds),
        now=now,
        name=name,
    )
    return JoinGrant(
        url=settings.client_livekit_url,
        token=minted.token,
        identity=actor,
        role=role,
        issued_at=now,
        expires_at=minted.expires_at,
        viewer_tag=tag,
    )


def _list(
    ctx: Context, space_id: str, user: str, name: str | None, picture: str | None, *, now: datetime, hls: bool
) -> None:
    """The listener's own entry in the audience, replacing any under an earlier name
    (docs/listeners.md)."""
    ttl = audience.HLS_ENTRY_TTL_SECONDS if hls else audience.WEBRTC_ENTRY_TTL_SECONDS
    expires = now + timedelta(seconds=ttl)
    entry = audience.Listener(
        user_id=user, name=name or user, picture=picture, joined_at=now, expires_at=expires
    )
    ctx.store.put_listener(space_id, entry)


def _remember_stage_name(ctx: Context, space_id: str, caller: people.Caller) -> None:
    """A stage member whose display name or avatar the Space does not know yet (promoted without a
    raised hand, or renamed at the identity provider): stored for the room metadata's `names` and
    `pictures`, which HLS viewers read. Rare (once per change), so the token path stays one read otherwise. No
    converge here: the participant_joined webhook this join causes wakes the reconciler, which
    publishes the metadata."""
    ctx.store.update(space_id, lambda s: people.named(s, caller) if s.on_stage(caller.id) else s)
