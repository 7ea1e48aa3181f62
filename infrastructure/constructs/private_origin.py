"""The parts both CloudFront tiers build alike (broadcast_delivery.py, web_site.py): a private bucket
that only its distribution reads, the log bucket S3 and CloudFront write into, the origin access
control between them, names CloudFront keeps unique per account, and a custom name's records.

Each function makes its constructs under the caller's scope with the caller's ids, so a tier's
logical ids are its own."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import Duration, Names, RemovalPolicy, Stack
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_route53_targets as route53_targets
from aws_cdk import aws_s3 as s3
from constructs import Construct

ABORT_MULTIPART_AFTER = Duration.days(1)


def log_bucket(scope: Construct, id_: str, *, days: int) -> s3.Bucket:
    """Where the bucket's server access logs and the distribution's standard logs go, kept `days`.

    Retained, even when a first deploy rolls back: logs start arriving while the stack is created,
    and a rollback cannot delete a bucket that is not empty (it would end in ROLLBACK_FAILED)."""
    return s3.Bucket(
        scope,
        id_,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        encryption=s3.BucketEncryption.S3_MANAGED,
        enforce_ssl=True,
        # CloudFront standard logs are delivered with an ACL grant (awslogsdelivery): ACLs on.
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
        lifecycle_rules=[
            s3.LifecycleRule(
                id="expire-logs",
                expiration=Duration.days(days),
                abort_incomplete_multipart_upload_after=ABORT_MULTIPART_AFTER,
            )
        ],
        removal_policy=RemovalPolicy.RETAIN,
    )


def private_bucket(
    scope: Construct,
    id_: str,
    *,
    logs: s3.IBucket,
    lifecycle_rules: Sequence[s3.LifecycleRule],
    removal_policy: RemovalPolicy,
) -> s3.Bucket:
    """A bucket nobody reads but its distribution: no public access, SSE-S3, TLS only, no ACLs, no
    versions, its server access logs under `s3/` in `logs`, incomplete uploads aborted after a day."""
    return s3.Bucket(
        scope,
        id_,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        encryption=s3.BucketEncryption.S3_MANAGED,
        enforce_ssl=True,
        versioned=False,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        server_access_logs_bucket=logs,
        server_access_logs_prefix="s3/",
        lifecycle_rules=[
            *lifecycle_rules,
            s3.LifecycleRule(
                id="abort-incomplete-uploads", abort_incomplete_multipart_upload_after=ABORT_MULTIPART_AFTER
            ),
        ],
        removal_policy=removal_policy,
    )


def account_wide_name(scope: Construct, kind: str) -> str:
    """A name for a CloudFront object whose names are unique per account, not per region (origin
    access controls, response headers policies): the same stack deployed to a second region of the
    account would otherwise fail on the name. At most 63 characters (OAC names: 64)."""
    return f"{Names.unique_resource_name(scope, max_length=40)}-{kind}-{Stack.of(scope).region}"


def read_only_origin(scope: Construct, id_: str, bucket: s3.IBucket) -> cloudfront.IOrigin:
    """The bucket as an origin through an origin access control (SigV4-signed origin requests).

    OAC, not the legacy origin access identity: it is what AWS supports for new distributions, and
    the bucket policy CDK writes names this one distribution (AWS:SourceArn) instead of a shared
    principal: s3:GetObject only. No ListBucket, so a missing key is a 403."""
    return origins.S3BucketOrigin.with_origin_access_control(
        bucket,
        origin_access_control=cloudfront.S3OriginAccessControl(
            scope,
            id_,
            signing=cloudfront.Signing.SIGV4_ALWAYS,
            origin_access_control_name=account_wide_name(scope, "origin"),
        ),
        origin_access_levels=[cloudfront.AccessLevel.READ],
    )


def alias_records(
    scope: Construct, distribution: cloudfront.IDistribution, *, domain: str, zone: route53.IHostedZone
) -> None:
    """A and AAAA alias records for `domain` (the distribution serves IPv4 and IPv6)."""
    target = route53.RecordTarget.from_alias(route53_targets.CloudFrontTarget(distribution))
    route53.ARecord(scope, "Record", zone=zone, record_name=domain, target=target)
    route53.AaaaRecord(scope, "RecordV6", zone=zone, record_name=domain, target=target)


def serving_options(
    scope: Construct,
    *,
    domain: str | None,
    certificate_arn: str | None,
    price_class: cloudfront.PriceClass,
    logs: s3.IBucket,
) -> dict[str, Any]:
    """What a distribution's serving takes beyond its behaviours: its name (a custom one with its
    us-east-1 certificate and TLS 1.2, or *.cloudfront.net), HTTP/2 and 3, the price class, and its
    standard logs under `cloudfront/` in `logs`."""
    certificate = (
        acm.Certificate.from_certificate_arn(scope, "Certificate", certificate_arn)
        if certificate_arn
        else None
    )
    return {
        "domain_names": [domain] if domain else None,
        "certificate": certificate,
        # Only a custom certificate takes a policy; AWS fixes the default *.cloudfront.net one.
        "minimum_protocol_version": cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021 if certificate else None,
        "http_version": cloudfront.HttpVersion.HTTP2_AND_3,
        "price_class": price_class,
        "enable_logging": True,
        "log_bucket": logs,
        "log_file_prefix": "cloudfront/",
    }
