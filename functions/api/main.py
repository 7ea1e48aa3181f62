"""The FastAPI app: routers, error mapping, CORS, and (locally) the built web client at `/`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from contract.names import PAGE_GENERATION_HEADER

from ..core.config import Settings, get_settings
from ..domain.audience import InvalidAudienceCursor
from ..domain.errors import Busy, Conflict, DomainError, Forbidden, NotFound, PartlyDone, TooMany
from ..livekit_edge.gateway import GatewayError
from ..reconcile.runner import Memory
from ..store import failures
from ..store.base import InvalidCursor
from ..store.process_limits import ProcessLimits
from ..usecases.avatars import AvatarProxy
from . import openapi
from .json_bodies import JsonBodies
from .local_hosts import LocalHostsOnly
from .methods import AllowedMethods
from .page_generation import PageGeneration
from .problems import AsciiJSONResponse, problem
from .query_strings import SingleQueryValues
from .routes import avatars, health, listeners, presence, reactions, spaces, stage, tokens, webhooks

log = logging.getLogger("functions.api")

STATUS = {NotFound: 404, Forbidden: 403, Conflict: 409, TooMany: 429, Busy: 503}
# The rule named by the HTTP errors the framework and the auth dependency raise (see Problem).
HTTP_RULES = {
    400: "malformed_body",
    401: "unauthenticated",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
}


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        title="Spaces API",
        version="1.0",
        summary="Live audio Spaces: control plane",
        lifespan=_reconcile_loop if settings.is_local and settings.reconcile_interval_seconds > 0 else None,
    )
    # Read by every request through deps.app_settings; tests build apps with their own settings.
    app.state.settings = settings
    # The reconciler's per-process memory (per-room locks, metadata publish times).
    app.state.reconcile_memory = Memory()
    app.state.process_limits = ProcessLimits()
    # The token route first: the hottest request matches it without building the others (cold start).
    for module in (tokens, health, spaces, stage, listeners, reactions, presence, webhooks, avatars):
        app.include_router(module.router)
    app.state.avatar_proxy = AvatarProxy(settings.avatar_policy)
    if settings.is_local:
        from .routes import dev

        app.include_router(dev.router)
    if settings.is_local and settings.broadcast_dir is not None:
        # In the cloud the CDN serves the broadcasts from S3; locally the API does.
        from .routes import broadcast

        app.include_router(broadcast.router)

    openapi.install(app)

    @app.exception_handler(DomainError)
    async def domain_error(_: Request, exc: DomainError) -> JSONResponse:
        return _problem(exc)

    @app.exception_handler(ClientError)
    @app.exception_handler(BotoCoreError)
    async def store_error(_: Request, exc: Exception) -> JSONResponse:
        # Throttled or unreachable, nothing written: say so and when to come back. Anything else
        # stays the 500 it is (it may have written, or it is a bug).
        busy = failures.unavailable(exc)
        if busy is None:
            raise exc
        log.warning("store unavailable: %s", exc)
        return _problem(busy)

    @app.exception_handler(PartlyDone)
    async def partly_done(_: Request, exc: PartlyDone) -> JSONResponse:
        # Part of the request is stored or spent: a busy store is still a 503 worth retrying, but
        # the answer says what was done instead of "nothing was changed".
        cause = exc.__cause__
        if isinstance(cause, Busy):
            reason = f"the store could not take it now; {exc.done}, retry"
            busy: Busy | None = Busy(cause.rule, reason, retry_after=cause.retry_after)
        else:
            busy = failures.unavailable(cause, done=exc.done) if isinstance(cause, Exception) else None
        if busy is None:
            raise cause or exc
        log.warning("store unavailable after part of a request: %s", cause)
        return _problem(busy)

    @app.exception_handler(GatewayError)
    async def gateway_error(_: Request, exc: GatewayError) -> JSONResponse:
        # Only acts that store nothing reach here (mute): writes store the desired state and leave
        # the SFU to the reconciler, so this answer is true.
        log.warning("SFU call failed: %s", exc)
        return problem(
            502, "livekit_unavailable", "the media server did not answer; nothing was changed, retry"
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        # The Problem shape for the framework's own errors too (400 for a body that is not
        # JSON text, 401 from the auth dependency), so every documented error has one schema.
        return problem(
            exc.status_code, HTTP_RULES.get(exc.status_code, "http_error"), str(exc.detail), exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _validation_response(_name_the_content_type(exc.errors(), request.headers.get("content-type")))

    @app.exception_handler(InvalidCursor)
    @app.exception_handler(InvalidAudienceCursor)
    async def invalid_cursor(_: Request, exc: ValueError) -> JSONResponse:
        # Same shape as FastAPI's own validation errors, so clients parse one format for 422.
        return _validation_response([{"type": "value_error", "loc": ("query", "cursor"), "msg": str(exc)}])

    # Innermost: a body is read only for a method its path has (AllowedMethods answers the others).
    app.add_middleware(JsonBodies)
    app.add_middleware(SingleQueryValues)
    # Inside CORS: preflights are answered before this sees them.
    app.add_middleware(AllowedMethods, routes=app.routes)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origin_list,
        allow_methods=["GET", "POST", "PUT", "DELETE", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
        # A 503 says when to come back, and every answer which page generation the API serves; a
        # page on another origin can only read them if exposed.
        expose_headers=["Retry-After", PAGE_GENERATION_HEADER],
        # Bearer tokens, not cookies: no credentials mode needed (an explicit "*" stays legal).
        allow_credentials=False,
    )
    # Outside CORS, so its preflights name the generation too.
    app.add_middleware(PageGeneration)
    # Outermost: local mode's public dev secret answers only this machine's pages (DNS rebinding).
    app.add_middleware(LocalHostsOnly)

    web = Path(settings.web_dist)
    if settings.is_local and (web / "index.html").is_file():
        from . import web_page

        web_page.mount(app, settings, web)
    return app


@asynccontextmanager
async def _reconcile_loop(app: FastAPI) -> AsyncIterator[None]:
    """Local mode: the patrol the cloud's scheduled reconciler runs, as a task of this process."""
    from ..reconcile.loop import patrol
    from ..reconcile.wiring import patrol_for

    settings: Settings = app.state.settings
    reconciler, trailing = patrol_for(settings, memory=app.state.reconcile_memory)
    task = asyncio.create_task(
        patrol(
            reconciler,
            trailing,
            sweep_every=settings.reconcile_interval_seconds,
            budget_per_space=settings.reconcile_budget_seconds,
            sweep_first=False,
        )
    )
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _problem(exc: DomainError) -> JSONResponse:
    # A transient refusal (503) or a rate limit (429) says when the same request is worth sending
    # again (whole seconds, at least 1).
    headers = None
    if isinstance(exc, Busy | TooMany):
        headers = {"Retry-After": str(max(1, math.ceil(exc.retry_after)))}
    return problem(STATUS.get(type(exc), 409), exc.rule, exc.message, headers)


def _name_the_content_type(errors: Any, content_type: str | None) -> list[Any]:
    """A JSON body sent without `Content-Type: application/json` (a form, text/plain, none) reaches
    the model as something that is not an object: pydantic's "Input should be a valid dictionary"
    does not say why, so the error on the whole body names the header instead."""
    media = (content_type or "").split(";")[0].strip().lower()
    if media == "application/json" or media.endswith("+json"):
        return list(errors)
    said = f"Content-Type {media!r}" if media else "no Content-Type"
    return [
        {**e, "msg": f"the body must be a JSON object sent with Content-Type: application/json (got {said})"}
        if tuple(e["loc"]) == ("body",) and e["type"] in ("model_attributes_type", "dict_type")
        else e
        for e in errors
    ]


def _validation_response(errors: Any) -> JSONResponse:
    """FastAPI's 422 shape ({"detail": [{type, loc, msg}]}) without `input` and `ctx`: the
    rejected input is the client's own, and `ctx` can hold objects that are not JSON."""
    detail = [{"type": e["type"], "loc": list(e["loc"]), "msg": e["msg"]} for e in errors]
    return AsciiJSONResponse({"detail": detail}, status_code=422)


app = create_app()
