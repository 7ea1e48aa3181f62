"""Join tokens: grants come from the stored role and the Space's video policy, nothing else."""

from fastapi import APIRouter

from ..deps import CurrentUser, ServiceDep
from ..schemas import TokenResponse
from ._params import PROBLEMS, SpaceId

router = APIRouter(prefix="/spaces", tags=["tokens"], responses=PROBLEMS)


@router.post("/{space_id}/token")
async def join_token(space_id: SpaceId, user: CurrentUser, spaces: ServiceDep) -> TokenResponse:
    # The hottest endpoint runs on the event loop without thread hops: its only I/O is one
    # primary-key read (sub-millisecond on SQLite; on Lambda one request owns the whole process).
    grant = spaces.join(actor=user, space_id=space_id)
    return TokenResponse(
        url=grant.url,
        token=grant.token,
        identity=grant.identity,
        role=grant.role.value,
        expires_at=grant.expires_at,
    )
