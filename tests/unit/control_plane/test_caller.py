"""The caller's display name and avatar reach the API from the token: a local dev token, or the
claims API Gateway's JWT authorizer puts into a Lambda event."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from contract import names
from functions.api import deps
from functions.dev_token import dev_token
from functions.handler import app as lambda_app
from functions.handler import handler

from .test_lambda_handler import LambdaContext, http_api_event

pytestmark = pytest.mark.unit


def probe_app() -> FastAPI:
    app = FastAPI()

    @app.get("/me")
    async def me(caller: deps.CurrentCaller, user: deps.CurrentUser) -> dict[str, str | None]:
        return {"id": caller.id, "name": caller.name, "picture": caller.picture, "user": user}

    return app


@pytest.fixture
def local(settings: deps.Settings) -> Iterator[TestClient]:
    app = probe_app()
    app.state.settings = settings
    with TestClient(app) as client:
        yield client


def bearer(user: str, **claims: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {dev_token(user, secret=names.DEV_JWT_SECRET, **claims)}"}


def test_a_dev_token_carries_the_chosen_name_and_picture(local: TestClient) -> None:
    answer = local.get("/me", headers=bearer("alice", name=" Alice L. ", picture="https://x.example/a.png"))
    assert answer.status_code == 200
    assert answer.json() == {
        "id": "alice",
        "name": "Alice L.",
        "picture": "https://x.example/a.png",
        "user": "alice",
    }


def test_without_a_name_claim_the_id_is_the_name(local: TestClient) -> None:
    assert local.get("/me", headers=bearer("bob")).json() == {
        "id": "bob",
        "name": "bob",
        "picture": None,
        "user": "bob",
    }


def test_a_picture_that_is_not_a_web_url_is_dropped(local: TestClient) -> None:
    answer = local.get("/me", headers=bearer("eve", name="Eve", picture="javascript:alert(1)"))
    assert answer.json()["picture"] is None


def test_no_token_is_still_401(local: TestClient) -> None:
    assert local.get("/me").status_code == 401


def test_the_authorizer_claims_of_an_id_token_reach_the_caller(settings: deps.Settings) -> None:
    lambda_app.router.add_api_route("/probe-me", probe_app().routes[-1].endpoint, methods=["GET"])  # type: ignore[attr-defined]
    previous = lambda_app.state.settings
    lambda_app.state.settings = settings.model_copy(update={"mode": "cloud"})
    try:
        event = http_api_event("GET", "/probe-me", sub="9f1c2d7e-1111-4222-8333-444455556666")
        event["requestContext"]["authorizer"]["jwt"]["claims"].update(
            {"name": "Ada Lovelace", "picture": "http://insecure.example/a.png", "token_use": "id"}
        )
        answer = handler(event, LambdaContext())
    finally:
        lambda_app.state.settings = previous
        lambda_app.router.routes.pop()
    assert answer["statusCode"] == 200, answer
    assert json.loads(answer["body"]) == {
        "id": "9f1c2d7e-1111-4222-8333-444455556666",
        "name": "Ada Lovelace",
        "picture": None,  # http is refused outside local mode
        "user": "9f1c2d7e-1111-4222-8333-444455556666",
    }
