"""The whole Spaces stack: composes the constructs, wires grants and network paths, outputs.

Everything that differs between deployments arrives as `SpacesSettings` (built from CDK context in
app.py); nothing in here or in the constructs looks at environment names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Acknowledgment, Aws, CfnOutput, RemovalPolicy, Stack, Tags, Validations
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_logs as logs
from aws_cdk import aws_route53 as route53
from constructs import Construct, IConstruct

from contract import names, web_security
from infrastructure.constructs.agent_service import (
    COMPOSER,
    STAGE_AGENT,
    AgentService,
    AgentSizing,
    Worker,
    agent_image,
)
from infrastructure.constructs.broadcast_delivery import BroadcastDelivery, BroadcastSettings
from infrastructure.constructs.control_plane import AVATAR_ROUTE_KEY, ApiLimits, BroadcastLinks, ControlPlane
from infrastructure.constructs.identity import SesEmail, UserPoolIdentity
from infrastructure.constructs.livekit_fleet import FleetSizing, LiveKitFleet
from infrastructure.constructs.network import Network
from infrastructure.constructs.observability import (
    AlarmThresholds,
    Observability,
    WatchedDistribution,
    WatchedWorkers,
)
from infrastructure.constructs.reconcile_schedule import ReconcileSchedule
from infrastructure.constructs.redis import Redis, burstable_cache_node
from infrastructure.constructs.secrets import Secrets
from infrastructure.constructs.state import State
from infrastructure.constructs.web_site import WebHosting, WebSite


@dataclass(frozen=True, kw_only=True)
class ExternalOidc:
    issuer: str
    audience: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class HostedZoneRef:
    zone_id: str
    zone_name: str


@dataclass(frozen=True, kw_only=True)
class SpacesSettings:
    production: bool
    domain: str
    certificate_arn: str
    # TURN/TLS has its own name (clients are told `turns:<turn_domain>:443`) and certificate.
    turn_domain: str
    turn_certificate_arn: str
    livekit_api_key: str
    fleet: FleetSizing
    agents: AgentSizing
    api: ApiLimits
    redis_node_type: str
    # ElastiCache's weekly maintenance window, UTC ("sun:05:00-sun:06:00").
    redis_maintenance_window: str
    max_azs: int
    nat_gateways: int
    log_retention: logs.RetentionDays
    # None: a Cognito user pool is created and its tokens are accepted.
    oidc: ExternalOidc | None
    livekit_binary_sha256: str
    alarm_email: str | None
    alarms: AlarmThresholds
    broadcast: BroadcastSettings
    composers: AgentSizing
    # From this many listeners in one Space on, further listeners get the HLS broadcast.
    webrtc_listener_limit: int
    cors_origins: Sequence[str] = ()
    # Hosts the composer and the API's avatar proxy fetch pictures from (contract/avatar_fetch.py);
    # None: its defaults.
    avatar_hosts: Sequence[str] | None = None
    # Prefix of the user pool's Cognito domain (<prefix>.auth.<region>.amazoncognito.com), globally
    # unique per region. None: "<stack name>-<account id>".
    auth_domain_prefix: str | None = None
    # Every user of the Cognito pool enrols a TOTP app at first sign-in (managed login walks them
    # through it) and uses it each time. Chosen before the first deploy (docs/infrastructure.md).
    mfa_required: bool = False
    # False: the Cognito pool takes no sign-ups; administrators create the accounts.
    self_sign_up: bool = True
    # Set: only members of this user-pool group may create Spaces (the stack creates the group and
    # tells the control plane); None: anyone signed in may.
    host_group: str | None = None
    # Set: the Cognito pool sends its e-mail through SES; None: Cognito's own sender (~50 a day).
    sign_up_email: SesEmail | None = None
    # False only for an offline synth: the Lambda asset is then the bare source, not deployable.
    bundle_lambda: bool = True
    # Set: the stack writes the signalling and TURN records (alias A) into this zone.
    hosted_zone: HostedZoneRef | None = None
    # Where nodes download the livekit-server release archive (<url>/<version>/<archive>); None:
    # GitHub's releases. A mirror the operator controls removes GitHub from every node's boot.
    livekit_releases_url: str | None = None
    # The hardened livekit-server archive built here (scripts/build-livekit-archive.sh), shipped as
    # an asset; None: the nodes download the upstream release (livekit_releases_url).
    livekit_archive: Path | None = None
    # Set: the stack hosts the built page (web_site.py) and allows its origin besides cors_origins;
    # None: the page is served elsewhere (docs/web.md).
    web: WebHosting | None = None


LOCAL_WEB_ORIGIN = "http://localhost:5173"


def web_config(
    api_url: str, identity: UserPoolIdentity | None, avatar_url: str | None = None
) -> dict[str, object]:
    """What the page reads from config.json: the API, where pictures come from (the CDN's avatar
    proxy) and, with a user pool, where to sign in."""
    config: dict[str, object] = {"apiUrl": api_url}
    if avatar_url is not None:
        config["avatarUrl"] = avatar_url
    if identity is not None:
        config["cognito"] = {
            "region": identity.region,
            "clientId": identity.client.user_pool_client_id,
            "domain": identity.domain_name,
        }
    return config


def web_policy(api_url: str, fleet: LiveKitFleet, cdn_origin: str, identity: UserPoolIdentity | None) -> str:
    """The page's Content-Security-Policy with this stack's origins (contract/web_security.py): the
    API, the SFU's signalling, the CDN (broadcast and avatars) and, with a user pool, its sign-in
    and the regional API the page renews its session at."""
    sign_in = (
        [f"https://{identity.domain_name}", web_security.cognito_api_origin(identity.region)]
        if identity is not None
        else []
    )
    return web_security.content_security_policy(
        connect=[api_url, fleet.url, fleet.api_url, cdn_origin, *sign_in],
        media=[cdn_origin],
        images=[cdn_origin],
    )


class SpacesStack(Stack):
    def __init__(self, scope: Construct, id_: str, *, settings: SpacesSettings, **kwargs: object) -> None:
        super().__init__(scope, id_, **kwargs)  # type: ignore[arg-type]
        keep = RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE if settings.production else RemovalPolicy.DESTROY

        network = Network(
            self,
            "Network",
            max_azs=settings.max_azs,
            nat_gateways=settings.nat_gateways,
            flow_log_retention=settings.log_retention,
        )
        secrets = Secrets(self, "Secrets", api_key=settings.livekit_api_key, removal_policy=keep)
        state = State(self, "State", production=settings.production)
        redis = Redis(
            self,
            "Redis",
            vpc=network.vpc,
            subnets=network.isolated_subnets,
            auth_token=secrets.redis_auth,
            node_type=settings.redis_node_type,
            maintenance_window=settings.redis_maintenance_window,
        )

        zone = (
            route53.HostedZone.from_hosted_zone_attributes(
                self,
                "Zone",
                hosted_zone_id=settings.hosted_zone.zone_id,
                zone_name=settings.hosted_zone.zone_name,
            )
            if settings.hosted_zone
            else None
        )
        # The page this stack hosts, if any: its origin is allowed wherever cors_origins are.
        site = WebSite(self, "Web", settings=settings.web, hosted_zone=zone) if settings.web else None
        web_origins = tuple(dict.fromkeys((*settings.cors_origins, *((site.origin,) if site else ()))))

        identity: UserPoolIdentity | None = None
        if settings.oidc is None:
            identity = UserPoolIdentity(
                self,
                "Identity",
                removal_policy=keep,
                mfa_required=settings.mfa_required,
                self_sign_up=settings.self_sign_up,
                host_group=settings.host_group,
                ses=settings.sign_up_email,
                domain_prefix=settings.auth_domain_prefix or f"{self.stack_name.lower()}-{Aws.ACCOUNT_ID}",
                # The page's origins are the ones the API lets call it; without any (offline synth, a
                # first deploy) the Vite dev server, the only http origin Cognito accepts being localhost.
                web_origins=web_origins or (LOCAL_WEB_ORIGIN,),
            )
            issuer, audience = identity.issuer, identity.audience
        else:
            issuer, audience = settings.oidc.issuer, list(settings.oidc.audience)

        broadcast = BroadcastDelivery(
            self,
            "Broadcast",
            settings=settings.broadcast,
            cors_origins=web_origins,
            hosted_zone=zone,
        )
        control_plane = ControlPlane(
            self,
            "ControlPlane",
            table=state.table,
            livekit_secret=secrets.livekit,
            livekit_api_url=f"https://{settings.domain}",
            livekit_public_url=f"wss://{settings.domain}",
            jwt_issuer=issuer,
            jwt_audience=audience,
            limits=settings.api,
            log_retention=settings.log_retention,
            broadcast=BroadcastLinks(
                base_url=broadcast.base_url,
                webrtc_listener_limit=settings.webrtc_listener_limit,
                recording_retention_days=settings.broadcast.retention_days,
            ),
            cors_origins=web_origins,
            avatar_hosts=settings.avatar_hosts,
            host_group=settings.host_group,
            bundle=settings.bundle_lambda,
        )
        avatar_url = broadcast.serve_avatars(control_plane.api)
        self.reconciler = ReconcileSchedule(
            self,
            "Reconciler",
            code=control_plane.code,
            environment=control_plane.environment,
            table=state.table,
            livekit_secret=secrets.livekit,
            log_retention=settings.log_retention,
        )
        fleet = LiveKitFleet(
            self,
            "LiveKit",
            vpc=network.vpc,
            subnets=network.public_subnets,
            sizing=settings.fleet,
            domain=settings.domain,
            certificate_arn=settings.certificate_arn,
            turn_domain=settings.turn_domain,
            turn_certificate_arn=settings.turn_certificate_arn,
            livekit_secret=secrets.livekit,
            redis_auth_secret=secrets.redis_auth,
            redis_address=redis.address,
            webhook_url=control_plane.webhook_url,
            binary_sha256=settings.livekit_binary_sha256,
            releases_url=settings.livekit_releases_url,
            archive=settings.livekit_archive,
            log_retention=settings.log_retention,
            hosted_zone=zone,
        )
        redis.allow_from(fleet.security_group)

        # The LiveKit workers: one cluster, one image, two services (agent_service.py).
        cluster = ecs.Cluster(
            self, "AgentCluster", vpc=network.vpc, container_insights_v2=ecs.ContainerInsights.ENABLED
        )
        image = agent_image(self, "AgentImage", arm64=settings.agents.arm64)

        def workers(id_: str, worker: Worker, sizing: AgentSizing, **environment: str) -> AgentService:
            return AgentService(
                self,
                id_,
                worker=worker,
                sizing=sizing,
                environment=environment,
                cluster=cluster,
                image=image,
                subnets=network.private_subnets,
                egress_ready=network.private_egress,
                livekit_url=fleet.url,
                livekit_secret=secrets.livekit,
                log_retention=settings.log_retention,
            )

        agents = workers("MediaAgents", STAGE_AGENT, settings.agents)
        composers = workers(
            "Composers",
            COMPOSER,
            settings.composers,
            **{
                names.ENV_BROADCAST_BUCKET: broadcast.bucket.bucket_name,
                names.ENV_BROADCAST_PREFIX: broadcast.prefix,
                **(
                    {}
                    if settings.avatar_hosts is None
                    else {names.ENV_AVATAR_HOSTS: ",".join(settings.avatar_hosts)}
                ),
            },
        )
        # Logs outlive a production stack like its table: API access logs, flow logs and the
        # functions', workers' and SFU nodes' logs are an incident's evidence; a first deploy that
        # rolls back still removes them (and a throwaway stack deletes them with it).
        for log_group in (
            network.flow_log_group,
            fleet.log_group,
            control_plane.log_group,
            control_plane.access_log_group,
            self.reconciler.log_group,
            agents.log_group,
            composers.log_group,
        ):
            log_group.apply_removal_policy(keep)
        broadcast.grant_composer(composers.task_definition.task_role)
        observability = Observability(
            self,
            "Observability",
            api=control_plane.api,
            function=control_plane.function,
            reconciler=self.reconciler.function,
            reconciler_logs=self.reconciler.log_group,
            api_access_logs=control_plane.access_log_group,
            avatar_route_key=AVATAR_ROUTE_KEY,
            table=state.table,
            sfu_group=fleet.group,
            sfu_target_groups=[fleet.signalling_targets, fleet.turn_targets],
            redis_clusters=redis.cluster_ids,
            redis_burstable=burstable_cache_node(settings.redis_node_type),
            workers=[
                WatchedWorkers(
                    "Agent",
                    "Media agents",
                    agents.service,
                    agents.log_group,
                    STAGE_AGENT.load_metric,
                    settings.alarms.agent_errors_per_5min,
                    settings.agents.max_tasks,
                    settings.agents.min_tasks,
                ),
                WatchedWorkers(
                    "Composer",
                    "Broadcast composers",
                    composers.service,
                    composers.log_group,
                    COMPOSER.load_metric,
                    settings.alarms.composer_errors_per_5min,
                    settings.composers.max_tasks,
                    settings.composers.min_tasks,
                ),
            ],
            distributions=[
                WatchedDistribution(
                    name="Broadcast",
                    title="broadcast CDN",
                    distribution=broadcast.distribution,
                    five_xx_percent=settings.alarms.broadcast_cdn_5xx_percent,
                    consequence="HLS players retry, then stall, and replays fail (S3); avatars show as "
                    "initials (the API's avatar proxy)",
                ),
                *(
                    [
                        WatchedDistribution(
                            name="Web",
                            title="web page's CDN",
                            distribution=site.distribution,
                            five_xx_percent=settings.alarms.web_cdn_5xx_percent,
                            consequence="the page does not load for new visitors (S3)",
                        )
                    ]
                    if site
                    else []
                ),
            ],
            thresholds=settings.alarms,
            alarm_email=settings.alarm_email,
            removal_policy=keep,
        )

        config = web_config(control_plane.url, identity, avatar_url)
        policy = web_policy(control_plane.url, fleet, f"https://{broadcast.domain_name}", identity)
        if site is not None:
            site.publish(config=config, policy=policy, after=(control_plane.alias,))
            CfnOutput(self, names.OUTPUT_WEB_URL, value=site.url, description="The web page")
            if settings.web and settings.web.domain:
                CfnOutput(
                    self,
                    "WebCdnDomainName",
                    value=site.distribution.distribution_domain_name,
                    description=f"Point {settings.web.domain} (CNAME/alias) here",
                )
        CfnOutput(self, names.OUTPUT_API_URL, value=control_plane.url)
        CfnOutput(self, names.OUTPUT_LIVEKIT_URL, value=fleet.url)
        CfnOutput(self, names.OUTPUT_TABLE_NAME, value=state.table.table_name)
        CfnOutput(self, names.OUTPUT_DASHBOARD, value=observability.dashboard.dashboard_name)
        CfnOutput(self, names.OUTPUT_BROADCAST_URL, value=broadcast.base_url)
        CfnOutput(
            self,
            names.OUTPUT_WEB_CONFIG,
            value=self.to_json_string(config),
            description="The web page's config.json (docs/web.md)",
        )
        CfnOutput(
            self,
            names.OUTPUT_WEB_POLICY,
            value=policy,
            description="The web page's Content-Security-Policy header, for its CDN (docs/web.md)",
        )
        if settings.broadcast.domain:
            CfnOutput(
                self,
                "BroadcastCdnDomainName",
                value=broadcast.distribution.distribution_domain_name,
                description=f"Point {settings.broadcast.domain} (CNAME/alias) here",
            )
        CfnOutput(
            self,
            "LoadBalancerDnsName",
            value=fleet.load_balancer.load_balancer_dns_name,
            description=f"Point {settings.domain} (CNAME/alias) here",
        )
        CfnOutput(
            self,
            "TurnLoadBalancerDnsName",
            value=fleet.turn_load_balancer.load_balancer_dns_name,
            description=f"Point {settings.turn_domain} (CNAME/alias) here",
        )
        Tags.of(self).add("project", "spaces")

        _acknowledge_nag_findings(self, identity, secrets, state, control_plane, fleet)
        _acknowledge_worker_findings(self, cluster, {"media agent": agents, "composer": composers})
        _acknowledge_broadcast_findings(
            self, broadcast, composers, custom_domain=bool(settings.broadcast.domain)
        )
        if site is not None:
            _acknowledge_web_findings(self, site, custom_domain=bool(settings.web and settings.web.domain))


def _ack(scope: IConstruct, rule: str, reason: str) -> None:
    """Accept a cdk-nag finding on `scope`, with why."""
    Validations.of(scope).acknowledge(Acknowledgment(id=rule, reason=reason))


def _acknowledge_nag_findings(
    stack: Stack,
    identity: UserPoolIdentity | None,
    secrets: Secrets,
    state: State,
    control_plane: ControlPlane,
    fleet: LiveKitFleet,
) -> None:
    """Every cdk-nag finding we accept, next to why it is right for this stack."""

    def ref(construct: Construct) -> str:
        # cdk-nag names resources in a finding by logical id; resolve it rather than pin a hash.
        return str(stack.resolve(stack.get_logical_id(construct.node.default_child)))  # type: ignore[arg-type]

    _ack(
        secrets.livekit,
        "AwsSolutions-SMG4",
        "LiveKit key rotation needs the SFU fleet, the control plane and the workers to change keys in "
        "step (each holds one key pair), so it is done when no Space is live, as docs/infrastructure.md "
        "describes; a rotation Lambda cannot do it",
    )
    _ack(
        secrets.redis_auth,
        "AwsSolutions-SMG4",
        "The Redis AUTH token is rotated with ElastiCache's AUTH token rotation: ROTATE (old and new both "
        "valid), update the secret, refresh the SFU instances (a node reads the token only at boot, "
        "fill_config.py), then SET; a rotation Lambda could not restart the nodes. Documented in "
        "docs/infrastructure.md",
    )
    if identity is not None and not identity.mfa_required:
        _ack(
            identity.user_pool,
            "AwsSolutions-COG2",
            "MFA is not required by default, and users are offered no way to set it up (managed login "
            "enrols a TOTP app only when MFA is required, and the web client has no enrolment page): "
            "listeners of a public audio Space sign in from phones and the account holds no payment "
            "data. A deployment that wants MFA sets context mfa_required=true before its first "
            "deploy, and every user then enrols at first sign-in (docs/infrastructure.md)",
        )

    reconciler: ReconcileSchedule = stack.reconciler  # type: ignore[attr-defined]
    _ack(
        reconciler.schedule_role,
        f"AwsSolutions-IAM5[Resource::<{ref(reconciler.function)}.Arn>:*]",
        "The scheduler may only call lambda:InvokeFunction on the reconciler function; the :* suffix is "
        "that one function's versions and aliases (CDK's LambdaInvoke target grants both forms)",
    )
    _ack(
        control_plane.api,
        "AwsSolutions-APIG4",
        "POST /livekit/webhook is called by the LiveKit SFU, not a user: the app verifies the webhook's "
        "signature (livekit WebhookReceiver over the raw body) instead of a JWT; GET /healthz serves health "
        "probes and answers liveness only; GET /avatars serves pictures to <img> tags, which cannot send a "
        "token: it fetches only from the allow-listed avatar hosts and answers re-encoded pictures, behind "
        "the CDN's cache; every other route has the JWT authorizer",
    )
    _ack(
        control_plane.function,
        "AwsSolutions-L1",
        f"The Lambda runs Python {names.LAMBDA_PYTHON}, the newest CPython the project's machines can run "
        "its tests on (`make test-lambda-python`); a runtime no test ran is not deployed. Raise "
        "names.LAMBDA_PYTHON when CI can test a newer one",
    )
    _ack(
        stack.reconciler.function,  # type: ignore[attr-defined]
        "AwsSolutions-L1",
        f"The reconciler is the control plane's code (another entry point), so it runs the same tested "
        f"Python {names.LAMBDA_PYTHON} as the API function",
    )

    _ack(
        fleet.security_group,
        "AwsSolutions-EC23",
        "SFU nodes must accept WebRTC from any client: 7881/tcp, UDP 50000-60000, TURN 3478/udp and the "
        "TURN relay ports 30000-40000/udp (the SFU reaches relays by public IP; TURN permissions admit "
        "only authenticated clients' peers); signalling (7880) and TURN/TLS (5349) are open only to "
        "their load balancers' security groups",
    )
    _ack(
        fleet.load_balancer_security_group,
        "AwsSolutions-EC23",
        "The load balancer is the public wss:// signalling endpoint (443) for any client",
    )
    _ack(
        fleet.turn_load_balancer_security_group,
        "AwsSolutions-EC23",
        "The TURN load balancer is the public TURN/TLS endpoint (443 of the TURN domain) for clients that "
        "can only leave their network on 443",
    )
    session_manager = fleet.node.find_child("SessionManager")
    _ack(
        session_manager,
        "AwsSolutions-IAM5[Resource::*]",
        "SSM Session Manager is the only operator access to SFU nodes (no SSH, no key pair): the agent's "
        "four ssmmessages channel actions have no resource type, so they cannot name one",
    )
    _ack(
        session_manager,
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:instance/*]",
        "ssm:UpdateInstanceInformation is how a node's SSM agent registers; the nodes' instance ids are "
        "not known until launch, so the action names this account's instances in this region",
    )
    _ack(
        fleet.node.find_child("CompleteDrain"),
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:autoscaling:<AWS::Region>:<AWS::AccountId>:"
        f"autoScalingGroup:*:autoScalingGroupName/{fleet.group_name}]",
        "The wildcard is the group's generated UUID; the ARN names this stack's SFU group. Two actions: "
        "CompleteLifecycleAction (a node ends its drain, livekit-drain.sh) and SetInstanceProtection (a node "
        "protects itself from scale-in while it holds a room, livekit-protect.sh). Both reach every "
        "instance of the group, not only the caller's own: the group is their only resource type and "
        "Auto Scaling has no condition key naming the instance, so IAM cannot narrow them further",
    )
    _ack(
        fleet.group,
        "AwsSolutions-AS3",
        "Scaling is watched through the SFU node-count and CPU alarms on the Spaces alarm topic; per-event "
        "notifications would page on every normal scale-out",
    )
    _ack(
        fleet.load_balancer,
        "AwsSolutions-ELB2",
        "A TLS network load balancer in front of long-lived WebSockets: access logs would hold one line per "
        "session and no request data. LiveKit logs every join and leave, and each node's CloudWatch agent "
        f"ships those logs to the SFU nodes' log group {ref(fleet.log_group)} (the stream "
        "'<instance id>/livekit' of each node, kept as long as the stack's other logs); the control "
        "plane also receives them as webhooks",
    )
    _ack(
        fleet.turn_load_balancer,
        "AwsSolutions-ELB2",
        "A TLS network load balancer in front of long-lived TURN/TLS relays: access logs would hold one line "
        "per relay session and no request data; TURN allocations are authenticated by LiveKit itself",
    )


def _acknowledge_worker_findings(
    stack: Stack, cluster: ecs.Cluster, services: dict[str, AgentService]
) -> None:
    """The findings both worker services share (agent_service.py), each with why."""

    cluster_ref = str(stack.resolve(stack.get_logical_id(cluster.node.default_child)))  # type: ignore[arg-type]
    for what, service in services.items():
        task = service.task_definition
        _ack(
            task,
            "AwsSolutions-ECS2",
            f"Only non-secret settings are plain environment variables for the {what} (mode, LiveKit URL, "
            "load metric name, and for the composer the bucket name and prefix); the LiveKit API key and "
            "secret are ECS secrets from Secrets Manager",
        )
        _ack(
            task.node.find_child("TaskRole").node.find_child("DefaultPolicy"),
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ecs:<AWS::Region>:<AWS::AccountId>:task/"
            f"<{cluster_ref}>/*]",
            f"Task scale-in protection and the deployment check: a {what} protects itself while it has "
            "jobs and describes itself to find its service; the ARN is limited to tasks of this stack's "
            "worker cluster (a task cannot know its own ARN at synth time)",
        )
        _ack(
            task.node.find_child("TaskRole").node.find_child("DefaultPolicy"),
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ecs:<AWS::Region>:<AWS::AccountId>:service/"
            f"<{cluster_ref}>/*]",
            f"Deployment check: a {what} reads its own service's deployments (ecs:DescribeServices, "
            "read-only) to stop taking jobs once a newer deployment runs; the ARN is limited to services of "
            "this stack's worker cluster, whose names CloudFormation generates",
        )
        _ack(
            task.obtain_execution_role().node.find_child("DefaultPolicy"),
            "AwsSolutions-IAM5[Resource::*]",
            "ecr:GetAuthorizationToken has no resource-level permissions; the image pull itself is limited "
            "to the CDK bootstrap's container-assets repository of this account and region "
            "(cdk-hnb659fds-container-assets-*), which every CDK stack deployed here shares: ECR grants "
            "per repository, not per image, so the role could pull those stacks' image assets too",
        )


def _acknowledge_broadcast_findings(
    stack: Stack, broadcast: BroadcastDelivery, composers: AgentService, *, custom_domain: bool
) -> None:
    """The broadcast tier's accepted cdk-nag findings, each with why."""

    def ref(construct: IConstruct, attribute: str | None = None) -> str:
        logical_id = str(stack.resolve(stack.get_logical_id(construct.node.default_child)))  # type: ignore[arg-type]
        return f"<{logical_id}.{attribute}>" if attribute else f"<{logical_id}>"

    if not custom_domain:
        _ack(
            broadcast.distribution,
            "AwsSolutions-CFR4",
            "Without a broadcast_domain the distribution serves on *.cloudfront.net with CloudFront's "
            "default certificate, whose security policy AWS fixes (TLSv1); with a domain and its us-east-1 "
            "certificate the distribution requires TLSv1.2_2021. HTTPS only either way",
        )
    _ack(
        broadcast.distribution,
        "AwsSolutions-CFR1",
        "Spaces are public and global like the rest of the app; no market is excluded, so no geo "
        "restriction. A deployment with licensing limits sets one on the distribution",
    )
    _ack(
        broadcast.distribution,
        "AwsSolutions-CFR2",
        "The default origin is a private bucket of public, immutable-by-name objects reachable only "
        "through GET/HEAD; WAF would bill every request (100k listeners make ~283k requests/s, about "
        "610 USD per hour in WAF request fees; bench/broadcast/cost.py) and a rate rule would block "
        "listeners behind a shared NAT. The /avatars behaviour goes to the API's avatar proxy, whose "
        "cache key is the picture URL: varying it misses the cache, and the route's own throttle "
        "(50 requests/s, burst 100) bounds what that costs; past it faces show as initials, nothing "
        "else is touched. CloudFront's built-in Shield Standard covers the network layer",
    )
    task_policy = composers.task_definition.node.find_child("TaskRole").node.find_child("DefaultPolicy")
    _ack(
        task_policy,
        f"AwsSolutions-IAM5[Resource::{ref(broadcast.bucket, 'Arn')}/{broadcast.prefix}*]",
        "The composer writes and reads back objects under the broadcasts prefix only (one folder per "
        "Space, named at run time); nothing else in the bucket, no delete",
    )


def _acknowledge_web_findings(stack: Stack, site: WebSite, *, custom_domain: bool) -> None:
    """The hosted page's accepted cdk-nag findings, each with why."""

    if not custom_domain:
        _ack(
            site.distribution,
            "AwsSolutions-CFR4",
            "Without a web_domain the page is served on *.cloudfront.net with CloudFront's default "
            "certificate, whose security policy AWS fixes (TLSv1); with a domain and its us-east-1 "
            "certificate the distribution requires TLSv1.2_2021. Plain http is redirected to https",
        )
    _ack(
        site.distribution,
        "AwsSolutions-CFR1",
        "The page is public and global like the Spaces it shows; no market is excluded, so no geo "
        "restriction. A deployment with licensing limits sets one on the distribution",
    )
    _ack(
        site.distribution,
        "AwsSolutions-CFR2",
        "The distribution serves a private bucket of static files (the page, its config and "
        "content-hashed assets) to GET/HEAD only, nearly all from the edge's cache; there is nothing "
        "to inject into and nothing a request changes. WAF would bill every page load. The API behind "
        "the page has its own throttles. CloudFront's built-in Shield Standard covers the network layer",
    )
    # CDK's grants to the deployment handler (aws-s3-deployment): read the build's zip from the CDK
    # asset bucket, and read, write and delete in the page's bucket.
    grants = [
        "Action::s3:GetObject*",
        "Action::s3:GetBucket*",
        "Action::s3:List*",
        "Action::s3:DeleteObject*",
        "Action::s3:Abort*",
        "Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-<AWS::Region>/*",
        f"Resource::<{stack.resolve(stack.get_logical_id(site.bucket.node.default_child))}.Arn>/*",  # type: ignore[arg-type]
    ]
    for grant in grants:
        _ack(
            site.deployment_role,
            f"AwsSolutions-IAM5[{grant}]",
            "CDK's BucketDeployment grants its handler these on two buckets only: read of the CDK "
            "asset bucket (where the build's zip is staged; its keys are content hashes chosen at "
            "synth) and read/write/delete of the page's own bucket (the copy replaces files; nothing "
            "else is stored there). The role is the stack's own, with no managed policy, and the "
            "handler runs only during a deploy",
        )
    handlers = [c for c in stack.node.children if c.node.id.startswith("Custom::CDKBucketDeployment")]
    for handler in handlers:
        _ack(
            handler,
            "AwsSolutions-L1",
            "CDK's BucketDeployment handler (a Python Lambda with the AWS CLI layer): aws-cdk-lib sets its "
            "runtime and moves it with the library; it runs only while a deploy copies the page",
        )
