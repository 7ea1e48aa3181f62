import json

from contract import livekit_config
from contract.livekit_config import LiveKitConfig, RedisSettings, TurnSettings


def test_local_config_is_loopback_only_with_auto_create_off() -> None:
    cfg = livekit_config.local_config(
        api_key="k",
        api_secret="s",
        port=7880,
        rtc_tcp_port=7881,
        rtc_udp_port=7882,
        webhook_url="http://127.0.0.1:8000/livekit/webhook",
    )
    doc = livekit_config.render(cfg)
    assert doc["bind_addresses"] == ["127.0.0.1"]
    assert doc["room"]["auto_create"] is False  # type: ignore[index]
    assert doc["rtc"] == {
        "tcp_port": 7881,
        "udp_port": 7882,
        "use_external_ip": False,
        "node_ip": "127.0.0.1",
    }
    assert doc["webhook"] == {"api_key": "k", "urls": ["http://127.0.0.1:8000/livekit/webhook"]}
    assert "redis" not in doc


def test_fleet_config_uses_port_range_external_ip_redis_and_turn() -> None:
    cfg = LiveKitConfig(
        api_key="${KEY}",
        api_secret="${SECRET}",
        bind_addresses=("0.0.0.0",),
        use_external_ip=True,
        redis=RedisSettings(address="redis.example:6379", password="${REDIS}", use_tls=True),
        turn=TurnSettings(domain="turn.example.com"),
    )
    doc = livekit_config.render(cfg)
    assert doc["rtc"]["port_range_start"] == 50000  # type: ignore[index]
    assert doc["rtc"]["port_range_end"] == 60000  # type: ignore[index]
    assert doc["rtc"]["use_external_ip"] is True  # type: ignore[index]
    assert doc["redis"]["use_tls"] is True  # type: ignore[index]
    assert doc["turn"]["domain"] == "turn.example.com"  # type: ignore[index]
    # Rendered, not left to the server's default, so the fleet opens exactly these relay ports.
    assert (doc["turn"]["relay_range_start"], doc["turn"]["relay_range_end"]) == (30000, 40000)  # type: ignore[index]
    assert "webhook" not in doc
    # Participants are listed by the node holding the room: Redis would list a dead node's as ghosts.
    assert doc["api"] == {"enable_psrpc_for_get_list_participants": True}


def test_yaml_text_round_trips_as_json() -> None:
    cfg = LiveKitConfig(api_key="k", api_secret="s")
    assert json.loads(livekit_config.render_yaml(cfg)) == livekit_config.render(cfg)


def test_fleet_nodes_place_new_rooms_by_cpu_load_not_at_random() -> None:
    cfg = livekit_config.fleet_config(
        api_key="k",
        api_secret="s",
        redis=RedisSettings(address="r:6379"),
        webhook_url="https://x/w",
        turn_domain="t.x",
    )
    doc = livekit_config.render(cfg)
    assert doc["node_selector"] == {"kind": "any", "sort_by": "cpuload", "algorithm": "twochoice"}
    # A single local node has nobody to choose from: the server's default stays.
    local = livekit_config.render(
        livekit_config.local_config(
            api_key="k", api_secret="s", port=1, rtc_tcp_port=2, rtc_udp_port=3, webhook_url="http://w"
        )
    )
    assert "node_selector" not in local


def test_congestion_control_is_the_servers_default_unless_turned_off() -> None:
    """Left to livekit-server (on) everywhere; only the composer's layer tests turn it off."""
    ports = {"port": 7880, "rtc_tcp_port": 7881, "rtc_udp_port": 7882, "webhook_url": None}
    default = livekit_config.render(livekit_config.local_config(api_key="k", api_secret="s", **ports))
    assert "congestion_control" not in default["rtc"]  # type: ignore[operator]
    off = livekit_config.local_config(api_key="k", api_secret="s", congestion_control=False, **ports)
    assert livekit_config.render(off)["rtc"]["congestion_control"] == {"enabled": False}  # type: ignore[index]
