"""The broadcast composers (`python -m composer start`) as their own ECS Fargate service.

A separate service from the media agents (same cluster): an encoder fault or a CPU-bound encoder
never starves the stage agent, and each scales on its own load. A composer job is one Space's
broadcast for the whole Space, so the drain is the media agents' one (media_agents.py docstring):
the worker sets ECS task scale-in protection while it has jobs, and a replacement composer continues
the playlist (with a discontinuity) if a task dies anyway.

Scaling signal: the service's average CPU. The composer's cost is its encoder (decode, compose,
encode at a fixed frame rate), so CPU is its capacity: an audio-only Space costs a few percent of a
core, a 720p30 one up to a core. A job count would treat those two alike; CPU is also what the LiveKit
worker's default load function reports, so the dispatcher stops sending jobs to a busy task on the
same signal that adds tasks.
"""

from __future__ import annotations

from aws_cdk import Duration, IgnoreMode, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from contract import names

from .media_agents import ROOT, STOP_TIMEOUT, AgentSizing, build_context_excludes, task_protection_statement

DOCKERFILE = "composer/Dockerfile"
DOCKERIGNORE = ROOT / "composer" / ".dockerignore"


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
        sizing: AgentSizing,
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
        # Why CPU: module docstring. Scale-out is quick because a Space that finds no composer with
        # room has no broadcast until a task starts (about a minute on Fargate).
        self.scaling.scale_on_cpu_utilization(
            "Cpu",
            target_utilization_percent=sizing.cpu_target_percent,
            scale_in_cooldown=Duration.minutes(5),
            scale_out_cooldown=Duration.minutes(1),
        )
