"""Local mode only: a dev bearer token for any user id, so the web client can sign in without an
identity provider (the same token `python -m functions.dev_token USER_ID` prints).

main.py mounts this router only in local mode; in the cloud the path does not exist, and API
Gateway's authorizer would refuse these tokens anyway (the dev secret is refused there).
"""

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, ConfigDict

from ...dev_token import dev_token
from ..deps import SettingsDep
from ..schemas import UserId
from ._params import BODY_PROBLEMS

router = APIRouter(prefix="/dev", tags=["dev"])


class DevTokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: UserId


class DevTokenResponse(BaseModel):
    token: str


@router.post("/token", responses=BODY_PROBLEMS)
def issue_dev_token(body: DevTokenRequest, settings: SettingsDep) -> DevTokenResponse:
    if not settings.is_local:  # mounted only in local mode; this guards a misconfigured app
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="dev tokens exist only in local mode")
    # The page also calls this to renew an expired token (web/src/auth.ts refreshSession).
    token = dev_token(body.user_id, secret=settings.dev_jwt_secret, ttl=settings.dev_token_ttl_seconds)
    return DevTokenResponse(token=token)
