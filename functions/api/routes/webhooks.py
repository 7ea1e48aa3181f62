"""Webhooks from the SFU: verified over the raw body; each fact recorded once per event id; the
reconciler woken for the room (functions/usecases/webhooks.py). API Gateway gives this route its own
throttle (infrastructure/constructs/control_plane.py), so viewers' requests cannot starve it."""

from fastapi import APIRouter, HTTPException, Request, status

from ...livekit_edge.webhooks import InvalidWebhook, verify
from ...usecases import webhooks
from ..deps import SettingsDep, UseCases
from ..schemas import Problem
from ._params import BUSY

# Signed by the SFU with the API secret: anything unsigned or tampered with is a 401.
router = APIRouter(prefix="/livekit", tags=["webhooks"], responses={401: {"model": Problem}, **BUSY})


@router.post("/webhook")
async def livekit_webhook(request: Request, settings: SettingsDep, ctx: UseCases) -> dict[str, str]:
    body = await request.body()
    try:
        facts = verify(body, request.headers.get("authorization"), settings.livekit_credentials())
    except InvalidWebhook as exc:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail=str(exc)) from exc
    outcome = await webhooks.handle(ctx, facts)
    return {"event": facts.event, "outcome": outcome}
