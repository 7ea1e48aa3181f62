"""One dashboard and the alarms an operator of Spaces needs, all to one encrypted SNS topic."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Aws, Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

FIVE_MINUTES = Duration.minutes(5)


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


@dataclass(frozen=True, kw_only=True)
class AlarmThresholds:
    api_5xx_per_5min: int = 5
    api_p99_latency_ms: int = 2000
    lambda_errors_per_5min: int = 5
    # The hottest node's CPU (the fleet's average hides one saturated node: rooms are placed per
    # node, and everyone in a room on it suffers).
    sfu_cpu_percent: int = 80
    # Alarm when fewer nodes are in service than this: app.py sets the group's minimum, the
    # healthy floor.
    sfu_min_nodes: int = 1
    # The reconciler runs every minute; failing in most of five minutes is not a blip.
    reconciler_errors_per_5min: int = 3
    agent_errors_per_5min: int = 10
    composer_errors_per_5min: int = 10


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
        workers: Sequence[WatchedWorkers],
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
        metrics: dict[str, cloudwatch.IMetric] = {
            "api_5xx": cloudwatch.MathExpression(
                # FILL: no avatar request in a period is no avatar failure, not a gap in the result.
                expression="all - FILL(avatars, 0)",
                using_metrics={
                    "all": api.metric_server_error(period=FIVE_MINUTES, statistic="Sum"),
                    "avatars": self._worker_metric("AvatarProxy5xx", "Sum"),
                },
                label="5xx answers, avatar proxy's upstream failures excepted",
                period=FIVE_MINUTES,
            ),
            "api_4xx": api.metric_client_error(period=FIVE_MINUTES, statistic="Sum"),
            "api_latency": api.metric_latency(period=FIVE_MINUTES, statistic="p99"),
            "api_count": api.metric_count(period=FIVE_MINUTES, statistic="Sum"),
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
            "sfu_nodes": cloudwatch.Metric(
                namespace="AWS/AutoScaling",
                metric_name="GroupInServiceInstances",
                dimensions_map=group,
                period=FIVE_MINUTES,
                statistic="Minimum",
            ),
            "table_throttles": cloudwatch.MathExpression(
                expression="reads + writes",
                using_metrics={
                    "reads": table.metric("ReadThrottleEvents", period=FIVE_MINUTES, statistic="Sum"),
                    "writes": table.metric("WriteThrottleEvents", period=FIVE_MINUTES, statistic="Sum"),
                },
                label="Throttled requests",
                period=FIVE_MINUTES,
            ),
        }
        above = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
        self.alarms = [
            self._alarm(
                "Api5xx",
                metrics["api_5xx"],
                thresholds.api_5xx_per_5min,
                above,
                "The API answered 5xx: a bug or a failing dependency (DynamoDB, LiveKit)",
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
                "SfuNodes",
                metrics["sfu_nodes"],
                thresholds.sfu_min_nodes,
                cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
                "Fewer SFU nodes in service than the floor",
                missing=cloudwatch.TreatMissingData.BREACHING,
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
        for w in workers:
            self.alarms += [
                self._alarm(
                    f"{w.name}Errors",
                    self._worker_metric(f"{w.name}Errors", "Sum"),
                    w.errors_per_5min,
                    above,
                    f"{w.title} log errors",
                ),
                self._alarm(
                    f"{w.name}LoadMissing",
                    self._worker_metric(w.load_metric, "SampleCount"),
                    1,
                    cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
                    f"No task of the {w.title.lower()} published its load for 5 minutes (at least one task "
                    "always runs): the service scales out on CPU only and never scales in",
                    missing=cloudwatch.TreatMissingData.BREACHING,
                ),
            ]
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
            graph(title="SFU nodes in service", left=[metrics["sfu_nodes"]], width=8),
            graph(title="DynamoDB throttled requests", left=[metrics["table_throttles"]], width=8),
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
        self.dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=self.alarms, width=24),
        )

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
    ) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            id_,
            metric=metric,
            threshold=threshold,
            evaluation_periods=1,
            comparison_operator=comparison,
            alarm_description=description,
            treat_missing_data=missing,
        )
        alarm.add_alarm_action(actions.SnsAction(self.topic))
        alarm.add_ok_action(actions.SnsAction(self.topic))
        return alarm
