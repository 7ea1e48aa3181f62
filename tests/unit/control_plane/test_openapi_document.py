"""What the OpenAPI document promises beyond FastAPI's defaults (schemathesis checks the rest live)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from .conftest import auth


def test_a_created_space_links_to_every_operation_on_it(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    links = doc["paths"]["/spaces"]["post"]["responses"]["201"]["links"]
    on_a_space = {
        op["operationId"]
        for path, item in doc["paths"].items()
        if "{space_id}" in path
        for op in item.values()
    }
    assert set(links) == on_a_space
    assert links["join_token_spaces__space_id__token_post"]["parameters"] == {
        "space_id": "$response.body#/id"
    }
    assert links["set_role_spaces__space_id__roles__user_id__put"]["parameters"] == {
        "space_id": "$response.body#/id",
        "user_id": "$response.body#/host",
    }
    # Every answer that is a Space links onwards, so a client can follow a Space through its life.
    assert doc["paths"]["/spaces/{space_id}/start"]["post"]["responses"]["200"]["links"] == links


def test_bearer_auth_is_declared(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    assert doc["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert doc["paths"]["/spaces"]["get"]["security"] == [{"HTTPBearer": []}]


def test_a_body_that_is_not_json_text_is_a_documented_400(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    assert "400" in doc["paths"]["/spaces"]["post"]["responses"]
    response = client.post(
        "/spaces", content=b"\x80\x81 not UTF-8", headers={**auth("h"), "Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["rule"] == "malformed_body"


def test_missing_token_is_a_problem_shaped_401(client: TestClient) -> None:
    response = client.get("/spaces")
    assert response.status_code == 401
    assert response.json()["rule"] == "unauthenticated"
    assert response.headers["www-authenticate"] == "Bearer"
