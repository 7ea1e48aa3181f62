"""Deployment choices come from CDK context (app.py), with offline-safe defaults."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_ec2 as ec2

from app import settings_from_context

from .conftest import STACK, Synthesized
from .test_stack import USER_DATA_BUDGET_BYTES, node_settings, user_data_bytes_at_worst


def _settings(**context: object):  # type: ignore[no-untyped-def]
    return settings_from_context(cdk.App(context=context))


def test_defaults_synthesize_without_context() -> None:
    settings = _settings()
    assert settings.production is False
    assert settings.oidc is None  # a Cognito user pool is created
    assert settings.fleet.cpu_type == ec2.AmazonLinuxCpuType.ARM_64
    assert settings.api.reserved_concurrency is None
    assert settings.bundle_lambda is True
    assert settings.broadcast.retention_days == 30
    assert settings.broadcast.domain is None and settings.broadcast.certificate_arn is None
    assert settings.webrtc_listener_limit == 250
    assert settings.redis_maintenance_window == "sun:05:00-sun:06:00"
    assert (settings.alarms.sfu_min_nodes, settings.alarms.sfu_max_nodes) == (1, 10)


def test_context_selects_x86_external_oidc_and_production() -> None:
    settings = _settings(
        arch="x86_64",
        production="true",
        oidc_issuer="https://id.example.org/",
        oidc_audience="web,ios",
        lambda_reserved_concurrency="25",
        sfu_drain_seconds="900",
    )
    assert settings.fleet.cpu_type == ec2.AmazonLinuxCpuType.X86_64
    assert settings.fleet.instance_type.to_string() == "c7i.large"
    assert settings.production is True and settings.fleet.min_capacity == 2 and settings.nat_gateways == 2
    # Losing one of the production floor's two nodes alarms.
    assert settings.alarms.sfu_min_nodes == 2
    assert settings.oidc is not None and settings.oidc.audience == ("web", "ios")
    assert settings.api.reserved_concurrency == 25
    assert settings.fleet.drain.to_seconds() == 900


def test_context_sets_the_broadcast_tier() -> None:
    settings = _settings(
        recording_retention_days="7",
        broadcast_price_class="All",
        broadcast_domain="live.example.org",
        broadcast_certificate_arn="arn:aws:acm:us-east-1:111111111111:certificate/abc",
        webrtc_listener_limit="50",
        composer_cpu="4096",
        composer_memory_mib="8192",
    )
    assert settings.broadcast.retention_days == 7
    assert settings.broadcast.price_class == cloudfront.PriceClass.PRICE_CLASS_ALL
    assert settings.broadcast.domain == "live.example.org"
    assert settings.webrtc_listener_limit == 50
    assert (settings.composers.cpu, settings.composers.memory_mib) == (4096, 8192)


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"arch": "mips"}, "arch"),
        ({"oidc_issuer": "https://id.example.org/"}, "oidc_audience"),
        ({"broadcast_price_class": "cheap"}, "broadcast_price_class"),
        ({"recording_retention_days": "0"}, "recording_retention_days"),
        ({"recording_retention_days": "3651"}, "recording_retention_days"),
        ({"broadcast_domain": "live.example.org"}, "broadcast_certificate_arn"),
        # A real domain with a placeholder deploys, then never works: refused at synth.
        ({"domain": "sfu.example.org", "livekit_sha256": "cd" * 32}, "certificate_arn"),
        ({"domain": "sfu.example.org", "certificate_arn": "arn:cert"}, "livekit_sha256"),
        ({"livekit_sha256": "not-a-digest"}, "livekit_sha256"),
        # Written into every node's boot script: https only, nothing a shell would read.
        ({"livekit_releases_url": "http://mirror.example.org/livekit"}, "livekit_releases_url"),
        ({"max_scheduled_per_host": "0"}, "max_scheduled_per_host"),
        ({"livekit_releases_url": "https://mirror.example.org/$(id)"}, "livekit_releases_url"),
        # CDK builds an environment-agnostic stack's VPC over two AZs whatever is asked.
        ({"max_azs": "3"}, "max_azs"),
        ({"redis_maintenance_window": "sunday 5am"}, "redis_maintenance_window"),
        ({"redis_maintenance_window": "sun:25:00-sun:26:00"}, "redis_maintenance_window"),
        # ElastiCache wants an hour at least: these would pass synth and fail the deploy.
        ({"redis_maintenance_window": "sun:05:00-sun:05:30"}, "at least an hour"),
        ({"redis_maintenance_window": "sun:05:00-sun:05:00"}, "at least an hour"),
        # A misspelt flag must not silently drop deletion protection or MFA.
        ({"production": "ture"}, "production"),
        ({"mfa_required": "yes"}, "mfa_required"),
    ],
)
def test_bad_context_is_refused_with_the_key_named(context: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _settings(**context)


def test_turn_gets_its_own_name_and_the_checksum_a_placeholder_that_no_archive_matches() -> None:
    assert _settings().livekit_binary_sha256 == "0" * 64  # offline synth only: see the refusals below
    cert = "arn:aws:acm:eu-west-1:111111111111:certificate/abc"
    settings = _settings(domain="sfu.example.org", certificate_arn=cert, livekit_sha256="cd" * 32)
    assert settings.turn_domain == "turn.sfu.example.org"
    assert settings.turn_certificate_arn == cert  # one certificate naming both, unless told
    assert settings.hosted_zone is None
    chosen = _settings(
        turn_domain="relay.example.org",
        turn_certificate_arn="arn:turn-cert",
        livekit_sha256="AB" * 32,
        hosted_zone_id="Z1",
        hosted_zone_name="example.org",
    )
    assert (chosen.turn_domain, chosen.turn_certificate_arn) == ("relay.example.org", "arn:turn-cert")
    assert chosen.livekit_binary_sha256 == "ab" * 32
    assert chosen.hosted_zone is not None and chosen.hosted_zone.zone_id == "Z1"


@pytest.mark.parametrize(
    ("context", "message"),
    [
        # Not an ARN at all (a domain pasted in its place): the listener would refuse it mid-deploy.
        ({"certificate_arn": "rtc.example.org"}, "certificate_arn must be an ACM certificate ARN"),
        (
            {"turn_certificate_arn": "arn:aws:iam::111111111111:server-certificate/turn"},
            "turn_certificate_arn",
        ),
        # Only one of two regions can be the stack's: one of the two listeners would fail.
        (
            {"turn_certificate_arn": "arn:aws:acm:us-east-1:111111111111:certificate/turn"},
            "must be in one region",
        ),
    ],
)
def test_load_balancer_certificates_are_acm_arns_of_one_region(
    context: dict[str, object], message: str
) -> None:
    real = {
        "domain": "sfu.example.org",
        "certificate_arn": "arn:aws:acm:eu-west-1:111111111111:certificate/abc",
        "livekit_sha256": "cd" * 32,
    }
    assert _settings(**real).turn_certificate_arn == real["certificate_arn"]
    with pytest.raises(ValueError, match=message):
        _settings(**{**real, **context})


def test_a_hosted_zone_needs_both_its_id_and_its_name() -> None:
    with pytest.raises(ValueError, match="hosted_zone_id and hosted_zone_name"):
        _settings(hosted_zone_id="Z1")


REAL = {
    "domain": "spaces.example.org",
    "certificate_arn": "arn:aws:acm:eu-west-1:111111111111:certificate/abc",
    "livekit_sha256": "ab" * 32,
}


def test_a_real_domain_deploys_a_production_stack_unless_told_otherwise() -> None:
    assert _settings(**REAL).production is True
    assert _settings(**REAL, production="false").production is False
    # The synth-only example stays a throwaway stack.
    assert _settings().production is False


def test_a_webrtc_listener_limit_the_room_cannot_admit_is_refused_at_synth() -> None:
    # A room admits 5,000: the host, 2 co-hosts, 10 speakers and 2 agents leave 4,985.
    assert _settings(webrtc_listener_limit="4985").webrtc_listener_limit == 4985
    with pytest.raises(ValueError, match=r"webrtc_listener_limit must be 1\.\.4985"):
        _settings(webrtc_listener_limit="4986")
    with pytest.raises(ValueError, match="webrtc_listener_limit"):
        _settings(webrtc_listener_limit="0")


REAL = {
    "domain": "sfu.spaces.test",
    "certificate_arn": "arn:aws:acm:eu-west-1:111111111111:certificate/x",
    "turn_certificate_arn": "arn:aws:acm:eu-west-1:111111111111:certificate/turn",
    "livekit_sha256": "a" * 64,
}


# A production stack's sign-up e-mail through SES (else synth warns about Cognito's ~50 a day).
SENDER = {"ses_from_email": "no-reply@spaces.test"}

# A production stack's hosted page under a name of its own (else synth warns about *.cloudfront.net).
NAMED_PAGE = {
    "web_domain": "spaces.example.org",
    "web_certificate_arn": "arn:aws:acm:us-east-1:1:certificate/w",
}


def _warnings(**context: object) -> list[str]:
    """deployment_warnings as build_app calls it for this context."""
    from app import deployment_warnings

    return deployment_warnings(
        _settings(**context), turn_certificate_given=context.get("turn_certificate_arn") is not None
    )


def _archive(folder: Path, name: str = "livekit_1.13.5_linux_arm64.tar.gz") -> Path:
    archive = folder / name
    archive.write_bytes(b"a hardened build, packed")
    return archive


def test_a_production_stack_without_a_web_origin_is_warned_about(tmp_path: Path) -> None:
    hardened = {
        **{k: v for k, v in REAL.items() if k != "livekit_sha256"},
        "livekit_archive": str(_archive(tmp_path)),
        **SENDER,
    }
    assert _warnings() == []  # the offline example is no production stack
    # The stack hosts the page by default, and allows its origin; on *.cloudfront.net links to
    # Spaces last only as long as the distribution.
    (warning,) = _warnings(**hardened)
    assert "web_domain" in warning
    assert _warnings(**hardened, **NAMED_PAGE) == []
    assert _warnings(**hardened, production="false") == []
    elsewhere = {**hardened, "host_web": "false"}
    (warning,) = _warnings(**elsewhere)
    assert "cors_origins" in warning and "Cognito" in warning
    on_an_idp = {k: v for k, v in elsewhere.items() if k not in SENDER}  # no pool of the stack's
    (warning,) = _warnings(**on_an_idp, oidc_issuer="https://id.example.org/", oidc_audience="web")
    assert "cors_origins" in warning and "Cognito" not in warning
    assert _warnings(**elsewhere, cors_origins="https://spaces.test") == []
    assert _warnings(**elsewhere, production="false") == []


def test_a_production_fleet_on_the_upstream_release_is_warned_about(tmp_path: Path) -> None:
    upstream = _warnings(**REAL, **NAMED_PAGE, **SENDER)
    assert len(upstream) == 1 and "make livekit-archive" in upstream[0] and "simulate" in upstream[0]


def test_a_production_stack_that_leaves_turn_on_the_signalling_certificate_is_warned_about(
    tmp_path: Path,
) -> None:
    """turn_certificate_arn defaults to certificate_arn while turn_domain defaults to turn.<domain>,
    which that certificate rarely names; the TLS load balancer does not check, so TURN/TLS would
    fail only in clients. Naming it, even as the same ARN (one certificate for both), is the choice."""
    from app import build_app

    context = {
        **{k: v for k, v in REAL.items() if k not in ("livekit_sha256", "turn_certificate_arn")},
        "livekit_archive": str(_archive(tmp_path)),
        **NAMED_PAGE,
        **SENDER,
    }
    (warning,) = _warnings(**context)
    assert "turn_certificate_arn" in warning and "turn.sfu.spaces.test" in warning
    assert _warnings(**context, turn_certificate_arn=REAL["certificate_arn"]) == []
    assert _warnings(**context, production="false") == []
    assert _warnings() == []  # the offline example
    # build_app prints it (an annotation on the stack) from the same context.
    app = build_app(context={**context, "lambda_bundling": "false", "aws:cdk:bundling-stacks": []})
    (stack,) = [c for c in app.node.children if isinstance(c, cdk.Stack)]
    printed = [str(m.data) for m in stack.node.metadata if m.type == "aws:cdk:warning"]
    assert [m for m in printed if "turn_certificate_arn is not set" in m], printed


def test_a_production_pool_open_to_sign_up_without_an_ses_sender_is_warned_about(tmp_path: Path) -> None:
    """Cognito's own sender delivers ~50 e-mails a day per account: past them, new people cannot
    confirm their account and cannot listen."""
    configured = {
        **{k: v for k, v in REAL.items() if k != "livekit_sha256"},
        "livekit_archive": str(_archive(tmp_path)),
        **NAMED_PAGE,
    }
    (warning,) = _warnings(**configured)
    assert "ses_from_email" in warning and "50 e-mails a day" in warning
    assert _warnings(**configured, **SENDER) == []
    assert _warnings(**configured, self_sign_up="false") == []  # administrators create the accounts
    assert _warnings(**configured, oidc_issuer="https://id.example.org/", oidc_audience="web") == []
    assert _warnings(**configured, production="false") == []


def test_a_hardened_archive_is_shipped_with_its_own_checksum(tmp_path: Path) -> None:
    archive = _archive(tmp_path)
    settings = _settings(
        domain=REAL["domain"], certificate_arn=REAL["certificate_arn"], livekit_archive=str(archive)
    )
    assert settings.livekit_archive == archive
    assert settings.livekit_binary_sha256 == hashlib.sha256(archive.read_bytes()).hexdigest()
    with pytest.raises(ValueError, match="livekit_archive and livekit_sha256"):
        _settings(livekit_archive=str(archive), livekit_sha256="ab" * 32)
    with pytest.raises(ValueError, match="make livekit-archive"):
        _settings(livekit_archive=str(tmp_path / "missing.tar.gz"))


def test_nodes_download_livekit_from_github_unless_a_mirror_is_named() -> None:
    assert _settings().livekit_releases_url is None
    mirror = "https://artifacts.example.org/livekit/releases"
    assert _settings(livekit_releases_url=mirror).livekit_releases_url == mirror


def test_a_maintenance_window_may_wrap_past_the_end_of_the_week() -> None:
    assert _settings(redis_maintenance_window="sat:23:30-sun:00:30").redis_maintenance_window == (
        "sat:23:30-sun:00:30"
    )


def test_a_stack_shipping_the_hardened_archive_synthesizes_nag_clean(tmp_path: Path) -> None:
    from app import build_app

    (tmp_path / "archive").mkdir()
    archive = _archive(tmp_path / "archive")
    app = build_app(
        context={"aws:cdk:bundling-stacks": [], "livekit_archive": str(archive)},
        outdir=str(tmp_path / "cdk.out"),
    )
    app.synth()  # cdk-nag runs as a validation plugin: an unacknowledged finding raises here
    # Its nodes' user data names the archive's object too, and still fits EC2's 16 KB.
    template = json.loads((tmp_path / "cdk.out" / f"{STACK}.template.json").read_text())
    synth = Synthesized(outdir=tmp_path / "cdk.out", template=template, metadata={})
    assert "LIVEKIT_ARCHIVE_S3" in node_settings(synth)
    assert user_data_bytes_at_worst(synth) < USER_DATA_BUDGET_BYTES
