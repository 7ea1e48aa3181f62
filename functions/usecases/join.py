"""A join: a WebRTC token whose grants follow the stored role, or the HLS broadcast."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ..domain import broadcast, grants, people, stage
from ..domain.broadcast import JoinMode
from ..domain.model import STAGE_ROLES, Role
from ..livekit_edge import tokens
from .context import Context


@dataclass(frozen=True)
class JoinGrant:
    """Join the room over WebRTC."""

    url: str
    token: str
    identity: str
    role: Role
    expires_at: datetime


@dataclass(frozen=True)
class BroadcastGrant:
    """Watch the HLS broadcast: the room's WebRTC audience is full."""

    playlist_url: str
    identity: str
    role: Role


def join(
    ctx: Context, *, actor: str, space_id: str, name: str | None = None, picture: str | None = None
) -> JoinGrant | BroadcastGrant:
    """`name` and `picture` (already cleaned, domain/people.py) go into the token: the participant's
    name and its PICTURE_ATTRIBUTE, which everyone in the room sees."""
    settings = ctx.settings
    # Only the caller's own block/hand records are read: one round trip, whatever the Space's size.
    space = ctx.store.require(space_id, member=actor)
    role = stage.join_role(space, user=actor)
    if name is not None and role in STAGE_ROLES and space.names.get(actor) != name:
        _remember_stage_name(ctx, space_id, people.Caller(actor, name))
    policy = settings.broadcast
    mode = broadcast.join_mode(role, listener_count=space.listener_count, policy=policy)
    if mode is JoinMode.HLS and policy.base_url is not None:
        links = broadcast.links(policy.base_url, space.id)
        return BroadcastGrant(playlist_url=links.playlist_url, identity=actor, role=role)
    creds = settings.livekit_credentials()
    minted = tokens.mint(
        api_key=creds.api_key,
        api_secret=creds.api_secret,
        room=space.room_name,
        identity=actor,
        permission=grants.permission_for(role, space.video),
        attributes=grants.participant_attributes(role) | people.picture_attributes(picture),
        ttl=timedelta(seconds=settings.token_ttl_seconds),
        now=ctx.clock(),
        name=name,
    )
    return JoinGrant(
        url=settings.client_livekit_url,
        token=minted.token,
        identity=actor,
        role=role,
        expires_at=minted.expires_at,
    )


def _remember_stage_name(ctx: Context, space_id: str, caller: people.Caller) -> None:
    """A stage member whose display name the Space does not know yet (promoted without a raised
    hand, or renamed at the identity provider): stored for the room metadata's `names`, which HLS
    viewers read. Rare (once per name change), so the token path stays one read otherwise. No
    converge here: the participant_joined webhook this join causes wakes the reconciler, which
    publishes the metadata."""
    ctx.store.update(space_id, lambda s: people.named(s, caller) if s.on_stage(caller.id) else s)
