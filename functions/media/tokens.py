"""Join tokens: a LiveKit access token (HS256 JWT signed with the API secret) built from a Permission.

Minted with PyJWT instead of livekit-api's AccessToken so the token path does not import aiohttp
and protobuf (≈ half a second of Lambda cold start). The claim layout is LiveKit's (camelCase
`video` grant, `attributes`, `sub` = identity, `iss` = API key); the unit tests verify every token
with livekit-api's own TokenVerifier so the two cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from ..domain.grants import Permission


@dataclass(frozen=True)
class JoinToken:
    token: str
    expires_at: datetime


def mint(
    *,
    api_key: str,
    api_secret: str,
    room: str,
    identity: str,
    permission: Permission,
    attributes: dict[str, str],
    ttl: timedelta,
    now: datetime | None = None,
) -> JoinToken:
    issued = (now or datetime.now(UTC)).replace(microsecond=0)
    expires = issued + ttl
    video = {
        "room": room,
        "roomJoin": True,
        # Written out even when False: an absent canPublish means True to the SFU.
        "canPublish": permission.can_publish,
        "canPublishSources": list(permission.sources),
        "canPublishData": permission.can_publish_data,
        "canSubscribe": permission.can_subscribe,
        "canUpdateOwnMetadata": permission.can_update_own_metadata,
        "hidden": permission.hidden,
    }
    claims = {
        "iss": api_key,
        "sub": identity,
        "nbf": int(issued.timestamp()),
        "exp": int(expires.timestamp()),
        "video": video,
        "attributes": attributes,
    }
    return JoinToken(token=jwt.encode(claims, api_secret, algorithm="HS256"), expires_at=expires)
