"""One dashboard and the alarms an operator of Spaces needs, all to one encrypted SNS topic."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from aws_cdk import Aws, CfnCondition, Duration, Fn, RemovalPolicy, Stack
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from contract import names

FIVE_MINUTES = Duration.minutes(5)
# Added to the request count of the API's 5xx rate (AlarmThresholds.api_5xx_percent).
API_5XX_FLOOR_REQUESTS = 5000
# Periods of 5 minutes a slow condition must hold (a scale-out, a boot) before it pages.
SUSTAINED_PERIODS = 3
# What an SFU node's media legitimately sends, from what its CPU can serve (the SfuEgress alarm: the
# built-in TURN relays UDP to any public address for any signed-in user, docs/infrastructure.md):
# - a WebRTC listener costs the SFU ~0.45 % of a core (measured, docs/control-plane.md "Why 250"),
#   so a vCPU serves ~222 listeners;
# - a listener is sent ~2 Mb/s at most in a video Space: the page subscribes with adaptive stream
#   (web/src/media.ts), so the spotlight tile gets one camera's top layer (livekit-client's default
#   720p, 1.7 Mb/s), the strip the lowest layers, plus the audio; audio-only Spaces send far less;
# - at the CPU the SfuCpu alarm pages at (80 %), a node is already overloaded: media beyond that much
#   is not explained by listeners. A 2-vCPU node: 2 x 222 x 0.8 x 2 Mb/s = ~710 Mb/s, below
#   c7g.large's ~0.94 Gb/s baseline, so a relay running a node at its sustained bandwidth pages.
SFU_LISTENERS_PER_VCPU = 222
SFU_LISTENER_MBPS = 2.0
BITS_PER_BYTE = 8
SECONDS_PER_MINUTE = 60
# CloudFront publishes its metrics in us-east-1 only, per distribution and Region=Global. The
# dashboard reads them there from any region; an alarm must live in its metric's region, so the
# CDN alarms exist only in a stack deployed to us-east-1 (a CloudFormation condition).
CLOUDFRONT_METRICS_REGION = "us-east-1"
# Added to a CDN's request count for its 5xx share (AlarmThresholds.*_cdn_5xx_percent): a quiet
# distribution's few errors are not an outage.
CDN_5XX_FLOOR_REQUESTS = 1000


def sfu_egress_mbps(vcpus: int, cpu_percent: float) -> float:
    """The most a node of `vcpus` legitimately sends at `cpu_percent` CPU (Mb/s)."""
    return vcpus * SFU_LISTENERS_PER_VCPU * cpu_percent / 100 * SFU_LISTENER_MBPS


def metric_namespace(scope: Construct) -> str:
    """The namespace of the stack's own metrics (workers' load and errors): one per stack, so a
    staging and a production stack in one account and region never scale or alarm on each other's
    numbers."""
    return f"Spaces/{Stack.of(scope).stack_name}"


@dataclass(frozen=True)
class WatchedWorkers:
    """One service of LiveKit workers (agent_service.py) as the dashboard and the alarms see it."""

    name: str  # "Agent" -> AgentErrors, AgentLoadMissing, ...
    title: str  # "Media agents"
    service: ecs.FargateService
    log_group: logs.ILogGroup
    load_metric: str
    errors_per_5min: int
    # The service's most tasks: running that many for 15 minutes, a new Space may find no worker
    # (no alarm when min_tasks is the same: a service pinned there on purpose).
    max_tasks: int
    min_tasks: int


@dataclass(frozen=True, kw_only=True)
class WatchedDistribution:
    name: str  # "Broadcast" -> BroadcastCdn5xx
    title: str  # "Broadcast CDN"
    distribution: cloudfront.IDistribution
    # Its 5xx alarm's threshold (AlarmThresholds) and what a breach means to its viewers.
    five_xx_percent: float
    consequence: str


@dataclass(frozen=True, kw_only=True)
class AlarmThresholds:
    # 5xx answers as a share of requests plus API_5XX_FLOOR_REQUESTS in 5 minutes: 5 errors page
    # at low traffic, ~0.1 % of requests in a join storm (a fixed count is noise at 3,400/s).
    api_5xx_percent: float = 0.1
    api_p99_latency_ms: int = 2000
    lambda_errors_per_5min: int = 5
    # The hottest node's CPU (the fleet's average hides one saturated node: rooms are placed per
    # node, and everyone in a room on it suffers).
    sfu_cpu_percent: int = 80
    # The hottest node's egress (Mb/s, over its busiest minute) for 15 minutes: app.py sets it from the
    # node's vCPUs (sfu_egress_mbps; this default is a 2-vCPU node's).
    sfu_egress_mbps: float = sfu_egress_mbps(2, 80)
    # Alarm when fewer nodes are in service than this: app.py sets the group's minimum, the
    # healthy floor.
    sfu_min_nodes: int = 1
    # Alarm when the group has had this many nodes for 15 minutes: app.py sets its maximum (and
    # its minimum above; a group pinned at min = max gets no such alarm: it is there on purpose).
    sfu_max_nodes: int = 10
    # The routing Redis of the SFU fleet: its engine's CPU (one thread) and memory.
    redis_cpu_percent: int = 80
    redis_memory_percent: int = 80
    # A burstable node's CPU credits (a credit is a vCPU-minute at 100 %): below this, the poorer of
    # the two clusters is a few hours of a cache.t4g.micro's earnings (12 an hour) from running at
    # its baseline, a fraction of a core. Only for burstable node types (redis_burstable).
    redis_cpu_credits: int = 30
    # The reconciler runs every minute; failing in most of five minutes is not a blip.
    reconciler_errors_per_5min: int = 3
    agent_errors_per_5min: int = 10
    composer_errors_per_5min: int = 10
    # A CDN's 5xx answers as a share of its requests plus CDN_5XX_FLOOR_REQUESTS in 5 minutes (that is,
    # 5xx >= threshold % of requests + 10 at 1 %): its origin failing or throttling. A 403/404 is a
    # missing key, not an outage. The broadcast CDN also fronts the avatar proxy, whose 502 for an
    # avatar host that is down (a third party, which must not page anyone) reaches each viewer about
    # once per dead face in 5 minutes (the answer is cached 5 minutes), against ~840 HLS requests:
    # ~1.5 % with a whole stage of 13 dead faces. S3 failing fails every playlist miss, about a third
    # of the requests; 5 % is between the two. The page's CDN has S3 alone behind it.
    broadcast_cdn_5xx_percent: float = 5.0
    web_cdn_5xx_percent: float = 1.0


def _cdn_metrics(
    distribution: cloudfront.IDistribution, region: str | None
) -> tuple[cloudwatch.Metric, cloudwatch.Metric, cloudwatch.Metric]:
    """A distribution's requests, 5xx and 4xx rates (%) over 5 minutes; `region` None: the stack's.

    The rates are CloudFront's per-minute percentages; Average is the only statistic they have, so a
    5-minute figure is the mean of five minutes, not weighted by their requests."""

    def metric(name: str, statistic: str, label: str) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace="AWS/CloudFront",
            metric_name=name,
            dimensions_map={"DistributionId": distribution.distribution_id, "Region": "Global"},
            statistic=statistic,
            period=FIVE_MINUTES,
            region=region,
            label=label,
        )

    return (
        metric("Requests", "Sum", "requests"),
        metric("5xxErrorRate", "Average", "5xx answers (%)"),
        metric("4xxErrorRate", "Average", "4xx answers (%)"),
    )


class Observability(Construct):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        api: apigwv2.HttpApi,
        function: lambda_.IFunction,
        reconciler: lambda_.IFunction,
        reconciler_logs: logs.ILogGroup,
        api_access_logs: logs.ILogGroup,
        avatar_route_key: str,
        table: dynamodb.Table,
        sfu_group: autoscaling.AutoScalingGroup,
        sfu_target_groups: Sequence[elbv2.NetworkTargetGroup],
        redis_clusters: Sequence[str],
        redis_burstable: bool = False,
        workers: Sequence[WatchedWorkers],
        distributions: Sequence[WatchedDistribution] = (),
        thresholds: AlarmThresholds,
        alarm_email: str | None,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, id_)
        # The key encrypts alarm messages in flight only; kept like the rest in production, deleted
        # (after KMS's waiting period) with a throwaway stack instead of outliving it at $1 a month.
        self.key = kms.Key(
            self,
            "AlarmTopicKey",
            enable_key_rotation=True,
            description="Spaces alarm topic",
            removal_policy=removal_policy,
        )
        region, account = Aws.REGION, Aws.ACCOUNT_ID
        # Only this account's alarms, as for the topic below (no confused deputy: the CloudWatch
        # service principal acting for another account's alarm gets nothing).
        from_our_alarms = {
            "StringEquals": {"aws:SourceAccount": account},
            "ArnLike": {"aws:SourceArn": f"arn:{Aws.PARTITION}:cloudwatch:{region}:{account}:alarm:*"},
        }
        # CloudWatch alarms publish to an encrypted topic only if they may use its key.
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AlarmsOfThisAccountUseTheKey",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions=from_our_alarms,
            )
        )
        self.topic = sns.Topic(self, "Alarms", master_key=self.key, enforce_ssl=True)
        # enforce_ssl gives the topic a policy of its own, which replaces the default one that let
        # the account's alarms publish: without this, alarms change state and nobody hears of it.
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AlarmsOfThisAccountPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions=from_our_alarms,
            )
        )
        if alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(alarm_email))

        # Worker errors (a stage agent's, a composer's encoder or given-up upload: a stalled broadcast
        # shows here): the worker logs them; a metric filter turns them into a count.
        for w in workers:
            logs.MetricFilter(
                self,
                f"{w.name}ErrorFilter",
                log_group=w.log_group,
                filter_pattern=logs.FilterPattern.any_term("ERROR", "CRITICAL", "Traceback"),
                metric_namespace=metric_namespace(self),
                metric_name=f"{w.name}Errors",
                metric_value="1",
                default_value=0,
            )
        # The patrol catches what fails (a sweep that raised, every Space's pass failing) and logs it
        # at ERROR so that the next sweep still runs; the Lambda's own Errors see only crashes.
        logs.MetricFilter(
            self,
            "ReconcilerErrorFilter",
            log_group=reconciler_logs,
            filter_pattern=logs.FilterPattern.string_value("$.level", "=", "ERROR"),
            metric_namespace=metric_namespace(self),
            metric_name="ReconcilerErrors",
            metric_value="1",
            default_value=0,
        )
        # The avatar proxy answers 502 when a picture's host fails (a dead link, a host that is
        # down): a third party's failure, shown as initials, which must not page anyone. The
        # access log counts those 502s, and the API's 5xx alarm subtracts them.
        logs.MetricFilter(
            self,
            "AvatarProxy5xxFilter",
            log_group=api_access_logs,
            filter_pattern=logs.FilterPattern.all(
                logs.FilterPattern.string_value("$.routeKey", "=", avatar_route_key),
                # 502 only: the proxy's own bugs (a 500) still page.
                logs.FilterPattern.string_value("$.status", "=", "502"),
            ),
            metric_namespace=metric_namespace(self),
            metric_name="AvatarProxy5xx",
            metric_value="1",
            default_value=0,
        )
        group = {"AutoScalingGroupName": sfu_group.auto_scaling_group_name}
        # The hottest node: rooms stay on their node, so the fleet's average hides a saturated one.
        sfu_cpu = cloudwatch.Metric(
            namespace="AWS/EC2",
            metric_name="CPUUtilization",
            dimensions_map=group,
            period=FIVE_MINUTES,
            statistic="Maximum",
        )
        # The hottest node's busiest minute (the nodes have detailed monitoring: a datapoint a minute,
        # livekit_fleet.py), in Mb/s.
        sfu_egress = cloudwatch.MathExpression(
            expression=f"out * {BITS_PER_BYTE} / {SECONDS_PER_MINUTE} / 1000000",
            using_metrics={
                "out": cloudwatch.Metric(
                    namespace="AWS/EC2",
                    metric_name="NetworkOut",
                    dimensions_map=group,
                    period=FIVE_MINUTES,
                    statistic="Maximum",
                )
            },
            label="Hottest SFU node's egress (Mb/s, busiest minute)",
            period=FIVE_MINUTES,
        )
        api_5xx = cloudwatch.MathExpression(
            # FILL: no avatar request in a period is no avatar failure, not a gap in the result.
            expression="all - FILL(avatars, 0)",
            using_metrics={
                "all": api.metric_server_error(period=FIVE_MINUTES, statistic="Sum"),
                "avatars": self._worker_metric("AvatarProxy5xx", "Sum"),
            },
            label="5xx answers, avatar proxy's upstream failures excepted",
            period=FIVE_MINUTES,
        )
        api_requests = api.metric_count(period=FIVE_MINUTES, statistic="Sum")

        def group_metric(name: str, statistic: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace="AWS/AutoScaling",
                metric_name=name,
                dimensions_map=group,
                period=FIVE_MINUTES,
                statistic=statistic,
            )

        def index_metric(name: str) -> cloudwatch.Metric:
            return table.metric(
                name,
                dimensions_map={"TableName": table.table_name, "GlobalSecondaryIndexName": names.TABLE_GSI1},
                period=FIVE_MINUTES,
                statistic="Sum",
            )

        def redis_metric(
            name: str, label: str, id_prefix: str, worst: Literal["MAX", "MIN"] = "MAX"
        ) -> cloudwatch.MathExpression:
            # The worse of the two clusters (either may be the primary): the higher, or (worst="MIN")
            # the lower.
            per_cluster = {
                f"{id_prefix}{i}": cloudwatch.Metric(
                    namespace="AWS/ElastiCache",
                    metric_name=name,
                    dimensions_map={"CacheClusterId": cluster},
                    period=FIVE_MINUTES,
                    statistic="Maximum" if worst == "MAX" else "Minimum",
                )
                for i, cluster in enumerate(redis_clusters)
            }
            return cloudwatch.MathExpression(
                expression=f"{worst}([{', '.join(per_cluster)}])",
                using_metrics=per_cluster,
                label=label,
                period=FIVE_MINUTES,
            )

        metrics: dict[str, cloudwatch.IMetric] = {
            "api_5xx": api_5xx,
            "api_5xx_rate": cloudwatch.MathExpression(
                expression=f"100 * errors / (FILL(requests, 0) + {API_5XX_FLOOR_REQUESTS})",
                using_metrics={"errors": api_5xx, "requests": api_requests},
                label=f"5xx answers, % of requests + {API_5XX_FLOOR_REQUESTS}",
                period=FIVE_MINUTES,
            ),
            "api_4xx": api.metric_client_error(period=FIVE_MINUTES, statistic="Sum"),
            "api_latency": api.metric_latency(period=FIVE_MINUTES, statistic="p99"),
            "api_count": api_requests,
            "lambda_errors": function.metric_errors(period=FIVE_MINUTES, statistic="Sum"),
            "lambda_throttles": function.metric_throttles(period=FIVE_MINUTES, statistic="Sum"),
            "lambda_duration": function.metric_duration(period=FIVE_MINUTES, statistic="p99"),
            "reconciler_errors": cloudwatch.MathExpression(
                expression="crashes + failures",
                using_metrics={
                    "crashes": reconciler.metric_errors(period=FIVE_MINUTES, statistic="Sum"),
                    "failures": self._worker_metric("ReconcilerErrors", "Sum"),
                },
                label="Reconciler errors",
                period=FIVE_MINUTES,
            ),
            "reconciler_runs": reconciler.metric_invocations(period=FIVE_MINUTES, statistic="Sum"),
            "sfu_cpu": sfu_cpu,
            "sfu_cpu_average": sfu_cpu.with_(statistic="Average"),
            "sfu_egress": sfu_egress,
            "sfu_nodes": group_metric("GroupInServiceInstances", "Minimum"),
            # Nodes the group wants and does not have in service, at the least of each period: a
            # scale-out that does not happen (the EC2 vCPU quota, no capacity in the zones).
            "sfu_nodes_missing": cloudwatch.MathExpression(
                expression="desired - serving",
                using_metrics={
                    "desired": group_metric("GroupDesiredCapacity", "Minimum"),
                    "serving": group_metric("GroupInServiceInstances", "Maximum"),
                },
                label="SFU nodes wanted, not in service",
                period=FIVE_MINUTES,
            ),
            # Targets failing their health check in every period, on either load balancer. The group
            # replaces nodes on EC2 health only (livekit_fleet.py), so a node whose boot failed (a
            # checksum that does not match, a download refused) or whose server never answers stays
            # in service, out of the load balancers' routing, until an operator replaces it. A Redis
            # failover fails every node's signalling check for as long as it lasts (tens of seconds),
            # not for 15 minutes. The most of each period: a node that comes and goes still counts.
            "sfu_unhealthy": cloudwatch.MathExpression(
                expression=f"MAX([{', '.join(f't{i}' for i in range(len(sfu_target_groups)))}])",
                using_metrics={
                    f"t{i}": target_group.metrics.un_healthy_host_count(
                        period=FIVE_MINUTES, statistic="Maximum"
                    )
                    for i, target_group in enumerate(sfu_target_groups)
                },
                label="SFU nodes unhealthy behind a load balancer (most of the period)",
                period=FIVE_MINUTES,
            ),
            "redis_cpu": redis_metric("EngineCPUUtilization", "Routing Redis engine CPU (%)", "cpu"),
            "redis_memory": redis_metric(
                "DatabaseMemoryUsagePercentage", "Routing Redis memory (%)", "memory"
            ),
            # 1 while the poorer cluster's credits are low and not rising: spent as fast as they are
            # earned, or faster. A node that starts without credits (a new stack, a replaced node)
            # earns them back while idle, which does not count.
            "redis_credits_spent": cloudwatch.MathExpression(
                expression=(f"IF(credits < {thresholds.redis_cpu_credits} AND RATE(credits) <= 0, 1, 0)"),
                using_metrics={
                    "credits": redis_metric(
                        "CPUCreditBalance", "Routing Redis CPU credits left (the poorer cluster)", "cr", "MIN"
                    )
                },
                label="Routing Redis short of CPU credits and not earning them back",
                period=FIVE_MINUTES,
            ),
            # The table's own metrics leave its index out (DynamoDB reports an index's throttles
            # under TableName + GlobalSecondaryIndexName): the listing index is read by the lobby
            # and by every reconciler sweep, and written with every Space's state change.
            "table_throttles": cloudwatch.MathExpression(
                expression="reads + writes + index_reads + index_writes",
                using_metrics={
                    "reads": table.metric("ReadThrottleEvents", period=FIVE_MINUTES, statistic="Sum"),
                    "writes": table.metric("WriteThrottleEvents", period=FIVE_MINUTES, statistic="Sum"),
                    "index_reads": index_metric("ReadThrottleEvents"),
                    "index_writes": index_metric("WriteThrottleEvents"),
                },
                label="Throttled requests (the table and its listing index)",
                period=FIVE_MINUTES,
            ),
        }
        above = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
        self.alarms = [
            self._alarm(
                "Api5xx",
                metrics["api_5xx_rate"],
                thresholds.api_5xx_percent,
                above,
                f"The API answered 5xx to {thresholds.api_5xx_percent} % of its requests (of "
                f"requests + {API_5XX_FLOOR_REQUESTS}: a handful at low traffic): a bug or a failing "
                "dependency (DynamoDB, LiveKit)",
            ),
            self._alarm(
                "ApiLatency",
                metrics["api_latency"],
                thresholds.api_p99_latency_ms,
                above,
                "API p99 latency is high",
            ),
            self._alarm(
                "LambdaErrors",
                metrics["lambda_errors"],
                thresholds.lambda_errors_per_5min,
                above,
                "The control plane Lambda raised errors",
            ),
            self._alarm(
                "LambdaThrottles",
                metrics["lambda_throttles"],
                1,
                above,
                "The control plane Lambda was throttled (reserved concurrency or account limit)",
            ),
            self._alarm(
                "SfuCpu",
                metrics["sfu_cpu"],
                thresholds.sfu_cpu_percent,
                above,
                "An SFU node's CPU is high: its rooms degrade (scaling adds nodes for new rooms, "
                "it cannot move the rooms a node holds), or the group is at its maximum",
            ),
            self._alarm(
                "SfuEgress",
                metrics["sfu_egress"],
                round(thresholds.sfu_egress_mbps),
                above,
                f"An SFU node has sent at least {round(thresholds.sfu_egress_mbps)} Mb/s for 15 minutes, "
                "more than its listeners explain at the CPU SfuCpu pages at: with SfuCpu quiet, suspect "
                "TURN relaying to the internet (any signed-in user can; docs/infrastructure.md); with "
                "it, a video Space bigger than the node",
                periods=SUSTAINED_PERIODS,
            ),
            self._alarm(
                "SfuNodes",
                metrics["sfu_nodes"],
                thresholds.sfu_min_nodes,
                cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
                "Fewer SFU nodes in service than the floor",
                missing=cloudwatch.TreatMissingData.BREACHING,
            ),
            self._alarm(
                "SfuScaleOutStuck",
                metrics["sfu_nodes_missing"],
                1,
                above,
                "The SFU group has wanted more nodes than it has in service for 15 minutes: a "
                "scale-out that fails (EC2 vCPU quota, no capacity in the zones); new rooms go onto "
                "busy nodes",
                periods=SUSTAINED_PERIODS,
            ),
            self._alarm(
                "SfuUnhealthy",
                metrics["sfu_unhealthy"],
                1,
                above,
                "An SFU node has failed its load balancer health check for 15 minutes; the group does "
                "not replace it (EC2 health checks only): a boot that failed (livekit_sha256, the "
                "server download, the secrets), a server that does not start, or Redis down that long. "
                "Replace the node by hand if Redis is fine",
                periods=SUSTAINED_PERIODS,
            ),
            self._alarm(
                "RedisCpu",
                metrics["redis_cpu"],
                thresholds.redis_cpu_percent,
                above,
                "The SFU fleet's routing Redis is busy: every node routes rooms and signals through it "
                "(redis_node_type)",
            ),
            self._alarm(
                "RedisMemory",
                metrics["redis_memory"],
                thresholds.redis_memory_percent,
                above,
                "The SFU fleet's routing Redis is filling its memory (redis_node_type)",
            ),
            *(
                [
                    self._alarm(
                        "RedisCredits",
                        metrics["redis_credits_spent"],
                        1,
                        above,
                        "The SFU fleet's routing Redis (a burstable redis_node_type) has spent its CPU "
                        "credits and is not earning them back: out of them, a node in standard mode runs at "
                        "its baseline, a fraction of a core, while every SFU node's health check and every "
                        "room's routing wait on it (in unlimited mode it is billed for the surplus instead); "
                        "deploy a non-burstable redis_node_type (e.g. cache.m7g.large) before a large event",
                    )
                ]
                if redis_burstable
                else []
            ),
            self._alarm(
                "ReconcilerErrors",
                metrics["reconciler_errors"],
                thresholds.reconciler_errors_per_5min,
                above,
                "The scheduled reconciler keeps failing: host grace periods, agent re-dispatch and "
                "lost webhooks are not repaired",
            ),
            self._alarm(
                "ReconcilerStopped",
                metrics["reconciler_runs"],
                1,
                cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
                "The scheduled reconciler did not run for 5 minutes (schedule disabled, invocations "
                "dropped or throttled)",
                missing=cloudwatch.TreatMissingData.BREACHING,
            ),
            self._alarm(
                "TableThrottles",
                metrics["table_throttles"],
                1,
                above,
                "DynamoDB throttled the control plane's table",
            ),
        ]
        # At its maximum for 15 minutes: only for a fleet that can grow (one pinned at min = max, as
        # before a known event, is there on purpose and would page for the whole event).
        if thresholds.sfu_max_nodes > thresholds.sfu_min_nodes:
            self.alarms.append(
                self._alarm(
                    "SfuAtMaximum",
                    metrics["sfu_nodes"],
                    thresholds.sfu_max_nodes,
                    above,
                    "The SFU group has been at its maximum for 15 minutes: it cannot add a node for new "
                    "rooms (raise sfu_max_nodes, and the EC2 vCPU quota with it)",
                    periods=SUSTAINED_PERIODS,
                )
            )
        for w in workers:
            self.alarms.append(
                self._alarm(
                    f"{w.name}Errors",
                    self._worker_metric(f"{w.name}Errors", "Sum"),
                    w.errors_per_5min,
                    above,
                    f"{w.title} log errors",
                )
            )
            if w.max_tasks > w.min_tasks:
                self.alarms.append(
                    self._alarm(
                        f"{w.name}AtMaximum",
                        cloudwatch.Metric(
                            namespace="ECS/ContainerInsights",
                            metric_name="RunningTaskCount",
                            dimensions_map={
                                "ClusterName": w.service.cluster.cluster_name,
                                "ServiceName": w.service.service_name,
                            },
                            period=FIVE_MINUTES,
                            statistic="Minimum",
                        ),
                        w.max_tasks,
                        above,
                        f"The {w.title.lower()} have run their most tasks for 15 minutes: a Space started "
                        "now may get no worker until one frees (its dispatch is retried); raise the "
                        "service's max tasks (and the Fargate vCPU quota with it)",
                        periods=SUSTAINED_PERIODS,
                    )
                )
            self.alarms.append(
                self._alarm(
                    f"{w.name}LoadMissing",
                    self._worker_metric(w.load_metric, "SampleCount"),
                    1,
                    cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
                    f"No task of the {w.title.lower()} published its load for 5 minutes (at least one task "
                    "always runs): the service scales out on CPU only and never scales in",
                    missing=cloudwatch.TreatMissingData.BREACHING,
                )
            )
        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", default_interval=Duration.hours(3))
        graph = cloudwatch.GraphWidget
        self.dashboard.add_widgets(
            graph(
                title="API requests and errors",
                left=[metrics["api_count"]],
                right=[metrics["api_4xx"], metrics["api_5xx"]],
                width=8,
            ),
            graph(
                title="API p99 latency (ms)",
                left=[metrics["api_latency"], metrics["lambda_duration"]],
                width=8,
            ),
            graph(
                title="Lambda errors and throttles",
                left=[metrics["lambda_errors"], metrics["lambda_throttles"], metrics["reconciler_errors"]],
                width=8,
            ),
        )
        self.dashboard.add_widgets(
            graph(
                title="SFU CPU (%): hottest node, fleet average",
                left=[metrics["sfu_cpu"], metrics["sfu_cpu_average"]],
                width=8,
            ),
            graph(
                title="SFU nodes: in service, wanted but missing, unhealthy",
                left=[metrics["sfu_nodes"], metrics["sfu_nodes_missing"], metrics["sfu_unhealthy"]],
                width=8,
            ),
            graph(title="DynamoDB throttled requests", left=[metrics["table_throttles"]], width=8),
        )
        self.dashboard.add_widgets(
            graph(title="SFU egress (Mb/s): hottest node", left=[metrics["sfu_egress"]], width=8),
        )
        self.dashboard.add_widgets(
            graph(
                title="SFU routing Redis (%): engine CPU, memory",
                left=[metrics["redis_cpu"], metrics["redis_memory"]],
                width=8,
            ),
        )
        self.dashboard.add_widgets(
            *(
                graph(
                    title=f"{w.title}: CPU and load (%), errors",
                    left=[
                        w.service.metric_cpu_utilization(period=FIVE_MINUTES),
                        self._worker_metric(w.load_metric, "Average"),
                    ],
                    right=[self._worker_metric(f"{w.name}Errors", "Sum")],
                    width=8,
                )
                for w in workers
            )
        )
        self._watch_distributions(distributions)
        self.dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=self.alarms, width=24),
        )

    def _watch_distributions(self, distributions: Sequence[WatchedDistribution]) -> None:
        """Each CDN's requests and error rates on the dashboard (read from us-east-1 whatever the
        stack's region), and its 5xx alarm, which exists only when the stack is in us-east-1. Those
        alarms stay out of the dashboard's alarm status widget, which cannot name an alarm that a
        region's condition leaves out."""
        if not distributions:
            return
        in_metrics_region = CfnCondition(
            self,
            "InCloudFrontMetricsRegion",
            expression=Fn.condition_equals(Aws.REGION, CLOUDFRONT_METRICS_REGION),
        )
        for d in distributions:
            requests, errors, client_errors = _cdn_metrics(d.distribution, CLOUDFRONT_METRICS_REGION)
            self.dashboard.add_widgets(
                cloudwatch.GraphWidget(
                    title=f"{d.title}: requests, 5xx and 4xx answers (%)",
                    left=[requests],
                    right=[errors, client_errors],
                    width=12,
                )
            )
            # The alarm's metrics carry no region: the stack's own, which the condition makes us-east-1.
            requests, errors, _ = _cdn_metrics(d.distribution, None)
            alarm = self._alarm(
                f"{d.name}Cdn5xx",
                cloudwatch.MathExpression(
                    expression=f"errors * FILL(requests, 0) / (FILL(requests, 0) + {CDN_5XX_FLOOR_REQUESTS})",
                    using_metrics={"errors": errors, "requests": requests},
                    label=f"5xx answers, % of requests + {CDN_5XX_FLOOR_REQUESTS}",
                    period=FIVE_MINUTES,
                ),
                d.five_xx_percent,
                cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                f"The {d.title} answered {d.five_xx_percent} % or more of its requests with a 5xx in 5 "
                f"minutes (counted against the requests + {CDN_5XX_FLOOR_REQUESTS}): its origin is failing "
                f"or throttling; {d.consequence}",
            )
            alarm.node.default_child.cfn_options.condition = in_metrics_region  # type: ignore[union-attr]

    def _worker_metric(self, name: str, statistic: str) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace=metric_namespace(self), metric_name=name, period=FIVE_MINUTES, statistic=statistic
        )

    def _alarm(
        self,
        id_: str,
        metric: cloudwatch.IMetric,
        threshold: float,
        comparison: cloudwatch.ComparisonOperator,
        description: str,
        missing: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING,
        periods: int = 1,
    ) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            id_,
            metric=metric,
            threshold=threshold,
            evaluation_periods=periods,
            comparison_operator=comparison,
            alarm_description=description,
            treat_missing_data=missing,
        )
        alarm.add_alarm_action(actions.SnsAction(self.topic))
        alarm.add_ok_action(actions.SnsAction(self.topic))
        return alarm
