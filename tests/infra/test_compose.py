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
    published = {_published(p)[1] for p in livekit["ports"]}
    assert published == {str(config["port"]), str(config["rtc"]["tcp_port"]), str(config["rtc"]["udp_port"])}


def test_every_published_port_binds_loopback_only() -> None:
    # The server accepts the public dev key pair: nothing of it may be reachable from the network.
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    ports = [(name, p) for name, service in services.items() for p in service.get("ports", [])]
    assert ports
    for name, port in ports:
        assert _published(port)[0] == "127.0.0.1", (name, port)
    # Host networking would ignore `ports` and put the server's 0.0.0.0 binding on the host itself.
    assert all("network_mode" not in service for service in services.values())


def test_webhooks_go_to_the_host_through_the_host_gateway() -> None:
    livekit = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["livekit"]
    config = yaml.safe_load(compose.RENDERED.read_text())
    assert config["webhook"]["urls"] == [f"http://host.docker.internal:{names.DEV_API_PORT}/livekit/webhook"]
    assert "host.docker.internal:host-gateway" in livekit["extra_hosts"]


def _published(port: str | int | dict[str, object]) -> tuple[str, str]:
    """(host address, host port) of a compose port entry; "0.0.0.0" when no address is given."""
    if isinstance(port, dict):  # long syntax
        return str(port.get("host_ip", "0.0.0.0")), str(port["published"])
    parts = str(port).split("/")[0].split(":")
    if len(parts) == 3:
        return parts[0], parts[1]
    return "0.0.0.0", parts[0]
