"""The agent refuses the public dev key pair anywhere but a local server."""

from __future__ import annotations

import subprocess
import sys

import pytest

from contract import names
from media_agent.dev_keys import dev_key_refusal

REAL_KEY = "APIrealkey123"
REAL_SECRET = "a-real-secret-from-secrets-manager"
DEV_PAIRS = [
    (names.DEV_API_KEY, names.DEV_API_SECRET),
    (names.DEV_API_KEY, REAL_SECRET),  # the dev key id alone
    (REAL_KEY, names.DEV_API_SECRET),  # the dev secret alone
]


def _env(key: str, secret: str, **extra: str) -> dict[str, str]:
    return {names.ENV_LIVEKIT_API_KEY: key, names.ENV_LIVEKIT_API_SECRET: secret, **extra}


@pytest.mark.parametrize(("key", "secret"), DEV_PAIRS)
@pytest.mark.parametrize("mode", ["cloud", "staging", ""])
def test_either_half_of_the_dev_pair_is_refused_outside_local_mode(key: str, secret: str, mode: str) -> None:
    env = _env(key, secret, **{names.ENV_MODE: mode, names.ENV_LIVEKIT_URL: "ws://127.0.0.1:7880"})
    refusal = dev_key_refusal(env)
    assert refusal is not None and f"{names.ENV_MODE}={mode}" in refusal


@pytest.mark.parametrize(("key", "secret"), DEV_PAIRS)
def test_local_mode_accepts_the_dev_pair(key: str, secret: str) -> None:
    env = _env(key, secret, **{names.ENV_MODE: "local", names.ENV_LIVEKIT_URL: "wss://sfu.example.com"})
    assert dev_key_refusal(env) is None


@pytest.mark.parametrize(
    "url", ["ws://127.0.0.1:7880", "ws://localhost:7880", "ws://[::1]:7880", "http://127.0.0.1:7880"]
)
@pytest.mark.parametrize(("key", "secret"), DEV_PAIRS)
def test_without_a_mode_the_dev_pair_is_accepted_on_loopback(key: str, secret: str, url: str) -> None:
    assert dev_key_refusal(_env(key, secret, **{names.ENV_LIVEKIT_URL: url})) is None


@pytest.mark.parametrize(
    "url",
    [
        "wss://sfu.example.com",
        "ws://10.0.0.5:7880",
        "ws://0.0.0.0:7880",
        "ws://localhost.example.com:7880",
        "ws://127.0.0.1.nip.io:7880",
        "ws://[::1:7880",  # malformed
        "",
    ],
)
@pytest.mark.parametrize(("key", "secret"), DEV_PAIRS)
def test_without_a_mode_the_dev_pair_is_refused_elsewhere(key: str, secret: str, url: str) -> None:
    refusal = dev_key_refusal(_env(key, secret, **{names.ENV_LIVEKIT_URL: url}))
    assert refusal is not None and names.ENV_MODE in refusal and "loopback" in refusal


def test_without_a_url_or_mode_the_dev_pair_is_refused() -> None:
    assert dev_key_refusal(_env(names.DEV_API_KEY, names.DEV_API_SECRET)) is not None


@pytest.mark.parametrize("mode", [None, "cloud", "local"])
def test_a_real_pair_is_never_refused(mode: str | None) -> None:
    env = _env(REAL_KEY, REAL_SECRET, **{names.ENV_LIVEKIT_URL: "wss://sfu.example.com"})
    if mode is not None:
        env[names.ENV_MODE] = mode
    assert dev_key_refusal(env) is None


def test_the_entry_point_exits_before_starting_the_worker() -> None:
    env = _env(
        REAL_KEY, names.DEV_API_SECRET, **{names.ENV_MODE: "cloud", names.ENV_LIVEKIT_URL: "ws://127.0.0.1:1"}
    )
    done = subprocess.run(
        [sys.executable, "-m", "media_agent", "start"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert "refusing the local dev key pair" in done.stderr
