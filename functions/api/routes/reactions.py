"""Reactions: anyone in a live Space (listeners too, on WebRTC or HLS) sends an emoji; the room
gets one aggregate per window (docs/reactions.md)."""

from __future__ import annotations

import math
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from contract.names import REACTION_EMOJI

from ...media.gateway import RoomGateway
from ...services.reactions import RateLimited, ReactionService
from ...store.base import SpaceStore
from ...store.reactions import ReactionStore, open_reactions
from ..deps import CurrentUser, SettingsDep, get_gateway, get_store
from ._params import PROBLEMS, SpaceId

router = APIRouter(prefix="/spaces/{space_id}", tags=["reactions"], responses=PROBLEMS)

Emoji = Literal["👏", "😂", "❤️", "🔥", "💯", "🙏", "😮", "👍"]
assert Emoji.__args__ == REACTION_EMOJI  # type: ignore[attr-defined]


class ReactionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    emoji: Emoji = Field(description="one of REACTION_EMOJI")


_reaction_stores: dict[tuple[str, str, str | None], ReactionStore] = {}


async def get_reaction_store(settings: SettingsDep) -> ReactionStore:
    location = settings.table_name if settings.store == "dynamodb" else settings.sqlite_path
    key = (settings.store, location, settings.dynamodb_endpoint)
    if key not in _reaction_stores:
        _reaction_stores[key] = open_reactions(settings)
    return _reaction_stores[key]


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
    responses={429: {"description": "rate limited; see Retry-After"}},
)
async def react(
    space_id: SpaceId, body: ReactionRequest, user: CurrentUser, reactions: ReactionServiceDep
) -> Response:
    """Counted into the current window; the room receives the window's aggregate (data topic
    REACTIONS_TOPIC) within about a second. 429 with Retry-After beyond 1/s or 10 per 10 s."""
    try:
        await reactions.react(actor=user, space_id=space_id, emoji=body.emoji)
    except RateLimited as exc:
        return JSONResponse(
            {"detail": str(exc), "rule": "reaction_rate_limited"},
            status_code=status.HTTP_429_TOO_MANY_REQUESTS,
            headers={"Retry-After": str(max(1, math.ceil(exc.retry_after)))},
        )
    return Response(status_code=status.HTTP_202_ACCEPTED)
