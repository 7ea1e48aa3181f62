"""A fleet of LiveKit workers as an ECS Fargate service, scaled on the load its workers publish.

The stack runs two: the stage agents (`python -m media_agent start`) and the broadcast composers
(`python -m composer start`), from one image (agents.Dockerfile) in one cluster. They are separate
services so that an encoder fault or a CPU-bound encoder never starves the stage agent, and each
scales on its own load.

Drain: Fargate stops a task at most 120 s after SIGTERM, far shorter than a Space. So scale-in must
not pick a busy task in the first place: the worker sets ECS task scale-in protection while it has
jobs (its task role may call the agent endpoint's task-protection API) and clears it when idle; ECS
scale-in and deployments skip protected tasks. The 120 s stop timeout then only covers an idle
worker's own shutdown. A deployment of new worker code would then wait for every old Space to end
while old workers kept taking new ones; so a worker reads its service's primary deployment and,
once a newer one runs whole, takes no new jobs (media_agent/deployment.py; its task role may
describe the tasks and services of its cluster). If a task dies anyway, livekit-server does not
re-dispatch its agents: the control plane's reconciler sees the agent missing and dispatches a new
one (functions/reconcile/), and a replacement stage agent continues the stage's seq, a replacement
composer the playlist (with a discontinuity).

Scaling signal: the worker's own load. LiveKit's dispatcher gives a worker new jobs until its load
(media_agent/load.py, composer/load.py: the larger of its CPU share and its jobs against a budget)
reaches the threshold. CPU alone misses a fleet full of quiet rooms (a stage agent refused jobs at 28
rooms while ECS saw idle CPU; an audio-only broadcast costs a few percent of a core, yet takes a
slot), so the worker prints that load once a minute (SPACES_LOAD_METRIC); a metric filter on the
task's logs turns it into a metric and the service tracks its average at `load_target_percent`,
keeping slots free for the rooms that arrive while a task boots. CPU is tracked as well: with two
target-tracking policies Application Auto Scaling scales out when either asks and in only when both
allow, so an image that does not publish its load still scales out on CPU but never in (the
*LoadMissing alarms in observability.py report exactly that).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Duration, IgnoreMode, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct, IDependable

from contract import names

from .observability import metric_namespace

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = "agents.Dockerfile"
DOCKERIGNORE = ROOT / "agents.Dockerfile.dockerignore"
# Fargate's hard limit for SIGTERM -> SIGKILL.
STOP_TIMEOUT = Duration.seconds(120)
# The workers publish once a minute; the metric has that resolution.
LOAD_PERIOD = Duration.minutes(1)


@dataclass(frozen=True, kw_only=True)
class AgentSizing:
    cpu: int
    memory_mib: int
    min_tasks: int
    max_tasks: int
    cpu_target_percent: int
    # Average worker load (percent) the service is scaled to hold: below the 70 % at which a worker
    # refuses new jobs (livekit-agents' load threshold), with room for the jobs that arrive during a
    # scale-out (about a minute on Fargate).
    load_target_percent: int
    arm64: bool


@dataclass(frozen=True)
class Worker:
    """What tells one worker fleet from another."""

    module: str  # python -m <module> start
    load_metric: str
    reaches: str  # for the security group's description


STAGE_AGENT = Worker("media_agent", names.STAGE_AGENT_LOAD_METRIC, "LiveKit signalling and media, ECR, logs")
COMPOSER = Worker("composer", names.COMPOSER_LOAD_METRIC, "LiveKit signalling and media, S3, ECR, logs")


def build_context_excludes(dockerignore: Path = DOCKERIGNORE) -> list[str]:
    """The image's .dockerignore, applied to the repo root that is the build context."""
    lines = dockerignore.read_text().splitlines() if dockerignore.is_file() else []
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def agent_image(scope: Construct, id_: str, *, arm64: bool) -> ecs.ContainerImage:
    """The workers' one image, built and pushed once for both services."""
    asset = ecr_assets.DockerImageAsset(
        scope,
        id_,
        directory=str(ROOT),
        file=DOCKERFILE,
        exclude=build_context_excludes(),
        ignore_mode=IgnoreMode.DOCKER,
        platform=ecr_assets.Platform.LINUX_ARM64 if arm64 else ecr_assets.Platform.LINUX_AMD64,
    )
    return ecs.ContainerImage.from_docker_image_asset(asset)


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


def deployment_statement(cluster: ecs.ICluster) -> iam.PolicyStatement:
    """A worker finds its service (DescribeTasks on itself) and reads the service's primary deployment
    (DescribeServices) to know when a newer deployment supersedes it. Read-only, this cluster only:
    the service's name is generated and the task's ARN unknown at synth time."""
    stack = Stack.of(cluster)
    return iam.PolicyStatement(
        actions=["ecs:DescribeTasks", "ecs:DescribeServices"],
        resources=[
            stack.format_arn(service="ecs", resource="task", resource_name=f"{cluster.cluster_name}/*"),
            stack.format_arn(service="ecs", resource="service", resource_name=f"{cluster.cluster_name}/*"),
        ],
    )


class AgentService(Construct):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        worker: Worker,
        cluster: ecs.ICluster,
        image: ecs.ContainerImage,
        subnets: ec2.SubnetSelection,
        egress_ready: IDependable,
        livekit_url: str,
        livekit_secret: secretsmanager.ISecret,
        sizing: AgentSizing,
        log_retention: logs.RetentionDays,
        environment: Mapping[str, str] | None = None,
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
        self.container = self.task_definition.add_container(
            "Worker",
            image=image,
            command=["python", "-m", worker.module, "start"],
            environment={
                names.ENV_MODE: "cloud",
                names.ENV_LIVEKIT_URL: livekit_url,
                names.ENV_LOAD_METRIC: worker.load_metric,
                **(environment or {}),
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
            logging=ecs.LogDrivers.aws_logs(stream_prefix=worker.module, log_group=self.log_group),
            stop_timeout=STOP_TIMEOUT,
        )
        self.task_definition.add_to_task_role_policy(task_protection_statement(cluster))
        self.task_definition.add_to_task_role_policy(deployment_statement(cluster))

        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=cluster.vpc,
            allow_all_outbound=True,
            description=f"{worker.module} workers: outbound only ({worker.reaches})",
        )
        self.service = ecs.FargateService(
            self,
            "Service",
            cluster=cluster,
            task_definition=self.task_definition,
            # No desired count in the template: CloudFormation would send it with every update of
            # the service and reset a scaled-out fleet to its minimum in the middle of an event. It
            # starts at 1 and auto scaling keeps it between min_tasks and max_tasks.
            vpc_subnets=subnets,
            security_groups=[self.security_group],
            circuit_breaker=ecs.DeploymentCircuitBreaker(rollback=True),
            min_healthy_percent=100,
            max_healthy_percent=200,
        )
        # Tasks start as soon as the service exists and need a way out at once (their secrets from
        # Secrets Manager, the image from ECR): created before the subnets' NAT routes, they stop,
        # and three such stops trip the circuit breaker, which fails and rolls back a first deploy.
        self.service.node.add_dependency(egress_ready)
        scaling = self.service.auto_scale_task_count(
            min_capacity=sizing.min_tasks, max_capacity=sizing.max_tasks
        )
        # One JSON line a minute per task; the minute's average over all lines is the load per task.
        logs.MetricFilter(
            self,
            "LoadFilter",
            log_group=self.log_group,
            filter_pattern=logs.FilterPattern.string_value(
                f"$.{names.LOAD_LINE_METRIC}", "=", worker.load_metric
            ),
            metric_namespace=metric_namespace(self),
            metric_name=worker.load_metric,
            metric_value=f"$.{names.LOAD_LINE_PERCENT}",
            unit=cloudwatch.Unit.PERCENT,
        )
        self.load_metric = cloudwatch.Metric(
            namespace=metric_namespace(self),
            metric_name=worker.load_metric,
            statistic="Average",
            period=LOAD_PERIOD,
            unit=cloudwatch.Unit.PERCENT,
        )
        # Out quickly (a room that finds no worker with room waits for a task to boot), in slowly,
        # and never a busy task (task protection).
        scaling.scale_to_track_custom_metric(
            "Load",
            metric=self.load_metric,
            target_value=sizing.load_target_percent,
            scale_in_cooldown=Duration.minutes(5),
            scale_out_cooldown=Duration.minutes(1),
        )
        scaling.scale_on_cpu_utilization(
            "Cpu",
            target_utilization_percent=sizing.cpu_target_percent,
            scale_in_cooldown=Duration.minutes(5),
            scale_out_cooldown=Duration.minutes(1),
        )
