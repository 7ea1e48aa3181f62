"""Spaces: create, discover, read, start, end."""

from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, status

from ...domain.model import SpaceState, VideoPolicy
from ...store.base import CURSOR_PATTERN
from ..deps import CurrentUser, PresenterDep, ServiceDep
from ..schemas import SpaceCreate, SpacePage, SpacePublic
from ._params import BODY_PROBLEMS, PROBLEMS, SpaceId

router = APIRouter(prefix="/spaces", tags=["spaces"], responses=PROBLEMS)

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", min_length=1, max_length=128)]


@router.post("", status_code=status.HTTP_201_CREATED, responses=BODY_PROBLEMS)
def create_space(
    body: SpaceCreate,
    user: CurrentUser,
    spaces: ServiceDep,
    show: PresenterDep,
    idempotency_key: IdempotencyKey = None,
) -> SpacePublic:
    """Create a Space hosted by the caller. Repeating a request with the same Idempotency-Key
    returns the Space the first one created."""
    space = spaces.create(
        actor=user,
        title=body.title,
        video=VideoPolicy(body.video),
        scheduled_start=body.scheduled_start,
        idempotency_key=idempotency_key,
    )
    return show(space)


@router.get("")
def discover_spaces(
    user: CurrentUser,
    spaces: ServiceDep,
    show: PresenterDep,
    # Ended Spaces are listed for their recordings (the lobby's Replay), most recently ended first.
    state: Literal["live", "scheduled", "ended"] = "live",
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[
        str | None, Query(pattern=CURSOR_PATTERN, description="`cursor` of the previous page, as given")
    ] = None,
) -> SpacePage:
    page = spaces.discover(state=SpaceState(state), limit=limit, cursor=cursor)
    return SpacePage(items=[show(s) for s in page.items], cursor=page.cursor)


@router.get("/{space_id}")
def get_space(space_id: SpaceId, user: CurrentUser, spaces: ServiceDep, show: PresenterDep) -> SpacePublic:
    return show(spaces.get(space_id))


@router.post("/{space_id}/start")
async def start_space(
    space_id: SpaceId, user: CurrentUser, spaces: ServiceDep, show: PresenterDep
) -> SpacePublic:
    """Host only: create the LiveKit room and dispatch the stage agent into it."""
    return show(await spaces.start(actor=user, space_id=space_id))


@router.post("/{space_id}/end")
async def end_space(
    space_id: SpaceId, user: CurrentUser, spaces: ServiceDep, show: PresenterDep
) -> SpacePublic:
    """Host only: delete the room (everyone is disconnected) and end the Space."""
    return show(await spaces.end(actor=user, space_id=space_id))
