"""`make dev` and the API agree on the broadcast: the variables devstack gives both make a valid
local configuration whose links point at the API's own /broadcast/ route."""

from __future__ import annotations

from contract import names
from devstack import __main__ as devstack
from functions.core.config import Settings
from functions.domain.broadcast import links


def test_devstack_broadcast_settings_are_valid_for_the_api() -> None:
    api_url = f"http://127.0.0.1:{names.DEV_API_PORT}"
    env = devstack.broadcast_env(api_url)
    assert env[names.ENV_BROADCAST_DIR].endswith(".dev/broadcast")
    settings = Settings.model_validate({names.ENV_MODE: "local", **env})
    assert settings.broadcast.enabled and settings.broadcast_dir == env[names.ENV_BROADCAST_DIR]
    assert settings.broadcast_base_url is not None
    link = links(settings.broadcast_base_url, "ab" * 16)
    assert link.playlist_url == f"{api_url}/broadcast/{'ab' * 16}/{names.BROADCAST_PLAYLIST}"
