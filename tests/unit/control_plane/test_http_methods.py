"""OPTIONS and 405 name every method of a path, with and without the web client mounted at `/`."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from functions.api.main import create_app
from functions.core.config import Settings

from .conftest import auth

SPACE = "/spaces/" + "a" * 32


@pytest.fixture(params=["api only", "with web client"])
def methods_client(request: pytest.FixtureRequest, settings: Settings, tmp_path: Path) -> TestClient:
    if request.param == "with web client":
        web = tmp_path / "web"
        web.mkdir()
        (web / "index.html").write_text("<!doctype html><title>Spaces</title>")
        settings = settings.model_copy(update={"web_dist": str(web)})
    return TestClient(create_app(settings), base_url="http://127.0.0.1")


@pytest.mark.parametrize(
    ("path", "allow"),
    [
        ("/spaces", "GET, OPTIONS, POST"),
        (f"{SPACE}/hand", "DELETE, OPTIONS, POST"),
        (f"{SPACE}/start", "OPTIONS, POST"),
        (f"{SPACE}/roles/bob", "OPTIONS, PUT"),
    ],
)
def test_options_lists_every_method_of_the_path(methods_client: TestClient, path: str, allow: str) -> None:
    response = methods_client.options(path)
    assert response.status_code == 204
    assert response.headers["allow"] == allow


def test_unsupported_method_is_405_naming_the_supported_ones(methods_client: TestClient) -> None:
    for method, path, allow in [
        ("PATCH", "/spaces", "GET, OPTIONS, POST"),
        ("GET", f"{SPACE}/start", "OPTIONS, POST"),
    ]:
        response = methods_client.request(method, path, headers=auth("h"))
        assert response.status_code == 405, (method, path)
        assert response.headers["allow"] == allow
        assert response.json()["rule"] == "method_not_allowed"


def test_cors_preflight_is_still_answered_by_cors(methods_client: TestClient) -> None:
    response = methods_client.options(
        "/spaces",
        headers={"Origin": "https://web.example", "Access-Control-Request-Method": "POST"},
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "https://web.example"


def test_supported_methods_pass_through(methods_client: TestClient) -> None:
    assert methods_client.get("/healthz").json() == {"status": "ok"}
    assert methods_client.get("/spaces", headers=auth("h")).status_code == 200
