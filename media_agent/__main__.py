"""`python -m media_agent start`: the livekit-agents CLI around the stage agent.

`start` is what the cloud and `make dev` run (drains on SIGTERM, load threshold, warm processes).
The CLI's `dev` (deprecated in livekit-agents 1.x: no drain, no load threshold) is left to tests
that need a worker which never reports itself full. Both read LIVEKIT_URL / LIVEKIT_API_KEY /
LIVEKIT_API_SECRET.
"""

from __future__ import annotations

import os
import sys

from media_agent.dev_keys import dev_key_refusal
from media_agent.sfu_check import refusal_before_start


def main() -> None:
    refusal = dev_key_refusal(os.environ) or refusal_before_start(os.environ)
    if refusal is not None:
        sys.exit(f"media agent: {refusal}")
    # Nothing here may reach the internet: the agent talks to the LiveKit server only. Telemetry in
    # livekit-agents is only set up for LiveKit Cloud URLs or LIVEKIT_OBSERVABILITY_URL, and we load
    # no plugins (so there is nothing to download).
    os.environ.pop("LIVEKIT_OBSERVABILITY_URL", None)

    from livekit.agents import cli

    from media_agent.worker import server

    cli.run_app(server)


if __name__ == "__main__":
    main()
