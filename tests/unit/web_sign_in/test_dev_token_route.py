"""POST /dev/token: the web client's dev sign-in exists in local mode only, and mints a token the
app itself accepts."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from contract import names
from functions.api.main import create_app
from functions.core.config import Settings


def local_app(tmp_path: Path) -> TestClient:
    settings = Settings(
        **{
            names.ENV_MODE: "local",
            names.ENV_SQLITE_PATH: str(tmp_path / "spaces.sqlite3"),
            "SPACES_WEB_DIST": "/nonexistent",
        }
    )
    return TestClient(create_app(settings))


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
    resp = TestClient(create_app(settings)).post("/dev/token", json={"user_id": "alice"})
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
    client = TestClient(create_app(settings))
    new = client.post("/dev/token", json={"user_id": "alice"}).json()["token"]
    claims = jwt.decode(new, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 300  # the route's tokens live the configured TTL
    # The same token as the route mints, its TTL already over (exp one minute ago): no waiting.
    old = dev_token("alice", secret=settings.dev_jwt_secret, ttl=-60)
    assert jwt.decode(old, options={"verify_signature": False})["exp"] < claims["iat"]
    refused = client.get("/spaces/" + "0" * 32, headers={"Authorization": f"Bearer {old}"})
    assert refused.status_code == 401 and "expired" in refused.json()["detail"]
    assert client.get("/spaces/" + "0" * 32, headers={"Authorization": f"Bearer {new}"}).status_code == 404
