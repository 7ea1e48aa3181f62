"""CDK entry: reads deployment choices from CDK context and builds the Spaces stack.

Every context key has a default so that `cdk synth` runs offline with no context and no
credentials; a real deployment sets at least `domain` and `certificate_arn` (docs/infrastructure.md).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from cdk_nag import AwsSolutionsChecks

from functions.core.config import Settings as ControlPlaneSettings
from functions.core.config import room_seats_needed
from infrastructure.constructs.agent_service import AgentSizing
from infrastructure.constructs.broadcast_delivery import BroadcastSettings
from infrastructure.constructs.control_plane import ApiLimits
from infrastructure.constructs.identity import SesEmail
from infrastructure.constructs.livekit_fleet import FleetSizing
from infrastructure.constructs.observability import AlarmThresholds, sfu_egress_mbps
from infrastructure.constructs.web_site import WebHosting
from infrastructure.stacks.spaces_stack import ExternalOidc, HostedZoneRef, SpacesSettings, SpacesStack

# The built page the stack hosts unless host_web=false (`make web` writes it).
WEB_DIST = Path(__file__).resolve().parent / "web" / "dist"
# Synth-only placeholders: deploying them fails at the certificate, never silently.
EXAMPLE_DOMAIN = "livekit.example.com"
EXAMPLE_CERTIFICATE = "arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"
# Not the checksum of any archive: a node booted with it refuses the download (infrastructure/node/boot.sh).
EXAMPLE_LIVEKIT_SHA256 = "0" * 64
# Compute-optimized, 2 vCPU: cheap at rest; the group scales out on CPU.
DEFAULT_INSTANCE_TYPES = {"arm64": "c7g.large", "x86_64": "c7i.large"}
# CloudFront price classes by context value. "100" (North America, Europe, Israel) is the cheapest per
# GB and the default; an audience elsewhere is then served from those edges (more RTT per segment),
# so a deployment for a global audience sets "All" (docs/infrastructure.md).
PRICE_CLASSES = {
    "100": cloudfront.PriceClass.PRICE_CLASS_100,
    "200": cloudfront.PriceClass.PRICE_CLASS_200,
    "All": cloudfront.PriceClass.PRICE_CLASS_ALL,
}
# The control plane's own default (functions/core/config.py, derived in docs/control-plane.md): each
# WebRTC listener costs the SFU ~0.45 % of a core, so 250 listeners of one Space stay within 60 % of a
# default 2-vCPU node (the fleet's CPU target).
DEFAULT_WEBRTC_LISTENER_LIMIT: int = ControlPlaneSettings.model_fields["webrtc_listener_limit"].default
# Cognito domain prefixes: lowercase letters, digits and inner hyphens, at most 63.
AUTH_PREFIX = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
# Cognito refuses a domain prefix that contains one of these.
AUTH_PREFIX_RESERVED = ("aws", "amazon", "cognito")
ACCOUNT_ID_CHARS = 12
# ElastiCache's maintenance window: day:hour:minute-day:hour:minute, UTC, at least an hour long
# (ElastiCache refuses a shorter one at deploy time).
_DAY_TIME = r"(sun|mon|tue|wed|thu|fri|sat):([01][0-9]|2[0-3]):([0-5][0-9])"
MAINTENANCE_WINDOW = re.compile(f"{_DAY_TIME}-{_DAY_TIME}")
_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
MIN_MAINTENANCE_MINUTES = 60
MINUTES_PER_WEEK = 7 * 24 * 60


def maintenance_minutes(window: str) -> int | None:
    """How long a maintenance window is (it may wrap past the end of the week); None if malformed."""
    match = MAINTENANCE_WINDOW.fullmatch(window)
    if match is None:
        return None
    d1, h1, m1, d2, h2, m2 = match.groups()
    start = (_WEEKDAYS.index(d1) * 24 + int(h1)) * 60 + int(m1)
    end = (_WEEKDAYS.index(d2) * 24 + int(h2)) * 60 + int(m2)
    return (end - start) % MINUTES_PER_WEEK


def within_settings_bounds(name: str, value: int) -> int:
    """`value` for the control plane's setting `name`, refused (ValueError) outside the bounds its
    settings model gives it (functions/core/config.py): the stack refuses at synth what the control
    plane would refuse at its first cold start, from the one place the bounds are written."""
    metadata = ControlPlaneSettings.model_fields[name].metadata  # pydantic's Ge/Le constraints
    low: int = next(m.ge for m in metadata if hasattr(m, "ge"))
    high: int = next(m.le for m in metadata if hasattr(m, "le"))
    if not low <= value <= high:
        raise ValueError(f"context {name} must be {low}..{high}, got {value}")
    return value


# An ACM certificate's ARN. Both load balancers' certificates must be in the region the stack
# deploys to, which an environment-agnostic stack does not know at synth; two different regions
# (or no ARN at all) would only fail at the load balancer's listener, late in the deploy.
ACM_CERTIFICATE_ARN = re.compile(r"arn:aws(?:-[a-z]+)*:acm:([a-z0-9-]+):[0-9]{12}:certificate/[A-Za-z0-9-]+")


# A Cognito group name as the control plane reads it from SPACES_HOST_GROUP: at most 128 characters
# (Cognito's limit), no whitespace (Cognito's pattern) and no comma (kept free for a list later).
HOST_GROUP = re.compile(r"[^\s,]{1,128}")
# A browser origin as the API's CORS, the sign-in's callbacks and the CDN compare it: https (Cognito
# takes http for localhost only), a host, an optional port, no path (one trailing slash is dropped).
WEB_ORIGIN = re.compile(r"(https://[a-z0-9.-]+|http://(localhost|127\.0\.0\.1))(:[0-9]{1,5})?", re.IGNORECASE)
# A DNS name as CloudFront takes an alternate domain name: labels of letters, digits and inner
# hyphens, no scheme, no port, no path.
DNS_NAME = re.compile(
    r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62}", re.IGNORECASE
)

# An address as SES and Cognito take it: one @, a dotted domain, no whitespace or display name.
EMAIL_ADDRESS = re.compile(r"[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+")
SES_KEYS = ("ses_region", "ses_verified_domain", "ses_configuration_set")

# vCPUs by instance size (c, m, r families of the Graviton and Intel generations the fleet runs).
VCPUS_BY_SIZE = {"medium": 1, "large": 2, "xlarge": 4}
# Burstable (t) families: 2 vCPUs from nano to large.
BURSTABLE_SMALL = frozenset({"nano", "micro", "small", "medium", "large"})
NXLARGE = re.compile(r"([0-9]+)xlarge")


def instance_vcpus(instance_type: str) -> int:
    """vCPUs of an instance type from its size ("c7g.2xlarge" -> 8); refuses one it cannot read."""
    family, _, size = instance_type.partition(".")
    if family.startswith("t") and size in BURSTABLE_SMALL:
        return 2
    if size in VCPUS_BY_SIZE:
        return VCPUS_BY_SIZE[size]
    match = NXLARGE.fullmatch(size)
    if match is None:
        raise ValueError(f"context sfu_instance_type: cannot tell the vCPUs of {instance_type!r}")
    return int(match.group(1)) * VCPUS_BY_SIZE["xlarge"]


# What CDK gives an environment-agnostic stack's VPC, whatever max_azs says.
MAX_AZS_ENV_AGNOSTIC = 2


def settings_from_context(app: cdk.App) -> SpacesSettings:
    def get(key: str, default: object) -> object:
        value = app.node.try_get_context(key)
        return default if value is None else value

    def number(key: str, default: int) -> int:
        return int(str(get(key, default)))

    def flag(key: str, default: bool) -> bool:
        # Strict: a misspelt value must not silently leave a door open (or shut).
        value = str(get(key, "true" if default else "false")).lower()
        if value not in ("true", "false"):
            raise ValueError(f"context {key} must be true or false, got {value!r}")
        return value == "true"

    arch = str(get("arch", "arm64"))
    if arch not in DEFAULT_INSTANCE_TYPES:
        raise ValueError(f"context arch must be one of {sorted(DEFAULT_INSTANCE_TYPES)}, got {arch!r}")
    arm64 = arch == "arm64"
    sfu_instance_type = str(get("sfu_instance_type", DEFAULT_INSTANCE_TYPES[arch]))
    oidc_issuer = app.node.try_get_context("oidc_issuer")
    oidc_audience = str(get("oidc_audience", ""))
    if oidc_issuer and not oidc_audience:
        raise ValueError("context oidc_issuer needs oidc_audience (comma-separated client ids)")
    reserved = app.node.try_get_context("lambda_reserved_concurrency")
    domain = str(get("domain", EXAMPLE_DOMAIN))
    certificate_arn = str(get("certificate_arn", EXAMPLE_CERTIFICATE))
    livekit_archive = app.node.try_get_context("livekit_archive")
    archive = Path(str(livekit_archive)) if livekit_archive else None
    if archive is not None and not archive.is_file():
        raise ValueError(
            f"context livekit_archive={str(archive)!r} is not a file: build it with `make livekit-archive` "
            "(scripts/build-livekit-archive.sh)"
        )
    # The archive's own checksum when the stack ships it; otherwise the upstream release's, given.
    livekit_sha256 = (
        hashlib.sha256(archive.read_bytes()).hexdigest()
        if archive is not None
        else str(get("livekit_sha256", EXAMPLE_LIVEKIT_SHA256)).lower()
    )
    # A real domain deploys a production stack unless told otherwise: kept tables, user pool and
    # secrets on delete, two NAT gateways, two SFU nodes, six months of logs. A throwaway stack on a
    # real domain says production=false.
    production = flag("production", domain != EXAMPLE_DOMAIN)
    if domain != EXAMPLE_DOMAIN:
        # A real deployment: its placeholders would deploy, then fail quietly (nodes that never boot).
        if certificate_arn == EXAMPLE_CERTIFICATE:
            raise ValueError(f"context domain={domain!r} needs certificate_arn (an ACM certificate for it)")
        if livekit_sha256 == EXAMPLE_LIVEKIT_SHA256:
            raise ValueError(
                f"context domain={domain!r} needs livekit_archive (the hardened livekit-server that "
                "`make livekit-archive` builds) or livekit_sha256 (the SHA-256 of the upstream release "
                "archive the nodes would download instead; docs/infrastructure.md, 'The SFU binary')"
            )
    if archive is not None and app.node.try_get_context("livekit_sha256") is not None:
        raise ValueError(
            "context livekit_archive and livekit_sha256 exclude each other (the archive's is computed)"
        )
    if not re.fullmatch(r"[0-9a-f]{64}", livekit_sha256):
        raise ValueError(f"context livekit_sha256 must be 64 hex digits, got {livekit_sha256!r}")
    releases_url = app.node.try_get_context("livekit_releases_url")
    if releases_url is not None and not re.fullmatch(r"https://[^\s'\"$`\\]+", str(releases_url)):
        # Written into the nodes' boot script: https only, nothing a shell would interpret.
        raise ValueError(f"context livekit_releases_url must be an https:// URL, got {releases_url!r}")
    zone_id = app.node.try_get_context("hosted_zone_id")
    zone_name = app.node.try_get_context("hosted_zone_name")
    if bool(zone_id) != bool(zone_name):
        raise ValueError("context hosted_zone_id and hosted_zone_name go together")
    price_class = str(get("broadcast_price_class", "100"))
    if price_class not in PRICE_CLASSES:
        raise ValueError(
            f"context broadcast_price_class must be one of {sorted(PRICE_CLASSES)}, got {price_class!r}"
        )
    retention_days = within_settings_bounds(
        "recording_retention_days",
        number(
            "recording_retention_days", ControlPlaneSettings.model_fields["recording_retention_days"].default
        ),
    )
    sfu_min_nodes = number("sfu_min_nodes", 2 if production else 1)
    sfu_max_nodes = number("sfu_max_nodes", 10)
    redis_maintenance_window = str(get("redis_maintenance_window", "sun:05:00-sun:06:00"))
    window_minutes = maintenance_minutes(redis_maintenance_window)
    if window_minutes is None or window_minutes < MIN_MAINTENANCE_MINUTES:
        raise ValueError(
            "context redis_maintenance_window must be ddd:hh:mm-ddd:hh:mm in UTC, at least an hour "
            f"long (ElastiCache's rule, e.g. sun:05:00-sun:06:00), got {redis_maintenance_window!r}"
        )
    within_settings_bounds("max_live_per_host", number("max_live_per_host", 2))
    within_settings_bounds("max_scheduled_per_host", number("max_scheduled_per_host", 20))
    listener_limit = number("webrtc_listener_limit", DEFAULT_WEBRTC_LISTENER_LIMIT)
    fields = ControlPlaneSettings.model_fields
    room_max, max_speakers = fields["room_max_participants"].default, fields["max_speakers"].default
    # The control plane would refuse a larger one at its first cold start (and the deploy roll back).
    most = room_max - room_seats_needed(0, max_speakers=max_speakers)
    if not 1 <= listener_limit <= most:
        raise ValueError(
            f"context webrtc_listener_limit must be 1..{most} (a room admits {room_max}; the stage "
            f"and the agents take the rest), got {listener_limit}"
        )
    broadcast_domain = app.node.try_get_context("broadcast_domain")
    auth_prefix = app.node.try_get_context("auth_domain_prefix")
    if auth_prefix and not auth_prefix_ok(str(auth_prefix)):
        raise ValueError(
            "context auth_domain_prefix must be 1-63 lowercase letters, digits or hyphens "
            f"(no leading/trailing hyphen, without {', '.join(AUTH_PREFIX_RESERVED)}), got {auth_prefix!r}"
        )
    max_azs = number("max_azs", 2)
    if max_azs > MAX_AZS_ENV_AGNOSTIC:
        # The stack is environment-agnostic (synthesised without an account and a region, so it
        # deploys anywhere and synthesises offline), and CDK then builds a VPC over two AZs whatever
        # max_azs asks: refuse rather than pretend.
        raise ValueError(
            f"context max_azs must be 2: the stack is synthesised without an account and region, which "
            f"limits its VPC to {MAX_AZS_ENV_AGNOSTIC} availability zones, got {max_azs}"
        )
    broadcast_certificate = app.node.try_get_context("broadcast_certificate_arn")
    # Unset: the default list (contract/avatar_fetch.py); "": no pictures fetched (initials everywhere).
    avatar_hosts = app.node.try_get_context("avatar_hosts")
    host_group = app.node.try_get_context("host_group")
    if host_group is not None and not HOST_GROUP.fullmatch(str(host_group)):
        raise ValueError(
            f"context host_group must be 1-128 characters without whitespace or commas, got {host_group!r}"
        )
    if host_group is not None and oidc_issuer:
        # The group lives in the stack's user pool: an external provider's tokens carry no
        # `cognito:groups`, so nobody could host.
        raise ValueError("context host_group needs the stack's Cognito user pool; it excludes oidc_issuer")
    ses_from_email = app.node.try_get_context("ses_from_email")
    ses_options = {key: app.node.try_get_context(key) for key in SES_KEYS}
    if ses_from_email is None and any(v is not None for v in ses_options.values()):
        raise ValueError(f"context {', '.join(SES_KEYS)} need ses_from_email (the SES sender)")
    if ses_from_email is not None and not EMAIL_ADDRESS.fullmatch(str(ses_from_email)):
        raise ValueError(f"context ses_from_email must be a bare e-mail address, got {ses_from_email!r}")
    if ses_from_email is not None and oidc_issuer:
        raise ValueError(
            "context ses_from_email configures the stack's Cognito user pool; it excludes oidc_issuer"
        )
    if app.node.try_get_context("self_sign_up") is not None and oidc_issuer:
        # Sign-up is the external provider's business: accepted, the key would do nothing.
        raise ValueError(
            "context self_sign_up configures the stack's Cognito user pool; it excludes oidc_issuer"
        )
    turn_certificate_arn = str(get("turn_certificate_arn", certificate_arn))
    if domain != EXAMPLE_DOMAIN or app.node.try_get_context("certificate_arn") is not None:
        regions = {}
        for key, arn in (
            ("certificate_arn", certificate_arn),
            ("turn_certificate_arn", turn_certificate_arn),
        ):
            match = ACM_CERTIFICATE_ARN.fullmatch(arn)
            if match is None:
                raise ValueError(
                    f"context {key} must be an ACM certificate ARN "
                    f"(arn:aws:acm:<region>:<account>:certificate/<id>), got {arn!r}"
                )
            regions[key] = match.group(1)
        if len(set(regions.values())) > 1:
            raise ValueError(
                "context certificate_arn and turn_certificate_arn must be in one region, the stack's "
                f"(a load balancer takes a certificate of its own region only), got {regions}"
            )
    if bool(broadcast_domain) != bool(broadcast_certificate):
        raise ValueError("context broadcast_domain and broadcast_certificate_arn (in us-east-1) go together")
    web_domain = app.node.try_get_context("web_domain")
    if web_domain and not DNS_NAME.fullmatch(str(web_domain)):
        raise ValueError(
            f"context web_domain must be a DNS name like spaces.example.org (no scheme, port or path), "
            f"got {web_domain!r}"
        )
    web_certificate = app.node.try_get_context("web_certificate_arn")
    cors_origins = tuple(
        o.strip().removesuffix("/") for o in str(get("cors_origins", "")).split(",") if o.strip()
    )
    for web_origin in cors_origins:
        if not WEB_ORIGIN.fullmatch(web_origin):
            raise ValueError(
                "context cors_origins must be comma-separated origins like https://spaces.example.org "
                f"(https, or http for localhost; no path), got {web_origin!r}"
            )
    if bool(web_domain) != bool(web_certificate):
        raise ValueError("context web_domain and web_certificate_arn (in us-east-1) go together")
    host_web = flag("host_web", True)
    if not host_web and web_domain:
        raise ValueError("context web_domain names the page the stack hosts: not with host_web=false")
    return SpacesSettings(
        production=production,
        domain=domain,
        certificate_arn=certificate_arn,
        turn_domain=str(get("turn_domain", f"turn.{domain}")),
        turn_certificate_arn=turn_certificate_arn,
        livekit_api_key=str(get("livekit_api_key", "spaces")),
        fleet=FleetSizing(
            instance_type=ec2.InstanceType(sfu_instance_type),
            cpu_type=ec2.AmazonLinuxCpuType.ARM_64 if arm64 else ec2.AmazonLinuxCpuType.X86_64,
            min_capacity=sfu_min_nodes,
            max_capacity=sfu_max_nodes,
            cpu_target_percent=number("sfu_cpu_target", 60),
            drain=cdk.Duration.seconds(number("sfu_drain_seconds", 3600)),
        ),
        agents=AgentSizing(
            cpu=number("agent_cpu", 1024),
            memory_mib=number("agent_memory_mib", 2048),
            min_tasks=number("agent_min_tasks", 1),
            max_tasks=number("agent_max_tasks", 10),
            cpu_target_percent=number("agent_cpu_target", 50),
            load_target_percent=number("agent_load_target", 50),
            arm64=arm64,
        ),
        composers=AgentSizing(
            # One 720p30 broadcast costs up to a core (composer/load.py budgets one Space per core).
            cpu=number("composer_cpu", 2048),
            memory_mib=number("composer_memory_mib", 4096),
            min_tasks=number("composer_min_tasks", 1),
            max_tasks=number("composer_max_tasks", 10),
            cpu_target_percent=number("composer_cpu_target", 60),
            load_target_percent=number("composer_load_target", 60),
            arm64=arm64,
        ),
        broadcast=BroadcastSettings(
            retention_days=retention_days,
            access_log_days=180 if production else 30,
            price_class=PRICE_CLASSES[price_class],
            domain=str(broadcast_domain) if broadcast_domain else None,
            certificate_arn=str(broadcast_certificate) if broadcast_certificate else None,
        ),
        web=WebHosting(
            dist=Path(str(get("web_dist", WEB_DIST))),
            access_log_days=180 if production else 30,
            price_class=PRICE_CLASSES[price_class],
            log_retention=logs.RetentionDays.SIX_MONTHS if production else logs.RetentionDays.ONE_MONTH,
            domain=str(web_domain) if web_domain else None,
            certificate_arn=str(web_certificate) if web_certificate else None,
        )
        if host_web
        else None,
        webrtc_listener_limit=listener_limit,
        api=ApiLimits(
            # The design point's join storm (100,000 listeners in a minute: a token request and a
            # read of the Space each, ~3,400 requests/s) fits with room for the rest; the account's
            # own HTTP API quota (10,000/s, burst 5,000 per region by default) is the ceiling above
            # it (docs/infrastructure.md, "Quotas to raise"). The stage's default route throttle:
            # API Gateway applies it to each route without settings of its own, which is only the
            # catch-all here; the other routes' own buckets add to what that quota must cover.
            rate_limit=number("api_rate_limit", 5000),
            burst_limit=number("api_burst_limit", 5000),
            reserved_concurrency=None if reserved is None else int(reserved),
            max_live_per_host=number("max_live_per_host", 2),
            max_scheduled_per_host=number("max_scheduled_per_host", 20),
        ),
        redis_node_type=str(get("redis_node_type", "cache.t4g.micro")),
        redis_maintenance_window=redis_maintenance_window,
        max_azs=max_azs,
        nat_gateways=number("nat_gateways", 2 if production else 1),
        log_retention=logs.RetentionDays.SIX_MONTHS if production else logs.RetentionDays.ONE_MONTH,
        oidc=ExternalOidc(issuer=str(oidc_issuer), audience=tuple(a for a in oidc_audience.split(",") if a))
        if oidc_issuer
        else None,
        livekit_binary_sha256=livekit_sha256,
        alarm_email=app.node.try_get_context("alarm_email"),
        # Fewer nodes in service than the group's minimum: one was lost (or never booted); as many
        # as its maximum: new rooms go onto busy nodes.
        alarms=AlarmThresholds(
            sfu_min_nodes=sfu_min_nodes,
            sfu_max_nodes=sfu_max_nodes,
            sfu_egress_mbps=sfu_egress_mbps(
                instance_vcpus(sfu_instance_type), AlarmThresholds().sfu_cpu_percent
            ),
        ),
        cors_origins=cors_origins,
        avatar_hosts=None
        if avatar_hosts is None
        else tuple(h.strip() for h in str(avatar_hosts).split(",") if h.strip()),
        auth_domain_prefix=str(auth_prefix) if auth_prefix else None,
        mfa_required=flag("mfa_required", False),
        self_sign_up=flag("self_sign_up", True),
        host_group=None if host_group is None else str(host_group),
        sign_up_email=None
        if ses_from_email is None
        else SesEmail(
            from_email=str(ses_from_email),
            region=none_or_str(ses_options["ses_region"]),
            verified_domain=none_or_str(ses_options["ses_verified_domain"]),
            configuration_set=none_or_str(ses_options["ses_configuration_set"]),
        ),
        bundle_lambda=str(get("lambda_bundling", "true")).lower() != "false",
        hosted_zone=HostedZoneRef(zone_id=str(zone_id), zone_name=str(zone_name)) if zone_id else None,
        livekit_releases_url=str(releases_url) if releases_url is not None else None,
        livekit_archive=archive,
    )


def deployment_warnings(settings: SpacesSettings, *, turn_certificate_given: bool) -> list[str]:
    """Choices that synthesize and deploy but leave a production stack half usable: `cdk synth`
    and `cdk deploy` print them (not errors: a stack for native clients alone is legitimate).
    `turn_certificate_given`: the context named turn_certificate_arn (even the same ARN)."""
    warnings = []
    if settings.production and not turn_certificate_given:
        warnings.append(
            f"context turn_certificate_arn is not set: the TURN load balancer for {settings.turn_domain} "
            "uses certificate_arn, and if that certificate does not name it, TURN/TLS fails in every "
            "client (the load balancer does not check) and clients on 443-only networks get no media; "
            "set turn_certificate_arn (the same ARN if its certificate names both; a wildcard "
            "*.<domain> does not name turn.<domain>)"
        )
    if settings.production and not settings.cors_origins and settings.web is None:
        signin = (
            ""
            if settings.oidc
            else ", and the Cognito app client accepts only http://localhost:5173 as its sign-in callback"
        )
        warnings.append(
            "host_web is false and context cors_origins is empty: no web page may call the API"
            f"{signin}; set cors_origins to the page's origin(s), e.g. https://spaces.example.org"
        )
    if settings.production and settings.web is not None and settings.web.domain is None:
        warnings.append(
            "context web_domain is not set: the page is served on its distribution's *.cloudfront.net "
            "name, and every link to a Space dies with that name if the distribution is ever replaced "
            "(a recreated stack); set web_domain and web_certificate_arn (in us-east-1)"
        )
    open_pool = settings.oidc is None and settings.self_sign_up
    if settings.production and open_pool and settings.sign_up_email is None:
        warnings.append(
            "self sign-up is open and context ses_from_email is not set: the user pool sends its "
            "sign-up codes with Cognito's own sender, about 50 e-mails a day per account, so from the "
            "51st sign-up of a day people cannot confirm their account, sign in or listen; verify a "
            "sender in Amazon SES (out of its sandbox) and set ses_from_email, or set self_sign_up=false "
            "or oidc_issuer (docs/infrastructure.md, 'E-mail for self sign-up')"
        )
    if settings.production and settings.livekit_archive is None:
        warnings.append(
            "the SFU nodes run the upstream livekit-server release: any join token, a listener's too, "
            "can make a node hold memory it never gives back (simulated speaker updates) and recreate "
            "an ended Space's room (WHIP), and a speaker's join again under another identity out of a "
            "host's reach (publish=<x>); build the hardened one with `make livekit-archive` and "
            "deploy with -c livekit_archive=<the file it prints> (docs/infrastructure.md, 'The SFU binary')"
        )
    return warnings


def none_or_str(value: object) -> str | None:
    return None if value is None else str(value)


def auth_prefix_ok(prefix: str) -> bool:
    """What Cognito takes as a domain prefix: AUTH_PREFIX's shape, none of its reserved words."""
    return bool(AUTH_PREFIX.fullmatch(prefix)) and not any(w in prefix for w in AUTH_PREFIX_RESERVED)


def check_default_auth_prefix(stack_name: str, settings: SpacesSettings) -> None:
    """The hosted sign-in's default prefix is `<stack name>-<account id>` (spaces_stack.py): refuse a
    stack name that would make Cognito fail it at deploy time, unless auth_domain_prefix is set."""
    if settings.oidc is not None or settings.auth_domain_prefix:
        return
    if not auth_prefix_ok(f"{stack_name.lower()}-{'0' * ACCOUNT_ID_CHARS}"):
        raise ValueError(
            f"stack name {stack_name!r} cannot make the sign-in domain prefix '<stack name>-<account id>' "
            "(at most 50 characters of letters, digits and hyphens, without "
            f"{', '.join(AUTH_PREFIX_RESERVED)}); set context auth_domain_prefix"
        )


def build_app(context: dict[str, object] | None = None, outdir: str | None = None) -> cdk.App:
    app = cdk.App(context=context, outdir=outdir)
    stack_name = str(app.node.try_get_context("stack_name") or "Spaces")
    settings = settings_from_context(app)
    check_default_auth_prefix(stack_name, settings)
    stack = SpacesStack(
        app,
        stack_name,
        settings=settings,
        description="Spaces: live audio rooms with speaker video (control plane, LiveKit fleet, agents)",
    )
    turn_certificate_given = app.node.try_get_context("turn_certificate_arn") is not None
    for warning in deployment_warnings(settings, turn_certificate_given=turn_certificate_given):
        cdk.Annotations.of(stack).add_warning_v2("spaces:deployment", warning)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


if __name__ == "__main__":
    build_app().synth()
