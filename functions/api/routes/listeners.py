"""The host's listener list. Inviting, removing and blocking from it use the stage routes
(`PUT /spaces/{id}/roles/{user}`, `POST /spaces/{id}/participants/{user}/remove`)."""

from typing import Annotated

from fastapi import APIRouter, Query

from ...domain import audience
from ...usecases.audience import list_listeners
from ..deps import CurrentUser, UseCases
from ..schemas import ListenerPageOut, ListenerPublic
from ._params import PROBLEMS, SpaceId

router = APIRouter(prefix="/spaces/{space_id}", tags=["listeners"], responses=PROBLEMS)


@router.get("/listeners")
def get_listeners(
    space_id: SpaceId,
    user: CurrentUser,
    ctx: UseCases,
    q: Annotated[
        str | None,
        Query(
            max_length=audience.QUERY_MAX_CHARS,
            description="the start of the name or of any later word of it (up to the fourth);"
            " case, accents and repeated spaces are ignored",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=audience.PAGE_MAX)] = audience.PAGE_DEFAULT,
    cursor: Annotated[
        str | None,
        Query(pattern=audience.CURSOR_PATTERN, description="`next_cursor` of the previous page, as given"),
    ] = None,
) -> ListenerPageOut:
    """Host and co-hosts: the Space's listeners in name order, searchable by the start of any word
    of the name (whole-name matches first, then later-word matches, each listener once). Listeners
    on stage or blocked are not listed; HLS viewers are listed for an hour after their last token."""
    page = list_listeners(ctx, actor=user, space_id=space_id, query=q, limit=limit, cursor=cursor)
    return ListenerPageOut(
        items=[
            ListenerPublic(
                user_id=row.listener.user_id,
                name=row.listener.name,
                picture=row.listener.picture,
                hand_raised=row.hand_raised,
                joined_at=row.listener.joined_at,
                viewer_tag=row.viewer_tag,
            )
            for row in page.items
        ],
        next_cursor=page.next_cursor,
    )
