"""What must hold for every deployment of the Spaces stack, read from the synthesized template."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk.assertions import Match, Template

from contract import names
from infrastructure.constructs import lambda_bundle, livekit_fleet, observability
from infrastructure.constructs.control_plane import RUNTIME, ApiLimits, BroadcastLinks, ControlPlane

from .conftest import STACK, Synthesized

# API Gateway's default account-level throttle for HTTP APIs in one region (Service Quotas).
ACCOUNT_HTTP_API_RATE_QUOTA = 10_000

ANYWHERE = "0.0.0.0/0"


def _ref(logical_id: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [logical_id, "GroupId"]}


def _ingress(synth: Synthesized, group_id: str) -> set[tuple[str, int, int, str]]:
    """All ingress rules of a security group: inline ones and separate SecurityGroupIngress resources."""
    rules: set[tuple[str, int, int, str]] = set()
    group = synth.template["Resources"][group_id]["Properties"]
    for rule in group.get("SecurityGroupIngress", []):
        rules.add((rule["IpProtocol"], rule["FromPort"], rule["ToPort"], rule.get("CidrIp", "?")))
    for ingress in synth.resources("AWS::EC2::SecurityGroupIngress").values():
        props = ingress["Properties"]
        if props["GroupId"] == _ref(group_id):
            source = props.get("CidrIp") or props["SourceSecurityGroupId"]["Fn::GetAtt"][0]
            rules.add((props["IpProtocol"], props["FromPort"], props["ToPort"], source))
    return rules


def _group(synth: Synthesized, description_start: str) -> str:
    found = [
        k
        for k, v in synth.resources("AWS::EC2::SecurityGroup").items()
        if v["Properties"]["GroupDescription"].startswith(description_start)
    ]
    assert len(found) == 1, found
    return found[0]


def test_sfu_nodes_open_exactly_what_webrtc_needs(synth: Synthesized) -> None:
    nodes = _group(synth, "LiveKit SFU nodes")
    lb = _group(synth, "LiveKit signalling (wss)")
    turn_lb = _group(synth, "LiveKit TURN/TLS")
    assert _ingress(synth, nodes) == {
        ("tcp", 7881, 7881, ANYWHERE),
        ("udp", 50000, 60000, ANYWHERE),
        ("udp", 3478, 3478, ANYWHERE),
        ("udp", 30000, 40000, ANYWHERE),  # TURN relays, the range rendered into livekit.yaml
        ("tcp", 7880, 7880, lb),
        ("tcp", 5349, 5349, turn_lb),
    }
    assert _ingress(synth, lb) == {("tcp", 443, 443, ANYWHERE)}
    assert _ingress(synth, turn_lb) == {("tcp", 443, 443, ANYWHERE)}
    turn = node_config(synth)["turn"]
    assert (turn["relay_range_start"], turn["relay_range_end"]) == livekit_fleet.TURN_RELAY_RANGE


def test_turn_tls_has_its_own_domain_whose_443_reaches_the_turn_port(synth: Synthesized) -> None:
    """livekit-server tells clients `turns:<turn.domain>:443` (tests/integration/fleet/test_turn.py):
    that name must be the TURN load balancer's, and its 443 must go to the nodes' TURN port."""
    turn = node_config(synth)["turn"]
    assert turn["domain"] == "turn.livekit.example.com" != "livekit.example.com"
    assert turn["tls_port"] == livekit_fleet.TURN_TLS_PORT and turn["external_tls"] is True
    balancers = synth.resources("AWS::ElasticLoadBalancingV2::LoadBalancer")
    listeners = synth.resources("AWS::ElasticLoadBalancingV2::Listener").values()
    groups = synth.resources("AWS::ElasticLoadBalancingV2::TargetGroup")
    routes = {}
    for listener in listeners:
        props = listener["Properties"]
        (action,) = props["DefaultActions"]
        group = groups[action["TargetGroupArn"]["Ref"]]["Properties"]
        balancer = props["LoadBalancerArn"]["Ref"]
        assert props["Protocol"] == "TLS" and props["SslPolicy"].startswith("ELBSecurityPolicy-TLS13")
        routes[balancer] = (props["Port"], group["Port"], group["Protocol"])
    assert len(balancers) == 2
    assert sorted(routes.values()) == [(443, 5349, "TCP"), (443, 7880, "TCP")]
    outputs = synth.template["Outputs"]
    turn_lb = routes and next(b for b, r in routes.items() if r[1] == livekit_fleet.TURN_TLS_PORT)
    assert outputs["TurnLoadBalancerDnsName"]["Value"] == {"Fn::GetAtt": [turn_lb, "DNSName"]}
    assert "turn.livekit.example.com" in outputs["TurnLoadBalancerDnsName"]["Description"]


def test_nothing_is_reachable_by_ssh(synth: Synthesized) -> None:
    for group_id in synth.resources("AWS::EC2::SecurityGroup"):
        for protocol, low, high, _ in _ingress(synth, group_id):
            assert not (protocol in ("tcp", "-1") and low <= 22 <= high), group_id
    for template in synth.resources("AWS::EC2::LaunchTemplate").values():
        assert "KeyName" not in template["Properties"]["LaunchTemplateData"]


def test_signalling_is_tls_on_443_with_health_check_get_root(synth: Synthesized) -> None:
    t = synth.assertions
    t.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::Listener",
        {
            "Port": 443,
            "Protocol": "TLS",
            "Certificates": [{"CertificateArn": Match.any_value()}],
        },
    )
    t.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::TargetGroup",
        {
            "Port": 7880,
            "Protocol": "TCP",
            "HealthCheckProtocol": "HTTP",
            "HealthCheckPath": "/",
            "HealthCheckPort": "7880",
        },
    )


def test_the_redis_dependent_readiness_check_routes_but_never_replaces_nodes(synth: Synthesized) -> None:
    """livekit-server answers `GET /` with 406 once its node stats are 4 s old, and they refresh only
    through Redis: with ELB health on the group, a Redis failover would replace every node at once.
    The load balancer keeps the check (an unready node takes no new clients), the group replaces on
    EC2 health only, systemd restarts a server that exits, and a node unhealthy for long alarms."""
    ((_, group),) = synth.resources("AWS::AutoScaling::AutoScalingGroup").items()
    assert group["Properties"]["HealthCheckType"] == "EC2"
    signalling = [
        (k, g["Properties"])
        for k, g in synth.resources("AWS::ElasticLoadBalancingV2::TargetGroup").items()
        if g["Properties"]["Port"] == livekit_fleet.SIGNAL_PORT
    ]
    ((signalling_id, check),) = signalling
    assert (check["HealthCheckProtocol"], check["HealthCheckPath"], check["HealthCheckPort"]) == (
        "HTTP",
        "/",
        str(livekit_fleet.SIGNAL_PORT),
    )
    assert check["TargetType"] == "instance"
    # An unready node keeps the signalling connections of the rooms it holds.
    attributes = {a["Key"]: a["Value"] for a in check["TargetGroupAttributes"]}
    assert attributes[livekit_fleet.UNHEALTHY_CONNECTION_TERMINATION] == "false"
    assert attributes[livekit_fleet.UNHEALTHY_DRAINING_SECONDS] == "600"
    assert {"Ref": signalling_id} in group["Properties"]["TargetGroupARNs"]
    unit = node_files(synth)["livekit.service"]
    assert "Restart=always\n" in unit and "StartLimitIntervalSec=0\n" in unit
    unhealthy = _alarm(synth, "SfuUnhealthy")
    watched = [
        d["Value"]
        for m in unhealthy["Metrics"]
        if "MetricStat" in m
        for d in m["MetricStat"]["Metric"]["Dimensions"]
        if d["Name"] == "TargetGroup"
    ]
    assert {"Fn::GetAtt": [signalling_id, "TargetGroupFullName"]} in watched


def test_fleet_drains_on_scale_in_for_a_bounded_time_and_scales_on_cpu(synth: Synthesized) -> None:
    _, hook = synth.one(
        "AWS::AutoScaling::LifecycleHook", LifecycleHookName=livekit_fleet.LIFECYCLE_HOOK_NAME
    )
    assert hook["Properties"]["LifecycleTransition"] == "autoscaling:EC2_INSTANCE_TERMINATING"
    assert hook["Properties"]["DefaultResult"] == "CONTINUE"
    # boot.sh turns DRAIN_SECONDS into the unit's TimeoutStopSec (tests/infra/test_node_boot.py).
    stop = int(node_settings(synth)["DRAIN_SECONDS"])
    # The hook outlives the drain: the node, not the timeout, ends its own lifecycle action.
    assert stop < hook["Properties"]["HeartbeatTimeout"] <= 7200
    assert "KillSignal=SIGTERM" in node_files(synth)["livekit.service"]
    synth.assertions.has_resource_properties(
        "AWS::AutoScaling::ScalingPolicy",
        {
            "PolicyType": "TargetTrackingScaling",
            "TargetTrackingConfiguration": Match.object_like(
                {
                    "PredefinedMetricSpecification": {"PredefinedMetricType": "ASGAverageCPUUtilization"},
                }
            ),
        },
    )


def test_a_node_may_protect_itself_from_scale_in_and_complete_its_drain_in_its_group_only(
    synth: Synthesized,
) -> None:
    (policy,) = [
        p for k, p in synth.resources("AWS::IAM::Policy").items() if k.startswith("LiveKitCompleteDrain")
    ]
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert sorted(_list(statement["Action"])) == [
        "autoscaling:CompleteLifecycleAction",
        "autoscaling:SetInstanceProtection",
    ]
    # The group's ARN by its name (CompleteLifecycleAction and SetInstanceProtection take both).
    (resource,) = _list(statement["Resource"])
    assert f"autoScalingGroupName/{node_settings(synth)['GROUP_NAME']}" in json.dumps(resource)
    # The group itself does not protect new nodes: a node is protected only while it holds a room.
    ((_, group),) = synth.resources("AWS::AutoScaling::AutoScalingGroup").items()
    assert not group["Properties"].get("NewInstancesProtectedFromScaleIn", False)


def _node_logs(synth: Synthesized) -> str:
    (group,) = [
        k for k, r in synth.resources("AWS::Logs::LogGroup").items() if k.startswith("LiveKitNodeLogs")
    ]
    return group


def test_the_nodes_log_group_keeps_their_logs_as_long_as_the_stacks_other_logs(synth: Synthesized) -> None:
    groups = synth.resources("AWS::Logs::LogGroup")
    node_logs = groups[_node_logs(synth)]["Properties"]
    (function_logs,) = [r for k, r in groups.items() if k.startswith("ControlPlaneFunctionLogs")]
    # log_retention: a month by default (6 in production), the same setting as every other group.
    assert node_logs["RetentionInDays"] == function_logs["Properties"]["RetentionInDays"] == 30
    # Named by CloudFormation: a group kept from an earlier stack never collides with a new one.
    assert "LogGroupName" not in node_logs


def test_a_node_may_write_streams_of_its_log_group_and_nothing_else_in_logs(synth: Synthesized) -> None:
    (role,) = [
        k
        for k, r in synth.resources("AWS::IAM::Role").items()
        if r["Properties"].get("Description", "").startswith("LiveKit SFU node")
    ]
    statements = [
        statement
        for p in synth.resources("AWS::IAM::Policy").values()
        if {"Ref": role} in p["Properties"]["Roles"]
        for statement in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    (logs_statement,) = [s for s in statements if any(a.startswith("logs:") for a in _list(s["Action"]))]
    # No CreateLogGroup (the stack owns the group), no reads, no retention changes.
    assert sorted(_list(logs_statement["Action"])) == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert "Condition" not in logs_statement
    # The group's Arn attribute: `arn:...:log-group:<name>:*`, its streams and no other group's.
    assert _list(logs_statement["Resource"]) == [{"Fn::GetAtt": [_node_logs(synth), "Arn"]}]
    # In the default policy the launch template waits for, so a first boot is never refused.
    ((_, template),) = synth.resources("AWS::EC2::LaunchTemplate").items()
    (default_policy,) = [
        k
        for k, p in synth.resources("AWS::IAM::Policy").items()
        if logs_statement in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    assert default_policy in template["DependsOn"]


def test_the_user_data_names_the_nodes_log_group_and_the_nlb_acknowledgment_says_so(
    synth: Synthesized,
) -> None:
    group = _node_logs(synth)
    assert node_settings(synth)["LOG_GROUP"] == f"<Ref:{group}>"
    # The agent's config is filled at boot with that name.
    agent = json.loads(node_files(synth)["amazon-cloudwatch-agent.json"])
    collected = agent["logs"]["logs_collected"]["files"]["collect_list"]
    assert {c["log_group_name"] for c in collected} == {"__LOG_GROUP__"}
    # No access logs on the signalling NLB, because the nodes' own logs leave the nodes.
    acknowledged = _acknowledged(synth, "/LiveKit/LoadBalancer")
    (reason,) = [r for rule, r in acknowledged.items() if rule.endswith("AwsSolutions-ELB2")]
    assert group in reason and "CloudWatch agent" in reason


def test_a_deploy_never_replaces_the_nodes_serving_rooms(synth: Synthesized) -> None:
    """Each deploy resolves the latest AMI, so an update policy would roll the fleet on any deploy
    after AWS publishes one; nodes are rolled by an instance refresh, which drains them, instead."""
    ((_, group),) = synth.resources("AWS::AutoScaling::AutoScalingGroup").items()
    policy = group.get("UpdatePolicy", {})
    assert "AutoScalingRollingUpdate" not in policy and "AutoScalingReplacingUpdate" not in policy


def test_the_api_access_log_is_one_json_object_of_http_api_fields(synth: Synthesized) -> None:
    ((_, stage),) = synth.resources("AWS::ApiGatewayV2::Stage").items()
    fields = json.loads(stage["Properties"]["AccessLogSettings"]["Format"])
    assert {"requestId", "ip", "routeKey", "status", "responseLatency"} <= set(fields)
    # Only variables HTTP APIs define (resourcePath and friends are REST API ones).
    assert all(v.startswith("$context.") and "resourcePath" not in v for v in fields.values())


def test_nodes_use_ssm_and_imdsv2(synth: Synthesized) -> None:
    ((_, template),) = synth.resources("AWS::EC2::LaunchTemplate").items()
    data = template["Properties"]["LaunchTemplateData"]
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    # Session Manager's own actions, not the managed policy (which reads any SSM parameter).
    assert "AmazonSSMManagedInstanceCore" not in json.dumps(synth.template)
    (policy,) = [
        p for k, p in synth.resources("AWS::IAM::Policy").items() if k.startswith("LiveKitSessionManager")
    ]
    actions = sorted(
        a for st in policy["Properties"]["PolicyDocument"]["Statement"] for a in _list(st["Action"])
    )
    assert actions == [
        "ssm:UpdateInstanceInformation",
        "ssmmessages:CreateControlChannel",
        "ssmmessages:CreateDataChannel",
        "ssmmessages:OpenControlChannel",
        "ssmmessages:OpenDataChannel",
    ]


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_the_sfu_scaling_policy_sets_no_cooldown_target_tracking_would_ignore(synth: Synthesized) -> None:
    _, policy = synth.one("AWS::AutoScaling::ScalingPolicy", PolicyType="TargetTrackingScaling")
    assert "Cooldown" not in policy["Properties"]


def test_lambda_is_arm64_on_the_python_its_tests_run_on(synth: Synthesized) -> None:
    # `make test-lambda-python` runs the control plane's tests on names.LAMBDA_PYTHON.
    synth.assertions.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Runtime": f"python{names.LAMBDA_PYTHON}",
            "Architectures": ["arm64"],
            "Handler": "functions.handler.handler",
        },
    )


def test_the_api_invokes_a_snapstart_version_through_an_alias(synth: Synthesized) -> None:
    synth.assertions.has_resource_properties(
        "AWS::Lambda::Function", {"SnapStart": {"ApplyOn": "PublishedVersions"}}
    )
    aliases = synth.resources("AWS::Lambda::Alias")
    assert len(aliases) == 1
    (alias_id,) = aliases
    integrations = synth.resources("AWS::ApiGatewayV2::Integration").values()
    uris = [i["Properties"]["IntegrationUri"] for i in integrations]
    assert uris and all(alias_id in json.dumps(uri) for uri in uris)


def test_the_lambda_bundle_carries_only_runtime_dependencies() -> None:
    deps = " ".join(lambda_bundle.runtime_dependencies()).lower()
    assert "fastapi" in deps and "mangum" in deps
    for build_only in ("aws-cdk", "cdk-nag", "constructs", "pytest", "ruff", "moto", "livekit-agents"):
        assert build_only not in deps


def test_the_lambda_bundle_installs_the_versions_the_lock_pins() -> None:
    locked = lambda_bundle.locked_requirements()
    pinned = {line.split("==")[0].lower() for line in locked if "==" in line.split(";")[0]}
    assert {"fastapi", "mangum", "pydantic", "livekit-api"} <= pinned
    assert len(pinned) == len(locked)
    assert not pinned & {"aws-cdk-lib", "cdk-nag", "pytest", "livekit-agents", "moto"}


@pytest.mark.timeout(600)
def test_the_lambda_bundle_resolves_for_the_lambda_and_only_for_it(tmp_path: Path) -> None:
    """What `cdk deploy` runs (the synth tests skip bundling): every pinned runtime dependency has a
    wheel for the Lambda (CPython 3.13, aarch64, glibc <= 2.34), and nothing built for another one
    comes along."""
    out = tmp_path / "bundle"
    version = RUNTIME.name.removeprefix("python")  # the runtime the stack deploys
    assert version == "3.13"  # the extension names below
    assert lambda_bundle.LocalPythonBundling(python_version=version).try_bundle(str(out), image=None)  # type: ignore[arg-type]
    assert (out / "functions" / "api" / "main.py").is_file() and (out / "contract").is_dir()
    extensions = [p.name for p in out.rglob("*.so")]
    assert any(name.startswith("_imaging.cpython-313-aarch64") for name in extensions)
    assert any(name.startswith("_pydantic_core.cpython-313-aarch64") for name in extensions)
    assert not [name for name in extensions if "x86_64" in name or "cpython-311" in name]
    tags = [
        line.split(":", 1)[1].strip()
        for wheel in out.glob("*.dist-info/WHEEL")
        for line in wheel.read_text().splitlines()
        if line.startswith("Tag:")
    ]
    platforms = {tag.rsplit("-", 1)[1] for tag in tags} - {"any"}
    assert platforms and all(p.endswith("aarch64") for p in platforms), platforms
    glibc = [int(m.group(1)) for p in platforms for m in [re.match(r"manylinux_2_(\d+)_", p)] if m]
    assert glibc and max(glibc) <= lambda_bundle.GLIBC_MINOR


def test_no_secret_in_plain_environment_variables(synth: Synthesized) -> None:
    secretish = re.compile(r"SECRET(?!_ARN)|PASSWORD|TOKEN", re.IGNORECASE)
    for function in (_function(synth, handler) for handler in LAMBDA_HANDLERS):
        env = function["Properties"]["Environment"]["Variables"]
        assert not [k for k in env if secretish.search(k)]
        assert set(env[names.ENV_LIVEKIT_SECRET_ARN]) == {"Ref"}  # the secret's ARN, not its value
    tasks = synth.resources("AWS::ECS::TaskDefinition").values()
    assert len(tasks) == 2  # media agent and composer
    for task in tasks:
        (container,) = task["Properties"]["ContainerDefinitions"]
        assert not [e["Name"] for e in container.get("Environment", []) if secretish.search(e["Name"])]
        assert {s["Name"] for s in container["Secrets"]} == {
            names.ENV_LIVEKIT_API_KEY,
            names.ENV_LIVEKIT_API_SECRET,
        }
    text = json.dumps(synth.template)
    for known in (names.DEV_API_SECRET, names.DEV_JWT_SECRET):
        assert known not in text


def test_no_admin_grants(synth: Synthesized) -> None:
    text = json.dumps(synth.template)
    assert "AdministratorAccess" not in text and "PowerUserAccess" not in text
    for policy in synth.resources("AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert not [a for a in actions if a == "*" or a.endswith(":*")], statement


LAMBDA_HANDLERS = ("functions.handler.handler", "functions.handler.reconcile_handler")


def _function(synth: Synthesized, handler: str) -> dict[str, Any]:
    (function,) = [
        f for f in synth.resources("AWS::Lambda::Function").values() if f["Properties"]["Handler"] == handler
    ]
    return function


def test_the_only_functions_are_the_api_the_reconciler_and_the_page_copy(synth: Synthesized) -> None:
    functions = synth.resources("AWS::Lambda::Function").values()
    ours = sorted(
        f["Properties"]["Handler"] for f in functions if f["Properties"]["Handler"] in LAMBDA_HANDLERS
    )
    assert ours == sorted(LAMBDA_HANDLERS)
    # The one other: CDK's BucketDeployment handler, copying the built page in at deploy time
    # (web_site.py), with the stack's own role for it.
    (other,) = [f for f in functions if f["Properties"]["Handler"] not in LAMBDA_HANDLERS]
    (role,) = [k for k in synth.resources("AWS::IAM::Role") if k.startswith("WebDeploymentRole")]
    assert other["Properties"]["Role"] == {"Fn::GetAtt": [role, "Arn"]}


@pytest.mark.parametrize("handler", LAMBDA_HANDLERS)
def test_control_plane_may_use_only_its_table_its_secret_and_its_logs(
    synth: Synthesized, handler: str
) -> None:
    function = _function(synth, handler)
    role = function["Properties"]["Role"]["Fn::GetAtt"][0]
    (table,) = synth.resources("AWS::DynamoDB::Table")
    secret = function["Properties"]["Environment"]["Variables"][names.ENV_LIVEKIT_SECRET_ARN]["Ref"]
    log_group = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
    allowed = {table: "dynamodb:", secret: "secretsmanager:", log_group: "logs:"}
    policies = [
        p for p in synth.resources("AWS::IAM::Policy").values() if {"Ref": role} in p["Properties"]["Roles"]
    ]
    assert policies
    seen: set[str] = set()
    for policy in policies:
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            assert statement["Effect"] == "Allow"
            resources = (
                statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            )
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            for resource in resources:
                owner = _resource_owner(resource)
                assert owner in allowed, f"{actions} on {resource}"
                assert all(a.startswith(allowed[owner]) for a in actions), (owner, actions)
                seen.add(owner)
    assert seen == set(allowed)
    role_props = synth.template["Resources"][role]["Properties"]
    assert "ManagedPolicyArns" not in role_props


@pytest.mark.parametrize("handler", LAMBDA_HANDLERS)
def test_control_plane_table_access_is_exactly_what_the_store_calls(synth: Synthesized, handler: str) -> None:
    # functions/store/dynamodb.py: get_item, batch_get_item, put_item, update_item, query on gsi1,
    # and transact_write_items of Put/Update/Delete/ConditionCheck items (authorised per item).
    # Nothing else.
    function = _function(synth, handler)
    role = function["Properties"]["Role"]["Fn::GetAtt"][0]
    (table,) = synth.resources("AWS::DynamoDB::Table")
    statements = [
        statement
        for p in synth.resources("AWS::IAM::Policy").values()
        if {"Ref": role} in p["Properties"]["Roles"]
        for statement in p["Properties"]["PolicyDocument"]["Statement"]
        if any(_resource_owner(r) == table for r in _as_list(statement["Resource"]))
    ]
    assert len(statements) == 1, statements
    (statement,) = statements
    assert "Condition" not in statement
    assert set(_as_list(statement["Action"])) == {
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:ConditionCheckItem",
        "dynamodb:Query",
    }
    table_arn = {"Fn::GetAtt": [table, "Arn"]}
    assert _as_list(statement["Resource"]) == [
        table_arn,
        {"Fn::Join": ["", [table_arn, f"/index/{names.TABLE_GSI1}"]]},
    ]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _resource_owner(resource: Any) -> str:
    """The logical id an IAM resource entry points at: Ref, GetAtt, or a Join around a GetAtt."""
    text = json.dumps(resource)
    ids = set(re.findall(r'"Ref": "([A-Za-z0-9]+)"', text)) | set(
        re.findall(r'"Fn::GetAtt": \["([A-Za-z0-9]+)"', text)
    )
    ids -= {"AWS::Partition", "AWS::Region", "AWS::AccountId"}
    assert len(ids) == 1, resource
    return ids.pop()


def test_table_is_on_demand_with_pitr_ttl_and_the_store_key_schema(synth: Synthesized) -> None:
    synth.assertions.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "BillingMode": "PAY_PER_REQUEST",
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "TimeToLiveSpecification": {"AttributeName": names.TABLE_TTL_ATTRIBUTE, "Enabled": True},
            "KeySchema": [
                {"AttributeName": names.TABLE_PK, "KeyType": "HASH"},
                {"AttributeName": names.TABLE_SK, "KeyType": "RANGE"},
            ],
            "GlobalSecondaryIndexes": [
                Match.object_like(
                    {
                        "IndexName": names.TABLE_GSI1,
                        "KeySchema": [
                            {"AttributeName": names.TABLE_GSI1_PK, "KeyType": "HASH"},
                            {"AttributeName": names.TABLE_GSI1_SK, "KeyType": "RANGE"},
                        ],
                    }
                )
            ],
        },
    )


def test_redis_requires_tls_and_auth_across_two_azs(synth: Synthesized) -> None:
    ((_, group),) = synth.resources("AWS::ElastiCache::ReplicationGroup").items()
    props = group["Properties"]
    assert props["TransitEncryptionEnabled"] is True and props["TransitEncryptionMode"] == "required"
    assert props["AtRestEncryptionEnabled"] is True
    assert props["MultiAZEnabled"] is True and props["AutomaticFailoverEnabled"] is True
    assert props["NumCacheClusters"] >= 2
    # AUTH token: a CloudFormation dynamic reference to the generated secret, never a literal.
    assert "{{resolve:secretsmanager:" in json.dumps(props["AuthToken"])
    redis_sg = props["SecurityGroupIds"][0]["Fn::GetAtt"][0]
    nodes = _group(synth, "LiveKit SFU nodes")
    assert _ingress(synth, redis_sg) == {("tcp", props["Port"], props["Port"], nodes)}


def test_jwt_authorizer_on_every_route_but_webhook_health_and_avatars(synth: Synthesized) -> None:
    ((authorizer_id, authorizer),) = synth.resources("AWS::ApiGatewayV2::Authorizer").items()
    assert authorizer["Properties"]["AuthorizerType"] == "JWT"
    routes = {
        r["Properties"]["RouteKey"]: r["Properties"]
        for r in synth.resources("AWS::ApiGatewayV2::Route").values()
    }
    open_routes = {"POST /livekit/webhook", "GET /healthz", f"GET {names.AVATAR_PATH}"}
    assert open_routes <= set(routes)
    for key in open_routes:
        assert routes[key]["AuthorizationType"] == "NONE", key
        assert "AuthorizerId" not in routes[key], key
    others = {key: route for key, route in routes.items() if key not in open_routes}
    assert {"ANY /", "ANY /{proxy+}"} <= set(others)
    for key, route in others.items():
        assert route["AuthorizationType"] == "JWT", key
        assert route["AuthorizerId"] == {"Ref": authorizer_id}, key


def test_api_stage_is_throttled_and_logged(synth: Synthesized) -> None:
    ((_, stage),) = synth.resources("AWS::ApiGatewayV2::Stage").items()
    throttle = stage["Properties"]["DefaultRouteSettings"]
    assert throttle["ThrottlingRateLimit"] > 0 and throttle["ThrottlingBurstLimit"] > 0
    assert "DestinationArn" in stage["Properties"]["AccessLogSettings"]


def test_the_webhook_route_has_its_own_throttle(synth: Synthesized) -> None:
    """Viewers' requests cannot use up the SFU's webhooks (issue 9 item 3)."""
    ((_, stage),) = synth.resources("AWS::ApiGatewayV2::Stage").items()
    routes = {r["Properties"]["RouteKey"] for r in synth.resources("AWS::ApiGatewayV2::Route").values()}
    assert "POST /livekit/webhook" in routes
    settings = stage["Properties"]["RouteSettings"]
    webhook = settings["POST /livekit/webhook"]
    assert webhook["ThrottlingRateLimit"] > 0 and webhook["ThrottlingBurstLimit"] > 0


def test_every_routes_throttle_together_fits_the_accounts_quota(synth: Synthesized) -> None:
    """API Gateway applies the stage's default route throttle to each route without settings of its
    own, as a bucket per route, not one for the stage: every route at its full steady rate at once
    must still fit the account's default HTTP API quota in a region (10,000 requests/s), or the
    webhooks' own bucket could be refused by the account's. Rates only: the buckets' bursts together
    can pass the account's burst (5,000) for a moment (docs/infrastructure.md, "Quotas to raise")."""
    ((_, stage),) = synth.resources("AWS::ApiGatewayV2::Stage").items()
    default = stage["Properties"]["DefaultRouteSettings"]
    settings = stage["Properties"]["RouteSettings"]
    routes = {r["Properties"]["RouteKey"] for r in synth.resources("AWS::ApiGatewayV2::Route").values()}
    assert set(settings) <= routes  # settings for a route that does not exist would fail the deploy
    effective = {key: settings.get(key, default)["ThrottlingRateLimit"] for key in routes}
    # Only the catch-all, where joins, reads and moderation go, takes the default.
    assert [key for key in routes if key not in settings] == ["ANY /{proxy+}"]
    assert effective["GET /healthz"] <= 20 and effective["ANY /"] <= 20
    assert sum(effective.values()) <= ACCOUNT_HTTP_API_RATE_QUOTA, effective


def test_the_avatar_route_has_its_own_smaller_throttle(synth: Synthesized) -> None:
    """New pictures (CDN misses) are fetched by the API; they get a bucket of their own, below the
    API's, so they cannot take the API's requests or much of its Lambda's concurrency."""
    ((_, stage),) = synth.resources("AWS::ApiGatewayV2::Stage").items()
    avatars = stage["Properties"]["RouteSettings"][f"GET {names.AVATAR_PATH}"]
    default = stage["Properties"]["DefaultRouteSettings"]
    assert 0 < avatars["ThrottlingRateLimit"] < default["ThrottlingRateLimit"]
    assert 0 < avatars["ThrottlingBurstLimit"] < default["ThrottlingBurstLimit"]


def test_reactions_have_their_own_route_and_bucket(synth: Synthesized) -> None:
    """A reaction burst is throttled in a bucket of its own, not the catch-all route's that joins and
    moderation go through; the route still needs the user's JWT and reaches the same app."""
    from infrastructure.constructs.control_plane import REACTIONS_ROUTE_KEY

    ((_, stage),) = synth.resources("AWS::ApiGatewayV2::Stage").items()
    routes = {
        r["Properties"]["RouteKey"]: r["Properties"]
        for r in synth.resources("AWS::ApiGatewayV2::Route").values()
    }
    assert REACTIONS_ROUTE_KEY == "POST /spaces/{space_id}/reactions"
    reactions_route, catch_all = routes[REACTIONS_ROUTE_KEY], routes["ANY /{proxy+}"]
    assert reactions_route["Target"] == catch_all["Target"]
    assert reactions_route["AuthorizationType"] == "JWT"
    reactions = stage["Properties"]["RouteSettings"][REACTIONS_ROUTE_KEY]
    default = stage["Properties"]["DefaultRouteSettings"]
    assert reactions == {"ThrottlingRateLimit": 2000, "ThrottlingBurstLimit": 2000}
    assert reactions["ThrottlingRateLimit"] < default["ThrottlingRateLimit"]


def test_the_reactions_route_is_the_apps_reaction_path() -> None:
    """The gateway's route key names the path the app serves: a route renamed in the app would
    otherwise fall back to the catch-all (and its bucket) without any test noticing."""
    from functions.api.routes import reactions
    from infrastructure.constructs.control_plane import REACTIONS_PATH

    served = {
        (method, getattr(route, "path", ""))
        for route in reactions.router.routes
        for method in getattr(route, "methods", ())
    }
    assert ("POST", REACTIONS_PATH) in served


def test_the_stage_is_created_after_the_routes_its_settings_name(synth: Synthesized) -> None:
    """API Gateway refuses settings for a route it cannot find yet, so the stage must wait for them."""
    ((_, stage),) = synth.resources("AWS::ApiGatewayV2::Stage").items()
    routes = {r["Properties"]["RouteKey"]: k for k, r in synth.resources("AWS::ApiGatewayV2::Route").items()}
    for key in stage["Properties"]["RouteSettings"]:
        assert routes[key] in stage.get("DependsOn", []), key


def test_the_reconciler_runs_every_minute_one_sweep_at_a_time(synth: Synthesized) -> None:
    ((_, schedule),) = synth.resources("AWS::Scheduler::Schedule").items()
    props = schedule["Properties"]
    assert props["ScheduleExpression"] == "rate(1 minute)" and props["State"] == "ENABLED"
    target = props["Target"]
    reconciler = [
        k
        for k, f in synth.resources("AWS::Lambda::Function").items()
        if f["Properties"]["Handler"] == "functions.handler.reconcile_handler"
    ]
    assert target["Arn"] == {"Fn::GetAtt": [reconciler[0], "Arn"]}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] == 0
    function = _function(synth, "functions.handler.reconcile_handler")["Properties"]
    assert function["ReservedConcurrentExecutions"] == 1 and function["Timeout"] < 60
    # It patrols its minute: a sweep every 10 s; the API function runs no loop of its own.
    assert function["Environment"]["Variables"][names.ENV_RECONCILE_INTERVAL_SECONDS] == "10"
    api = _function(synth, "functions.handler.handler")["Properties"]
    assert api["Environment"]["Variables"][names.ENV_RECONCILE_INTERVAL_SECONDS] == "0"
    # The schedule tells each start when it was due and the period, so a late one stops in time.
    assert json.loads(target["Input"]) == {
        "scheduled_time": "<aws.scheduler.scheduled-time>",
        "period_seconds": 60,
    }
    # The scheduler's role may invoke the reconciler and nothing else.
    role = target["RoleArn"]["Fn::GetAtt"][0]
    statements = [
        st
        for p in synth.resources("AWS::IAM::Policy").values()
        if {"Ref": role} in p["Properties"]["Roles"]
        for st in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    assert {a for st in statements for a in _as_list(st["Action"])} == {"lambda:InvokeFunction"}
    assert {_resource_owner(r) for st in statements for r in _as_list(st["Resource"])} == {reconciler[0]}


def test_agents_protect_busy_tasks_and_stop_within_fargates_limit(synth: Synthesized) -> None:
    for task in synth.resources("AWS::ECS::TaskDefinition").values():
        (container,) = task["Properties"]["ContainerDefinitions"]
        assert container["StopTimeout"] == 120, container["Command"]
    assert "ecs:UpdateTaskProtection" in json.dumps(synth.resources("AWS::IAM::Policy"))


@pytest.mark.parametrize("metric", [names.STAGE_AGENT_LOAD_METRIC, names.COMPOSER_LOAD_METRIC])
def test_each_worker_service_scales_on_the_load_its_workers_publish(synth: Synthesized, metric: str) -> None:
    """The load LiveKit's dispatcher refuses jobs on (media_agent/load.py: rooms / budget or CPU), not
    CPU alone: a metric filter on the service's logs, and target tracking on its average."""
    filters = [
        f["Properties"]
        for f in synth.resources("AWS::Logs::MetricFilter").values()
        if f["Properties"]["MetricTransformations"][0]["MetricName"] == metric
    ]
    assert len(filters) == 1, filters
    assert names.LOAD_LINE_METRIC in filters[0]["FilterPattern"] and metric in filters[0]["FilterPattern"]
    synth.assertions.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        {
            "TargetTrackingScalingPolicyConfiguration": Match.object_like(
                {
                    "CustomizedMetricSpecification": Match.object_like(
                        {"MetricName": metric, "Statistic": "Average"}
                    ),
                    "TargetValue": Match.any_value(),
                }
            ),
        },
    )
    # The task tells its worker which metric name to print.
    envs = [
        {e["Name"]: e["Value"] for e in t["Properties"]["ContainerDefinitions"][0].get("Environment", [])}
        for t in synth.resources("AWS::ECS::TaskDefinition").values()
    ]
    assert [env for env in envs if env.get(names.ENV_LOAD_METRIC) == metric]


def test_alarms_cover_api_lambda_sfu_agents_and_table(synth: Synthesized) -> None:
    text = json.dumps(synth.resources("AWS::CloudWatch::Alarm"))
    for metric in (
        "5xx",
        "Latency",
        "Errors",
        "Throttles",
        "CPUUtilization",
        "GroupInServiceInstances",
        "AgentErrors",
        "ComposerErrors",
        "ComposerLoad",
        names.STAGE_AGENT_LOAD_METRIC,  # AgentLoadMissing: a worker image that stopped publishing its load
        "ReadThrottleEvents",
        "WriteThrottleEvents",
        "Invocations",  # ReconcilerStopped
    ):
        assert f'"MetricName": "{metric}"' in text, metric
    assert synth.resources("AWS::CloudWatch::Dashboard")


def test_the_throttle_alarm_counts_the_listing_index_too(synth: Synthesized) -> None:
    """DynamoDB reports an index's throttles under TableName + GlobalSecondaryIndexName only."""
    (alarm,) = [v for k, v in synth.resources("AWS::CloudWatch::Alarm").items() if "TableThrottles" in k]
    stats = [m["MetricStat"]["Metric"] for m in alarm["Properties"]["Metrics"] if "MetricStat" in m]
    seen = {
        (
            m["MetricName"],
            next((d["Value"] for d in m["Dimensions"] if d["Name"] == "GlobalSecondaryIndexName"), None),
        )
        for m in stats
    }
    assert seen == {
        (name, index)
        for name in ("ReadThrottleEvents", "WriteThrottleEvents")
        for index in (None, names.TABLE_GSI1)
    }


def test_both_cdns_are_on_the_dashboard_from_any_region_and_alarm_on_5xx_in_us_east_1(
    synth: Synthesized,
) -> None:
    """CloudFront's metrics exist in us-east-1 only (dimension Region=Global): the dashboard reads them
    there, and each distribution's 5xx alarm exists only when the stack is deployed there."""
    distributions = set(synth.resources("AWS::CloudFront::Distribution"))
    assert len(distributions) == 2  # the broadcast's and the page's
    alarms = {k: v for k, v in synth.resources("AWS::CloudWatch::Alarm").items() if "Cdn5xx" in k}
    assert len(alarms) == 2
    (topic,) = synth.resources("AWS::SNS::Topic")
    watched = set()
    thresholds = observability.AlarmThresholds()
    expected = {"Broadcast": thresholds.broadcast_cdn_5xx_percent, "Web": thresholds.web_cdn_5xx_percent}
    for logical, alarm in alarms.items():
        condition = synth.template["Conditions"][alarm["Condition"]]
        assert condition == {"Fn::Equals": [{"Ref": "AWS::Region"}, observability.CLOUDFRONT_METRICS_REGION]}
        props = alarm["Properties"]
        assert props["AlarmActions"] == props["OKActions"] == [{"Ref": topic}]
        (tier,) = [t for t in expected if f"{t}Cdn5xx" in logical]
        assert props["Threshold"] == expected[tier]
        stats = [m["MetricStat"]["Metric"] for m in props["Metrics"] if "MetricStat" in m]
        assert {m["MetricName"] for m in stats} == {"5xxErrorRate", "Requests"}
        for metric in stats:
            dimensions = {d["Name"]: d["Value"] for d in metric["Dimensions"]}
            assert dimensions["Region"] == "Global" and metric["Namespace"] == "AWS/CloudFront"
            watched.add(dimensions["DistributionId"]["Ref"])
    assert watched == distributions
    (dashboard,) = synth.resources("AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for distribution in distributions:
        assert f'{{"Ref": "{distribution}"}}' in body
    assert f'\\"region\\":\\"{observability.CLOUDFRONT_METRICS_REGION}\\"' in body
    # A conditional alarm cannot be named by the dashboard (in another region it would not exist).
    assert not [k for k in alarms if k in body]


def test_the_api_5xx_alarm_leaves_out_the_avatar_proxys_upstream_failures(synth: Synthesized) -> None:
    alarm = _alarm(synth, "Api5xx")
    by_id = {m["Id"]: m for m in alarm["Metrics"]}
    # The alarm's value: those errors as a share of the requests (plus a floor: a handful of errors
    # still pages at low traffic).
    (returned,) = [m for m in alarm["Metrics"] if m.get("ReturnData", True)]
    floor = observability.API_5XX_FLOOR_REQUESTS
    assert returned["Expression"] == f"100 * errors / (FILL(requests, 0) + {floor})"
    assert by_id["requests"]["MetricStat"]["Metric"]["MetricName"] == "Count"
    assert by_id["errors"]["Expression"] == "all - FILL(avatars, 0)"
    assert by_id["all"]["MetricStat"]["Metric"]["MetricName"] == "5xx"
    assert by_id["avatars"]["MetricStat"]["Metric"]["MetricName"] == "AvatarProxy5xx"
    # 5 errors at no traffic page, as do 1,100 of a million requests; 100 of a million do not.
    threshold = alarm["Threshold"]
    assert 100 * 5 / floor >= threshold > 100 * 4 / floor
    assert 100 * 1100 / (1_000_000 + floor) >= threshold > 100 * 100 / (1_000_000 + floor)
    (metric_filter,) = [
        f
        for f in synth.resources("AWS::Logs::MetricFilter").values()
        if f["Properties"]["MetricTransformations"][0]["MetricName"] == "AvatarProxy5xx"
    ]
    pattern = metric_filter["Properties"]["FilterPattern"]
    assert '$.routeKey = "GET /avatars"' in pattern and '$.status = "502"' in pattern
    # It reads the API's access log, whose JSON carries routeKey and status.
    ((stage_id, stage),) = synth.resources("AWS::ApiGatewayV2::Stage").items()
    destination = stage["Properties"]["AccessLogSettings"]["DestinationArn"]["Fn::GetAtt"][0]
    assert metric_filter["Properties"]["LogGroupName"] == {"Ref": destination}


def _alarm(synth: Synthesized, logical_prefix: str) -> dict[str, Any]:
    (alarm,) = [
        a["Properties"]
        for k, a in synth.resources("AWS::CloudWatch::Alarm").items()
        if k.startswith(f"Observability{logical_prefix}")
    ]
    return alarm


def test_the_sfu_alarms_watch_the_hottest_node_and_the_groups_floor(synth: Synthesized) -> None:
    cpu = _alarm(synth, "SfuCpu")
    assert (cpu["MetricName"], cpu["Statistic"]) == ("CPUUtilization", "Maximum")
    ((_, group),) = synth.resources("AWS::AutoScaling::AutoScalingGroup").items()
    nodes = _alarm(synth, "SfuNodes")
    assert nodes["Threshold"] == int(group["Properties"]["MinSize"])
    assert nodes["ComparisonOperator"] == "LessThanThreshold"


def test_the_sfu_alarms_catch_a_stuck_scale_out_the_maximum_and_nodes_that_never_get_healthy(
    synth: Synthesized,
) -> None:
    ((_, group),) = synth.resources("AWS::AutoScaling::AutoScalingGroup").items()
    stuck = _alarm(synth, "SfuScaleOutStuck")
    by_id = {m["Id"]: m for m in stuck["Metrics"]}
    assert by_id["desired"]["MetricStat"]["Metric"]["MetricName"] == "GroupDesiredCapacity"
    assert by_id["serving"]["MetricStat"]["Metric"]["MetricName"] == "GroupInServiceInstances"
    assert stuck["EvaluationPeriods"] == observability.SUSTAINED_PERIODS
    at_max = _alarm(synth, "SfuAtMaximum")
    assert at_max["Threshold"] == int(group["Properties"]["MaxSize"])
    assert at_max["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert at_max["EvaluationPeriods"] == observability.SUSTAINED_PERIODS
    # Both load balancers' target groups (signalling and TURN/TLS).
    unhealthy = _alarm(synth, "SfuUnhealthy")
    groups = [
        m["MetricStat"]["Metric"]
        for m in unhealthy["Metrics"]
        if "MetricStat" in m and m["MetricStat"]["Metric"]["MetricName"] == "UnHealthyHostCount"
    ]
    assert len(groups) == len(synth.resources("AWS::ElasticLoadBalancingV2::TargetGroup")) == 2


def test_the_sfu_egress_alarm_watches_the_hottest_nodes_network_out_to_the_alarm_topic(
    synth: Synthesized,
) -> None:
    """TURN relays to any public address: a node sending more than its listeners explain pages."""
    egress = _alarm(synth, "SfuEgress")
    (out,) = [m["MetricStat"] for m in egress["Metrics"] if "MetricStat" in m]
    assert (out["Metric"]["Namespace"], out["Metric"]["MetricName"], out["Stat"]) == (
        "AWS/EC2",
        "NetworkOut",
        "Maximum",
    )
    ((group_id, _),) = synth.resources("AWS::AutoScaling::AutoScalingGroup").items()
    assert out["Metric"]["Dimensions"] == [{"Name": "AutoScalingGroupName", "Value": {"Ref": group_id}}]
    (expression,) = [m["Expression"] for m in egress["Metrics"] if "Expression" in m]
    assert expression == "out * 8 / 60 / 1000000"  # bytes in a minute -> Mb/s
    # The default 2-vCPU node at the SfuCpu alarm's 80 %: ~710 Mb/s, below c7g.large's ~940 Mb/s.
    assert egress["Threshold"] == round(observability.sfu_egress_mbps(2, 80)) == 710
    assert egress["EvaluationPeriods"] == observability.SUSTAINED_PERIODS
    assert egress["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    (topic_id,) = synth.resources("AWS::SNS::Topic")
    assert egress["AlarmActions"] == [{"Ref": topic_id}]


def test_the_sfu_egress_threshold_grows_with_the_nodes_vcpus() -> None:
    from app import settings_from_context

    settings = settings_from_context(cdk.App(context={"sfu_instance_type": "c7g.2xlarge"}))
    assert settings.alarms.sfu_egress_mbps == observability.sfu_egress_mbps(8, 80)
    with pytest.raises(ValueError, match="sfu_instance_type"):
        settings_from_context(cdk.App(context={"sfu_instance_type": "c7g.metal"}))
    # Burstable families have 2 vCPUs up to large (a t4g.medium is not a c7g.medium's 1).
    for burstable in ("t4g.medium", "t3.small", "t3.large"):
        settings = settings_from_context(cdk.App(context={"sfu_instance_type": burstable}))
        assert settings.alarms.sfu_egress_mbps == observability.sfu_egress_mbps(2, 80)
    settings = settings_from_context(cdk.App(context={"sfu_instance_type": "c7g.medium"}))
    assert settings.alarms.sfu_egress_mbps == observability.sfu_egress_mbps(1, 80)


def test_the_worker_services_alarm_when_they_run_their_most_tasks_for_15_minutes(synth: Synthesized) -> None:
    maxima = sorted(
        t["Properties"]["MaxCapacity"]
        for t in synth.resources("AWS::ApplicationAutoScaling::ScalableTarget").values()
    )
    alarms = [_alarm(synth, f"{name}AtMaximum") for name in ("Agent", "Composer")]
    assert sorted(a["Threshold"] for a in alarms) == maxima
    for alarm in alarms:
        assert (alarm["Namespace"], alarm["MetricName"]) == ("ECS/ContainerInsights", "RunningTaskCount")
        assert {d["Name"] for d in alarm["Dimensions"]} == {"ClusterName", "ServiceName"}
        assert alarm["EvaluationPeriods"] == observability.SUSTAINED_PERIODS


def test_a_fleet_pinned_at_its_maximum_on_purpose_gets_no_at_maximum_alarm(tmp_path: Path) -> None:
    """Pinned before a known event (min = max), the 'at its maximum' alarms would page all along."""
    from app import build_app

    context = {
        "aws:cdk:bundling-stacks": [],
        "sfu_min_nodes": "3",
        "sfu_max_nodes": "3",
        "agent_min_tasks": "2",
        "agent_max_tasks": "2",
    }
    build_app(context=context, outdir=str(tmp_path)).synth()
    template = json.loads((tmp_path / f"{STACK}.template.json").read_text())
    alarms = [k for k, r in template["Resources"].items() if r["Type"] == "AWS::CloudWatch::Alarm"]
    assert not [
        k for k in alarms if k.startswith(("ObservabilitySfuAtMaximum", "ObservabilityAgentAtMaximum"))
    ]
    # The composers still grow (1..10 by default): theirs stays.
    assert [k for k in alarms if k.startswith("ObservabilityComposerAtMaximum")]


def test_the_routing_redis_alarms_on_both_clusters_and_has_a_maintenance_window(
    synth: Synthesized,
) -> None:
    ((rg_id, rg),) = synth.resources("AWS::ElastiCache::ReplicationGroup").items()
    assert rg["Properties"]["PreferredMaintenanceWindow"] == "sun:05:00-sun:06:00"
    for name, metric in (
        ("RedisCpu", "EngineCPUUtilization"),
        ("RedisMemory", "DatabaseMemoryUsagePercentage"),
    ):
        alarm = _alarm(synth, name)
        clusters = [
            m["MetricStat"]["Metric"]
            for m in alarm["Metrics"]
            if "MetricStat" in m and m["MetricStat"]["Metric"]["MetricName"] == metric
        ]
        assert len(clusters) == rg["Properties"]["NumCacheClusters"] == 2
        # <replication group id>-001 and -002.
        text = json.dumps(clusters)
        assert rg_id in text and "-001" in text and "-002" in text


def test_a_burstable_routing_redis_alarms_before_it_runs_out_of_cpu_credits(synth: Synthesized) -> None:
    """The default cache.t4g.micro runs on credits; out of them, every SFU node's health check waits."""
    from infrastructure.constructs.redis import burstable_cache_node

    ((_, rg),) = synth.resources("AWS::ElastiCache::ReplicationGroup").items()
    assert burstable_cache_node(rg["Properties"]["CacheNodeType"])
    alarm = _alarm(synth, "RedisCredits")
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanOrEqualToThreshold", 1)
    expressions = {m["Id"]: m["Expression"] for m in alarm["Metrics"] if "Expression" in m}
    # Low and not rising: a node that starts without credits and earns them back does not alarm.
    (low,) = [e for e in expressions.values() if e.startswith("IF(")]
    assert "< 30" in low and "RATE(" in low
    assert [e for e in expressions.values() if e.startswith("MIN(")]
    stats = [m["MetricStat"] for m in alarm["Metrics"] if "MetricStat" in m]
    assert [s["Metric"]["MetricName"] for s in stats] == ["CPUCreditBalance"] * 2
    assert {s["Stat"] for s in stats} == {"Minimum"}
    for node_type in ("cache.t4g.micro", "cache.t3.medium", "t4g.small"):
        assert burstable_cache_node(node_type), node_type
    for node_type in ("cache.m7g.large", "cache.r7g.xlarge", "cache.c7gn.large"):
        assert not burstable_cache_node(node_type), node_type


def test_the_scheduled_reconciler_alarms_when_it_fails_or_stops(synth: Synthesized) -> None:
    import logging

    from functions.core.logging import JsonFormatter

    reconciler, function = synth.one("AWS::Lambda::Function", ReservedConcurrentExecutions=1)
    stopped = _alarm(synth, "ReconcilerStopped")
    assert stopped["MetricName"] == "Invocations" and stopped["TreatMissingData"] == "breaching"
    assert stopped["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": reconciler}}]
    # Failing: the Lambda's crashes plus what the patrol catches and logs at ERROR (it keeps going).
    errors = json.dumps(_alarm(synth, "ReconcilerErrors")["Metrics"])
    assert '"MetricName": "Errors"' in errors and '"MetricName": "ReconcilerErrors"' in errors
    log_group = function["Properties"]["LoggingConfig"]["LogGroup"]
    (pattern,) = [
        f["Properties"]["FilterPattern"]
        for f in synth.resources("AWS::Logs::MetricFilter").values()
        if f["Properties"]["LogGroupName"] == log_group
    ]
    match = re.fullmatch(r'\{ \$\.(\w+) = "(\w+)" \}', pattern)
    assert match, pattern
    field, wanted = match.groups()
    record = logging.LogRecord("functions.reconcile.loop", logging.ERROR, __file__, 1, "failed", None, None)
    assert json.loads(JsonFormatter().format(record))[field] == wanted
    record.levelno, record.levelname = logging.WARNING, "WARNING"
    assert json.loads(JsonFormatter().format(record))[field] != wanted


def test_cloudwatch_may_publish_alarms_to_the_topic_of_this_account_only(synth: Synthesized) -> None:
    ((_, policy),) = synth.resources("AWS::SNS::TopicPolicy").items()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    (allow,) = [s for s in statements if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert allow["Action"] == "sns:Publish"
    assert allow["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert "ArnLike" in allow["Condition"]
    # The alarms publish to that topic.
    ((topic, _),) = synth.resources("AWS::SNS::Topic").items()
    assert allow["Resource"] == {"Ref": topic}
    for alarm in synth.resources("AWS::CloudWatch::Alarm").values():
        assert {"Ref": topic} in alarm["Properties"]["AlarmActions"]
    # The topic's key: CloudWatch may use it for this account's alarms only, under the same conditions.
    ((_, key),) = synth.resources("AWS::KMS::Key").items()
    (cloudwatch,) = [
        s
        for s in key["Properties"]["KeyPolicy"]["Statement"]
        if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert sorted(cloudwatch["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert cloudwatch["Condition"] == allow["Condition"]


def test_workers_may_read_their_own_clusters_deployments_and_nothing_more(synth: Synthesized) -> None:
    """A worker reads its service's primary deployment to stand aside once superseded
    (media_agent/deployment.py): read-only ECS calls on the worker cluster's tasks and services."""
    ((cluster, _),) = synth.resources("AWS::ECS::Cluster").items()
    tasks = synth.resources("AWS::ECS::TaskDefinition").values()
    roles = {task["Properties"]["TaskRoleArn"]["Fn::GetAtt"][0] for task in tasks}
    assert len(roles) == 2
    for role in roles:
        statements = [
            st
            for p in synth.resources("AWS::IAM::Policy").values()
            if {"Ref": role} in p["Properties"]["Roles"]
            for st in p["Properties"]["PolicyDocument"]["Statement"]
        ]
        ecs_actions = {a for st in statements for a in _as_list(st["Action"]) if a.startswith("ecs:")}
        assert ecs_actions == {
            "ecs:GetTaskProtection",
            "ecs:UpdateTaskProtection",
            "ecs:DescribeTasks",
            "ecs:DescribeServices",
        }
        (describe,) = [st for st in statements if "ecs:DescribeServices" in _as_list(st["Action"])]
        resources = json.dumps(describe["Resource"])
        assert ":task/" in resources and ":service/" in resources and cluster in resources
        assert '"*"' not in resources


def test_worker_services_leave_their_task_count_to_auto_scaling(synth: Synthesized) -> None:
    services = synth.resources("AWS::ECS::Service")
    assert len(services) == 2
    for service in services.values():
        # A desired count in the template is sent with every update and resets a scaled-out fleet.
        assert "DesiredCount" not in service["Properties"]


def test_worker_services_start_once_their_subnets_reach_the_internet(synth: Synthesized) -> None:
    """A task needs its secrets and image at once: a service created before the private subnets'
    NAT routes starts tasks that stop, and the circuit breaker rolls back the first deploy."""
    nat_routes = {
        k for k, r in synth.resources("AWS::EC2::Route").items() if "NatGatewayId" in r["Properties"]
    }
    assert len(nat_routes) == 2  # one per private subnet
    for service in synth.resources("AWS::ECS::Service").values():
        assert nat_routes <= set(service.get("DependsOn", [])), service.get("DependsOn")


def test_vpc_spans_two_azs_with_flow_logs(synth: Synthesized) -> None:
    subnets = synth.resources("AWS::EC2::Subnet")
    assert len(subnets) == 6  # public, private, isolated in each of 2 AZs
    assert synth.resources("AWS::EC2::FlowLog")


def _acknowledged(synth: Synthesized, path_part: str) -> dict[str, str]:
    """The cdk-nag acknowledgments (rule -> reason) on the constructs whose path contains path_part."""
    return {
        rule: reason
        for path, entries in synth.metadata.items()
        if path_part in path
        for entry in entries
        if entry["type"] == "aws:cdk:acknowledged-rules"
        for rule, reason in entry["data"].items()
    }


def test_the_node_and_worker_acknowledgments_say_what_the_policies_grant(synth: Synthesized) -> None:
    """A reason that names fewer actions, or a narrower resource, than the policy grants hides what
    a reviewer accepted: the node's drain policy and the workers' image pulls."""
    (drain,) = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for k, p in synth.resources("AWS::IAM::Policy").items()
        if k.startswith("LiveKitCompleteDrain")
    ]
    actions = [a for statement in drain for a in statement["Action"]]
    assert sorted(actions) == ["autoscaling:CompleteLifecycleAction", "autoscaling:SetInstanceProtection"]
    (reason,) = _acknowledged(synth, "/LiveKit/CompleteDrain").values()
    for action in actions:
        assert action.removeprefix("autoscaling:") in reason, action
    assert "only action" not in reason and "every instance of the group" in reason
    repository = "cdk-hnb659fds-container-assets-"
    for worker in ("MediaAgents", "Composers"):
        (pull,) = [
            json.dumps(s)
            for k, p in synth.resources("AWS::IAM::Policy").items()
            if k.startswith(f"{worker}TaskExecutionRole")
            for s in p["Properties"]["PolicyDocument"]["Statement"]
            if "ecr:BatchGetImage" in s["Action"]
        ]
        assert repository in pull
        (reason,) = _acknowledged(synth, f"/{worker}/Task/ExecutionRole/DefaultPolicy").values()
        assert repository in reason and "shares" in reason
    # The nodes read the Redis token once, at boot (fill_config.py): a rotation refreshes them.
    (redis,) = _acknowledged(synth, "/Secrets/RedisAuth").values()
    assert "only at boot" in redis and "re-read" not in redis


def test_every_nag_acknowledgment_has_its_own_reason(synth: Synthesized) -> None:
    reasons = {
        rule: reason
        for entries in synth.metadata.values()
        for entry in entries
        if entry["type"] == "aws:cdk:acknowledged-rules"
        for rule, reason in entry["data"].items()
        if "AwsSolutions-" in rule
    }
    assert reasons
    for rule, reason in reasons.items():
        assert len(reason) >= 60, rule
    report = json.loads((synth.outdir / "validation-report.json").read_text())
    assert [r for r in report["pluginReports"] if r.get("violations")] == []


def _user_data(synth: Synthesized) -> str:
    """The launch template's user data with CloudFormation references flattened to <Ref:...> markers."""
    ((_, template),) = synth.resources("AWS::EC2::LaunchTemplate").items()
    return _flatten(template["Properties"]["LaunchTemplateData"]["UserData"]["Fn::Base64"])


# EC2 takes at most 16 KB of user data (before base64); the synthesized one must stay this far
# below it with every reference at REFERENCE_BYTES_AT_WORST.
USER_DATA_BUDGET_BYTES = 15 * 1024
# Longer than any value the references resolve to: secret ARNs (~100 characters with the stack's
# names), the Redis endpoint (~90), the API endpoint (~60), a region (<= 14), the bootstrap bucket.
REFERENCE_BYTES_AT_WORST = 128


def user_data_bytes_at_worst(synth: Synthesized) -> int:
    """The user data's size once deployed, with each reference as long as REFERENCE_BYTES_AT_WORST."""
    ((_, template),) = synth.resources("AWS::EC2::LaunchTemplate").items()
    value = template["Properties"]["LaunchTemplateData"]["UserData"]["Fn::Base64"]
    return len(_flatten(value, reference=lambda _: "x" * REFERENCE_BYTES_AT_WORST).encode())


def _marker(value: dict[str, Any]) -> str:
    if "Ref" in value:
        return f"<Ref:{value['Ref']}>"
    return f"<GetAtt:{'.'.join(value['Fn::GetAtt'])}>"


def _flatten(value: Any, reference: Callable[[dict[str, Any]], str] = _marker) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(_flatten(p, reference) for p in parts)
    if isinstance(value, dict) and ("Ref" in value or "Fn::GetAtt" in value):
        return reference(value)
    if isinstance(value, dict) and isinstance(value.get("Fn::Sub"), str):
        return re.sub(r"\$\{([^}]+)\}", lambda m: reference({"Ref": m.group(1)}), value["Fn::Sub"])
    raise AssertionError(f"unexpected intrinsic in user data: {value}")


def node_files(synth: Synthesized) -> dict[str, str]:
    """The files the user data writes onto the node (infrastructure/node/ and the config template)."""
    script = _user_data(synth)
    heredoc = r'cat > "\$\{NODE_ROOT:-\}[^"]*/([^/"]+)" <<\'SPACES_NODE_FILE\'\n(.*?)^SPACES_NODE_FILE$'
    found = re.findall(heredoc, script, flags=re.S | re.M)
    return dict(found)


def node_settings(synth: Synthesized) -> dict[str, str]:
    """The user data's `export KEY=value` settings for boot.sh, unquoted."""
    import shlex

    return {
        key: shlex.split(value)[0]
        for key, value in re.findall(r"^export (\w+)=(.*)$", _user_data(synth), flags=re.M)
    }


def node_config(synth: Synthesized) -> dict[str, Any]:
    return json.loads(node_files(synth)["livekit.template.yaml"])  # type: ignore[no-any-return]


def test_node_config_is_rendered_by_the_shared_renderer_and_holds_no_secret(synth: Synthesized) -> None:
    script = _user_data(synth)
    assert "{{resolve:" not in script  # a dynamic reference would land in the launch template in clear
    config = node_config(synth)
    assert config["keys"] == {livekit_fleet.API_KEY_PLACEHOLDER: livekit_fleet.API_SECRET_PLACEHOLDER}
    assert config["redis"]["password"] == livekit_fleet.REDIS_PASSWORD_PLACEHOLDER
    assert config["redis"]["tls"] == {"enabled": True, "insecure": False}
    assert config["rtc"]["use_external_ip"] is True
    assert config["room"]["auto_create"] is False
    assert config["webhook"]["urls"][0].endswith("/livekit/webhook")
    assert config["webhook"]["api_key"] == livekit_fleet.API_KEY_PLACEHOLDER
    # The node reads the secrets by ARN at boot; only references to them are in the script.
    assert "get-secret-value" in node_files(synth)["fill_config.py"]
    settings = node_settings(synth)
    assert settings["LIVEKIT_SECRET_ARN"].startswith("<Ref:") and settings["REDIS_SECRET_ARN"].startswith(
        "<Ref:"
    )
    assert settings["LIVEKIT_VERSION"] == names.LIVEKIT_VERSION
    assert "https://github.com/livekit/livekit/releases/download" in node_files(synth)["boot.sh"]


def test_the_user_data_writes_the_node_folder_as_it_is_in_the_repo(synth: Synthesized) -> None:
    files = node_files(synth)
    for path in livekit_fleet.NODE_FILES.iterdir():
        if path.suffix in livekit_fleet.NODE_FILE_SUFFIXES:
            # Less its comment lines (test_node_boot.py checks that nothing else goes).
            assert files.pop(path.name) == livekit_fleet.node_file_text(path), path.name
    assert list(files) == ["livekit.template.yaml"]
    # EC2 takes at most 16 KB of user data (a stack shipping livekit_archive adds a line: test_settings).
    assert user_data_bytes_at_worst(synth) < USER_DATA_BUDGET_BYTES
    assert _user_data(synth).rstrip().endswith(f'bash "${{NODE_ROOT:-}}{livekit_fleet.NODE_DIR}/boot.sh"')


def test_the_api_lets_the_web_origin_read_when_to_come_back_after_a_503() -> None:
    """With CORS configured, API Gateway answers with its own CORS headers instead of the app's, so
    the Retry-After of a 503 (docs/control-plane.md, "Endpoints") and the page generation must be
    exposed there too."""
    stack = cdk.Stack(cdk.App(), "CorsOnly")
    ControlPlane(
        stack,
        "ControlPlane",
        table=dynamodb.Table(
            stack, "T", partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING)
        ),
        livekit_secret=secretsmanager.Secret(stack, "S"),
        livekit_api_url="https://sfu.example",
        livekit_public_url="wss://sfu.example",
        jwt_issuer="https://issuer.example",
        jwt_audience=["aud"],
        limits=ApiLimits(rate_limit=10, burst_limit=20, reserved_concurrency=None),
        log_retention=logs.RetentionDays.ONE_WEEK,
        broadcast=BroadcastLinks(
            base_url="https://cdn.example/broadcasts", webrtc_listener_limit=10, recording_retention_days=1
        ),
        cors_origins=["https://web.example"],
        bundle=False,
    )
    cors = Template.from_stack(stack).find_resources("AWS::ApiGatewayV2::Api")
    (api,) = cors.values()
    config = api["Properties"]["CorsConfiguration"]
    assert config["AllowOrigins"] == ["https://web.example"]
    # ... and the page generation every answer names (functions/api/page_generation.py).
    assert config["ExposeHeaders"] == ["retry-after", "spaces-page-generation"]


def test_the_deployed_api_limits_live_spaces_per_host(synth: Synthesized) -> None:
    """Self sign-up is open: each live Space holds a room, a stage agent and a composer, so the
    deployed API refuses a host's third live Space (local development sets no quota)."""
    (api,) = [
        f["Properties"]
        for f in synth.resources("AWS::Lambda::Function").values()
        if f["Properties"]["Handler"] == "functions.handler.handler"
    ]
    assert api["Environment"]["Variables"][names.ENV_MAX_LIVE_PER_HOST] == "2"
    assert api["Environment"]["Variables"][names.ENV_MAX_SCHEDULED_PER_HOST] == "20"


def test_a_production_stack_keeps_its_data_but_a_failed_first_deploy_leaves_nothing(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Production keeps its data on a delete or an update (RetainExceptOnCreate), but a first deploy
    that rolls back (a quota, a certificate typo) takes it all away instead of leaving a stray user
    pool, secrets, key and bucket per attempt. The table stays Retain (it is deletion-protected, so a
    rollback could not delete it anyway), and so do the log bucket and the hosted page's buckets (below)."""
    from app import build_app

    outdir = tmp_path_factory.mktemp("cdk.out.production")
    build_app(context={"aws:cdk:bundling-stacks": [], "production": "true"}, outdir=str(outdir)).synth()
    template = json.loads((outdir / f"{STACK}.template.json").read_text())
    kept = {
        logical: resource["DeletionPolicy"]
        for logical, resource in template["Resources"].items()
        if resource.get("DeletionPolicy", "Delete") != "Delete"
    }
    tables = {k for k, r in template["Resources"].items() if r["Type"] == "AWS::DynamoDB::Table"}
    assert tables and all(kept[t] == "Retain" for t in tables)
    # The broadcast's log bucket too: access logs arrive during the create, and a rollback cannot
    # delete a bucket that is not empty.
    logs = {
        k
        for k in kept
        if k.startswith("BroadcastLogs") and template["Resources"][k]["Type"] == "AWS::S3::Bucket"
    }
    assert len(logs) == 1 and all(kept[k] == "Retain" for k in logs)
    # The hosted page's bucket and its log bucket: the deploy writes the page into one and the
    # distribution's logs into the other during the create, so neither is empty at a rollback.
    web = {k for k in kept if k.startswith("Web") and template["Resources"][k]["Type"] == "AWS::S3::Bucket"}
    assert len(web) == 2 and all(kept[k] == "Retain" for k in web)
    others = {k: v for k, v in kept.items() if k not in tables | logs | web}
    types = {template["Resources"][k]["Type"] for k in others}
    assert {
        "AWS::Cognito::UserPool",
        "AWS::SecretsManager::Secret",
        "AWS::S3::Bucket",
        "AWS::KMS::Key",
        "AWS::Logs::LogGroup",
    } <= types
    assert set(others.values()) == {"RetainExceptOnCreate"}, others
    # Every log group: access logs, flow logs, the functions', the workers' and the SFU nodes' (an
    # incident's evidence). Not the page copy's: it logs only the deploy that ran it.
    groups = {
        k
        for k, r in template["Resources"].items()
        if r["Type"] == "AWS::Logs::LogGroup" and not k.startswith("WebDeploymentLogs")
    }
    assert len(groups) == 7 and groups <= set(others)
    assert [k for k in groups if k.startswith("LiveKitNodeLogs")]
