"""Settings from the environment (pydantic-settings). Tests override `get_settings` via the app's
dependency overrides or by clearing its cache after changing the environment.

Cloud mode refuses the local dev key pair and dev JWT secret, so a copy of `make dev`'s environment
can never run in production.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import Literal

from pydantic import Field, PrivateAttr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from contract import names
from contract.avatar_fetch import AvatarPolicy, policy_from_env
from contract.loopback import has_port, is_loopback_url, normal_host

from ..domain import presence, viewers
from ..domain.broadcast import BroadcastPolicy
from ..domain.model import Limits

log = logging.getLogger(__name__)


# Agents in every room: the stage agent and the composer.
ROOM_AGENTS = 2


def room_seats_needed(webrtc_listener_limit: int, *, max_speakers: int) -> int:
    """Who a room must admit: the WebRTC listeners up to the limit, the whole stage and the agents.
    A room smaller than that makes the SFU refuse joins before the switch to HLS."""
    return webrtc_listener_limit + 1 + Limits().max_cohosts + max_speakers + ROOM_AGENTS


@dataclass(frozen=True)
class LiveKitCredentials:
    api_key: str
    api_secret: str


# The API's own address under `make dev` (it serves web/dist at /).
LOCAL_WEB_ORIGINS = ("http://localhost:8000", "http://127.0.0.1:8000")
# Scheduled Spaces per host when SPACES_MAX_SCHEDULED_PER_HOST is unset in cloud mode
# (docs/control-plane.md, "Roles, rules and the limits chosen").
CLOUD_MAX_SCHEDULED_PER_HOST = 20


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    mode: Literal["local", "cloud"] = Field(default="local", validation_alias=names.ENV_MODE)

    # Where the control plane reaches the SFU's server API, and the URL handed to clients.
    livekit_url: str = Field(default="ws://127.0.0.1:7880", validation_alias=names.ENV_LIVEKIT_URL)
    public_livekit_url: str | None = Field(default=None, validation_alias=names.ENV_PUBLIC_LIVEKIT_URL)
    livekit_api_key: str | None = Field(default=None, validation_alias=names.ENV_LIVEKIT_API_KEY)
    livekit_api_secret: str | None = Field(default=None, validation_alias=names.ENV_LIVEKIT_API_SECRET)
    # Cloud: a Secrets Manager secret {"api_key": ..., "api_secret": ...}, read on first use.
    livekit_secret_arn: str | None = Field(default=None, validation_alias=names.ENV_LIVEKIT_SECRET_ARN)

    store: Literal["sqlite", "dynamodb"] = Field(default="sqlite", validation_alias=names.ENV_STORE)
    sqlite_path: str = Field(default=".dev/spaces.sqlite3", validation_alias=names.ENV_SQLITE_PATH)
    table_name: str = Field(default="spaces", validation_alias=names.ENV_TABLE_NAME)
    # Only for DynamoDB Local / moto; unset in the cloud.
    dynamodb_endpoint: str | None = Field(default=None, validation_alias=names.ENV_DYNAMODB_ENDPOINT)

    # Local mode only: the app verifies bearer tokens itself (in the cloud API Gateway does).
    dev_jwt_secret: str = Field(default=names.DEV_JWT_SECRET, validation_alias=names.ENV_DEV_JWT_SECRET)

    # Origins allowed to call the API from a browser (the web client may be hosted elsewhere),
    # comma-separated. Unset: locally only the page `make dev` serves (which is same-origin anyway;
    # local mode mints tokens for anyone at /dev/token, so no other site may drive it), in the
    # cloud none (the deployment names its web origin explicitly).
    cors_origins: str | None = Field(default=None, validation_alias=names.ENV_CORS_ORIGINS)
    # Local mode only: host names the API answers (the request's Host header) besides this
    # machine's (localhost, 127.0.0.0/8, [::1]), comma-separated: functions/api/local_hosts.py.
    dev_hosts: str | None = Field(default=None, validation_alias="SPACES_DEV_HOSTS")

    @field_validator("dev_hosts")
    @classmethod
    def _dev_hosts_are_names(cls, value: str | None) -> str | None:
        # A port is not compared (any port of a name is that name): say so at start, not by a 403.
        for entry in (value or "").split(","):
            if has_port(entry):
                raise ValueError(f"SPACES_DEV_HOSTS names hosts without their port: {entry.strip()!r}")
        return value

    max_speakers: int = Field(default=10, ge=1, le=50, validation_alias="SPACES_MAX_SPEAKERS")
    # Unset: no quota (local development); the cloud stack sets it (infrastructure/, app.py).
    max_live_per_host: int | None = Field(
        default=None, ge=1, le=100, validation_alias=names.ENV_MAX_LIVE_PER_HOST
    )
    # Unset: anyone signed in may create Spaces; set: only members of this identity-provider group
    # (domain/lifecycle.py authorize_hosting; the cloud stack's context `host_group`).
    host_group: str | None = Field(
        default=None, min_length=1, max_length=128, validation_alias=names.ENV_HOST_GROUP
    )
    # Scheduled (not yet started) Spaces one person may host at once. Unset: 20 in cloud mode (a
    # lobby page's worth; anyone may sign up, and a create costs nothing else), none locally (the
    # tests and the API fuzzer create many Spaces as one user).
    max_scheduled_per_host: int | None = Field(
        default=None, ge=1, le=1000, validation_alias=names.ENV_MAX_SCHEDULED_PER_HOST
    )
    # Join tokens live minutes: the SFU refreshes the token of a connected session itself, so the
    # TTL only bounds how long a leaked or revoked (blocked) token can still be used to join.
    token_ttl_seconds: int = Field(default=600, ge=60, le=3600, validation_alias="SPACES_TOKEN_TTL_SECONDS")
    # Local mode only: how long a dev bearer token (POST /dev/token) is valid. Long by default (a
    # working day of `make dev`); the e2e test of token refresh makes it seconds.
    dev_token_ttl_seconds: int = Field(
        default=12 * 3600, ge=1, validation_alias="SPACES_DEV_TOKEN_TTL_SECONDS"
    )
    # Room limits set at start: audience size per room, and how long an empty room lingers.
    room_max_participants: int = Field(default=5000, ge=2, validation_alias="SPACES_ROOM_MAX_PARTICIPANTS")
    room_empty_timeout: int = Field(default=300, ge=10, validation_alias="SPACES_ROOM_EMPTY_TIMEOUT")
    room_departure_timeout: int = Field(default=60, ge=5, validation_alias="SPACES_ROOM_DEPARTURE_TIMEOUT")

    web_dist: str = Field(default="web/dist", validation_alias="SPACES_WEB_DIST")

    # The reconciler (docs/control-plane.md, "The reconciler"). Seconds one pass may take when it
    # runs inside a request (after a write, on a webhook): long enough for a few SFU round trips and
    # one held-back metadata update (2 s), short enough that no answer waits on a slow SFU.
    reconcile_budget_seconds: float = Field(
        default=3.0, gt=0, le=25, validation_alias=names.ENV_RECONCILE_BUDGET_SECONDS
    )
    # Seconds between two room metadata publishes per room and process (runner.METADATA_INTERVAL):
    # every viewer receives each one. Shorter only in tests.
    metadata_interval_seconds: float = Field(
        default=2.0, ge=0, le=60, validation_alias=names.ENV_METADATA_INTERVAL_SECONDS
    )
    # Seconds between two sweeps over every live Space: by the patrol in the API process (`make dev`,
    # the tests; 0 turns it off), and by the cloud's scheduled reconciler, which patrols each minute
    # EventBridge Scheduler starts it (its stack sets 10; the API function there runs no loop).
    reconcile_interval_seconds: float = Field(
        default=5.0, ge=0, validation_alias=names.ENV_RECONCILE_INTERVAL_SECONDS
    )
    # Seconds the host may be out of the room before the Space ends (docs/control-plane.md, "The
    # host"). 120 s outlasts a page reload, a network switch and the web client's reconnect backoff
    # (capped at 10 s between attempts) several times over, and is short enough that an audience is
    # not left waiting long in a Space nobody can end. Precision: one reconciler pass (the local
    # loop's interval; the cloud schedule's minute).
    host_grace_seconds: float = Field(
        default=120.0, ge=1, le=24 * 3600, validation_alias=names.ENV_HOST_GRACE_SECONDS
    )

    # Broadcast (HLS). The public base URL of the broadcasts (CloudFront in the cloud, the API's own
    # /broadcast locally); unset: no broadcast, every join is WebRTC and no composer is dispatched.
    broadcast_base_url: str | None = Field(default=None, validation_alias=names.ENV_BROADCAST_BASE_URL)
    # Local mode: the directory the composer writes to, served by the API at /broadcast/.
    broadcast_dir: str | None = Field(default=None, validation_alias=names.ENV_BROADCAST_DIR)
    # Listeners beyond this many WebRTC listeners in the room get the broadcast. 250 keeps one Space's
    # WebRTC audience within 60 % of a default SFU node (2 vCPU, ~0.45 % of a core per listener);
    # the derivation is in docs/control-plane.md ("WebRTC or HLS").
    webrtc_listener_limit: int = Field(default=250, ge=0, validation_alias=names.ENV_WEBRTC_LISTENER_LIMIT)
    # Seconds per presence window of the HLS viewers' sampled heartbeats (domain/presence.py): a
    # sampled viewer sends one heartbeat per window, and the count is the last complete window's.
    presence_window_seconds: int = Field(
        default=presence.WINDOW_SECONDS, ge=1, le=3600, validation_alias=names.ENV_PRESENCE_WINDOW_SECONDS
    )
    # Days a recording is offered after its Space ends (the bucket's lifecycle deletes it after that).
    recording_retention_days: int = Field(
        default=30, ge=1, le=3650, validation_alias=names.ENV_RECORDING_RETENTION_DAYS
    )

    # Hosts the avatar proxy (GET /avatars) fetches pictures from, as for the composer: comma-separated
    # names or `*.suffix`, `*` for any public host; unset: contract/avatar_fetch.py's DEFAULT_HOSTS;
    # empty: no pictures (pages draw initials).
    avatar_hosts: str | None = Field(default=None, validation_alias=names.ENV_AVATAR_HOSTS)

    _credentials: LiveKitCredentials | None = PrivateAttr(None)

    @model_validator(mode="after")
    def _broadcast_consistent(self) -> Settings:
        if self.broadcast_base_url is not None and not self.broadcast_base_url.strip():
            self.broadcast_base_url = None  # set but empty: the same as unset
        if self.broadcast_base_url is not None:
            url = self.broadcast_base_url.strip().rstrip("/")
            scheme = url.split("://", 1)[0] if "://" in url else ""
            if scheme not in ("http", "https") or not url.split("://", 1)[1]:
                raise ValueError(f"{names.ENV_BROADCAST_BASE_URL} must be an http(s) URL, got {url!r}")
            if self.mode == "cloud" and scheme != "https":
                # The deployed page is served over HTTPS; browsers block an http playlist there.
                raise ValueError(f"{names.ENV_BROADCAST_BASE_URL} must be https in cloud mode")
            self.broadcast_base_url = url
            needed = room_seats_needed(self.webrtc_listener_limit, max_speakers=self.max_speakers)
            if needed > self.room_max_participants:
                raise ValueError(
                    f"{names.ENV_WEBRTC_LISTENER_LIMIT}={self.webrtc_listener_limit} plus the stage "
                    f"and the agents ({needed - self.webrtc_listener_limit}) exceeds "
                    f"SPACES_ROOM_MAX_PARTICIPANTS={self.room_max_participants}"
                )
        return self

    @model_validator(mode="after")
    def _local_mode_only_on_this_machine(self) -> Settings:
        # Local mode (the default) mounts /dev/token and accepts bearer tokens signed with the public
        # dev secret: a deployment that forgot SPACES_MODE must not start like that. A LiveKit server
        # on loopback, handed to clients on loopback, is what `make dev` and the tests run; a
        # deployment's SFU, or the address its clients are given (one box serving the public), is
        # elsewhere.
        if self.mode != "local":
            return self
        for variable, url in (
            (names.ENV_LIVEKIT_URL, self.livekit_url),
            (names.ENV_PUBLIC_LIVEKIT_URL, self.public_livekit_url),
        ):
            if url is not None and not is_loopback_url(url):
                raise ValueError(
                    f"{names.ENV_MODE}=local (the default when unset) mints tokens for anyone and "
                    f"accepts the public dev secret, so it runs only with a LiveKit server on this "
                    f"machine, but {variable}={url!r} is not a loopback address: set "
                    f"{names.ENV_MODE}=cloud for a deployment, or point {variable} at "
                    f"localhost / 127.0.0.1 / [::1]"
                )
        return self

    @model_validator(mode="after")
    def _refuse_dev_secrets_outside_local(self) -> Settings:
        if self.mode == "cloud":
            if self.livekit_api_key == names.DEV_API_KEY or self.livekit_api_secret == names.DEV_API_SECRET:
                raise ValueError("the local dev LiveKit key pair is refused outside local mode")
            if self.dev_jwt_secret != names.DEV_JWT_SECRET:
                # Only the dev default is tolerated (and ignored) in the cloud; a custom one means
                # someone expects the app to verify tokens itself, which it never does there.
                raise ValueError(f"{names.ENV_DEV_JWT_SECRET} is a local-mode setting")
            if not self.livekit_secret_arn and not (self.livekit_api_key and self.livekit_api_secret):
                raise ValueError(f"cloud mode needs {names.ENV_LIVEKIT_SECRET_ARN} or the LiveKit key pair")
        return self

    @property
    def is_local(self) -> bool:
        return self.mode == "local"

    @property
    def room_empty_seconds(self) -> int:
        """How long a room nobody has joined yet stays open, as the room is created: the configured
        timeout, but never less than the host's grace period plus a minute. A host who starts a
        Space and is not in its room within that time has left it (the reconciler's grace period
        ends it); with a grace period longer than the timeout, the SFU closed the room first."""
        return max(self.room_empty_timeout, math.ceil(self.host_grace_seconds) + 60)

    @property
    def room_departure_seconds(self) -> int:
        """How long a room outlives its last person, as the room is created: the configured timeout,
        but never less than the host's grace period plus a minute (the end's precision). Agents do
        not keep a room open, and an HLS audience is not in it, so a host alone in the room who
        drops would otherwise lose the Space when the room closes (its `room_finished` ends it),
        before the grace period the Leave confirmation promises."""
        return max(self.room_departure_timeout, math.ceil(self.host_grace_seconds) + 60)

    @property
    def client_livekit_url(self) -> str:
        return self.public_livekit_url or self.livekit_url

    @property
    def cors_origin_list(self) -> list[str]:
        if self.cors_origins is None:
            return list(LOCAL_WEB_ORIGINS) if self.is_local else []
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]

    @property
    def dev_host_list(self) -> frozenset[str]:
        """SPACES_DEV_HOSTS as names compared with a request's (api/local_hosts.py normal_host)."""
        if self.dev_hosts is None:
            return frozenset()
        return frozenset(normal_host(h) for h in self.dev_hosts.split(",") if h.strip())

    @property
    def avatar_policy(self) -> AvatarPolicy:
        """What the avatar proxy fetches (contract/avatar_fetch.py); local mode adds http and loopback."""
        env: dict[str, str] = {names.ENV_MODE: self.mode}
        if self.avatar_hosts is not None:
            env[names.ENV_AVATAR_HOSTS] = self.avatar_hosts
        return policy_from_env(env)

    @property
    def limits(self) -> Limits:
        scheduled = self.max_scheduled_per_host
        if scheduled is None and not self.is_local:
            scheduled = CLOUD_MAX_SCHEDULED_PER_HOST
        return Limits(
            max_speakers=self.max_speakers,
            max_live_per_host=self.max_live_per_host,
            max_scheduled_per_host=scheduled,
        )

    @property
    def broadcast(self) -> BroadcastPolicy:
        return BroadcastPolicy(
            base_url=self.broadcast_base_url,
            webrtc_listener_limit=self.webrtc_listener_limit,
            retention=timedelta(days=self.recording_retention_days),
        )

    def viewer_tag_key(self) -> bytes:
        """The key of HLS viewers' tags (domain/viewers.py), derived from the LiveKit API secret: a
        rotation of that secret changes every tag, so a removal just before it is not told."""
        return viewers.tag_key(self.livekit_credentials().api_secret)

    def livekit_credentials(self) -> LiveKitCredentials:
        """Env first; else the Secrets Manager secret, fetched once per process (off the cold path)."""
        if self._credentials is None:
            self._credentials = _resolve_credentials(self)
        return self._credentials


@cache
def get_settings() -> Settings:
    return Settings()


def _resolve_credentials(settings: Settings) -> LiveKitCredentials:
    if settings.livekit_api_key and settings.livekit_api_secret:
        creds = LiveKitCredentials(settings.livekit_api_key, settings.livekit_api_secret)
    elif settings.livekit_secret_arn:
        creds = _from_secrets_manager(settings.livekit_secret_arn)
    elif settings.is_local:
        creds = LiveKitCredentials(names.DEV_API_KEY, names.DEV_API_SECRET)
    else:  # unreachable: the validator requires one of the two in cloud mode
        raise RuntimeError("no LiveKit credentials configured")
    if not settings.is_local and (
        creds.api_key == names.DEV_API_KEY or creds.api_secret == names.DEV_API_SECRET
    ):
        raise RuntimeError("the local dev LiveKit key pair is refused outside local mode")
    return creds


def _from_secrets_manager(arn: str) -> LiveKitCredentials:
    import boto3  # lazy: boto3 costs hundreds of ms to import and most requests never need it

    raw = boto3.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"]
    doc = json.loads(raw)
    log.info("loaded LiveKit credentials from Secrets Manager")
    return LiveKitCredentials(doc[names.SECRET_FIELD_API_KEY], doc[names.SECRET_FIELD_API_SECRET])
