"""The broadcast tier, read from the synthesized template: the private bucket, CloudFront in front of
it, the composer service and what it may do, and what the control plane is told."""

from __future__ import annotations

import json
import re
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_route53 as route53
from aws_cdk.assertions import Match, Template

from app import settings_from_context
from contract import names
from infrastructure.constructs import broadcast_delivery
from infrastructure.constructs.broadcast_delivery import BroadcastDelivery, BroadcastSettings

from .conftest import STACK, Synthesized

RETENTION_DAYS = 30  # app.py's default for recording_retention_days
PREFIX = names.BROADCAST_PREFIX


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _broadcast_tier(synth: Synthesized, type_: str) -> dict[str, dict[str, Any]]:
    """The broadcast construct's resources of a type (the hosted page has its own CloudFront)."""
    return {k: v for k, v in synth.resources(type_).items() if k.startswith("Broadcast")}


def _broadcast_bucket(synth: Synthesized) -> tuple[str, dict[str, Any]]:
    found = [
        (k, v["Properties"])
        for k, v in synth.resources("AWS::S3::Bucket").items()
        if any(
            r.get("Prefix") == PREFIX
            for r in v["Properties"].get("LifecycleConfiguration", {}).get("Rules", [])
        )
    ]
    assert len(found) == 1, found
    return found[0]


def _log_bucket(synth: Synthesized) -> str:
    _, bucket = _broadcast_bucket(synth)
    return str(bucket["LoggingConfiguration"]["DestinationBucketName"]["Ref"])


def _bucket_policy(synth: Synthesized, bucket_id: str) -> list[dict[str, Any]]:
    (policy,) = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in synth.resources("AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": bucket_id}
    ]
    return list(policy)


def _distribution(synth: Synthesized) -> tuple[str, dict[str, Any]]:
    ((dist_id, dist),) = _broadcast_tier(synth, "AWS::CloudFront::Distribution").items()
    return dist_id, dist["Properties"]["DistributionConfig"]


def _behaviours(synth: Synthesized) -> dict[str, dict[str, Any]]:
    _, config = _distribution(synth)
    found = {b["PathPattern"]: b for b in config["CacheBehaviors"]}
    found["default"] = config["DefaultCacheBehavior"]
    return found


def _cache_policy(synth: Synthesized, behaviour: dict[str, Any]) -> dict[str, Any]:
    policy_id = behaviour["CachePolicyId"]["Ref"]
    return dict(synth.template["Resources"][policy_id]["Properties"]["CachePolicyConfig"])


def _ssl_only(statements: list[dict[str, Any]], bucket_id: str) -> bool:
    arn = {"Fn::GetAtt": [bucket_id, "Arn"]}
    return any(
        s["Effect"] == "Deny"
        and s["Action"] == "s3:*"
        and s["Principal"] == {"AWS": "*"}
        and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        and s["Resource"] == [arn, {"Fn::Join": ["", [arn, "/*"]]}]
        for s in statements
    )


def test_broadcast_bucket_is_private_encrypted_tls_only_and_expires_recordings(synth: Synthesized) -> None:
    bucket_id, bucket = _broadcast_bucket(synth)
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    (rule,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert _ssl_only(_bucket_policy(synth, bucket_id), bucket_id)
    # Versioning off on purpose (the playlist is rewritten every second).
    assert bucket.get("VersioningConfiguration", {}).get("Status") != "Enabled"
    rules = {r["Id"]: r for r in bucket["LifecycleConfiguration"]["Rules"]}
    expire = rules["expire-recordings"]
    assert expire["Status"] == "Enabled" and expire["Prefix"] == PREFIX
    assert expire["ExpirationInDays"] == RETENTION_DAYS + broadcast_delivery.RETENTION_SLACK_DAYS
    # What the composer tags when the host kept no recording goes after a day, whatever the retention.
    unrecorded = rules["expire-unrecorded"]
    assert unrecorded["Status"] == "Enabled" and unrecorded["Prefix"] == PREFIX
    assert unrecorded["TagFilters"] == [
        {"Key": names.BROADCAST_DISCARD_TAG_KEY, "Value": names.BROADCAST_DISCARD_TAG_VALUE}
    ]
    assert unrecorded["ExpirationInDays"] == broadcast_delivery.UNRECORDED_DAYS == 1
    abort = rules["abort-incomplete-uploads"]
    assert abort["Status"] == "Enabled" and "Prefix" not in abort
    assert abort["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    assert bucket["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    # Kept on a delete or an update, not left behind by a first deploy that rolls back.
    assert synth.template["Resources"][bucket_id]["DeletionPolicy"] == "RetainExceptOnCreate"


def test_server_and_cdn_access_logs_go_to_a_private_expiring_log_bucket(synth: Synthesized) -> None:
    _, bucket = _broadcast_bucket(synth)
    log_id = _log_bucket(synth)
    assert bucket["LoggingConfiguration"]["LogFilePrefix"] == "s3/"
    _, config = _distribution(synth)
    assert config["Logging"] == {
        "Bucket": {"Fn::GetAtt": [log_id, "RegionalDomainName"]},
        "Prefix": "cloudfront/",
    }
    logs = synth.template["Resources"][log_id]["Properties"]
    assert all(logs["PublicAccessBlockConfiguration"].values())
    (rule,) = logs["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert _ssl_only(_bucket_policy(synth, log_id), log_id)
    (expire,) = logs["LifecycleConfiguration"]["Rules"]
    assert expire["ExpirationInDays"] == 30  # non-production default, like the log groups


def test_distribution_reads_the_bucket_through_origin_access_control_only(synth: Synthesized) -> None:
    bucket_id, _ = _broadcast_bucket(synth)
    dist_id, config = _distribution(synth)
    # Two origins: the bucket, and the API for /avatars (test_avatars_go_to_the_api_...).
    (origin,) = [o for o in config["Origins"] if "S3OriginConfig" in o]
    assert origin["DomainName"] == {"Fn::GetAtt": [bucket_id, "RegionalDomainName"]}
    # OAC, not an origin access identity.
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}
    oac_id = origin["OriginAccessControlId"]["Fn::GetAtt"][0]
    oac = synth.template["Resources"][oac_id]
    assert oac["Type"] == "AWS::CloudFront::OriginAccessControl"
    assert oac["Properties"]["OriginAccessControlConfig"]["OriginAccessControlOriginType"] == "s3"
    assert oac["Properties"]["OriginAccessControlConfig"]["SigningBehavior"] == "always"
    assert oac["Properties"]["OriginAccessControlConfig"]["SigningProtocol"] == "sigv4"
    assert not synth.resources("AWS::CloudFront::CloudFrontOriginAccessIdentity")
    # OAC and response-headers-policy names are unique per account: the region is in both, so the
    # same stack deploys to a second region of the account (the cache policies' names have it too).
    (headers,) = _broadcast_tier(synth, "AWS::CloudFront::ResponseHeadersPolicy").values()
    for name in (
        oac["Properties"]["OriginAccessControlConfig"]["Name"],
        headers["Properties"]["ResponseHeadersPolicyConfig"]["Name"],
    ):
        assert {"Ref": "AWS::Region"} in name["Fn::Join"][1], name

    allows = [s for s in _bucket_policy(synth, bucket_id) if s["Effect"] == "Allow"]
    (statement,) = allows  # the only grant in the bucket policy: this distribution may read
    assert statement["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert statement["Action"] == "s3:GetObject"
    source = json.dumps(statement["Condition"]["StringEquals"]["AWS:SourceArn"])
    assert f'{{"Ref": "{dist_id}"}}' in source and ":cloudfront::" in source


def test_every_behaviour_is_https_only_with_the_cors_policy(synth: Synthesized) -> None:
    _, config = _distribution(synth)
    behaviours = _behaviours(synth)
    assert len(behaviours) == 6  # default + 2 playlist + 2 segment patterns + avatars
    (headers_id,) = _broadcast_tier(synth, "AWS::CloudFront::ResponseHeadersPolicy")
    for pattern, behaviour in behaviours.items():
        assert behaviour["ViewerProtocolPolicy"] == "https-only", pattern
        methods = ["GET", "HEAD"] if pattern == names.AVATAR_PATH else ["GET", "HEAD", "OPTIONS"]
        assert behaviour["AllowedMethods"] == methods, pattern
        assert behaviour["ResponseHeadersPolicyId"] == {"Ref": headers_id}, pattern
    assert config["PriceClass"] == "PriceClass_100"
    # A missing key (403 from S3 without ListBucket) or an origin's 5xx is remembered 1 s, not
    # CloudFront's 10 s.
    assert {(e["ErrorCode"], e["ErrorCachingMinTTL"]) for e in config["CustomErrorResponses"]} == {
        (403, 1),
        (404, 1),
        (500, 1),
        (502, 1),
        (503, 1),
        (504, 1),
    }


def test_playlists_honour_a_short_origin_ttl_and_segments_cache_long_uncompressed(
    synth: Synthesized,
) -> None:
    behaviours = _behaviours(synth)
    for pattern in ("*.m3u8", "*.json"):
        behaviour = behaviours[f"{PREFIX}{pattern}"]
        policy = _cache_policy(synth, behaviour)
        assert (policy["MinTTL"], policy["DefaultTTL"], policy["MaxTTL"]) == (0, 1, 60), pattern
        assert behaviour["Compress"] is True
        assert _cache_key_is_path_only(policy), pattern
    for pattern in ("*.ts", "*.m4s"):
        behaviour = behaviours[f"{PREFIX}{pattern}"]
        policy = _cache_policy(synth, behaviour)
        assert policy["MinTTL"] == 86400, pattern
        assert policy["DefaultTTL"] == policy["MaxTTL"] == 365 * 86400, pattern
        assert behaviour["Compress"] is False, pattern
        key = policy["ParametersInCacheKeyAndForwardedToOrigin"]
        assert key["EnableAcceptEncodingGzip"] is False and key["EnableAcceptEncodingBrotli"] is False
        assert _cache_key_is_path_only(policy), pattern
    # Two policies for the HLS files, not one per pattern (and the avatars' own).
    assert len(_broadcast_tier(synth, "AWS::CloudFront::CachePolicy")) == 3


def _cache_key_is_path_only(policy: dict[str, Any]) -> bool:
    key = policy["ParametersInCacheKeyAndForwardedToOrigin"]
    return (
        key["CookiesConfig"] == {"CookieBehavior": "none"}
        and key["HeadersConfig"] == {"HeaderBehavior": "none"}
        and key["QueryStringsConfig"] == {"QueryStringBehavior": "none"}
    )


def test_cors_answers_the_player_without_credentials(synth: Synthesized) -> None:
    ((_, policy),) = _broadcast_tier(synth, "AWS::CloudFront::ResponseHeadersPolicy").items()
    config = policy["Properties"]["ResponseHeadersPolicyConfig"]
    cors = config["CorsConfig"]
    assert cors["AccessControlAllowCredentials"] is False
    assert cors["AccessControlAllowMethods"]["Items"] == ["GET", "HEAD", "OPTIONS"]
    # No cors_origins in the default context: the page the stack hosts is the one origin allowed.
    (web_cdn,) = [k for k in synth.resources("AWS::CloudFront::Distribution") if k.startswith("Web")]
    assert cors["AccessControlAllowOrigins"]["Items"] == [
        {"Fn::Join": ["", ["https://", {"Fn::GetAtt": [web_cdn, "DomainName"]}]]}
    ]
    assert cors["OriginOverride"] is True
    assert config["SecurityHeadersConfig"]["StrictTransportSecurity"]["AccessControlMaxAgeSec"] > 0
    assert config["SecurityHeadersConfig"]["ContentTypeOptions"] == {"Override": True}


def _composer_task(synth: Synthesized) -> tuple[str, dict[str, Any]]:
    found = [
        (k, v["Properties"])
        for k, v in synth.resources("AWS::ECS::TaskDefinition").items()
        if v["Properties"]["ContainerDefinitions"][0]["Command"] == ["python", "-m", "composer", "start"]
    ]
    assert len(found) == 1, found
    return found[0]


def test_composer_runs_as_its_own_service_with_the_broadcast_env(synth: Synthesized) -> None:
    bucket_id, _ = _broadcast_bucket(synth)
    task_id, task = _composer_task(synth)
    (container,) = task["ContainerDefinitions"]
    env = {e["Name"]: e["Value"] for e in container["Environment"]}
    assert env[names.ENV_BROADCAST_BUCKET] == {"Ref": bucket_id}
    assert env[names.ENV_BROADCAST_PREFIX] == PREFIX
    assert env[names.ENV_MODE] == "cloud"
    assert env[names.ENV_LOAD_METRIC] == names.COMPOSER_LOAD_METRIC
    # No avatar_hosts in the default context: the composer's own list (composer/avatars.py).
    assert names.ENV_AVATAR_HOSTS not in env
    assert {s["Name"] for s in container["Secrets"]} == {
        names.ENV_LIVEKIT_API_KEY,
        names.ENV_LIVEKIT_API_SECRET,
    }
    assert container["StopTimeout"] == 120
    assert (task["Cpu"], task["Memory"]) == ("2048", "4096")
    services = [
        (k, s["Properties"])
        for k, s in synth.resources("AWS::ECS::Service").items()
        if s["Properties"]["TaskDefinition"] == {"Ref": task_id}
    ]
    assert len(services) == 1
    service_id, service = services[0]
    assert service["LaunchType"] == "FARGATE"
    assert service["NetworkConfiguration"]["AwsvpcConfiguration"]["AssignPublicIp"] == "DISABLED"
    # Its own scaling: a scalable target on the composer service, two target-tracking policies on it.
    targets = [
        k
        for k, t in synth.resources("AWS::ApplicationAutoScaling::ScalableTarget").items()
        if {"Fn::GetAtt": [service_id, "Name"]} in t["Properties"]["ResourceId"]["Fn::Join"][1]
    ]
    assert len(targets) == 1
    policies = [
        p["Properties"]["TargetTrackingScalingPolicyConfiguration"]
        for p in synth.resources("AWS::ApplicationAutoScaling::ScalingPolicy").values()
        if p["Properties"]["ScalingTargetId"] == {"Ref": targets[0]}
    ]
    assert len(policies) == 2
    (cpu,) = [p for p in policies if "PredefinedMetricSpecification" in p]
    assert cpu["PredefinedMetricSpecification"] == {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"}
    assert cpu["TargetValue"] == 60
    (load,) = [p for p in policies if "CustomizedMetricSpecification" in p]
    assert load["TargetValue"] == 60
    assert load["CustomizedMetricSpecification"] == {
        "MetricName": names.COMPOSER_LOAD_METRIC,
        # One namespace per stack: two stacks in one account never scale on each other's load.
        "Namespace": f"Spaces/{STACK}",
        "Statistic": "Average",
        "Unit": "Percent",
    }
    assert load["ScaleOutCooldown"] == 60


def _composer_load_filter(synth: Synthesized) -> dict[str, Any]:
    _, task = _composer_task(synth)
    log_group = task["ContainerDefinitions"][0]["LogConfiguration"]["Options"]["awslogs-group"]
    filters = [
        f["Properties"]
        for f in synth.resources("AWS::Logs::MetricFilter").values()
        if f["Properties"]["LogGroupName"] == log_group
        and f["Properties"]["MetricTransformations"][0]["MetricName"] == names.COMPOSER_LOAD_METRIC
    ]
    assert len(filters) == 1, filters
    return filters[0]


def test_the_load_filter_reads_the_line_the_worker_prints(
    synth: Synthesized, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The metric filter in the template against a line printed by the real WorkerLoad, configured
    by the composer task's own environment."""
    from media_agent.load import PUBLISH_EVERY_S, WorkerLoad

    load_filter = _composer_load_filter(synth)
    (transformation,) = load_filter["MetricTransformations"]
    assert transformation["MetricNamespace"] == f"Spaces/{STACK}"
    assert transformation["Unit"] == "Percent"
    match = re.fullmatch(r'\{ \$\.(\w+) = "(\w+)" \}', load_filter["FilterPattern"])
    assert match, load_filter["FilterPattern"]
    field, wanted = match.groups()
    value_field = re.fullmatch(r"\$\.(\w+)", transformation["MetricValue"])
    assert value_field

    _, task = _composer_task(synth)
    env = {e["Name"]: e["Value"] for e in task["ContainerDefinitions"][0]["Environment"]}
    monkeypatch.setenv(names.ENV_LOAD_METRIC, env[names.ENV_LOAD_METRIC])
    lines: list[str] = []
    clock = iter([0.0, PUBLISH_EVERY_S])

    class _Server:
        active_jobs = [object()]

    worker_load = WorkerLoad(2, write=lines.append, clock=lambda: next(clock))
    worker_load.cpu = lambda: 0.0  # type: ignore[method-assign]  # only the job share counts here
    worker_load(_Server())
    worker_load(_Server())
    (line,) = lines
    published = json.loads(line)
    assert published[field] == wanted
    assert published[value_field.group(1)] == 50.0


def test_composer_may_only_write_and_read_back_the_broadcasts_prefix(synth: Synthesized) -> None:
    bucket_id, _ = _broadcast_bucket(synth)
    _, task = _composer_task(synth)
    role = task["TaskRoleArn"]["Fn::GetAtt"][0]
    statements = [
        s
        for p in synth.resources("AWS::IAM::Policy").values()
        if {"Ref": role} in p["Properties"]["Roles"]
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    s3 = [s for s in statements if any(a.startswith("s3:") for a in _as_list(s["Action"]))]
    arn = {"Fn::GetAtt": [bucket_id, "Arn"]}
    assert len(s3) == 2, s3
    listing, objects = sorted(s3, key=lambda s: s["Action"] != "s3:ListBucket")
    assert objects["Effect"] == "Allow" and "Condition" not in objects
    # PutObjectTagging: the deletion tag of a Space without a recording (S3Sink.discarding).
    assert sorted(_as_list(objects["Action"])) == ["s3:GetObject", "s3:PutObject", "s3:PutObjectTagging"]
    assert objects["Resource"] == {"Fn::Join": ["", [arn, f"/{PREFIX}*"]]}
    # Listing the bucket (what makes a missing playlist a 404, not a 403), nothing else on it.
    assert listing["Action"] == "s3:ListBucket" and listing["Resource"] == arn
    # Nothing else of S3 or the bucket anywhere in the role's policies (no delete, no other prefix).
    others = [s for s in statements if s not in s3]
    assert {a for s in others for a in _as_list(s["Action"])} == {
        "ecs:GetTaskProtection",
        "ecs:UpdateTaskProtection",
        # The deployment check (media_agent/deployment.py): read-only, the worker cluster only.
        "ecs:DescribeTasks",
        "ecs:DescribeServices",
    }
    assert bucket_id not in json.dumps(others)
    assert "ManagedPolicyArns" not in synth.template["Resources"][role]["Properties"]


def test_no_other_role_may_touch_the_broadcast_bucket(synth: Synthesized) -> None:
    bucket_id, _ = _broadcast_bucket(synth)
    _, task = _composer_task(synth)
    composer_role = task["TaskRoleArn"]["Fn::GetAtt"][0]
    for policy in synth.resources("AWS::IAM::Policy").values():
        if {"Ref": composer_role} not in policy["Properties"]["Roles"]:
            assert bucket_id not in json.dumps(policy["Properties"]["PolicyDocument"])


def test_control_plane_is_told_the_broadcast_url_threshold_and_retention(synth: Synthesized) -> None:
    dist_id, _ = _distribution(synth)
    base_url = {"Fn::Join": ["", ["https://", {"Fn::GetAtt": [dist_id, "DomainName"]}, "/broadcasts"]]}
    # The API and the reconciler (which dispatches the composer only when a broadcast is configured).
    functions = [
        f
        for f in synth.resources("AWS::Lambda::Function").values()
        if f["Properties"]["Handler"].startswith("functions.")
    ]
    assert len(functions) == 2
    for function in functions:
        env = function["Properties"]["Environment"]["Variables"]
        assert env[names.ENV_BROADCAST_BASE_URL] == base_url
        assert env[names.ENV_WEBRTC_LISTENER_LIMIT] == "250"
        assert env[names.ENV_RECORDING_RETENTION_DAYS] == str(RETENTION_DAYS)
    assert synth.template["Outputs"][names.OUTPUT_BROADCAST_URL]["Value"] == base_url


def _delivery_template(
    zone: bool = False, cors_origins: tuple[str, ...] = ("https://spaces.example.org",), **settings: Any
) -> Template:
    stack = cdk.Stack(cdk.App(), "Delivery")
    defaults: dict[str, Any] = {
        "retention_days": 7,
        "access_log_days": 180,
        "price_class": cloudfront.PriceClass.PRICE_CLASS_ALL,
    }
    BroadcastDelivery(
        stack,
        "Broadcast",
        settings=BroadcastSettings(**{**defaults, **settings}),
        cors_origins=cors_origins,
        hosted_zone=route53.HostedZone.from_hosted_zone_attributes(
            stack, "Zone", hosted_zone_id="Z0000000000000", zone_name="example.org"
        )
        if zone
        else None,
    )
    return Template.from_stack(stack)


def test_with_no_web_origin_any_page_may_read_the_public_broadcast() -> None:
    """host_web=false and no cors_origins: the broadcast is public and credential-less, so '*'
    reveals nothing the URL does not."""
    template = _delivery_template(cors_origins=())
    template.has_resource_properties(
        "AWS::CloudFront::ResponseHeadersPolicy",
        {
            "ResponseHeadersPolicyConfig": Match.object_like(
                {"CorsConfig": Match.object_like({"AccessControlAllowOrigins": {"Items": ["*"]}})}
            )
        },
    )


def test_a_custom_domain_gets_its_certificate_tls12_and_the_web_origin_only() -> None:
    certificate = "arn:aws:acm:us-east-1:111111111111:certificate/abc"
    template = _delivery_template(zone=True, domain="live.example.org", certificate_arn=certificate)
    template.has_resource_properties(
        "AWS::CloudFront::Distribution",
        {
            "DistributionConfig": Match.object_like(
                {
                    "Aliases": ["live.example.org"],
                    "PriceClass": "PriceClass_All",
                    "ViewerCertificate": {
                        "AcmCertificateArn": certificate,
                        "MinimumProtocolVersion": "TLSv1.2_2021",
                        "SslSupportMethod": "sni-only",
                    },
                }
            )
        },
    )
    template.has_resource_properties(
        "AWS::CloudFront::ResponseHeadersPolicy",
        {
            "ResponseHeadersPolicyConfig": Match.object_like(
                {
                    "CorsConfig": Match.object_like(
                        {"AccessControlAllowOrigins": {"Items": ["https://spaces.example.org"]}}
                    )
                }
            )
        },
    )
    records = template.find_resources("AWS::Route53::RecordSet")
    assert sorted(r["Properties"]["Type"] for r in records.values()) == ["A", "AAAA"]
    for record in records.values():
        assert record["Properties"]["Name"] == "live.example.org."
        assert record["Properties"]["HostedZoneId"] == "Z0000000000000"
        assert "AliasTarget" in record["Properties"]
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "LifecycleConfiguration": {
                "Rules": Match.array_with([Match.object_like({"Prefix": PREFIX, "ExpirationInDays": 8})])
            }
        },
    )


@pytest.mark.parametrize(
    "settings",
    [
        {"domain": "live.example.org"},
        {"certificate_arn": "arn:aws:acm:us-east-1:1:certificate/x"},
        {"retention_days": 0},
    ],
)
def test_incomplete_or_impossible_settings_are_refused(settings: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        _delivery_template(**settings)


def test_composer_uploads_reach_s3_through_the_gateway_endpoint_not_nat(synth: Synthesized) -> None:
    ((_, endpoint),) = synth.resources("AWS::EC2::VPCEndpoint").items()
    props = endpoint["Properties"]
    assert props["VpcEndpointType"] == "Gateway"
    assert ".s3" in json.dumps(props["ServiceName"])
    # The route tables of the subnets the composer service runs in.
    _, task = _composer_task(synth)
    ((_, service),) = [
        (k, v["Properties"])
        for k, v in synth.resources("AWS::ECS::Service").items()
        if v["Properties"]["TaskDefinition"]["Ref"] in synth.template["Resources"]
        and synth.template["Resources"][v["Properties"]["TaskDefinition"]["Ref"]]["Properties"] == task
    ]
    subnets = service["NetworkConfiguration"]["AwsvpcConfiguration"]["Subnets"]
    tables = [
        a["Properties"]["RouteTableId"]
        for a in synth.resources("AWS::EC2::SubnetRouteTableAssociation").values()
        if a["Properties"]["SubnetId"] in subnets
    ]
    assert len(tables) == len(subnets) >= 2
    assert sorted(props["RouteTableIds"], key=json.dumps) == sorted(tables, key=json.dumps)


@pytest.mark.parametrize(
    ("context", "hosts"),
    [
        ({}, None),
        ({"avatar_hosts": ""}, ()),
        (
            {"avatar_hosts": "cdn.example.org, *.avatars.example.org"},
            ("cdn.example.org", "*.avatars.example.org"),
        ),
    ],
)
def test_avatar_hosts_come_from_the_context(context: dict[str, str], hosts: tuple[str, ...] | None) -> None:
    """Unset: the composer's defaults; empty: no avatars in the broadcast (initials)."""
    assert settings_from_context(cdk.App(context=context)).avatar_hosts == hosts


def test_avatars_go_to_the_api_keyed_on_the_picture_url_only(synth: Synthesized) -> None:
    """The page loads pictures from the CDN's /avatars: the API's proxy behind the edge cache, with
    nothing of the viewer (cookies, headers, other parameters) forwarded or in the cache key."""
    _, config = _distribution(synth)
    behaviour = _behaviours(synth)[names.AVATAR_PATH]
    (origin,) = [o for o in config["Origins"] if o["Id"] == behaviour["TargetOriginId"]]
    assert origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    (api_id,) = synth.resources("AWS::ApiGatewayV2::Api")
    domain = json.dumps(origin["DomainName"])
    assert f'{{"Ref": "{api_id}"}}' in domain and ".execute-api." in domain
    assert "OriginRequestPolicyId" not in behaviour
    assert behaviour["Compress"] is False
    policy = _cache_policy(synth, behaviour)
    key = policy["ParametersInCacheKeyAndForwardedToOrigin"]
    assert key["QueryStringsConfig"] == {
        "QueryStringBehavior": "whitelist",
        "QueryStrings": [names.AVATAR_URL_PARAM],
    }
    assert key["CookiesConfig"] == {"CookieBehavior": "none"}
    assert key["HeadersConfig"] == {"HeaderBehavior": "none"}
    assert policy["DefaultTTL"] == 3600 and policy["MaxTTL"] == 86400
    # The page is told to load pictures from there.
    config_json = json.dumps(synth.template["Outputs"][names.OUTPUT_WEB_CONFIG]["Value"])
    assert '\\"avatarUrl\\"' in config_json and f"{names.AVATAR_PATH}" in config_json
