"""HLS viewers' presence heartbeats: how the listener count includes people who never join the room
(docs/control-plane.md, "Listener count")."""

from fastapi import APIRouter, Response, status

from ...usecases import presence
from ..deps import CurrentCaller, UseCases
from ..schemas import Problem
from ._params import PROBLEMS, SpaceId

router = APIRouter(prefix="/spaces/{space_id}", tags=["presence"], responses=PROBLEMS)


@router.post(
    "/presence",
    status_code=status.HTTP_204_NO_CONTENT,
    # No body: documented without content, so the OpenAPI document does not promise JSON.
    response_class=Response,
    responses={
        204: {
            "description": "counted in the current window (once per interval: a repeat counts once), "
            "and kept in the host's listener list"
        },
        403: {"model": Problem, "description": "blocked from this Space (`blocked`)"},
        409: {
            "model": Problem,
            "description": "the Space is not live (`space_not_live`), or the caller is on stage "
            "(`presence_on_stage`)",
        },
    },
)
def heartbeat(space_id: SpaceId, caller: CurrentCaller, ctx: UseCases) -> Response:
    """An HLS viewer calls this while the player plays, every `presence_interval_seconds` of their
    join answer. No body. Each viewer falls into one window of every two, so the listener count's
    HLS part is the last complete window's count times two; each call also keeps the caller in the
    host's listener list."""
    presence.heartbeat(ctx, actor=caller, space_id=space_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
