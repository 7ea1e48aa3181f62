"""The stage: hands, roles, moderation, the spotlight pin."""

from fastapi import APIRouter

from ...domain.model import Role
from ..deps import CurrentUser, PresenterDep, ServiceDep
from ..schemas import RemoveRequest, RoleUpdate, SpacePublic, SpotlightUpdate
from ._params import BODY_PROBLEMS, PROBLEMS, SpaceId, TargetUser

router = APIRouter(prefix="/spaces/{space_id}", tags=["stage"], responses=PROBLEMS)


@router.post("/hand")
async def raise_hand(
    space_id: SpaceId, user: CurrentUser, spaces: ServiceDep, show: PresenterDep
) -> SpacePublic:
    """Ask to speak (listeners, live Spaces). The host and co-hosts learn it from the room."""
    return show(await spaces.raise_hand(actor=user, space_id=space_id))


@router.delete("/hand")
async def lower_hand(
    space_id: SpaceId, user: CurrentUser, spaces: ServiceDep, show: PresenterDep
) -> SpacePublic:
    return show(await spaces.lower_hand(actor=user, space_id=space_id))


@router.put("/roles/{user_id}", responses=BODY_PROBLEMS)
async def set_role(
    space_id: SpaceId,
    user_id: TargetUser,
    body: RoleUpdate,
    user: CurrentUser,
    spaces: ServiceDep,
    show: PresenterDep,
) -> SpacePublic:
    """Host: co-hosts (at most 2). Host and co-hosts: speakers. Applied live to a connected user."""
    space = await spaces.change_role(actor=user, space_id=space_id, target=user_id, role=Role(body.role))
    return show(space)


@router.post("/participants/{user_id}/mute")
async def mute(
    space_id: SpaceId, user_id: TargetUser, user: CurrentUser, spaces: ServiceDep, show: PresenterDep
) -> SpacePublic:
    return show(await spaces.mute(actor=user, space_id=space_id, target=user_id))


@router.post("/participants/{user_id}/remove", responses=BODY_PROBLEMS)
async def remove(
    space_id: SpaceId,
    user_id: TargetUser,
    user: CurrentUser,
    spaces: ServiceDep,
    show: PresenterDep,
    body: RemoveRequest | None = None,
) -> SpacePublic:
    """Disconnect a participant; with block, their next token request is refused (403)."""
    block = body.block if body is not None else False
    return show(await spaces.remove(actor=user, space_id=space_id, target=user_id, block=block))


@router.put("/spotlight", responses=BODY_PROBLEMS)
async def pin_spotlight(
    space_id: SpaceId, body: SpotlightUpdate, user: CurrentUser, spaces: ServiceDep, show: PresenterDep
) -> SpacePublic:
    """Host: pin someone on stage to the spotlight (null unpins). The agent reads it from room metadata."""
    return show(await spaces.pin(actor=user, space_id=space_id, target=body.user_id))
