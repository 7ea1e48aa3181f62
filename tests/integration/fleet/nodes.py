"""Nodes of the fleet on loopback: the config the CDK fleet renders (contract.livekit_config's
fleet_config), with only what cannot exist here changed (loopback instead of a public IP discovered
by STUN, free ports, a local TLS+AUTH redis-server with its own CA instead of ElastiCache)."""

from __future__ import annotations

from contract.livekit_config import LiveKitConfig, RedisSettings, fleet_config
from devstack import livekit
from devstack.livekit import LiveKitServer
from devstack.ports import free_port

from . import redis_tls

API_KEY = "fleet-test-key"
API_SECRET = "fleet-test-secret-only-for-this-test-0123456789"
# Each node gets its own slice of UDP ports, as each cloud node has its own IP.
PORT_RANGE_SIZE = 200


def start(name: str, redis: redis_tls.LocalRedis, range_start: int) -> LiveKitServer:
    return livekit.start_on_free_ports(lambda: _config(redis, range_start), name=name)


def _config(redis: redis_tls.LocalRedis, range_start: int) -> LiveKitConfig:
    return fleet_config(
        api_key=API_KEY,
        api_secret=API_SECRET,
        redis=RedisSettings(
            address=redis.address, password=redis.password, use_tls=True, ca_cert_file=str(redis.ca_file)
        ),
        webhook_url=f"http://127.0.0.1:{free_port()}/livekit/webhook",
        turn_domain="turn.fleet.test",  # must look like a domain; clients connect directly here
        port=free_port(),
        bind_addresses=("127.0.0.1",),
        rtc_tcp_port=free_port(),
        rtc_port_range=(range_start, range_start + PORT_RANGE_SIZE - 1),
        turn_udp_port=free_port(),
        turn_tls_port=free_port(),
        use_external_ip=False,
        node_ip="127.0.0.1",
        metrics_port=free_port(),  # each node its own, as each cloud node has its own IP
    )
