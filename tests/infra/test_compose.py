"""docker-compose.yml runs the pinned server with the config the shared renderer produces."""

from __future__ import annotations

from pathlib import Path

import yaml

from contract import names
from infrastructure import compose

ROOT = Path(__file__).resolve().parents[2]


def test_checked_in_compose_config_is_what_the_renderer_produces() -> None:
    assert compose.RENDERED.read_text() == compose.render()


def test_compose_runs_the_pinned_server_with_that_config_and_redis() -> None:
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    livekit = services["livekit"]
    assert livekit["image"] == f"livekit/livekit-server:{names.LIVEKIT_VERSION}"
    assert any(v.startswith("./infrastructure/compose/livekit.yaml:") for v in livekit["volumes"])
    config = yaml.safe_load(compose.RENDERED.read_text())
    assert config["redis"]["address"].split(":")[0] in services
    assert config["room"]["auto_create"] is False
    published = {p.split(":")[0].split("/")[0] for p in livekit["ports"]}
    assert published == {str(config["port"]), str(config["rtc"]["tcp_port"]), str(config["rtc"]["udp_port"])}
