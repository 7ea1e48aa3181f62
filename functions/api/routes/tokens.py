"""Join tokens: grants come from the stored role and the Space's video policy, nothing else. A
listener arriving when the room's WebRTC audience is full gets the HLS broadcast instead."""

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BeforeValidator

from contract import names

from ...domain.stage import JOIN_LIMIT
from ...usecases.join import BroadcastGrant, join
from ..deps import CurrentCaller, UseCases
from ..schemas import (
    SCHEDULE_PATTERN,
    HlsTokenResponse,
    Problem,
    TokenResponse,
    WebRtcTokenResponse,
    rfc3339_text,
)
from ._params import PROBLEMS, RETRY_AFTER, SpaceId

router = APIRouter(prefix="/spaces", tags=["tokens"], responses=PROBLEMS)


RejoinSince = Annotated[
    AwareDatetime | None,
    BeforeValidator(rfc3339_text),
    Query(
        json_schema_extra={"pattern": SCHEDULE_PATTERN},
        description="Only from a page joining by itself (a reload, a dropped connection, a promotion "
        "from the broadcast to the room): the `issued_at` of the grant it last joined with (RFC 3339 "
        "with an offset, years 1971-9997). "
        "If a host removed the caller after that, the answer is 409 `removed` and nothing is "
        "granted; a join on purpose leaves it out.",
    ),
]


# Per user, whatever the Space, counted in each process (domain/stage.py JOIN_LIMIT,
# store/process_limits.py).
TOKEN_LIMITED: dict[int | str, dict[str, object]] = {
    429: {
        "model": Problem,
        "description": f"rule `{names.TOKEN_RATE_LIMITED_RULE}`: {JOIN_LIMIT.describe()} requests of one"
        " user, whatever the Space (per API process); see Retry-After",
        "headers": RETRY_AFTER,
    },
}


@router.post("/{space_id}/token", responses=TOKEN_LIMITED)
async def join_token(
    space_id: SpaceId, caller: CurrentCaller, ctx: UseCases, rejoin_since: RejoinSince = None
) -> TokenResponse:
    """`mode: "webrtc"`: connect to `url` with `token`. `mode: "hls"`: play `playlist_url` (the
    room holds SPACES_WEBRTC_LISTENER_LIMIT listeners already; stage roles always get WebRTC). The
    token carries the caller's display name and avatar (docs/identity.md). 409 `removed`: see
    `rejoin_since`."""
    # The hottest endpoint runs on the event loop without a thread hop, and its store calls block
    # it: a consistent read of the Space (DynamoDB: two or three BatchGetItems in parallel), the
    # removal note on a comeback, a WebRTC listener's seat claim (a read and two writes), a stage
    # member's new display name, and a listener's own list entry. On Lambda one request owns the
    # whole process, so nothing else waits; locally the store is SQLite (sub-millisecond), and the
    # reconciler's patrol, which shares the loop, waits that long.
    # A listener's name and avatar are also stored with their entry in the host's listener list.
    grant = join(
        ctx,
        actor=caller.id,
        space_id=space_id,
        name=caller.name,
        picture=caller.picture,
        rejoin_since=rejoin_since,
    )
    if isinstance(grant, BroadcastGrant):
        return HlsTokenResponse(
            mode="hls",
            playlist_url=grant.playlist_url,
            identity=grant.identity,
            role="listener",
            issued_at=grant.issued_at,
            expires_at=None,
            presence_interval_seconds=grant.presence_interval_seconds,
            viewer_tag=grant.viewer_tag,
            presence_tag=grant.presence_tag,
        )
    return WebRtcTokenResponse(
        mode="webrtc",
        url=grant.url,
        token=grant.token,
        identity=grant.identity,
        role=grant.role.value,
        issued_at=grant.issued_at,
        expires_at=grant.expires_at,
        viewer_tag=grant.viewer_tag,
    )
