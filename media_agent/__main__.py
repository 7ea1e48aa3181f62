"""`python -m media_agent dev|start`: the livekit-agents CLI around the stage agent.

`start` is production (drains on SIGTERM, load threshold, warm processes); `dev` is for `make dev`
(verbose logs, no drain). Both read LIVEKIT_URL / LIVEKIT_API_KEY / LIVEKIT_API_SECRET.
"""

from __future__ import annotations

import os
import sys

from contract import names


def _refuse_dev_keys_outside_local() -> None:
    local = os.environ.get(names.ENV_MODE, "local") == "local"
    if not local and os.environ.get(names.ENV_LIVEKIT_API_KEY) == names.DEV_API_KEY:
        sys.exit(f"refusing the local dev key pair with {names.ENV_MODE}={os.environ[names.ENV_MODE]}")


def main() -> None:
    _refuse_dev_keys_outside_local()
    # Nothing here may reach the internet: the agent talks to the LiveKit server only. Telemetry in
    # livekit-agents is only set up for LiveKit Cloud URLs or LIVEKIT_OBSERVABILITY_URL, and we load
    # no plugins (so there is nothing to download).
    os.environ.pop("LIVEKIT_OBSERVABILITY_URL", None)

    from livekit.agents import cli

    from media_agent.worker import server

    cli.run_app(server)


if __name__ == "__main__":
    main()
