"""Join tokens are verified by livekit-api's own TokenVerifier; settings refuse dev secrets in the cloud."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest
from livekit import api
from pydantic import ValidationError

from contract import names
from functions.core.config import Settings
from functions.domain.grants import permission_for
from functions.domain.model import Role, VideoPolicy
from functions.livekit_edge import tokens

KEY, SECRET = "key", "secret-at-least-32-bytes-long-for-hs256"


def mint(role: Role, video: VideoPolicy, *, ttl: int = 600) -> tokens.JoinToken:
    return tokens.mint(
        api_key=KEY,
        api_secret=SECRET,
        room="space-x",
        identity="alice",
        permission=permission_for(role, video),
        attributes={names.ROLE_ATTRIBUTE: role.value},
        ttl=timedelta(seconds=ttl),
    )


def test_listener_token_says_can_publish_false_explicitly() -> None:
    minted = mint(Role.LISTENER, VideoPolicy.SPEAKERS)
    raw = jwt.decode(minted.token, options={"verify_signature": False})
    # Absent would mean True to the SFU; the claim must be present and false.
    assert raw["video"]["canPublish"] is False
    assert raw["video"]["canPublishData"] is False
    claims = api.TokenVerifier(KEY, SECRET).verify(minted.token)
    assert claims.identity == "alice"
    assert claims.video is not None
    assert claims.video.can_publish is False and claims.video.room_join and claims.video.room == "space-x"
    assert claims.attributes == {names.ROLE_ATTRIBUTE: "listener"}


@pytest.mark.parametrize("role", list(Role))
def test_no_client_token_carries_admin_grants(role: Role) -> None:
    raw = jwt.decode(mint(role, VideoPolicy.SPEAKERS).token, options={"verify_signature": False})
    for grant in ("roomAdmin", "roomCreate", "roomList", "roomRecord", "ingressAdmin", "agent", "recorder"):
        assert grant not in raw["video"]
    assert raw["video"]["canUpdateOwnMetadata"] is False


def test_speaker_token_publishes_microphone_and_camera_by_policy() -> None:
    on = api.TokenVerifier(KEY, SECRET).verify(mint(Role.SPEAKER, VideoPolicy.SPEAKERS).token)
    off = api.TokenVerifier(KEY, SECRET).verify(mint(Role.SPEAKER, VideoPolicy.OFF).token)
    assert on.video is not None and off.video is not None
    assert on.video.can_publish and on.video.can_publish_sources == ["microphone", "camera"]
    assert off.video.can_publish_sources == ["microphone"]


def test_tokens_expire_after_the_ttl() -> None:
    before = datetime.now(UTC)
    minted = mint(Role.HOST, VideoPolicy.HOST, ttl=300)
    raw = jwt.decode(minted.token, options={"verify_signature": False})
    assert raw["exp"] == int(minted.expires_at.timestamp())
    assert timedelta(seconds=298) <= minted.expires_at - before <= timedelta(seconds=301)


def test_local_mode_accepts_the_dev_keys() -> None:
    s = Settings(
        SPACES_MODE="local", LIVEKIT_API_KEY=names.DEV_API_KEY, LIVEKIT_API_SECRET=names.DEV_API_SECRET
    )
    assert s.livekit_credentials().api_key == names.DEV_API_KEY


@pytest.mark.parametrize(
    "url", ["wss://sfu.example.com", "ws://10.0.0.5:7880", "ws://localhost.example.com", ""]
)
@pytest.mark.parametrize("mode", [{"SPACES_MODE": "local"}, {}])
def test_local_mode_refuses_to_start_against_a_server_off_this_machine(
    url: str, mode: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A deployment that forgot SPACES_MODE: the default, local, would mint tokens for anyone.
    monkeypatch.delenv(names.ENV_MODE, raising=False)
    with pytest.raises(ValidationError) as refused:
        Settings(LIVEKIT_URL=url, **mode)
    assert f"{names.ENV_MODE}=local" in str(refused.value) and f"{names.ENV_LIVEKIT_URL}={url!r}" in str(
        refused.value
    )


@pytest.mark.parametrize("url", ["wss://rtc.example.org", "ws://10.0.0.5:7880"])
def test_local_mode_refuses_to_hand_clients_a_server_off_this_machine(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One box serving the public: the SFU on loopback for the API, a public address for clients.
    monkeypatch.delenv(names.ENV_MODE, raising=False)
    with pytest.raises(ValidationError) as refused:
        Settings(LIVEKIT_URL="ws://127.0.0.1:7880", SPACES_PUBLIC_LIVEKIT_URL=url)
    assert f"{names.ENV_PUBLIC_LIVEKIT_URL}={url!r}" in str(refused.value)


@pytest.mark.parametrize("url", ["ws://127.0.0.1:7880", "ws://localhost:7880", "ws://[::1]:7880"])
def test_local_mode_starts_against_a_server_on_loopback(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(names.ENV_MODE, raising=False)
    assert Settings(LIVEKIT_URL=url).is_local


def test_the_default_settings_are_local_on_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    # What `uvicorn functions.api.main:app` gets with nothing set.
    monkeypatch.delenv(names.ENV_MODE, raising=False)
    monkeypatch.delenv(names.ENV_LIVEKIT_URL, raising=False)
    assert Settings().is_local


def test_cloud_mode_takes_a_server_anywhere() -> None:
    s = Settings(SPACES_MODE="cloud", LIVEKIT_URL="wss://sfu.example.com", LIVEKIT_SECRET_ARN="arn:x")
    assert s.livekit_url == "wss://sfu.example.com"


@pytest.mark.parametrize(
    "env",
    [
        {"LIVEKIT_API_KEY": names.DEV_API_KEY, "LIVEKIT_API_SECRET": "real-secret"},
        {"LIVEKIT_API_KEY": "real", "LIVEKIT_API_SECRET": names.DEV_API_SECRET},
        {"LIVEKIT_API_KEY": "real", "LIVEKIT_API_SECRET": "real", names.ENV_DEV_JWT_SECRET: "custom"},
        {},  # neither a key pair nor a secret ARN
    ],
)
def test_cloud_mode_refuses_dev_secrets_and_missing_credentials(env: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        Settings(SPACES_MODE="cloud", **env)


def test_cloud_mode_with_a_secret_arn_defers_loading() -> None:
    s = Settings(SPACES_MODE="cloud", LIVEKIT_SECRET_ARN="arn:aws:secretsmanager:eu-west-1:1:secret:lk")
    assert s.livekit_secret_arn and s.livekit_api_key is None  # nothing fetched at construction


def test_cors_origins_are_a_comma_separated_list() -> None:
    s = Settings(SPACES_CORS_ORIGINS="https://a.example, https://b.example")
    assert s.cors_origin_list == ["https://a.example", "https://b.example"]


def test_cors_defaults_to_the_local_page_locally_and_to_nothing_in_the_cloud(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from fastapi.testclient import TestClient

    from functions.api.main import create_app

    monkeypatch.delenv(names.ENV_CORS_ORIGINS, raising=False)
    local = Settings(SPACES_MODE="local", SPACES_WEB_DIST="/nonexistent")
    assert local.cors_origin_list == ["http://localhost:8000", "http://127.0.0.1:8000"]
    cloud = Settings(SPACES_MODE="cloud", LIVEKIT_API_KEY="k", LIVEKIT_API_SECRET="s" * 32)
    assert cloud.cors_origin_list == []
    # Still configurable, including "*" for whoever wants it.
    assert Settings(SPACES_CORS_ORIGINS="*").cors_origin_list == ["*"]

    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
    with TestClient(create_app(local), base_url="http://127.0.0.1") as client:
        # Any website open in the developer's browser must not mint dev tokens and drive the API.
        evil = client.options("/dev/token", headers={**preflight, "Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in evil.headers
        page = client.options("/dev/token", headers={**preflight, "Origin": "http://localhost:8000"})
        assert page.headers["access-control-allow-origin"] == "http://localhost:8000"


def test_dev_token_prints_a_verifiable_token_alone_on_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    from functions.dev_token import main

    assert main(["alice"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    claims = jwt.decode(out.strip(), names.DEV_JWT_SECRET, algorithms=["HS256"])
    assert claims["sub"] == "alice" and claims["exp"] > claims["iat"]
    with pytest.raises(SystemExit):
        main(["not a valid id"])


def test_cloud_credentials_come_from_secrets_manager_on_first_use(monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    import boto3
    from moto import mock_aws

    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    with mock_aws():
        arn = boto3.client("secretsmanager").create_secret(
            Name="livekit", SecretString=json.dumps({"api_key": "prod-key", "api_secret": "prod-secret"})
        )["ARN"]
        s = Settings(SPACES_MODE="cloud", LIVEKIT_SECRET_ARN=arn)
        assert s.livekit_credentials().api_key == "prod-key"
        assert s.livekit_credentials().api_secret == "prod-secret"

        dev = boto3.client("secretsmanager").create_secret(
            Name="dev",
            SecretString=json.dumps({"api_key": names.DEV_API_KEY, "api_secret": names.DEV_API_SECRET}),
        )["ARN"]
        with pytest.raises(RuntimeError, match="refused"):
            Settings(SPACES_MODE="cloud", LIVEKIT_SECRET_ARN=dev).livekit_credentials()


async def test_a_server_that_drops_the_answer_is_a_gateway_error() -> None:
    """aiohttp reports a dropped connection as ServerDisconnectedError, which is not an OSError: it
    must still become GatewayError (502, and the caller's undo runs), never a bare 500."""
    import asyncio

    from functions.livekit_edge.gateway import GatewayError, LiveKitGateway

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")  # the request headers, then no answer at all
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    gateway = LiveKitGateway(
        Settings(
            SPACES_MODE="local",
            LIVEKIT_URL=f"ws://127.0.0.1:{port}",
            LIVEKIT_API_KEY="unit-key",
            LIVEKIT_API_SECRET="unit-secret-long-enough-for-hs256-signing",
        )
    )
    try:
        with pytest.raises(GatewayError):
            await gateway.remove_participant("space-x", "someone")
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize(("grace", "empty", "departure"), [(120, 300, 180), (3600, 3660, 3660), (1, 300, 61)])
def test_a_room_outlives_the_hosts_grace_period_whether_or_not_anyone_joined(
    grace: float, empty: int, departure: int
) -> None:
    """The SFU closes a room nobody joined after its empty timeout, and one whose last person left
    after its departure timeout; neither may close it before the host's grace period has run."""
    s = Settings(SPACES_HOST_GRACE_SECONDS=grace)
    assert (s.room_empty_seconds, s.room_departure_seconds) == (empty, departure)
