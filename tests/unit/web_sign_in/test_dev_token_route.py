"""POST /dev/token: the web client's dev sign-in exists in local mode only, and mints a token the
app itself accepts."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from contract import names
from functions.api.main import create_app
from functions.core.config import Settings


def local_settings(tmp_path: Path, **env: str) -> Settings:
    return Settings(
        **{
            names.ENV_MODE: "local",
            names.ENV_SQLITE_PATH: str(tmp_path / "spaces.sqlite3"),
            "SPACES_WEB_DIST": "/nonexistent",
            **env,
        }
    )


def local_app(tmp_path: Path, **env: str) -> TestClient:
    return TestClient(create_app(local_settings(tmp_path, **env)), base_url="http://127.0.0.1:8000")


def test_local_mode_mints_a_token_the_app_accepts(tmp_path: Path) -> None:
    client = local_app(tmp_path)
    resp = client.post("/dev/token", json={"user_id": "alice"})
    assert resp.status_code == 200
    token = resp.json()["token"]
    # An authenticated call that fails only on the Space id, not on the bearer.
    who = client.get("/spaces/" + "0" * 32, headers={"Authorization": f"Bearer {token}"})
    assert who.status_code == 404


def test_bad_user_id_is_a_422_naming_the_field(tmp_path: Path) -> None:
    resp = local_app(tmp_path).post("/dev/token", json={"user_id": "no spaces allowed"})
    assert resp.status_code == 422
    assert resp.json()["detail"][0]["loc"][-1] == "user_id"


def test_cloud_mode_has_no_dev_sign_in() -> None:
    settings = Settings(
        **{
            names.ENV_MODE: "cloud",
            names.ENV_LIVEKIT_SECRET_ARN: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:lk",
            "SPACES_WEB_DIST": "/nonexistent",
        }
    )
    resp = TestClient(create_app(settings), base_url="http://127.0.0.1").post(
        "/dev/token", json={"user_id": "alice"}
    )
    assert resp.status_code == 404


def test_an_expired_dev_token_is_refused_and_a_reissued_one_accepted(tmp_path: Path) -> None:
    """What the page's token refresh relies on: a 401 for the old token, a fresh one from /dev/token."""
    import jwt

    from functions.dev_token import dev_token

    settings = Settings(
        **{
            names.ENV_MODE: "local",
            names.ENV_SQLITE_PATH: str(tmp_path / "spaces.sqlite3"),
            "SPACES_WEB_DIST": "/nonexistent",
            "SPACES_DEV_TOKEN_TTL_SECONDS": "300",
        }
    )
    client = TestClient(create_app(settings), base_url="http://127.0.0.1:8000")
    new = client.post("/dev/token", json={"user_id": "alice"}).json()["token"]
    claims = jwt.decode(new, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 300  # the route's tokens live the configured TTL
    # The same token as the route mints, its TTL already over (exp one minute ago): no waiting.
    old = dev_token("alice", secret=settings.dev_jwt_secret, ttl=-60)
    assert jwt.decode(old, options={"verify_signature": False})["exp"] < claims["iat"]
    refused = client.get("/spaces/" + "0" * 32, headers={"Authorization": f"Bearer {old}"})
    assert refused.status_code == 401 and "expired" in refused.json()["detail"]
    assert client.get("/spaces/" + "0" * 32, headers={"Authorization": f"Bearer {new}"}).status_code == 404


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1:8000",
        "127.0.0.2",
        "localhost:5173",
        "LOCALHOST",
        "[::1]:8000",
        "host.docker.internal:8000",
        "0.0.0.0:8000",
    ],
)
def test_the_page_of_this_machine_gets_a_token(tmp_path: Path, host: str) -> None:
    resp = local_app(tmp_path).post("/dev/token", json={"user_id": "alice"}, headers={"Host": host})
    assert resp.status_code == 200, resp.text


@pytest.mark.parametrize("host", ["evil.example:8000", "127.0.0.1.evil.example", "[::1", "a:b:c", ""])
def test_a_page_of_another_site_pointed_here_gets_no_token(tmp_path: Path, host: str) -> None:
    """DNS rebinding: a site re-points its name at 127.0.0.1, its page is then same-origin with the
    local API (CORS does not apply), and its requests name that site as Host."""
    resp = local_app(tmp_path).post("/dev/token", json={"user_id": "alice"}, headers={"Host": host})
    assert resp.status_code == 403
    assert resp.json()["rule"] == "foreign_host"
    assert "token" not in resp.json()
    assert "SPACES_DEV_HOSTS" in resp.json()["detail"]


def test_a_page_of_another_site_pointed_here_cannot_use_the_public_dev_secret(tmp_path: Path) -> None:
    """The dev secret is public: a rebound page can sign its own token, so no route of the local API
    answers it, whatever the token (a write, a read, a preflight), and nothing is stored."""
    import jwt

    token = jwt.encode({"sub": "alice", "exp": 9_999_999_999}, names.DEV_JWT_SECRET, algorithm="HS256")
    bearer = {"Authorization": f"Bearer {token}"}
    client = local_app(tmp_path)
    foreign = {"Host": "evil.example:8000"}
    made = client.post("/spaces", json={"title": "made by evil.example"}, headers={**bearer, **foreign})
    assert made.status_code == 403 and made.json()["rule"] == "foreign_host"
    for path in ("/spaces?state=scheduled", "/healthz", "/openapi.json"):
        resp = client.get(path, headers={**bearer, **foreign})
        assert resp.status_code == 403, path
    preflight = client.options(
        "/spaces",
        headers={**foreign, "Origin": "http://evil.example:8000", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 403
    # The same token from this machine's page works, and sees that nothing was created.
    listed = client.get("/spaces?state=scheduled", headers=bearer)
    assert listed.status_code == 200 and listed.json()["items"] == []


def test_cloud_mode_does_not_check_the_host() -> None:
    """In the cloud API Gateway's own domain and custom domains reach the app; only local mode checks."""
    settings = Settings(
        **{
            names.ENV_MODE: "cloud",
            names.ENV_LIVEKIT_SECRET_ARN: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:lk",
            "SPACES_WEB_DIST": "/nonexistent",
        }
    )
    resp = TestClient(create_app(settings), base_url="https://api.example.org").get("/healthz")
    assert resp.status_code == 200


def test_dev_hosts_names_the_hosts_allowed(tmp_path: Path) -> None:
    client = local_app(tmp_path, SPACES_DEV_HOSTS="DevBox.lan, [fd00:0::1]")
    for host, status in (
        ("devbox.lan:8000", 200),
        ("[fd00::1]:8000", 200),
        ("127.0.0.1:8000", 200),
        ("other.lan", 403),
    ):
        assert (
            client.post("/dev/token", json={"user_id": "a"}, headers={"Host": host}).status_code == status
        ), host


@pytest.mark.parametrize("entry", ["devbox.lan:5173", "[fd00::1]:8000"])
def test_a_dev_host_with_a_port_is_refused_at_start(tmp_path: Path, entry: str) -> None:
    """A Host's port is not compared, so an entry with one would never match: said at start."""
    with pytest.raises(ValueError, match="without their port"):
        local_settings(tmp_path, SPACES_DEV_HOSTS=f"ok.lan,{entry}")
