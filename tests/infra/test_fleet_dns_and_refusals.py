"""The fleet construct alone, in a small stack: the DNS records it writes when given a hosted zone,
the hardened server archive it ships, and the deployments it refuses to build (TURN on the
signalling name, a missing checksum, an archive for another architecture)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk.assertions import Template

from infrastructure.constructs.livekit_fleet import FleetSizing, LiveKitFleet, release_archive_name

CERT = "arn:aws:acm:eu-west-1:123456789012:certificate/11111111-1111-1111-1111-111111111111"
TURN_CERT = "arn:aws:acm:eu-west-1:123456789012:certificate/22222222-2222-2222-2222-222222222222"
SHA256 = "a" * 64


def _fleet(**overrides: Any) -> tuple[cdk.Stack, LiveKitFleet]:
    stack = cdk.Stack(cdk.App(), "FleetOnly", env=cdk.Environment(account="123456789012", region="eu-west-1"))
    vpc = ec2.Vpc(stack, "Vpc", max_azs=2, nat_gateways=0)
    props: dict[str, Any] = {
        "vpc": vpc,
        "subnets": ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC),
        "sizing": FleetSizing(
            instance_type=ec2.InstanceType("c7g.large"),
            cpu_type=ec2.AmazonLinuxCpuType.ARM_64,
            min_capacity=1,
            max_capacity=2,
            cpu_target_percent=60,
            drain=cdk.Duration.minutes(30),
        ),
        "domain": "sfu.spaces.test",
        "certificate_arn": CERT,
        "turn_domain": "turn.spaces.test",
        "turn_certificate_arn": TURN_CERT,
        "livekit_secret": secretsmanager.Secret(stack, "LiveKitKeys"),
        "redis_auth_secret": secretsmanager.Secret(stack, "RedisAuth"),
        "redis_address": "redis.internal:6379",
        "webhook_url": "https://api.spaces.test/livekit/webhook",
        "binary_sha256": SHA256,
        "log_retention": logs.RetentionDays.ONE_WEEK,
        "hosted_zone": route53.HostedZone.from_hosted_zone_attributes(
            stack, "Zone", hosted_zone_id="Z0123456789ABC", zone_name="spaces.test"
        ),
    }
    props.update(overrides)
    return stack, LiveKitFleet(stack, "LiveKit", **props)


def test_each_name_is_an_alias_of_its_own_load_balancer_with_its_own_certificate() -> None:
    stack, fleet = _fleet()
    template = Template.from_stack(stack).to_json()
    resources = template["Resources"]
    signalling = stack.resolve(fleet.load_balancer.load_balancer_arn)["Ref"]
    turn = stack.resolve(fleet.turn_load_balancer.load_balancer_arn)["Ref"]
    records = {
        r["Properties"]["Name"]: r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::Route53::RecordSet"
    }
    assert set(records) == {"sfu.spaces.test.", "turn.spaces.test."}
    for name, balancer in (("sfu.spaces.test.", signalling), ("turn.spaces.test.", turn)):
        record = records[name]
        assert record["Type"] == "A" and record["HostedZoneId"] == "Z0123456789ABC"
        assert balancer in str(record["AliasTarget"]["DNSName"])
    listeners = {
        r["Properties"]["LoadBalancerArn"]["Ref"]: r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::ElasticLoadBalancingV2::Listener"
    }
    assert listeners[turn]["Port"] == 443
    assert listeners[turn]["Certificates"] == [{"CertificateArn": TURN_CERT}]
    assert listeners[signalling]["Certificates"] == [{"CertificateArn": CERT}]


def test_no_records_without_a_zone() -> None:
    stack, _ = _fleet(hosted_zone=None)
    Template.from_stack(stack).resource_count_is("AWS::Route53::RecordSet", 0)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"turn_domain": "sfu.spaces.test"}, "turn_domain must differ"),
        ({"binary_sha256": ""}, "binary_sha256"),
        ({"binary_sha256": "A" * 64}, "binary_sha256"),
    ],
)
def test_refused_with_the_reason(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _fleet(**overrides)


def _user_data(stack: cdk.Stack, fleet: LiveKitFleet) -> str:
    return str(stack.resolve(fleet.user_data.render()))


def test_a_hardened_archive_is_an_asset_the_nodes_alone_may_read(tmp_path: Path) -> None:
    archive = tmp_path / release_archive_name("arm64")
    archive.write_bytes(b"the hardened build")
    stack, fleet = _fleet(archive=archive)
    assert fleet.archive is not None
    user_data = _user_data(stack, fleet)
    assert "export LIVEKIT_ARCHIVE_S3=s3://" in user_data and "export LIVEKIT_RELEASES=" not in user_data
    assert str(stack.resolve(fleet.archive.s3_object_key)) in user_data
    policies = [
        r["Properties"]["PolicyDocument"]["Statement"]
        for r in Template.from_stack(stack).to_json()["Resources"].values()
        if r["Type"] == "AWS::IAM::Policy"
        and stack.resolve(fleet.role.role_name) in r["Properties"].get("Roles", [])
    ]
    s3 = [s for statements in policies for s in statements if "s3:" in str(s["Action"])]
    # Exactly that object: GetObject, on <bootstrap bucket>/<the asset's key>.
    assert [s["Action"] for s in s3] == ["s3:GetObject"]
    (statement,) = s3
    assert str(stack.resolve(fleet.archive.s3_object_key)) in str(statement["Resource"])


def test_without_an_archive_the_nodes_download_the_upstream_release() -> None:
    stack, fleet = _fleet(releases_url="https://mirror.spaces.test/livekit/")
    assert fleet.archive is None
    user_data = _user_data(stack, fleet)
    assert "export LIVEKIT_ARCHIVE_S3=" not in user_data
    assert "export LIVEKIT_RELEASES=https://mirror.spaces.test/livekit\\n" in user_data


def test_an_archive_for_another_architecture_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / release_archive_name("amd64")
    archive.write_bytes(b"an x86 build")
    with pytest.raises(ValueError, match="arm64 build"):
        _fleet(archive=archive)
