"""A join: a WebRTC token whose grants follow the stored role, or the HLS broadcast."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ..domain import broadcast, grants, stage
from ..domain.broadcast import JoinMode
from ..domain.model import Role
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


def join(ctx: Context, *, actor: str, space_id: str) -> JoinGrant | BroadcastGrant:
    settings = ctx.settings
    # Only the caller's own block/hand records are read: one round trip, whatever the Space's size.
    space = ctx.store.require(space_id, member=actor)
    role = stage.join_role(space, user=actor)
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
        attributes=grants.participant_attributes(role),
        ttl=timedelta(seconds=settings.token_ttl_seconds),
        now=ctx.clock(),
    )
    return JoinGrant(
        url=settings.client_livekit_url,
        token=minted.token,
        identity=actor,
        role=role,
        expires_at=minted.expires_at,
    )
