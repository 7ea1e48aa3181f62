"""The broadcast composers (`python -m composer start`) as their own ECS Fargate service.

A separate service from the media agents (same cluster): an encoder fault or a CPU-bound encoder
never starves the stage agent, and each scales on its own load. A composer job is one Space's
broadcast for the whole Space, so the drain is the media agents' one (media_agents.py docstring):
the worker sets ECS task scale-in protection while it has jobs, and a replacement composer continues
the playlist (with a discontinuity) if a task dies anyway.

Scaling signals: the composer's own load first. LiveKit's dispatcher gives a worker new Spaces until
its load (composer/load.py: the larger of its CPU share and its Spaces against a budget of one per
core) reaches the threshold. CPU alone would miss a fleet full of audio-only Spaces (a few percent
of a core each, yet every slot taken), so the worker publishes that load once a minute
(media_agent/load.py, SPACES_LOAD_METRIC); a metric filter on the task's logs turns it into
`Spaces/ComposerLoad` and the service tracks its average at `load_target_percent`, keeping slots
free for Spaces that start while a task boots. The service's CPU is tracked as well: with two
target-tracking policies Application Auto Scaling scales out when either asks and in only when both
allow. So an image that does not publish its load still scales out on CPU, but never scales in; the
ComposerLoadMissing alarm (observability.py) reports exactly that.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, IgnoreMode, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from contract import names

from .media_agents import ROOT, STOP_TIMEOUT, AgentSizing, build_context_excludes, task_protection_statement
from .observability import METRIC_NAMESPACE

DOCKERFILE = "composer/Dockerfile"
DOCKERIGNORE = ROOT / "composer" / ".dockerignore"
# The worker publishes once a minute; the metric has that resolution.
LOAD_PERIOD = Duration.minutes(1)


@dataclass(frozen=True, kw_only=True)
class ComposerSizing(AgentSizing):
    # Average published load (% of the dispatcher's full) the service keeps its tasks at.
    load_target_percent: int


class Composers(Construct):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        cluster: ecs.ICluster,
        subnets: ec2.SubnetSelection,
        livekit_url: str,
        livekit_secret: secretsmanager.ISecret,
        bucket_name: str,
        prefix: str,
        sizing: ComposerSizing,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, id_)
        self.log_group = logs.LogGroup(
            self, "Logs", retention=log_retention, removal_policy=RemovalPolicy.DESTROY
        )
        arch = ecs.CpuArchitecture.ARM64 if sizing.arm64 else ecs.CpuArchitecture.X86_64
        self.task_definition = ecs.FargateTaskDefinition(
            self,
            "Task",
            cpu=sizing.cpu,
            memory_limit_mib=sizing.memory_mib,
            runtime_platform=ecs.RuntimePlatform(
                cpu_architecture=arch, operating_system_family=ecs.OperatingSystemFamily.LINUX
            ),
        )
        self.image = ecs.ContainerImage.from_asset(
            str(ROOT),
            file=DOCKERFILE,
            exclude=build_context_excludes(DOCKERIGNORE),
            ignore_mode=IgnoreMode.DOCKER,
            platform=ecr_assets.Platform.LINUX_ARM64 if sizing.arm64 else ecr_assets.Platform.LINUX_AMD64,
        )
        self.container = self.task_definition.add_container(
            "Composer",
            image=self.image,
            command=["python", "-m", "composer", "start"],
            environment={
                names.ENV_MODE: "cloud",
                names.ENV_LIVEKIT_URL: livekit_url,
                names.ENV_BROADCAST_BUCKET: bucket_name,
                names.ENV_BROADCAST_PREFIX: prefix,
                names.ENV_LOAD_METRIC: names.COMPOSER_LOAD_METRIC,
            },
            # Injected by ECS at start from Secrets Manager; the task definition holds references only.
            secrets={
                names.ENV_LIVEKIT_API_KEY: ecs.Secret.from_secrets_manager(
                    livekit_secret, names.SECRET_FIELD_API_KEY
                ),
                names.ENV_LIVEKIT_API_SECRET: ecs.Secret.from_secrets_manager(
                    livekit_secret, names.SECRET_FIELD_API_SECRET
                ),
            },
            logging=ecs.LogDrivers.aws_logs(stream_prefix="composer", log_group=self.log_group),
            stop_timeout=STOP_TIMEOUT,
        )
        self.task_definition.add_to_task_role_policy(task_protection_statement(cluster))

        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=cluster.vpc,
            allow_all_outbound=True,
            description="Broadcast composers: outbound only (LiveKit signalling and media, S3, ECR, logs)",
        )
        self.service = ecs.FargateService(
            self,
            "Service",
            cluster=cluster,
            task_definition=self.task_definition,
            desired_count=sizing.min_tasks,
            vpc_subnets=subnets,
            security_groups=[self.security_group],
            circuit_breaker=ecs.DeploymentCircuitBreaker(rollback=True),
            min_healthy_percent=100,
            max_healthy_percent=200,
        )
        self.scaling = self.service.auto_scale_task_count(
            min_capacity=sizing.min_tasks, max_capacity=sizing.max_tasks
        )
        # The worker's published load (module docstring): one JSON line a minute per task; the
        # minute's average over all lines is the average load per task.
        logs.MetricFilter(
            self,
            "LoadFilter",
            log_group=self.log_group,
            filter_pattern=logs.FilterPattern.string_value(
                f"$.{names.LOAD_LINE_METRIC}", "=", names.COMPOSER_LOAD_METRIC
            ),
            metric_namespace=METRIC_NAMESPACE,
            metric_name=names.COMPOSER_LOAD_METRIC,
            metric_value=f"$.{names.LOAD_LINE_PERCENT}",
            unit=cloudwatch.Unit.PERCENT,
        )
        self.load_metric = cloudwatch.Metric(
            namespace=METRIC_NAMESPACE,
            metric_name=names.COMPOSER_LOAD_METRIC,
            statistic="Average",
            period=LOAD_PERIOD,
            unit=cloudwatch.Unit.PERCENT,
        )
        # Scale-out is quick because a Space that finds no composer with room has no broadcast until
        # a task starts (about a minute on Fargate); scale-in waits, and never takes a busy task.
        self.scaling.scale_to_track_custom_metric(
            "Load",
            metric=self.load_metric,
            target_value=sizing.load_target_percent,
            scale_in_cooldown=Duration.minutes(5),
            scale_out_cooldown=Duration.minutes(1),
        )
        self.scaling.scale_on_cpu_utilization(
            "Cpu",
            target_utilization_percent=sizing.cpu_target_percent,
            scale_in_cooldown=Duration.minutes(5),
            scale_out_cooldown=Duration.minutes(1),
        )
