"""livekit.yaml for docker-compose.yml, rendered by contract.livekit_config like every other one.

Regenerate after changing the renderer (tests/infra checks the checked-in file is current):
    .venv/bin/python -m infrastructure.compose > infrastructure/compose/livekit.yaml
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from contract import livekit_config, names
from contract.livekit_config import RedisSettings

RENDERED = Path(__file__).with_name("livekit.yaml")
# The API runs on the host (`make dev` or uvicorn); the container reaches it through the host gateway.
WEBHOOK_URL = f"http://host.docker.internal:{names.DEV_API_PORT}/livekit/webhook"
UDP_PORT = 7882


def render() -> str:
    config = livekit_config.local_config(
        api_key=names.DEV_API_KEY,
        api_secret=names.DEV_API_SECRET,
        port=names.DEV_LIVEKIT_PORT,
        rtc_tcp_port=names.DEV_LIVEKIT_TCP_PORT,
        rtc_udp_port=UDP_PORT,
        webhook_url=WEBHOOK_URL,
        redis=RedisSettings(address="redis:6379"),
    )
    # Inside the container: listen on all interfaces; ICE still advertises 127.0.0.1 (published ports).
    return livekit_config.render_yaml(dataclasses.replace(config, bind_addresses=("0.0.0.0",)))
