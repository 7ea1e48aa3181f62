"""HLS viewers' presence heartbeats: how the listener count includes people who never join the room
(docs/control-plane.md, "Listener count")."""

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from ...domain.presence import HEARTBEATS_PER_WINDOW
from ...domain.viewers import TAG_PATTERN
from ...usecases import presence
from ..deps import CurrentUser, UseCases
from ..schemas import Problem
from ._params import PROBLEMS, RETRY_AFTER, SpaceId

router = APIRouter(prefix="/spaces/{space_id}", tags=["presence"], responses=PROBLEMS)


@router.post(
    "/presence",
    status_code=status.HTTP_204_NO_CONTENT,
    # No body: documented without content, so the OpenAPI document does not promise JSON.
    response_class=Response,
    responses={
        204: {"description": "counted in the current window (a repeat within the window counts once)"},
        403: {
            "model": Problem,
            "description": "blocked from this Space (`blocked`), or `presence_tag` is not the caller's "
            "own from an HLS join answer (`presence_not_hls`)",
        },
        409: {
            "model": Problem,
            "description": "the Space is not live (`space_not_live`), the caller is on stage "
            "(`presence_on_stage`), or the caller is not in the sample (`presence_not_sampled`)",
        },
        429: {
            "model": Problem,
            "description": f"rule `presence_rate_limited`: more than {HEARTBEATS_PER_WINDOW} heartbeats in"
            " one window (per API process); see Retry-After",
            "headers": RETRY_AFTER,
        },
    },
)
def heartbeat(
    space_id: SpaceId,
    user: CurrentUser,
    ctx: UseCases,
    presence_tag: Annotated[
        str, Query(pattern=TAG_PATTERN, description="the `presence_tag` of the caller's HLS join answer")
    ],
) -> Response:
    """An HLS viewer whose join answer gave `presence_interval_seconds` calls this while the player
    plays, once per interval, naming the answer's `presence_tag`. No body. The listener count's HLS
    part is the last complete window's count divided by the sampling rate."""
    presence.heartbeat(ctx, actor=user, space_id=space_id, presence_tag=presence_tag)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
