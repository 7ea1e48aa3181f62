"""Reactions: anyone in a live Space (listeners too, on WebRTC or HLS) sends an emoji; the room
gets one aggregate per window (docs/reactions.md)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Response, status
from pydantic import BaseModel, ConfigDict, Field

from contract.names import REACTION_EMOJI, REACTION_RATE_LIMITED_RULE

from ...livekit_edge.gateway import RoomGateway
from ...reconcile.wiring import reactions_store_for
from ...store.base import SpaceStore
from ...store.reactions import ReactionStore
from ...usecases.reactions import ReactionService
from ..deps import CurrentUser, SettingsDep, get_gateway, get_store
from ..schemas import Problem
from ._params import BODY_PROBLEMS, PROBLEMS, RETRY_AFTER, SpaceId

router = APIRouter(prefix="/spaces/{space_id}", tags=["reactions"], responses=PROBLEMS)

Emoji = Literal["👏", "😂", "❤️", "🔥", "💯", "🙏", "😮", "👍"]
# The schema's enum is written out for the type checker; it must stay the contract's list.
if Emoji.__args__ != REACTION_EMOJI:  # type: ignore[attr-defined]
    raise RuntimeError("routes/reactions.py Emoji differs from contract.names.REACTION_EMOJI")


class ReactionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    emoji: Emoji = Field(description="one of REACTION_EMOJI")


async def get_reaction_store(settings: SettingsDep) -> ReactionStore:
    return reactions_store_for(settings)


async def get_reaction_service(
    spaces: Annotated[SpaceStore, Depends(get_store)],
    store: Annotated[ReactionStore, Depends(get_reaction_store)],
    gateway: Annotated[RoomGateway, Depends(get_gateway)],
) -> ReactionService:
    return ReactionService(spaces=spaces, store=store, gateway=gateway)


ReactionServiceDep = Annotated[ReactionService, Depends(get_reaction_service)]


@router.post(
    "/reactions",
    status_code=status.HTTP_202_ACCEPTED,
    # No body: documented without content, so the OpenAPI document does not promise JSON.
    response_class=Response,
    responses={
        202: {"description": "counted into the current window"},
        429: {
            "model": Problem,
            "description": f"rule `{REACTION_RATE_LIMITED_RULE}`; see Retry-After",
            "headers": RETRY_AFTER,
        },
        **BODY_PROBLEMS,
    },
)
async def react(
    space_id: SpaceId, body: ReactionRequest, user: CurrentUser, reactions: ReactionServiceDep
) -> Response:
    """Counted into the current window; the room receives the window's aggregate (data topic
    REACTIONS_TOPIC) within about a second. 429 with Retry-After beyond 1/s or 10 in a 10 s window
    of the clock."""
    await reactions.react(actor=user, space_id=space_id, emoji=body.emoji)
    return Response(status_code=status.HTTP_202_ACCEPTED)
