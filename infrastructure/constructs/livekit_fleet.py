"""The LiveKit SFU fleet: an Auto Scaling group of EC2 nodes behind a TLS network load balancer.

Each node runs the pinned livekit-server natively (host networking: WebRTC needs the node's own
public IP and port range, no NAT or overlay in between). Its livekit.yaml is rendered at synth time
by contract.livekit_config, the same code that renders the local one, with placeholders for the
secrets; the node fills them from Secrets Manager at boot, so no secret is in the template.

Scale-in picks an empty node: each node protects itself from scale-in while it holds a room
(livekit-protect.sh). A node terminated anyway (every node busy, an instance refresh) drains: a
lifecycle hook holds it while LiveKit, on SIGTERM, refuses new rooms and waits for its rooms to
empty; systemd kills it after `drain` at the latest.

TURN has its own name and load balancer: livekit-server tells clients `turns:<turn domain>:443`
whatever its TLS port is, so the TURN domain's 443 must reach the nodes' TURN port (a second TLS
listener on 443 cannot share the signalling load balancer, whose 443 goes to 7880).

The nodes run the hardened build of livekit-server (scripts/livekit_hardening.py) when the stack is
given its archive (`archive`, built by scripts/build-livekit-archive.sh): it is an asset of the stack,
copied from S3 at boot. Otherwise they download the upstream release archive, whose simulate, WHIP
and `publish=<x>` endpoints join tokens reach (docs/infrastructure.md, "The SFU binary").

The node's boot is the folder infrastructure/node/ (shellchecked and run in the tests); the user data
only writes that folder onto the node with the settings in the environment and runs boot.sh.

Each node ships its boot's output and its LiveKit units' journal to a log group of the fleet (the
CloudWatch agent, installed at boot), one pair of streams per instance: a node that failed to boot,
crashed or was scaled in leaves its logs behind when it is terminated.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_route53_targets as route53_targets
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from contract import livekit_config, names
from contract.livekit_config import RedisSettings

# Filled on the node at boot from Secrets Manager (see _FILL_CONFIG); never real values.
API_KEY_PLACEHOLDER = "__LIVEKIT_API_KEY__"
API_SECRET_PLACEHOLDER = "__LIVEKIT_API_SECRET__"
REDIS_PASSWORD_PLACEHOLDER = "__REDIS_AUTH_TOKEN__"

SIGNAL_PORT = 7880
# NLB target group attributes: reset a target's connections once its health check fails (default
# true); with that off, how long a target that stays unhealthy keeps them (default 0).
UNHEALTHY_CONNECTION_TERMINATION = "target_health_state.unhealthy.connection_termination.enabled"
UNHEALTHY_DRAINING_SECONDS = "target_health_state.unhealthy.draining_interval_seconds"
# Longer than a Redis failover or a maintenance window's restart (minutes at worst); a node unready
# for longer than this is broken, and its clients are better off reconnecting elsewhere.
UNREADY_KEEPS_CONNECTIONS = Duration.minutes(10)
RTC_TCP_PORT = 7881
RTC_PORT_RANGE = (50000, 60000)
TURN_UDP_PORT = 3478
TURN_TLS_PORT = 5349
# UDP ports TURN relays from (the SFU, on another node's public IP or its own, sends media to them).
TURN_RELAY_RANGE = (30000, 40000)
HTTPS_PORT = 443
# livekit-server's Prometheus metrics; the node reads its own room count there (livekit-protect.sh).
# Not in any security group rule: nothing outside the node reads it.
METRICS_PORT = 6789
NODE_FILES = Path(__file__).resolve().parent.parent / "node"
# Where the user data writes NODE_FILES on the node.
NODE_DIR = "/opt/spaces-node"
NODE_FILE_SUFFIXES = (".sh", ".py", ".service", ".conf", ".json")
# Written onto the node without their comment lines: EC2 takes at most 16 KB of user data, and the
# comments are for the repo's readers. Shell, systemd, sysctl and logrotate files all comment with
# a whole line that starts with #; none of the scripts has a multi-line string or heredoc.
UNCOMMENTED_SUFFIXES = (".sh", ".service", ".conf")
LIFECYCLE_HOOK_NAME = "livekit-drain"
# Heartbeat slack on top of the drain: stopping the unit and completing the hook take seconds.
LIFECYCLE_SLACK = Duration.minutes(2)
# The lifecycle hook's heartbeat cannot exceed 7200 s.
MAX_DRAIN_SECONDS = 7200 - 120


@dataclass(frozen=True, kw_only=True)
class FleetSizing:
    instance_type: ec2.InstanceType
    cpu_type: ec2.AmazonLinuxCpuType
    min_capacity: int
    max_capacity: int
    # Target average CPU of the group; LiveKit's own load limit is CPU, so this is the signal.
    cpu_target_percent: int
    # How long a node scaled in may keep serving its rooms before it is killed.
    drain: Duration


def render_node_config(*, webhook_url: str, turn_domain: str, redis_address: str) -> str:
    """The fleet's livekit.yaml with placeholders for the secrets (safe to embed in user data)."""
    config = livekit_config.fleet_config(
        api_key=API_KEY_PLACEHOLDER,
        api_secret=API_SECRET_PLACEHOLDER,
        redis=RedisSettings(address=redis_address, password=REDIS_PASSWORD_PLACEHOLDER, use_tls=True),
        webhook_url=webhook_url,
        turn_domain=turn_domain,
        port=SIGNAL_PORT,
        rtc_tcp_port=RTC_TCP_PORT,
        rtc_port_range=RTC_PORT_RANGE,
        turn_udp_port=TURN_UDP_PORT,
        turn_tls_port=TURN_TLS_PORT,
        turn_relay_range=TURN_RELAY_RANGE,
        use_external_ip=True,
        metrics_port=METRICS_PORT,
    )
    return livekit_config.render_yaml(config)


class LiveKitFleet(Construct):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        sizing: FleetSizing,
        domain: str,
        certificate_arn: str,
        turn_domain: str,
        turn_certificate_arn: str,
        livekit_secret: secretsmanager.ISecret,
        redis_auth_secret: secretsmanager.ISecret,
        redis_address: str,
        webhook_url: str,
        binary_sha256: str,
        releases_url: str | None = None,
        archive: Path | None = None,
        log_retention: logs.RetentionDays,
        hosted_zone: route53.IHostedZone | None = None,
    ) -> None:
        super().__init__(scope, id_)
        drain_seconds = int(sizing.drain.to_seconds())
        if not 0 < drain_seconds <= MAX_DRAIN_SECONDS:
            raise ValueError(
                f"drain must be 1..{MAX_DRAIN_SECONDS} s (lifecycle hook limit), got {drain_seconds}"
            )
        if turn_domain == domain:
            raise ValueError(
                f"turn_domain must differ from domain ({domain}): clients reach TURN/TLS at "
                "<turn_domain>:443, and the signalling domain's 443 goes to the signalling port"
            )
        if not re.fullmatch(r"[0-9a-f]{64}", binary_sha256):
            raise ValueError(
                "binary_sha256 must be the SHA-256 (64 lowercase hex digits) of the livekit-server "
                f"release archive the nodes download, got {binary_sha256!r}"
            )
        arch = "arm64" if sizing.cpu_type == ec2.AmazonLinuxCpuType.ARM_64 else "amd64"
        if archive is not None and archive.name != release_archive_name(arch):
            raise ValueError(
                f"archive must be the {arch} build of livekit-server {names.LIVEKIT_VERSION} "
                f"({release_archive_name(arch)}: scripts/build-livekit-archive.sh {arch}), got {archive.name}"
            )
        self.domain = domain
        self.turn_domain = turn_domain
        self.url = f"wss://{domain}"
        self.api_url = f"https://{domain}"
        # Named so that the node can complete its own lifecycle action without a describe call.
        self.group_name = f"{Stack.of(self).stack_name}-livekit"

        self.load_balancer_security_group = ec2.SecurityGroup(
            self,
            "LoadBalancerSecurityGroup",
            vpc=vpc,
            allow_all_outbound=False,
            description="LiveKit signalling (wss), terminated by the load balancer",
        )
        self.turn_load_balancer_security_group = ec2.SecurityGroup(
            self,
            "TurnLoadBalancerSecurityGroup",
            vpc=vpc,
            allow_all_outbound=False,
            description="LiveKit TURN/TLS on 443 of the TURN domain, terminated by its load balancer",
        )
        self.security_group = ec2.SecurityGroup(
            self,
            "NodeSecurityGroup",
            vpc=vpc,
            allow_all_outbound=True,
            description="LiveKit SFU nodes: WebRTC media and TURN from anywhere, signalling only via the LB",
        )

        self.role = iam.Role(
            self,
            "NodeRole",
            assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
            description=(
                "LiveKit SFU node: read its two secrets and server archive, SSM sessions, protect itself "
                "from scale-in, complete its drain, ship its logs"
            ),
        )
        # Session Manager, the only operator access (no SSH): what its agent needs to register and
        # open sessions, and nothing more. AmazonSSMManagedInstanceCore would also let a node that
        # parses untrusted media read every Parameter Store value in the region.
        iam.Policy(
            self,
            "SessionManager",
            roles=[self.role],
            statements=[
                iam.PolicyStatement(
                    actions=["ssm:UpdateInstanceInformation"],
                    resources=[
                        Stack.of(self).format_arn(service="ec2", resource="instance", resource_name="*")
                    ],
                ),
                iam.PolicyStatement(
                    actions=[
                        "ssmmessages:CreateControlChannel",
                        "ssmmessages:CreateDataChannel",
                        "ssmmessages:OpenControlChannel",
                        "ssmmessages:OpenDataChannel",
                    ],
                    resources=["*"],  # these actions have no resource type
                ),
            ],
        )
        livekit_secret.grant_read(self.role)
        redis_auth_secret.grant_read(self.role)
        # The nodes' logs (boot.sh ship_logs): the node writes streams of this group and does nothing
        # else in CloudWatch Logs (no CreateLogGroup: the stack owns the group and its retention). The
        # group's ARN attribute ends in `:*`, which is this group's streams and no other group's (a
        # group name cannot hold a colon). In the role's default policy, which the launch template
        # waits for, so that a node's first lines are not refused on the stack's first deploy.
        self.log_group = logs.LogGroup(
            self, "NodeLogs", retention=log_retention, removal_policy=RemovalPolicy.DESTROY
        )
        self.log_group.grant_write(self.role)
        source: dict[str, str] = {}
        if archive is not None:
            self.archive: s3_assets.Asset | None = s3_assets.Asset(self, "ServerArchive", path=str(archive))
            # That one object of the bootstrap bucket (`grant_read` would give the whole bucket: every
            # asset of every stack in the account and region, to an internet-facing node).
            self.role.add_to_policy(
                iam.PolicyStatement(
                    actions=["s3:GetObject"],
                    resources=[self.archive.bucket.arn_for_objects(self.archive.s3_object_key)],
                )
            )
            source["LIVEKIT_ARCHIVE_S3"] = self.archive.s3_object_url
        else:
            self.archive = None
            if releases_url:
                source["LIVEKIT_RELEASES"] = releases_url.rstrip("/")
        # Not the role's default policy: that one is a dependency of the group, this one names it.
        # The node completes its own drain and sets its own scale-in protection (livekit-protect.sh).
        # IAM can only name the group (Auto Scaling has no condition key for the instance), so the
        # role may do both to any instance of this group, and to no other group.
        iam.Policy(
            self,
            "CompleteDrain",
            roles=[self.role],
            statements=[
                iam.PolicyStatement(
                    actions=["autoscaling:CompleteLifecycleAction", "autoscaling:SetInstanceProtection"],
                    resources=[
                        Stack.of(self).format_arn(
                            service="autoscaling",
                            resource="autoScalingGroup",
                            resource_name=f"*:autoScalingGroupName/{self.group_name}",
                            arn_format=ArnFormat.COLON_RESOURCE_NAME,
                        )
                    ],
                )
            ],
        )

        self.config_template = render_node_config(
            webhook_url=webhook_url, turn_domain=turn_domain, redis_address=redis_address
        )
        self.user_data = ec2.UserData.for_linux()
        self.user_data.add_commands(
            node_user_data(
                config_template=self.config_template,
                settings={
                    "LIVEKIT_VERSION": names.LIVEKIT_VERSION,
                    "LIVEKIT_ARCH": arch,
                    "LIVEKIT_SHA256": binary_sha256,
                    **source,
                    "AWS_REGION": Stack.of(self).region,
                    "LOG_GROUP": self.log_group.log_group_name,
                    "LIVEKIT_SECRET_ARN": livekit_secret.secret_arn,
                    "REDIS_SECRET_ARN": redis_auth_secret.secret_arn,
                    "PLACEHOLDER_API_KEY": API_KEY_PLACEHOLDER,
                    "PLACEHOLDER_API_SECRET": API_SECRET_PLACEHOLDER,
                    "PLACEHOLDER_REDIS_PASSWORD": REDIS_PASSWORD_PLACEHOLDER,
                    "SECRET_FIELD_API_KEY": names.SECRET_FIELD_API_KEY,
                    "SECRET_FIELD_API_SECRET": names.SECRET_FIELD_API_SECRET,
                    "DRAIN_SECONDS": str(drain_seconds),
                    "GROUP_NAME": self.group_name,
                    "HOOK_NAME": LIFECYCLE_HOOK_NAME,
                    "METRICS_PORT": str(METRICS_PORT),
                },
            )
        )

        self.launch_template = ec2.LaunchTemplate(
            self,
            "LaunchTemplate",
            instance_type=sizing.instance_type,
            machine_image=ec2.MachineImage.latest_amazon_linux2023(cpu_type=sizing.cpu_type),
            role=self.role,
            security_group=self.security_group,
            user_data=self.user_data,
            associate_public_ip_address=True,
            require_imdsv2=True,
            detailed_monitoring=True,
            block_devices=[
                ec2.BlockDevice(
                    device_name="/dev/xvda",
                    volume=ec2.BlockDeviceVolume.ebs(
                        20, encrypted=True, volume_type=ec2.EbsDeviceVolumeType.GP3
                    ),
                )
            ],
        )
        self.group = autoscaling.AutoScalingGroup(
            self,
            "Group",
            auto_scaling_group_name=self.group_name,
            vpc=vpc,
            vpc_subnets=subnets,
            launch_template=self.launch_template,
            min_capacity=sizing.min_capacity,
            max_capacity=sizing.max_capacity,
            # EC2's own checks decide replacement, not the load balancers': livekit-server answers
            # the signalling check (`GET /`) with 406 when its node stats are over 4 s old, and they
            # refresh only through Redis, so a Redis failover would fail every node's check at once
            # and ELB health would replace the whole fleet with its rooms. The check still takes an
            # unready node out of routing; systemd restarts a server that exits (livekit.service),
            # and a node that fails its checks all along alarms (SfuUnhealthy) for an operator.
            health_checks=autoscaling.HealthChecks.ec2(grace_period=Duration.minutes(5)),
            group_metrics=[autoscaling.GroupMetrics.all()],
            default_instance_warmup=Duration.minutes(3),
            # No update policy: a deploy never replaces a node in the middle of its rooms. A new
            # launch template (each deploy resolves the latest AL2023 AMI; a boot-script change)
            # applies to nodes launched after it; operators roll the fleet with an instance refresh,
            # which drains each node through the hook below (docs/infrastructure.md, "Rolling the fleet").
        )
        self.lifecycle_hook = self.group.add_lifecycle_hook(
            "Drain",
            lifecycle_hook_name=LIFECYCLE_HOOK_NAME,
            lifecycle_transition=autoscaling.LifecycleTransition.INSTANCE_TERMINATING,
            heartbeat_timeout=sizing.drain.plus(LIFECYCLE_SLACK),
            # If the node never answers (it crashed), terminate it anyway.
            default_result=autoscaling.DefaultResult.CONTINUE,
        )
        self.group.scale_on_cpu_utilization(
            "Cpu",
            target_utilization_percent=sizing.cpu_target_percent,
            # No `cooldown`: target tracking ignores it. Scale-in takes an empty node (a node holding
            # a room protects itself) and, failing that, drains (up to `drain`).
        )

        self.load_balancer = elbv2.NetworkLoadBalancer(
            self,
            "LoadBalancer",
            vpc=vpc,
            internet_facing=True,
            vpc_subnets=subnets,
            security_groups=[self.load_balancer_security_group],
            cross_zone_enabled=True,
        )
        certificate = elbv2.ListenerCertificate.from_arn(certificate_arn)
        health_check = elbv2.HealthCheck(
            protocol=elbv2.Protocol.HTTP,
            path="/",
            port=str(SIGNAL_PORT),
            healthy_threshold_count=2,
            unhealthy_threshold_count=2,
            interval=Duration.seconds(10),
        )
        self.signalling_listener = self.load_balancer.add_listener(
            "Signalling",
            port=HTTPS_PORT,
            protocol=elbv2.Protocol.TLS,
            certificates=[certificate],
            ssl_policy=elbv2.SslPolicy.RECOMMENDED_TLS,
        )
        self.signalling_targets = self.signalling_listener.add_targets(
            "Nodes",
            port=SIGNAL_PORT,
            protocol=elbv2.Protocol.TCP,
            targets=[self.group],
            health_check=health_check,
            deregistration_delay=Duration.seconds(30),
        )
        # The check is readiness that depends on Redis (above): a node it marks unhealthy still
        # serves the rooms it holds, so its signalling connections stay for a while (the NLB's
        # default resets them at once, and a Redis failover would then drop every participant of
        # every node into a reconnect together). New connections go to ready nodes meanwhile.
        self.signalling_targets.set_attribute(UNHEALTHY_CONNECTION_TERMINATION, "false")
        self.signalling_targets.set_attribute(
            UNHEALTHY_DRAINING_SECONDS, str(int(UNREADY_KEEPS_CONNECTIONS.to_seconds()))
        )
        self.turn_load_balancer = elbv2.NetworkLoadBalancer(
            self,
            "TurnLoadBalancer",
            vpc=vpc,
            internet_facing=True,
            vpc_subnets=subnets,
            security_groups=[self.turn_load_balancer_security_group],
            cross_zone_enabled=True,
        )
        self.turn_listener = self.turn_load_balancer.add_listener(
            "TurnTls",
            port=HTTPS_PORT,
            protocol=elbv2.Protocol.TLS,
            certificates=[elbv2.ListenerCertificate.from_arn(turn_certificate_arn)],
            ssl_policy=elbv2.SslPolicy.RECOMMENDED_TLS,
        )
        self.turn_targets = self.turn_listener.add_targets(
            "Nodes",
            port=TURN_TLS_PORT,
            protocol=elbv2.Protocol.TCP,
            targets=[self.group],
            # The TURN listener itself: a node whose TURN is down takes no TURN/TLS clients.
            health_check=elbv2.HealthCheck(
                protocol=elbv2.Protocol.TCP,
                port=str(TURN_TLS_PORT),
                healthy_threshold_count=2,
                unhealthy_threshold_count=2,
                interval=Duration.seconds(10),
            ),
            deregistration_delay=Duration.seconds(30),
        )
        self._open_webrtc_ports()
        if hosted_zone is not None:
            for record_id, name, load_balancer in (
                ("SignallingRecord", domain, self.load_balancer),
                ("TurnRecord", turn_domain, self.turn_load_balancer),
            ):
                route53.ARecord(
                    self,
                    record_id,
                    zone=hosted_zone,
                    record_name=name,
                    target=route53.RecordTarget.from_alias(route53_targets.LoadBalancerTarget(load_balancer)),
                )

    def _open_webrtc_ports(self) -> None:
        lb, turn_lb = self.load_balancer_security_group, self.turn_load_balancer_security_group
        nodes, anywhere = self.security_group, ec2.Peer.any_ipv4()
        lb.add_ingress_rule(anywhere, ec2.Port.tcp(HTTPS_PORT), "wss signalling and the LiveKit API")
        lb.add_egress_rule(nodes, ec2.Port.tcp(SIGNAL_PORT), "signalling and health checks to the nodes")
        turn_lb.add_ingress_rule(anywhere, ec2.Port.tcp(HTTPS_PORT), "TURN/TLS")
        turn_lb.add_egress_rule(nodes, ec2.Port.tcp(TURN_TLS_PORT), "TURN (TLS terminated) and health checks")
        nodes.add_ingress_rule(anywhere, ec2.Port.tcp(RTC_TCP_PORT), "WebRTC over TCP")
        nodes.add_ingress_rule(anywhere, ec2.Port.udp_range(*RTC_PORT_RANGE), "WebRTC media over UDP")
        nodes.add_ingress_rule(anywhere, ec2.Port.udp(TURN_UDP_PORT), "TURN/UDP")
        nodes.add_ingress_rule(
            anywhere, ec2.Port.udp_range(*TURN_RELAY_RANGE), "TURN relays (the SFU's media, by public IP)"
        )
        nodes.add_ingress_rule(lb, ec2.Port.tcp(SIGNAL_PORT), "signalling from the load balancer only")
        nodes.add_ingress_rule(turn_lb, ec2.Port.tcp(TURN_TLS_PORT), "TURN/TLS from its load balancer only")


def release_archive_name(arch: str) -> str:
    """The file name of livekit-server's release archive for `arch`, upstream's and ours alike."""
    return f"livekit_{names.LIVEKIT_VERSION.removeprefix('v')}_linux_{arch}.tar.gz"


def node_user_data(*, config_template: str, settings: dict[str, str]) -> str:
    """Writes infrastructure/node/ and the rendered livekit.yaml template onto the node and runs
    boot.sh with `settings` in its environment. Values may be CloudFormation tokens (ARNs, region)."""
    lines = ["set -euo pipefail"]
    lines += [f"export {key}={shlex.quote(value)}" for key, value in settings.items()]
    lines.append(f'install -d -m 0700 "${{NODE_ROOT:-}}{NODE_DIR}"')
    files = {
        path.name: node_file_text(path)
        for path in sorted(NODE_FILES.iterdir())
        if path.suffix in NODE_FILE_SUFFIXES and path.is_file()
    }
    files["livekit.template.yaml"] = config_template
    for name, text in files.items():
        marker = "SPACES_NODE_FILE"
        if marker in text:
            raise ValueError(f"{name} contains the heredoc marker {marker}")
        body = text if text.endswith("\n") else text + "\n"
        lines.append(f"cat > \"${{NODE_ROOT:-}}{NODE_DIR}/{name}\" <<'{marker}'\n{body}{marker}")
    lines.append(f'bash "${{NODE_ROOT:-}}{NODE_DIR}/boot.sh"')
    return "\n".join(lines) + "\n"


def node_file_text(path: Path) -> str:
    """A file of infrastructure/node/ as the user data writes it: without its comment lines if it is
    one of UNCOMMENTED_SUFFIXES (a script's first line, its #!, stays)."""
    text = path.read_text()
    if path.suffix not in UNCOMMENTED_SUFFIXES:
        return text
    lines = text.splitlines(keepends=True)
    return "".join(
        line
        for number, line in enumerate(lines)
        if not line.lstrip().startswith("#") or (number == 0 and line.startswith("#!"))
    )
