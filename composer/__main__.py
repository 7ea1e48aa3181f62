"""`python -m composer start`: the livekit-agents CLI around the broadcast composer.

Same shape as `python -m media_agent`: `start` is what the cloud and `make dev` run (drains on
SIGTERM, load threshold, a warm process); the CLI's deprecated `dev` is left to tests. Reads
LIVEKIT_URL / LIVEKIT_API_KEY / LIVEKIT_API_SECRET and the broadcast destination
(SPACES_BROADCAST_DIR, or SPACES_BROADCAST_BUCKET and _PREFIX).
"""

from __future__ import annotations

import os
import sys

from media_agent.dev_keys import dev_key_refusal
from media_agent.sfu_check import refusal_before_start


def main() -> None:
    refusal = dev_key_refusal(os.environ) or refusal_before_start(os.environ)
    if refusal is not None:
        sys.exit(f"composer: {refusal}")
    # Refuse to register a worker that could not write a broadcast: every dispatch would fail.
    from composer import settings

    try:
        settings.sink_from_env(os.environ, s3_client=lambda: None)
        settings.config_from_env(os.environ, video=True)
        settings.warm_cameras(os.environ)
        settings.full_picture_wait(os.environ)
    except settings.SettingsError as exc:
        sys.exit(f"composer: {exc}")
    # Nothing here may reach the internet (see media_agent/__main__.py).
    os.environ.pop("LIVEKIT_OBSERVABILITY_URL", None)

    from livekit.agents import cli

    from composer.worker import server

    cli.run_app(server)


if __name__ == "__main__":
    main()
