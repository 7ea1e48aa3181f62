"""Local mode only: a dev bearer token for any user id, so the web client can sign in without an
identity provider (the same token `python -m functions.dev_token USER_ID` prints).

main.py mounts this router only in local mode; in the cloud the path does not exist, and API
Gateway's authorizer would refuse these tokens anyway (the dev secret is refused there).
"""

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, HTTPException, Request, status
from pydantic import BaseModel, ConfigDict, Field

from contract.loopback import is_loopback_url

from ...dev_token import dev_token
from ...domain.errors import Forbidden
from ...domain.people import NAME_MAX_CHARS, PICTURE_MAX_CHARS
from ..deps import SettingsDep
from ..schemas import Problem, UserId
from ._params import BODY_PROBLEMS

# A Host header that names neither this machine nor a name in SPACES_DEV_HOSTS (Settings.dev_host_list).
FOREIGN_HOST: dict[int | str, dict[str, object]] = {
    403: {
        "model": Problem,
        "description": "`dev_host_refused`: the request names a host other than this machine's "
        "(SPACES_DEV_HOSTS); nothing was minted",
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


def dev_host(host_header: str, extra: frozenset[str]) -> bool:
    """Whether a Host header ("127.0.0.1:8000", "[::1]:8000") names this machine or one of `extra`."""
    if is_loopback_url("//" + host_header):
        return True
    try:
        return (urlsplit("//" + host_header).hostname or "") in extra
    except ValueError:  # a malformed bracket
        return False


@router.post("/token", responses={**BODY_PROBLEMS, **FOREIGN_HOST})
def issue_dev_token(body: DevTokenRequest, request: Request, settings: SettingsDep) -> DevTokenResponse:
    if not settings.is_local:  # mounted only in local mode; this guards a misconfigured app
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="dev tokens exist only in local mode")
    host = request.headers.get("host", "")
    if not dev_host(host, settings.dev_host_list):
        # A page of another site whose name now points here (DNS rebinding) is same-origin with
        # this API, so CORS does not stop it; the name it was loaded from does.
        allowed = ", ".join(["localhost", "127.0.0.0/8", "[::1]", *sorted(settings.dev_host_list)])
        raise Forbidden(
            "dev_host_refused",
            f"dev tokens are minted only for a page loaded from {allowed}, not for host "
            f"{host[:100]!r}; set SPACES_DEV_HOSTS to add a name",
        )
    # The page also calls this to renew an expired token (web/src/auth.ts refreshSession).
    token = dev_token(
        body.user_id,
        secret=settings.dev_jwt_secret,
        ttl=settings.dev_token_ttl_seconds,
        name=body.name,
        picture=body.picture,
    )
    return DevTokenResponse(token=token)
