"""A join: a WebRTC token whose grants follow the stored role, or the HLS broadcast."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ..domain import audience, broadcast, grants, stage
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


def join(
    ctx: Context, *, actor: str, space_id: str, name: str | None = None, picture: str | None = None
) -> JoinGrant | BroadcastGrant:
    """`name` and `picture` are how the host's listener list shows a listener (the user id when
    no name is known)."""
    settings = ctx.settings
    # Only the caller's own block/hand records are read: one round trip, whatever the Space's size.
    space = ctx.store.require(space_id, member=actor)
    role = stage.join_role(space, user=actor)
    policy = settings.broadcast
    mode = broadcast.join_mode(role, listener_count=space.listener_count, policy=policy)
    now = ctx.clock()
    if mode is JoinMode.HLS and policy.base_url is not None:
        links = broadcast.links(policy.base_url, space.id)
        # Not in the room, so no leave will come: listed until the entry expires (renewed by the
        # next token request; no periodic call, issue 9).
        _list(ctx, space.id, actor, name, picture, now=now, hls=True)
        return BroadcastGrant(playlist_url=links.playlist_url, identity=actor, role=role)
    if role is Role.LISTENER:
        # Removed by the participant_left webhook (usecases/webhooks.py).
        _list(ctx, space.id, actor, name, picture, now=now, hls=False)
    creds = settings.livekit_credentials()
    minted = tokens.mint(
        api_key=creds.api_key,
        api_secret=creds.api_secret,
        room=space.room_name,
        identity=actor,
        permission=grants.permission_for(role, space.video),
        attributes=grants.participant_attributes(role),
        ttl=timedelta(seconds=settings.token_ttl_seconds),
        now=now,
    )
    return JoinGrant(
        url=settings.client_livekit_url,
        token=minted.token,
        identity=actor,
        role=role,
        expires_at=minted.expires_at,
    )


def _list(
    ctx: Context, space_id: str, user: str, name: str | None, picture: str | None, *, now: datetime, hls: bool
) -> None:
    """One write: the listener's own entry in the audience (docs/listeners.md)."""
    expires = now + timedelta(seconds=audience.HLS_ENTRY_TTL_SECONDS) if hls else None
    entry = audience.Listener(
        user_id=user, name=name or user, picture=picture, joined_at=now, expires_at=expires
    )
    ctx.store.put_listener(space_id, entry)
