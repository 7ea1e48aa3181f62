"""The one renderer of livekit.yaml, for `make dev`, the tests and the cloud fleet alike.

Pure: takes typed settings, returns a dict (and YAML text). The fleet's user data renders with
placeholder keys that the node fills from Secrets Manager at boot; nothing secret is rendered
into a CloudFormation template.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field


@dataclass(frozen=True, kw_only=True)
class RedisSettings:
    address: str
    password: str | None = None
    use_tls: bool = False
    username: str | None = None
    # PEM bundle to verify the server with instead of the system roots (a test's own CA).
    ca_cert_file: str | None = None


@dataclass(frozen=True, kw_only=True)
class TurnSettings:
    """The embedded TURN server. livekit-server v1.13.5 hands clients `turns:<domain>:443` whatever
    `tls_port` is (`pkg/service/roommanager.go` iceServersForParticipant), so `domain` must be a name
    whose port 443 reaches `tls_port`: its own name, never the signalling domain (whose 443 is 7880).
    TURN/UDP is advertised as `turn:<node ip>:<udp_port>`, straight to each node."""

    domain: str
    udp_port: int = 3478
    tls_port: int = 5349
    # TLS terminated by the load balancer in front of the node; the node listens in plain TCP.
    external_tls: bool = True
    # The relay addresses TURN allocates (UDP, on the node's IP); the SFU sends media to them.
    relay_range: tuple[int, int] = (30000, 40000)


@dataclass(frozen=True, kw_only=True)
class LiveKitConfig:
    api_key: str
    api_secret: str
    webhook_urls: tuple[str, ...] = ()
    port: int = 7880
    bind_addresses: tuple[str, ...] = ("127.0.0.1",)
    rtc_tcp_port: int = 7881
    rtc_port_range: tuple[int, int] = (50000, 60000)
    # One muxed UDP port instead of the range (loopback servers in tests and `make dev`).
    rtc_udp_port: int | None = None
    use_external_ip: bool = False
    node_ip: str | None = None
    redis: RedisSettings | None = None
    turn: TurnSettings | None = None
    # Rooms are created only by the control plane, never by a client joining.
    auto_create: bool = False
    # Seconds a room lives with nobody in it before it closes (and the Space ends).
    empty_timeout: int = 300
    # Seconds a room lives after its last participant left.
    departure_timeout: int = 20
    max_participants: int = 0
    log_level: str = "info"
    # Seconds a draining node waits for its rooms to empty after SIGTERM.
    shutdown_drain_seconds: int | None = None
    # ListParticipants and GetParticipant answered by the node that holds the room (over the
    # message bus), not from Redis. Redis keeps a dead node's participants until the room is
    # deleted, so after a node died its room listed ghosts (a host who never came back stayed
    # "present" and the Space never ended); the node holding the room lists only who is connected
    # to it, and no answer at all means no node holds it (docs/infrastructure.md, "A node that dies").
    participants_from_node: bool = True
    # Prometheus metrics on this port (of every bind address). The fleet's nodes read their own
    # `livekit_room_total` from it to protect themselves from scale-in while they hold a room.
    metrics_port: int | None = None
    # livekit-server's downstream congestion control (on by default, as in the fleet): it caps what
    # it sends a subscriber at its bandwidth estimate, moving layers down and, as probes succeed, up.
    # Off only for tests of which layer a client asks for (tests/integration/composer/conftest.py).
    congestion_control: bool = True
    extra: dict[str, object] = field(default_factory=dict)


def render(config: LiveKitConfig) -> dict[str, object]:
    doc: dict[str, object] = {
        "port": config.port,
        "bind_addresses": list(config.bind_addresses),
        "log_level": config.log_level,
        "rtc": _rtc(config),
        "keys": {config.api_key: config.api_secret},
        "room": {
            "auto_create": config.auto_create,
            "empty_timeout": config.empty_timeout,
            "departure_timeout": config.departure_timeout,
            "max_participants": config.max_participants,
        },
    }
    if config.metrics_port is not None:
        doc["prometheus"] = {"port": config.metrics_port}
    if config.participants_from_node:
        doc["api"] = {"enable_psrpc_for_get_list_participants": True}
    if config.webhook_urls:
        doc["webhook"] = {"api_key": config.api_key, "urls": list(config.webhook_urls)}
    if config.redis is not None:
        doc["redis"] = _redis(config.redis)
    if config.turn is not None:
        doc["turn"] = {
            "enabled": True,
            "domain": config.turn.domain,
            "udp_port": config.turn.udp_port,
            "tls_port": config.turn.tls_port,
            "external_tls": config.turn.external_tls,
            "relay_range_start": config.turn.relay_range[0],
            "relay_range_end": config.turn.relay_range[1],
        }
    doc.update(config.extra)
    return doc


def render_yaml(config: LiveKitConfig) -> str:
    """YAML is a superset of JSON; JSON output keeps this module free of a YAML dependency."""
    return json.dumps(render(config), indent=2, sort_keys=True) + "\n"


def _rtc(config: LiveKitConfig) -> dict[str, object]:
    rtc: dict[str, object] = {"tcp_port": config.rtc_tcp_port, "use_external_ip": config.use_external_ip}
    if config.rtc_udp_port is not None:
        rtc["udp_port"] = config.rtc_udp_port
    else:
        rtc["port_range_start"] = config.rtc_port_range[0]
        rtc["port_range_end"] = config.rtc_port_range[1]
    if config.node_ip is not None:
        rtc["node_ip"] = config.node_ip
    if not config.congestion_control:
        rtc["congestion_control"] = {"enabled": False}
    return rtc


def _redis(redis: RedisSettings) -> dict[str, object]:
    doc: dict[str, object] = {"address": redis.address, "use_tls": redis.use_tls}
    if redis.use_tls:
        # `tls` supersedes the deprecated `use_tls` (protocol/redis.RedisConfig); the server
        # certificate is always verified, never `insecure`.
        tls: dict[str, object] = {"enabled": True, "insecure": False}
        if redis.ca_cert_file:
            tls["ca_cert_file"] = redis.ca_cert_file
        doc["tls"] = tls
    if redis.username:
        doc["username"] = redis.username
    if redis.password:
        doc["password"] = redis.password
    return doc


def local_config(
    *,
    api_key: str,
    api_secret: str,
    port: int,
    rtc_tcp_port: int,
    rtc_udp_port: int,
    webhook_url: str | None,
    redis: RedisSettings | None = None,
    congestion_control: bool = True,
) -> LiveKitConfig:
    """The single-node loopback server used by `make dev` and the integration tests."""
    return LiveKitConfig(
        api_key=api_key,
        api_secret=api_secret,
        webhook_urls=(webhook_url,) if webhook_url else (),
        port=port,
        bind_addresses=("127.0.0.1",),
        rtc_tcp_port=rtc_tcp_port,
        rtc_udp_port=rtc_udp_port,
        use_external_ip=False,
        node_ip="127.0.0.1",
        redis=redis,
        # Short timeouts locally so that closed rooms end their Spaces quickly.
        empty_timeout=60,
        departure_timeout=10,
        congestion_control=congestion_control,
    )


def fleet_config(
    *,
    api_key: str,
    api_secret: str,
    redis: RedisSettings,
    webhook_url: str,
    turn_domain: str,
    port: int = 7880,
    bind_addresses: tuple[str, ...] = ("0.0.0.0",),
    rtc_tcp_port: int = 7881,
    rtc_port_range: tuple[int, int] = (50000, 60000),
    turn_udp_port: int = 3478,
    turn_tls_port: int = 5349,
    turn_relay_range: tuple[int, int] = (30000, 40000),
    use_external_ip: bool = True,
    node_ip: str | None = None,
    metrics_port: int | None = None,
) -> LiveKitConfig:
    """One node of the cloud fleet: multi-node through Redis, public IP discovered by STUN, TURN.

    The cloud passes placeholders for the keys and the Redis password (filled on the node at boot);
    the fleet integration test passes loopback addresses, free ports and a local Redis.
    """
    return LiveKitConfig(
        # New rooms go to the less loaded (CPU) of two nodes drawn at random. livekit-server's
        # default draws one node at random whatever its load, so a node already full of a big
        # Space's listeners took the next one as often as an idle node did, and scale-out did not
        # relieve it. Two choices, not the least loaded of all: node stats are a few seconds old,
        # and a burst of new rooms would all land on the one node that looked idlest (with two
        # nodes or fewer livekit-server takes the least loaded, which is the same thing). A room's
        # load comes when its audience does, minutes after it is placed, so rooms started within
        # those minutes are still placed on what their nodes looked like before.
        extra={"node_selector": {"kind": "any", "sort_by": "cpuload", "algorithm": "twochoice"}},
        api_key=api_key,
        api_secret=api_secret,
        webhook_urls=(webhook_url,),
        port=port,
        bind_addresses=bind_addresses,
        rtc_tcp_port=rtc_tcp_port,
        rtc_port_range=rtc_port_range,
        use_external_ip=use_external_ip,
        node_ip=node_ip,
        redis=redis,
        turn=TurnSettings(
            domain=turn_domain,
            udp_port=turn_udp_port,
            tls_port=turn_tls_port,
            relay_range=turn_relay_range,
        ),
        metrics_port=metrics_port,
    )
