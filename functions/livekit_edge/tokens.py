"""Join tokens: a LiveKit access token (HS256 JWT signed with the API secret) built from a Permission.

Signed here (HS256 is one HMAC) instead of with livekit-api's AccessToken or PyJWT, so the token
path imports neither aiohttp + protobuf nor PyJWT's optional cryptography backend: the token request
is the Lambda's hottest and most often cold path (bench/control_plane). The claim layout is LiveKit's
(camelCase `video` grant, `attributes`, `sub` = identity, `iss` = API key); the unit tests verify
every token with livekit-api's own TokenVerifier, so the two cannot drift apart.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

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
    name: str | None = None,
) -> JoinToken:
    """`name`: the participant's display name (LiveKit's `name` claim, what every other participant
    and the composer see); the identity stays the user id."""
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
    claims: dict[str, object] = {
        "iss": api_key,
        "sub": identity,
        "nbf": int(issued.timestamp()),
        "exp": int(expires.timestamp()),
        "video": video,
        "attributes": attributes,
    }
    if name is not None:
        claims["name"] = name
    return JoinToken(token=sign_hs256(claims, api_secret), expires_at=expires)


_HEADER = {"alg": "HS256", "typ": "JWT"}


def sign_hs256(claims: Mapping[str, object], secret: str) -> str:
    """A compact JWS (RFC 7515) with HMAC-SHA256: base64url(header).base64url(claims).base64url(mac)."""
    signing_input = f"{_b64(_HEADER)}.{_b64(claims)}"
    mac = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


def _b64(doc: Mapping[str, object]) -> str:
    raw = json.dumps(doc, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
