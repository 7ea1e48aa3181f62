"""One dashboard and the alarms an operator of Spaces needs, all to one encrypted SNS topic."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration
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

from contract import names

FIVE_MINUTES = Duration.minutes(5)
AGENT_ERROR_METRIC = "AgentErrors"
COMPOSER_ERROR_METRIC = "ComposerErrors"
COMPOSER_LOAD_METRIC = names.COMPOSER_LOAD_METRIC
METRIC_NAMESPACE = "Spaces"


@dataclass(frozen=True, kw_only=True)
class AlarmThresholds:
    api_5xx_per_5min: int = 5
    api_p99_latency_ms: int = 2000
    lambda_errors_per_5min: int = 5
    sfu_cpu_percent: int = 80
    # Alarm when fewer nodes are in service than this (the group's minimum is the healthy floor).
    sfu_min_nodes: int = 1
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
        table: dynamodb.Table,
        sfu_group: autoscaling.AutoScalingGroup,
        agent_service: ecs.FargateService,
        agent_log_group: logs.ILogGroup,
        composer_service: ecs.FargateService,
        composer_log_group: logs.ILogGroup,
        composer_load: cloudwatch.IMetric,
        thresholds: AlarmThresholds,
        alarm_email: str | None,
    ) -> None:
        super().__init__(scope, id_)
        self.key = kms.Key(self, "AlarmTopicKey", enable_key_rotation=True, description="Spaces alarm topic")
        # CloudWatch alarms publish to an encrypted topic only if they may use its key.
        self.key.grant(
            iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*"
        )
        self.topic = sns.Topic(self, "Alarms", master_key=self.key, enforce_ssl=True)
        if alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(alarm_email))

        # Agent errors: the worker logs them; a metric filter turns them into a count.
        logs.MetricFilter(
            self,
            "AgentErrorFilter",
            log_group=agent_log_group,
            filter_pattern=logs.FilterPattern.any_term("ERROR", "CRITICAL", "Traceback"),
            metric_namespace=METRIC_NAMESPACE,
            metric_name=AGENT_ERROR_METRIC,
            metric_value="1",
            default_value=0,
        )
        # Composer errors (encoder, upload retries given up) the same way: a stalled broadcast shows here.
        logs.MetricFilter(
            self,
            "ComposerErrorFilter",
            log_group=composer_log_group,
            filter_pattern=logs.FilterPattern.any_term("ERROR", "CRITICAL", "Traceback"),
            metric_namespace=METRIC_NAMESPACE,
            metric_name=COMPOSER_ERROR_METRIC,
            metric_value="1",
            default_value=0,
        )
        group = {"AutoScalingGroupName": sfu_group.auto_scaling_group_name}
        metrics: dict[str, cloudwatch.IMetric] = {
            "api_5xx": api.metric_server_error(period=FIVE_MINUTES, statistic="Sum"),
            "api_4xx": api.metric_client_error(period=FIVE_MINUTES, statistic="Sum"),
            "api_latency": api.metric_latency(period=FIVE_MINUTES, statistic="p99"),
            "api_count": api.metric_count(period=FIVE_MINUTES, statistic="Sum"),
            "lambda_errors": function.metric_errors(period=FIVE_MINUTES, statistic="Sum"),
            "lambda_throttles": function.metric_throttles(period=FIVE_MINUTES, statistic="Sum"),
            "lambda_duration": function.metric_duration(period=FIVE_MINUTES, statistic="p99"),
            "sfu_cpu": cloudwatch.Metric(
                namespace="AWS/EC2",
                metric_name="CPUUtilization",
                dimensions_map=group,
                period=FIVE_MINUTES,
                statistic="Average",
            ),
            "sfu_nodes": cloudwatch.Metric(
                namespace="AWS/AutoScaling",
                metric_name="GroupInServiceInstances",
                dimensions_map=group,
                period=FIVE_MINUTES,
                statistic="Minimum",
            ),
            "agent_cpu": agent_service.metric_cpu_utilization(period=FIVE_MINUTES),
            "agent_errors": cloudwatch.Metric(
                namespace=METRIC_NAMESPACE,
                metric_name=AGENT_ERROR_METRIC,
                period=FIVE_MINUTES,
                statistic="Sum",
            ),
            "composer_cpu": composer_service.metric_cpu_utilization(period=FIVE_MINUTES),
            "composer_load": composer_load,
            "composer_errors": cloudwatch.Metric(
                namespace=METRIC_NAMESPACE,
                metric_name=COMPOSER_ERROR_METRIC,
                period=FIVE_MINUTES,
                statistic="Sum",
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
                "SFU fleet CPU is high: scaling is not keeping up or the group is at its maximum",
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
                "AgentErrors",
                metrics["agent_errors"],
                thresholds.agent_errors_per_5min,
                above,
                "Media agents log errors",
            ),
            self._alarm(
                "ComposerErrors",
                metrics["composer_errors"],
                thresholds.composer_errors_per_5min,
                above,
                "Broadcast composers log errors",
            ),
            self._alarm(
                "ComposerLoadMissing",
                cloudwatch.Metric(
                    namespace=METRIC_NAMESPACE,
                    metric_name=COMPOSER_LOAD_METRIC,
                    statistic="SampleCount",
                    period=FIVE_MINUTES,
                ),
                1,
                cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
                "No composer published its load for 5 minutes (at least one task always runs): the "
                "composers scale out on CPU only and never scale in",
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
                left=[metrics["lambda_errors"], metrics["lambda_throttles"]],
                width=8,
            ),
        )
        self.dashboard.add_widgets(
            graph(title="SFU CPU (%)", left=[metrics["sfu_cpu"]], width=8),
            graph(title="SFU nodes in service", left=[metrics["sfu_nodes"]], width=8),
            graph(
                title="Agents: CPU (%) and errors",
                left=[metrics["agent_cpu"]],
                right=[metrics["agent_errors"]],
                width=8,
            ),
        )
        self.dashboard.add_widgets(
            graph(
                title="Composers: CPU and load (%), errors",
                left=[metrics["composer_cpu"], metrics["composer_load"]],
                right=[metrics["composer_errors"]],
                width=8,
            ),
            graph(title="DynamoDB throttled requests", left=[metrics["table_throttles"]], width=8),
        )
        self.dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=self.alarms, width=24),
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
