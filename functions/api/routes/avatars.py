"""`GET /avatars?url=<picture>`: a person's picture from our own domain (functions/usecases/avatars.py).

No token: an `<img>` cannot send one, and the answer is a picture anyone could load from its own
host. The route is not an open proxy: it fetches only what the avatar policy allows (https,
allow-listed hosts, public addresses) and answers only a re-encoded picture of at most 256 px a side.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from contract.avatar_fetch import AvatarRefused
from contract.names import AVATAR_PATH, AVATAR_URL_PARAM

from ...domain.people import PICTURE_MAX_CHARS
from ...usecases.avatars import FAILURE_TTL_S, MEDIA_TYPE, PICTURE_TTL_S, AvatarProxy, AvatarUnavailable
from ..problems import problem
from ..schemas import Problem

router = APIRouter(tags=["avatars"])

# The shape of an absolute http(s) URL (a 422 otherwise); which of those are fetched is the policy's
# call (a 403 naming why).
# ASCII ranges, not `\s`: Python's and JavaScript's `\s` disagree on characters such as U+0085.
URL_PATTERN = r"^https?://[^\x00-\x20\x7f/?#][^\x00-\x20\x7f]*$"


@router.get(
    AVATAR_PATH,
    response_class=Response,
    responses={
        200: {
            "content": {MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
            "description": "The picture's centre square as WebP, at most 256 px a side",
        },
        403: {
            "model": Problem,
            "description": "a URL the avatar policy does not fetch: scheme, host, port or user info"
            " (`avatar_url_refused`)",
        },
        502: {
            "model": Problem,
            "description": "the avatar host did not answer with a picture (`avatar_unavailable`)",
        },
    },
)
def get_avatar(
    request: Request,
    url: Annotated[
        str,
        Query(
            alias=AVATAR_URL_PARAM,
            min_length=1,
            max_length=PICTURE_MAX_CHARS,
            pattern=URL_PATTERN,
            description="a person's `picture` URL, as the API and the room give it",
        ),
    ],
) -> Response:
    """A person's avatar, fetched by the server under the avatar policy, so the viewer's browser
    never contacts the host of a URL someone else chose (docs/identity.md)."""
    proxy: AvatarProxy = request.app.state.avatar_proxy
    try:
        picture = proxy.picture(url)
    except AvatarRefused as exc:
        # A URL, but not one the policy fetches (scheme, host, port, user info).
        return _failure(403, f"url: {exc}", "avatar_url_refused")
    except AvatarUnavailable as exc:
        return _failure(502, str(exc), "avatar_unavailable")
    return Response(
        picture,
        media_type=MEDIA_TYPE,
        headers={"Cache-Control": f"public, max-age={PICTURE_TTL_S}", "X-Content-Type-Options": "nosniff"},
    )


def _failure(status: int, detail: str, rule: str) -> JSONResponse:
    """A refusal in the Problem shape, cacheable as long as the proxy keeps a failure."""
    return problem(status, rule, detail, {"Cache-Control": f"public, max-age={FAILURE_TTL_S}"})
