"""Path parameters shared by the routers; malformed ids are 422s naming the parameter."""

from typing import Annotated

from fastapi import Path

from ..json_bodies import MALFORMED_BODY
from ..schemas import SPACE_ID_PATTERN, USER_ID_PATTERN, Problem, SpaceChange

SpaceId = Annotated[str, Path(pattern=SPACE_ID_PATTERN, description="id returned by POST /spaces")]
TargetUser = Annotated[str, Path(pattern=USER_ID_PATTERN, description="the user acted upon")]

# What a 429 or a 503 says about when to send the same request again (main._problem sets it).
RETRY_AFTER: dict[str, object] = {
    "Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}
}

# The store could not take the request now (contention, throttling, unreachable): nothing was
# changed, and the same request may be sent again after Retry-After seconds.
BUSY: dict[int | str, dict[str, object]] = {
    503: {
        "model": Problem,
        "description": "The store is busy or unreachable; nothing was changed. Send the same request "
        "again after Retry-After seconds.",
        "headers": RETRY_AFTER,
    }
}

PROBLEMS: dict[int | str, dict[str, object]] = {
    **{code: {"model": Problem} for code in (401, 403, 404, 409, 502)},
    **BUSY,
}

# A write the reconciler has not finished applying to the room yet: stored, converging.
ACCEPTED: dict[int | str, dict[str, object]] = {
    202: {
        "model": SpaceChange,
        "description": "Stored; the media server is still converging to it (`converged: false`)",
    }
}

# Operations that read a JSON body: bytes that are not JSON text at all (not UTF-8) are a 400.
BODY_PROBLEMS: dict[int | str, dict[str, object]] = {
    400: {
        "model": Problem,
        "description": MALFORMED_BODY,
    }
}
