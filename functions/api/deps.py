"""Dependency aliases: settings, the caller's identity, the store, the SFU gateway, the use cases."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, Response, Security, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ..core.config import Settings
from ..domain.broadcast import BroadcastPolicy
from ..domain.model import Limits, Space, is_user_id
from ..domain.people import Caller, caller_from_claims
from ..domain.stage import as_seen_by
from ..livekit_edge.gateway import LiveKitGateway, RoomGateway
from ..reconcile.runner import Memory
from ..reconcile.wiring import reactions_store_for, reconciler_for, store_for
from ..store.base import SpaceStore
from ..usecases.context import Accepted, Context
from .schemas import SpaceChange, SpacePublic


async def app_settings(request: Request) -> Settings:
    """The settings the app was built with (create_app(settings) or the cached get_settings()).

    Dependencies here are `async def` on purpose: FastAPI runs plain `def` dependencies in a worker
    thread, one thread hop each, per request (measured in bench/control_plane)."""
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(app_settings)]


def _unauthorized(reason: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail=reason, headers={"WWW-Authenticate": "Bearer"})


# Declares the bearer scheme in the OpenAPI document; the token itself is checked below (locally)
# or by API Gateway's JWT authorizer (in the cloud), so a missing header is not an error here.
bearer = HTTPBearer(auto_error=False, description="a JWT whose `sub` is the caller's user id")


async def _verified_claims(request: Request, settings: Settings) -> dict[str, Any]:
    """The caller's verified token claims, with a `sub` that is a valid user id.

    On Lambda, API Gateway's JWT authorizer has already verified the token and put its claims in
    the event; locally the app verifies the bearer token itself with the dev secret."""
    event: dict[str, Any] | None = request.scope.get("aws.event")
    if event is not None:
        claims = event.get("requestContext", {}).get("authorizer", {}).get("jwt", {}).get("claims", {})
        if not isinstance(claims, dict) or claims.get("sub") is None:
            raise _unauthorized("no `sub` in the API Gateway authorizer claims")
    elif settings.is_local:
        claims = _verify_local_bearer(request.headers.get("authorization"), settings.dev_jwt_secret)
    else:
        raise _unauthorized("no authorizer claims: in cloud mode requests must come through API Gateway")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not is_user_id(sub):
        raise _unauthorized("token subject is missing or not a valid user id")
    if not sub.strip("."):
        # "." or "..": a path segment URLs resolve away (`/roles/..` is `/spaces/<id>`), so no page
        # could act on this person. No identity provider hands these out unless its users pick them.
        raise _unauthorized("token subject is only dots, which no URL can name")
    return claims


async def current_user(
    request: Request,
    settings: SettingsDep,
    _declared: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
) -> str:
    """The caller is the JWT `sub`, never a body field."""
    claims = await _verified_claims(request, settings)
    return str(claims["sub"])


async def current_caller(
    request: Request,
    settings: SettingsDep,
    _declared: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
) -> Caller:
    """The caller with the display name and avatar of its token (`name`, `picture` claims; the
    cloud sends Cognito's ID token, which carries them). Cleaned by domain/people.py."""
    claims = await _verified_claims(request, settings)
    return caller_from_claims(str(claims["sub"]), claims, allow_http=settings.is_local)


def _verify_local_bearer(header: str | None, secret: str) -> dict[str, Any]:
    import jwt  # local mode only; keeps PyJWT (and its cryptography backend) off the Lambda cold path

    if not header or not header.lower().startswith("bearer "):
        raise _unauthorized("missing bearer token (python -m functions.dev_token USER_ID prints one)")
    try:
        claims: dict[str, Any] = jwt.decode(
            header[7:].strip(), secret, algorithms=["HS256"], options={"require": ["exp", "sub"]}
        )
    except jwt.PyJWTError as exc:
        raise _unauthorized(f"invalid bearer token: {exc}") from exc
    return claims


async def get_store(settings: SettingsDep) -> SpaceStore:
    """One store per configuration for the process (connections and clients are reused)."""
    return store_for(settings)


async def get_gateway(settings: SettingsDep) -> RoomGateway:
    return LiveKitGateway(settings)


async def get_context(
    request: Request,
    settings: SettingsDep,
    store: Annotated[SpaceStore, Depends(get_store)],
    gateway: Annotated[RoomGateway, Depends(get_gateway)],
) -> Context:
    """The use cases' context. The reconciler's memory (locks, metadata publish times) lives as long
    as the app, so passes from concurrent requests over one room coalesce."""
    memory: Memory = request.app.state.reconcile_memory
    reconciler = reconciler_for(settings, memory=memory, store=store, gateway=gateway)
    return Context(
        store=store,
        gateway=gateway,
        reconciler=reconciler,
        settings=settings,
        rate_limits=reactions_store_for(settings),
        process_limits=request.app.state.process_limits,
    )


class Presenter:
    """A Space as the API shows it to the caller: with its broadcast links and recording retention,
    which depend on the deployment's broadcast settings and on the time of the answer, and with
    the queue of raised hands only for its host and co-hosts (stage.as_seen_by)."""

    def __init__(
        self,
        policy: BroadcastPolicy,
        *,
        viewer: str,
        host_grace: float,
        limits: Limits,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._policy = policy
        self._viewer = viewer
        self._host_grace = host_grace
        self._limits = limits
        self._clock = clock or (lambda: datetime.now(UTC))

    def __call__(self, space: Space) -> SpacePublic:
        """A Space read whole or as the caller's member read: its blocks say whether they are blocked."""
        return self._show(space, caller_blocked=self._viewer in space.blocked)

    def listed(self, space: Space) -> SpacePublic:
        """A Space from a list, read without its hands and blocks."""
        return self._show(space, caller_blocked=None)

    def _show(self, space: Space, *, caller_blocked: bool | None) -> SpacePublic:
        return SpacePublic.of(
            as_seen_by(space, self._viewer),
            policy=self._policy,
            now=self._clock(),
            caller_blocked=caller_blocked,
            host_grace=self._host_grace,
            limits=self._limits,
        )

    def accepted(self, accepted: Accepted, response: Response) -> SpaceChange:
        """200 when the room already matches the stored change, 202 while it is converging."""
        public = self(accepted.space)
        if not accepted.converged:
            response.status_code = status.HTTP_202_ACCEPTED
        return SpaceChange(**public.model_dump(), converged=accepted.converged)


async def get_presenter(settings: SettingsDep, viewer: Annotated[str, Depends(current_user)]) -> Presenter:
    return Presenter(
        settings.broadcast, viewer=viewer, host_grace=settings.host_grace_seconds, limits=settings.limits
    )


CurrentUser = Annotated[str, Depends(current_user)]
CurrentCaller = Annotated[Caller, Depends(current_caller)]
PresenterDep = Annotated[Presenter, Depends(get_presenter)]
UseCases = Annotated[Context, Depends(get_context)]
