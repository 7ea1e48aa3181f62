"""The media agent workers (`python -m media_agent start`) as an ECS Fargate service.

Drain: Fargate stops a task at most 120 s after SIGTERM, far shorter than a Space. So scale-in must
not pick a busy task in the first place: the worker sets ECS task scale-in protection while it has
jobs (task role may call the agent endpoint's task-protection API) and clears it when idle; ECS
scale-in and deployments skip protected tasks. The 120 s stop timeout then only covers an idle
worker's own shutdown. If a task dies anyway, livekit-server does not re-dispatch its agents: it
reports each agent's departure in a webhook once the reconnect window has passed, and the control
plane dispatches a new one (functions/services/spaces.py), which continues the stage's seq from
the room's last published stage.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Duration, IgnoreMode, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from contract import names

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = "media_agent/Dockerfile"
DOCKERIGNORE = ROOT / "media_agent" / ".dockerignore"
# Fargate's hard limit for SIGTERM -> SIGKILL.
STOP_TIMEOUT = Duration.seconds(120)


@dataclass(frozen=True, kw_only=True)
class AgentSizing:
    cpu: int
    memory_mib: int
    min_tasks: int
    max_tasks: int
    cpu_target_percent: int
    arm64: bool


def build_context_excludes(dockerignore: Path = DOCKERIGNORE) -> list[str]:
    """A worker's .dockerignore (media_agent/ by default), applied to the repo root that is the
    build context."""
    lines = dockerignore.read_text().splitlines() if dockerignore.is_file() else []
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def task_protection_statement(cluster: ecs.ICluster) -> iam.PolicyStatement:
    """A LiveKit worker protects itself from scale-in while it has jobs (see module docstring); a task
    cannot know its own ARN at synth time, so the statement names the tasks of its cluster."""
    return iam.PolicyStatement(
        actions=["ecs:GetTaskProtection", "ecs:UpdateTaskProtection"],
        resources=[
            Stack.of(cluster).format_arn(
                service="ecs", resource="task", resource_name=f"{cluster.cluster_name}/*"
            )
        ],
    )


class MediaAgents(Construct):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        livekit_url: str,
        livekit_secret: secretsmanager.ISecret,
        sizing: AgentSizing,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, id_)
        self.cluster = ecs.Cluster(
            self,
            "Cluster",
            vpc=vpc,
            container_insights_v2=ecs.ContainerInsights.ENABLED,
        )
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
            exclude=build_context_excludes(),
            ignore_mode=IgnoreMode.DOCKER,
            platform=ecr_assets.Platform.LINUX_ARM64 if sizing.arm64 else ecr_assets.Platform.LINUX_AMD64,
        )
        self.container = self.task_definition.add_container(
            "Worker",
            image=self.image,
            command=["python", "-m", "media_agent", "start"],
            environment={
                names.ENV_MODE: "cloud",
                names.ENV_LIVEKIT_URL: livekit_url,
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
            logging=ecs.LogDrivers.aws_logs(stream_prefix="agent", log_group=self.log_group),
            stop_timeout=STOP_TIMEOUT,
        )
        self.task_definition.add_to_task_role_policy(task_protection_statement(self.cluster))

        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=vpc,
            allow_all_outbound=True,
            description="Media agents: outbound only (LiveKit signalling and media, ECR, logs)",
        )
        self.service = ecs.FargateService(
            self,
            "Service",
            cluster=self.cluster,
            task_definition=self.task_definition,
            desired_count=sizing.min_tasks,
            vpc_subnets=subnets,
            security_groups=[self.security_group],
            circuit_breaker=ecs.DeploymentCircuitBreaker(rollback=True),
            min_healthy_percent=100,
            max_healthy_percent=200,
        )
        scaling = self.service.auto_scale_task_count(
            min_capacity=sizing.min_tasks, max_capacity=sizing.max_tasks
        )
        # The worker's load (what LiveKit dispatch balances on) is its CPU: scale on the same signal.
        scaling.scale_on_cpu_utilization(
            "Cpu",
            target_utilization_percent=sizing.cpu_target_percent,
            scale_in_cooldown=Duration.minutes(5),
            scale_out_cooldown=Duration.minutes(1),
        )
