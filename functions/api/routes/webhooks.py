"""Webhooks from the SFU: verified over the raw body, deduplicated by event id."""

from fastapi import APIRouter, HTTPException, Request, status

from ...media.webhooks import InvalidWebhook, verify
from ..deps import ServiceDep, SettingsDep
from ..schemas import Problem

# Signed by the SFU with the API secret: anything unsigned or tampered with is a 401.
router = APIRouter(prefix="/livekit", tags=["webhooks"], responses={401: {"model": Problem}})


@router.post("/webhook")
async def livekit_webhook(request: Request, settings: SettingsDep, spaces: ServiceDep) -> dict[str, str]:
    body = await request.body()
    try:
        facts = verify(body, request.headers.get("authorization"), settings.livekit_credentials())
    except InvalidWebhook as exc:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail=str(exc)) from exc
    outcome = await spaces.handle_webhook(facts)
    return {"event": facts.event, "outcome": outcome}
