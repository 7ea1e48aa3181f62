"""Print a dev bearer token for USER_ID, alone on stdout: `python -m functions.dev_token alice`.

Local mode only: the app verifies these itself with the dev secret; in the cloud API Gateway's JWT
authorizer verifies tokens from the real identity provider instead.
"""

from __future__ import annotations

import argparse
import re
import sys
import time

import jwt

from contract import names

from .api.schemas import USER_ID_PATTERN
from .core.config import get_settings

# Long enough for a working day of `make dev`; these tokens only open the local API.
DEV_TOKEN_TTL = 12 * 3600


def dev_token(
    user_id: str,
    *,
    secret: str | None = None,
    ttl: int = DEV_TOKEN_TTL,
    name: str | None = None,
    picture: str | None = None,
    groups: tuple[str, ...] | None = None,
) -> str:
    """A dev bearer token; `name`, `picture` and `groups` become the claims an identity provider's
    ID token carries (the API cleans them the same way: functions/domain/people.py)."""
    settings = get_settings()
    if secret is None:
        if not settings.is_local:
            raise SystemExit("dev tokens exist only in local mode (SPACES_MODE=local)")
        secret = settings.dev_jwt_secret
    now = int(time.time())
    claims: dict[str, object] = {"sub": user_id, "iat": now, "exp": now + ttl}
    if name is not None:
        claims["name"] = name
    if picture is not None:
        claims["picture"] = picture
    if groups is not None:
        claims[names.GROUPS_CLAIM] = list(groups)
    return jwt.encode(claims, secret, algorithm="HS256")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m functions.dev_token", description=__doc__)
    parser.add_argument("user_id")
    parser.add_argument("--name", help="the display name claim (default: none, the id is shown)")
    parser.add_argument("--picture", help="the avatar URL claim (https)")
    args = parser.parse_args(argv)
    if not re.fullmatch(USER_ID_PATTERN, args.user_id):
        parser.error(f"user id must match {USER_ID_PATTERN}")
    sys.stdout.write(dev_token(args.user_id, name=args.name, picture=args.picture) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
