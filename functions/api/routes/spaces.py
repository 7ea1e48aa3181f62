"""Spaces: create, discover, read, start, end."""

from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Response, status

from ...domain.model import SpaceState, VideoPolicy
from ...store.base import CURSOR_PATTERN
from ...usecases import spaces
from ..deps import CurrentCaller, CurrentUser, PresenterDep, UseCases
from ..schemas import SpaceChange, SpaceCreate, SpacePage, SpacePublic
from ._params import ACCEPTED, BODY_PROBLEMS, PROBLEMS, SpaceId

router = APIRouter(prefix="/spaces", tags=["spaces"], responses=PROBLEMS)

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", min_length=1, max_length=128)]


@router.post("", status_code=status.HTTP_201_CREATED, responses=BODY_PROBLEMS)
def create_space(
    body: SpaceCreate,
    caller: CurrentCaller,
    ctx: UseCases,
    show: PresenterDep,
    idempotency_key: IdempotencyKey = None,
) -> SpacePublic:
    """Create a Space hosted by the caller (403 `hosting_not_allowed` when the deployment lets only
    a group host and the caller is not in it). Repeating a request with the same Idempotency-Key
    returns the Space the first one created."""
    space = spaces.create(
        ctx,
        actor=caller.id,
        title=body.title,
        video=VideoPolicy(body.video),
        scheduled_start=body.scheduled_start,
        idempotency_key=idempotency_key,
        name=caller.name,
        picture=caller.picture,
        groups=caller.groups,
        record=body.record,
    )
    return show(space)


@router.get("")
def discover_spaces(
    user: CurrentUser,
    ctx: UseCases,
    show: PresenterDep,
    # Ended Spaces are listed for their recordings (the lobby's Replay), most recently ended first.
    state: Literal["live", "scheduled", "ended"] = "live",
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[
        str | None, Query(pattern=CURSOR_PATTERN, description="`cursor` of the previous page, as given")
    ] = None,
) -> SpacePage:
    page = spaces.discover(ctx, state=SpaceState(state), limit=limit, cursor=cursor)
    return SpacePage(items=[show.listed(s) for s in page.items], cursor=page.cursor)


@router.get("/{space_id}")
def get_space(space_id: SpaceId, user: CurrentUser, ctx: UseCases, show: PresenterDep) -> SpacePublic:
    """The Space. `raised_hands` is the whole queue for its host and co-hosts; anyone else sees
    at most their own hand (the queue is the moderators' to act on)."""
    return show(spaces.get(ctx, space_id, viewer=user))


@router.post("/{space_id}/start", responses=ACCEPTED)
async def start_space(
    space_id: SpaceId, user: CurrentUser, ctx: UseCases, show: PresenterDep, response: Response
) -> SpaceChange:
    """Host only: the Space is live; the reconciler creates the room and dispatches its agents. A
    host already hosting `SPACES_MAX_LIVE_PER_HOST` live Spaces (2 in the cloud stack) gets 409
    `too_many_live_spaces`."""
    return show.accepted(await spaces.start(ctx, actor=user, space_id=space_id), response)


@router.post("/{space_id}/end", responses=ACCEPTED)
async def end_space(
    space_id: SpaceId, user: CurrentUser, ctx: UseCases, show: PresenterDep, response: Response
) -> SpaceChange:
    """Host only: the Space is over; the reconciler deletes the room (everyone is disconnected)."""
    return show.accepted(await spaces.end(ctx, actor=user, space_id=space_id), response)
