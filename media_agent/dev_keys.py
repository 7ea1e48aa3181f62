"""Whether the agent may start with the key pair it was given: the public dev pair is local-only.

Pure (reads a mapping, returns a reason), so the rule is tested without a process or a server.
"""

from __future__ import annotations

from collections.abc import Mapping

from contract import names
from contract.loopback import is_loopback_url


def dev_key_refusal(env: Mapping[str, str]) -> str | None:
    """Why the agent must not start with this environment, or None if it may.

    Either half of the dev pair is enough to refuse: the secret is public, and a real key id paired
    with it (or the dev key id with a real secret) means a deployment copied local settings.
    With SPACES_MODE unset the mode is unknown, so the URL decides: the dev pair only for a server
    on this machine.
    """
    key = env.get(names.ENV_LIVEKIT_API_KEY)
    secret = env.get(names.ENV_LIVEKIT_API_SECRET)
    if key != names.DEV_API_KEY and secret != names.DEV_API_SECRET:
        return None
    mode = env.get(names.ENV_MODE)
    if mode == "local":
        return None
    if mode is not None:
        return f"refusing the local dev key pair with {names.ENV_MODE}={mode}"
    url = env.get(names.ENV_LIVEKIT_URL, "")
    if is_loopback_url(url):
        return None
    return (
        f"refusing the local dev key pair: {names.ENV_MODE} is unset and {names.ENV_LIVEKIT_URL}="
        f"{url!r} is not a loopback address (set {names.ENV_MODE}=local for a local server)"
    )
