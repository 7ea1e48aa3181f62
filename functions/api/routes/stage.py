"""The stage: hands, roles, moderation, the spotlight pin. Writes answer 200 when the room already
follows the stored change, 202 while the reconciler is still converging it."""

from fastapi import APIRouter, Response

from ...domain.model import Role, VideoSource
from ...domain.stage import HAND_LIMIT
from ...usecases import stage
from ..deps import CurrentCaller, CurrentUser, PresenterDep, UseCases
from ..schemas import (
    HostHandover,
    Problem,
    RemoveRequest,
    RoleUpdate,
    SpaceChange,
    SpacePublic,
    SpotlightUpdate,
)
from ._params import ACCEPTED, BODY_PROBLEMS, PROBLEMS, RETRY_AFTER, SpaceId, TargetUser

router = APIRouter(prefix="/spaces/{space_id}", tags=["stage"], responses=PROBLEMS)


# Hand raises and lowers share one per-user limit (domain/stage.py HAND_LIMIT).
HAND_LIMITED: dict[int | str, dict[str, object]] = {
    **ACCEPTED,
    429: {
        "model": Problem,
        "description": f"rule `hand_rate_limited`: {HAND_LIMIT.describe()} raises and lowers;"
        " see Retry-After",
        "headers": RETRY_AFTER,
    },
}


@router.post("/hand", responses=HAND_LIMITED)
async def raise_hand(
    space_id: SpaceId, caller: CurrentCaller, ctx: UseCases, show: PresenterDep, response: Response
) -> SpaceChange:
    """Ask to speak (listeners, live Spaces). The host and co-hosts learn it, with the caller's
    display name and avatar, from the room. Raises and lowers together: at most 5 in each 5 s
    window of the clock (429 with Retry-After beyond)."""
    accepted = await stage.raise_hand(
        ctx, actor=caller.id, space_id=space_id, name=caller.name, picture=caller.picture
    )
    return show.accepted(accepted, response)


@router.delete("/hand", responses=HAND_LIMITED)
async def lower_hand(
    space_id: SpaceId, user: CurrentUser, ctx: UseCases, show: PresenterDep, response: Response
) -> SpaceChange:
    return show.accepted(await stage.lower_hand(ctx, actor=user, space_id=space_id), response)


@router.put("/roles/{user_id}", responses={**BODY_PROBLEMS, **ACCEPTED})
async def set_role(
    space_id: SpaceId,
    user_id: TargetUser,
    body: RoleUpdate,
    user: CurrentUser,
    ctx: UseCases,
    show: PresenterDep,
    response: Response,
) -> SpaceChange:
    """Host: co-hosts (at most 2). Host and co-hosts: speakers. A speaker or a co-host: themselves to
    listener (stepping down). Applied live to a connected user. With `from_role`, only if the
    person's role is still that one (409 `role_changed` otherwise). A listener a host removed is
    brought on stage only once they joined again (409 `target_removed`)."""
    accepted = await stage.change_role(
        ctx,
        actor=user,
        space_id=space_id,
        target=user_id,
        role=Role(body.role),
        from_role=Role(body.from_role) if body.from_role is not None else None,
    )
    return show.accepted(accepted, response)


@router.post("/invitations/{user_id}", responses=ACCEPTED)
async def invite(
    space_id: SpaceId,
    user_id: TargetUser,
    user: CurrentUser,
    ctx: UseCases,
    show: PresenterDep,
    response: Response,
) -> SpaceChange:
    """Host and co-hosts: invite a listener to speak (live Spaces). Nothing changes for them until
    they agree (POST /spaces/{id}/invitation): only their own page is told, by their viewer tag in
    the room metadata and state.json, so nobody learns who was invited. The invitation holds a
    speaker seat for 120 s (409 `speaker_limit` when none is free); sending it again restarts the
    wait. Someone whose hand is raised asked already: they become a speaker at once. 409
    `role_changed` when they are not in the audience now, `user_blocked`, `target_removed` (removed
    and not back since)."""
    accepted = await stage.invite(ctx, actor=user, space_id=space_id, target=user_id)
    return show.accepted(accepted, response)


@router.delete("/invitations/{user_id}", responses=ACCEPTED)
async def withdraw_invitation(
    space_id: SpaceId,
    user_id: TargetUser,
    user: CurrentUser,
    ctx: UseCases,
    show: PresenterDep,
    response: Response,
) -> SpaceChange:
    """Host and co-hosts: take back an invitation not yet answered (the invitee may decline their
    own here too). Nothing waiting is the no-op a repeat is."""
    accepted = await stage.withdraw_invitation(ctx, actor=user, space_id=space_id, target=user_id)
    return show.accepted(accepted, response)


@router.post("/invitation", responses=ACCEPTED)
async def accept_invitation(
    space_id: SpaceId, caller: CurrentCaller, ctx: UseCases, show: PresenterDep, response: Response
) -> SpaceChange:
    """The invitee agrees to speak: a speaker now, named on stage with their display name and
    avatar, their grant updated live (the microphone starts muted). 409 `not_invited` when no
    invitation is waiting for them (withdrawn, lapsed, never sent); a repeat once on stage is a
    no-op."""
    accepted = await stage.answer_invitation(
        ctx, actor=caller.id, space_id=space_id, accept=True, name=caller.name, picture=caller.picture
    )
    return show.accepted(accepted, response)


@router.delete("/invitation", responses=ACCEPTED)
async def decline_invitation(
    space_id: SpaceId, user: CurrentUser, ctx: UseCases, show: PresenterDep, response: Response
) -> SpaceChange:
    """The invitee says no: the seat is free again, and they stay in the audience. Nothing waiting is
    the no-op a repeat is."""
    accepted = await stage.answer_invitation(ctx, actor=user, space_id=space_id, accept=False)
    return show.accepted(accepted, response)


@router.post("/host", responses={**BODY_PROBLEMS, **ACCEPTED})
async def hand_over(
    space_id: SpaceId,
    body: HostHandover,
    user: CurrentUser,
    ctx: UseCases,
    show: PresenterDep,
    response: Response,
) -> SpaceChange:
    """Host: hand the Space to one of its co-hosts (409 `not_a_cohost` for anyone else). The old
    host becomes a co-host; both get their new grants live."""
    accepted = await stage.hand_over(ctx, actor=user, space_id=space_id, target=body.user_id)
    return show.accepted(accepted, response)


@router.post("/participants/{user_id}/mute")
async def mute(
    space_id: SpaceId, user_id: TargetUser, user: CurrentUser, ctx: UseCases, show: PresenterDep
) -> SpacePublic:
    return show(await stage.mute(ctx, actor=user, space_id=space_id, target=user_id))


@router.post("/participants/{user_id}/remove", responses={**BODY_PROBLEMS, **ACCEPTED})
async def remove(
    space_id: SpaceId,
    user_id: TargetUser,
    user: CurrentUser,
    ctx: UseCases,
    show: PresenterDep,
    response: Response,
    body: RemoveRequest | None = None,
) -> SpaceChange:
    """Disconnect a participant; with block, their next token request is refused (403) and the
    reconciler keeps them out of the room."""
    block = body.block if body is not None else False
    accepted = await stage.remove(ctx, actor=user, space_id=space_id, target=user_id, block=block)
    return show.accepted(accepted, response)


@router.put("/spotlight", responses={**BODY_PROBLEMS, **ACCEPTED})
async def pin_spotlight(
    space_id: SpaceId,
    body: SpotlightUpdate,
    user: CurrentUser,
    ctx: UseCases,
    show: PresenterDep,
    response: Response,
) -> SpaceChange:
    """Host: pin someone on stage to the spotlight (null unpins), their camera or, with `source:
    "screen_share"`, the screen a host or co-host shares. The agent reads it from room metadata."""
    accepted = await stage.pin(
        ctx, actor=user, space_id=space_id, target=body.user_id, source=VideoSource(body.source)
    )
    return show.accepted(accepted, response)
