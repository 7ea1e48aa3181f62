"""Local mode only: a dev bearer token for any user id, so the web client can sign in without an
identity provider (the same token `python -m functions.dev_token USER_ID` prints).

main.py mounts this router only in local mode; in the cloud the path does not exist, and API
Gateway's authorizer would refuse these tokens anyway (the dev secret is refused there).
"""

from typing import Annotated

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field

from ...dev_token import dev_token
from ...domain.people import NAME_MAX_CHARS, PICTURE_MAX_CHARS
from .. import local_hosts
from ..deps import SettingsDep
from ..schemas import Problem, UserId
from ._params import BODY_PROBLEMS

# The local API refuses a request for another host, this one included (api/local_hosts.py).
FOREIGN_HOST: dict[int | str, dict[str, object]] = {
    403: {
        "model": Problem,
        "description": f"`{local_hosts.RULE}`: the request names a host other than this machine "
        "(or SPACES_DEV_HOSTS); nothing was minted",
    }
}

router = APIRouter(prefix="/dev", tags=["dev"])


# A dev avatar: an http(s) URL with a plain host name and printable ASCII after it. Every URL of
# this shape is one domain/people.py keeps (local mode allows http), so the API never refuses what
# its schema accepts; the cloud's rule is stricter (https only) and comes from the identity provider.
DEV_PICTURE_PATTERN = r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[!-~]*)?$"


class DevTokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: UserId
    name: Annotated[
        str | None,
        Field(max_length=NAME_MAX_CHARS, description="the display name (the `name` claim); default: the id"),
    ] = None
    picture: Annotated[
        str | None,
        Field(
            max_length=PICTURE_MAX_CHARS,
            pattern=DEV_PICTURE_PATTERN,
            description="an avatar URL (the `picture` claim)",
        ),
    ] = None


class DevTokenResponse(BaseModel):
    token: str


@router.post("/token", responses={**BODY_PROBLEMS, **FOREIGN_HOST})
def issue_dev_token(body: DevTokenRequest, settings: SettingsDep) -> DevTokenResponse:
    if not settings.is_local:  # mounted only in local mode; this guards a misconfigured app
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="dev tokens exist only in local mode")
    # The page also calls this to renew an expired token (web/src/auth.ts refreshSession).
    token = dev_token(
        body.user_id,
        secret=settings.dev_jwt_secret,
        ttl=settings.dev_token_ttl_seconds,
        name=body.name,
        picture=body.picture,
    )
    return DevTokenResponse(token=token)
