"""The LiveKit SFU fleet: an Auto Scaling group of EC2 nodes behind a TLS network load balancer.

Each node runs the pinned livekit-server natively (host networking: WebRTC needs the node's own
public IP and port range, no NAT or overlay in between). Its livekit.yaml is rendered at synth time
by contract.livekit_config, the same code that renders the local one, with placeholders for the
secrets; the node fills them from Secrets Manager at boot, so no secret is in the template.

Scale-in drains: a lifecycle hook holds a terminating node while LiveKit, on SIGTERM, refuses new
rooms and waits for its rooms to empty; systemd kills it after `drain` at the latest.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from contract import livekit_config, names
from contract.livekit_config import RedisSettings

# Filled on the node at boot from Secrets Manager (see _FILL_CONFIG); never real values.
API_KEY_PLACEHOLDER = "__LIVEKIT_API_KEY__"
API_SECRET_PLACEHOLDER = "__LIVEKIT_API_SECRET__"
REDIS_PASSWORD_PLACEHOLDER = "__REDIS_AUTH_TOKEN__"

SIGNAL_PORT = 7880
RTC_TCP_PORT = 7881
RTC_PORT_RANGE = (50000, 60000)
TURN_UDP_PORT = 3478
TURN_TLS_PORT = 5349
HTTPS_PORT = 443
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
        use_external_ip=True,
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
        livekit_secret: secretsmanager.ISecret,
        redis_auth_secret: secretsmanager.ISecret,
        redis_address: str,
        webhook_url: str,
        binary_sha256: str | None,
    ) -> None:
        super().__init__(scope, id_)
        drain_seconds = int(sizing.drain.to_seconds())
        if not 0 < drain_seconds <= MAX_DRAIN_SECONDS:
            raise ValueError(
                f"drain must be 1..{MAX_DRAIN_SECONDS} s (lifecycle hook limit), got {drain_seconds}"
            )
        self.domain = domain
        self.url = f"wss://{domain}"
        self.api_url = f"https://{domain}"
        # Named so that the node can complete its own lifecycle action without a describe call.
        self.group_name = f"{Stack.of(self).stack_name}-livekit"

        self.load_balancer_security_group = ec2.SecurityGroup(
            self,
            "LoadBalancerSecurityGroup",
            vpc=vpc,
            allow_all_outbound=False,
            description="LiveKit signalling (wss) and TURN/TLS, terminated by the load balancer",
        )
        self.security_group = ec2.SecurityGroup(
            self,
            "NodeSecurityGroup",
            vpc=vpc,
            allow_all_outbound=True,
            description="LiveKit SFU nodes: WebRTC media and TURN from anywhere, signalling only via the LB",
        )
        self._open_webrtc_ports()

        self.role = iam.Role(
            self,
            "NodeRole",
            assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
            description="LiveKit SFU node: read its two secrets, SSM sessions, complete its drain",
            managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name("AmazonSSMManagedInstanceCore")],
        )
        livekit_secret.grant_read(self.role)
        redis_auth_secret.grant_read(self.role)
        # Not the role's default policy: that one is a dependency of the group, this one names it.
        iam.Policy(
            self,
            "CompleteDrain",
            roles=[self.role],
            statements=[
                iam.PolicyStatement(
                    actions=["autoscaling:CompleteLifecycleAction"],
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
            webhook_url=webhook_url, turn_domain=domain, redis_address=redis_address
        )
        self.user_data = ec2.UserData.for_linux()
        self.user_data.add_commands(
            _node_script(
                config_template=self.config_template,
                arch="arm64" if sizing.cpu_type == ec2.AmazonLinuxCpuType.ARM_64 else "amd64",
                binary_sha256=binary_sha256,
                region=Stack.of(self).region,
                livekit_secret_arn=livekit_secret.secret_arn,
                redis_secret_arn=redis_auth_secret.secret_arn,
                drain_seconds=drain_seconds,
                group_name=self.group_name,
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
            health_checks=autoscaling.HealthChecks.with_additional_checks(
                additional_types=[autoscaling.AdditionalHealthCheckType.ELB],
                grace_period=Duration.minutes(5),
            ),
            group_metrics=[autoscaling.GroupMetrics.all()],
            default_instance_warmup=Duration.minutes(3),
            update_policy=autoscaling.UpdatePolicy.rolling_update(),
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
            # Scale-in is slow anyway (drain); do not flap.
            cooldown=Duration.minutes(5),
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
        self.turn_listener = self.load_balancer.add_listener(
            "TurnTls",
            port=TURN_TLS_PORT,
            protocol=elbv2.Protocol.TLS,
            certificates=[certificate],
            ssl_policy=elbv2.SslPolicy.RECOMMENDED_TLS,
        )
        self.turn_listener.add_targets(
            "Nodes",
            port=TURN_TLS_PORT,
            protocol=elbv2.Protocol.TCP,
            targets=[self.group],
            health_check=health_check,
            deregistration_delay=Duration.seconds(30),
        )

    def _open_webrtc_ports(self) -> None:
        lb, nodes, anywhere = self.load_balancer_security_group, self.security_group, ec2.Peer.any_ipv4()
        lb.add_ingress_rule(anywhere, ec2.Port.tcp(HTTPS_PORT), "wss signalling and the LiveKit API")
        lb.add_ingress_rule(anywhere, ec2.Port.tcp(TURN_TLS_PORT), "TURN/TLS")
        lb.add_egress_rule(nodes, ec2.Port.tcp(SIGNAL_PORT), "signalling and health checks to the nodes")
        lb.add_egress_rule(nodes, ec2.Port.tcp(TURN_TLS_PORT), "TURN/TLS to the nodes")
        nodes.add_ingress_rule(anywhere, ec2.Port.tcp(RTC_TCP_PORT), "WebRTC over TCP")
        nodes.add_ingress_rule(anywhere, ec2.Port.udp_range(*RTC_PORT_RANGE), "WebRTC media over UDP")
        nodes.add_ingress_rule(anywhere, ec2.Port.udp(TURN_UDP_PORT), "TURN/UDP")
        nodes.add_ingress_rule(lb, ec2.Port.tcp(SIGNAL_PORT), "signalling from the load balancer only")
        nodes.add_ingress_rule(lb, ec2.Port.tcp(TURN_TLS_PORT), "TURN/TLS from the load balancer only")


_NODE_SCRIPT = r"""set -euo pipefail
# --- livekit-server @@VERSION@@ (pinned; contract.names.LIVEKIT_VERSION) ---
VERSION="@@VERSION@@"
TARBALL="livekit_${VERSION#v}_linux_@@ARCH@@.tar.gz"
curl -fsSL --retry 5 -o "/tmp/${TARBALL}" "https://github.com/livekit/livekit/releases/download/${VERSION}/${TARBALL}"
SHA256="@@SHA256@@"
if [ -n "$SHA256" ]; then echo "${SHA256}  /tmp/${TARBALL}" | sha256sum -c -; fi
# The archive's layout is not a contract: take the binary wherever it sits, flat into /usr/local/bin.
tar -xzf "/tmp/${TARBALL}" -C /usr/local/bin --wildcards --no-anchored --transform='s|.*/||' livekit-server
id livekit >/dev/null 2>&1 || useradd --system --no-create-home --shell /sbin/nologin livekit
# UDP buffers large enough for an SFU (the kernel default drops packets under load).
printf 'net.core.rmem_max=5000000\nnet.core.wmem_max=5000000\n' > /etc/sysctl.d/90-livekit.conf
sysctl --system >/dev/null

# --- livekit.yaml: rendered by contract/livekit_config.py at synth time, secrets filled here ---
install -d -m 0750 -o root -g livekit /etc/livekit
cat > /etc/livekit/livekit.template.yaml <<'LIVEKIT_CONFIG'
@@CONFIG@@LIVEKIT_CONFIG
AWS_REGION="@@REGION@@" LIVEKIT_SECRET_ARN="@@LIVEKIT_SECRET_ARN@@" REDIS_SECRET_ARN="@@REDIS_SECRET_ARN@@" \
python3 - <<'FILL'
import json, os, subprocess

def secret(arn):
    out = subprocess.run(
        ["aws", "secretsmanager", "get-secret-value", "--region", os.environ["AWS_REGION"],
         "--secret-id", arn, "--query", "SecretString", "--output", "text"],
        check=True, capture_output=True, text=True)
    return out.stdout.strip()

keys = json.loads(secret(os.environ["LIVEKIT_SECRET_ARN"]))
values = {
    "@@API_KEY_PLACEHOLDER@@": keys["@@FIELD_API_KEY@@"],
    "@@API_SECRET_PLACEHOLDER@@": keys["@@FIELD_API_SECRET@@"],
    "@@REDIS_PASSWORD_PLACEHOLDER@@": secret(os.environ["REDIS_SECRET_ARN"]),
}
text = open("/etc/livekit/livekit.template.yaml").read()
for placeholder, value in values.items():
    text = text.replace(json.dumps(placeholder), json.dumps(value))
os.umask(0o027)
with open("/etc/livekit/livekit.yaml", "w") as f:
    f.write(text)
FILL
chgrp livekit /etc/livekit/livekit.yaml

# --- the SFU: SIGTERM drains (no new rooms, wait for rooms to empty), bounded by TimeoutStopSec ---
cat > /etc/systemd/system/livekit.service <<'UNIT'
[Unit]
Description=LiveKit SFU
Wants=network-online.target
After=network-online.target

[Service]
User=livekit
ExecStart=/usr/local/bin/livekit-server --config /etc/livekit/livekit.yaml
Restart=on-failure
KillSignal=SIGTERM
TimeoutStopSec=@@DRAIN_SECONDS@@
LimitNOFILE=500000

[Install]
WantedBy=multi-user.target
UNIT

# --- scale-in: when the group marks this node Terminated, drain, then let the group continue ---
cat > /usr/local/bin/livekit-drain <<'DRAIN'
#!/bin/bash
set -uo pipefail
imds() {
  local token
  token=$(curl -sf -X PUT http://169.254.169.254/latest/api/token \
    -H 'X-aws-ec2-metadata-token-ttl-seconds: 60')
  curl -sf -H "X-aws-ec2-metadata-token: ${token}" "http://169.254.169.254/latest/meta-data/$1"
}
until [ "$(imds autoscaling/target-lifecycle-state)" = "Terminated" ]; do sleep 5; done
systemctl stop livekit
aws autoscaling complete-lifecycle-action --region "@@REGION@@" \
  --auto-scaling-group-name "@@GROUP_NAME@@" --lifecycle-hook-name "@@HOOK_NAME@@" \
  --instance-id "$(imds instance-id)" --lifecycle-action-result CONTINUE
DRAIN
chmod 0755 /usr/local/bin/livekit-drain
cat > /etc/systemd/system/livekit-drain.service <<'UNIT'
[Unit]
Description=Drain LiveKit when the Auto Scaling group terminates this node
After=livekit.service

[Service]
ExecStart=/usr/local/bin/livekit-drain
Restart=on-failure

[Install]
WantedBy=multi-user.target
UNIT

systemctl daemon-reload
systemctl enable --now livekit.service livekit-drain.service
"""


def _node_script(
    *,
    config_template: str,
    arch: str,
    binary_sha256: str | None,
    region: str,
    livekit_secret_arn: str,
    redis_secret_arn: str,
    drain_seconds: int,
    group_name: str,
) -> str:
    values = {
        "VERSION": names.LIVEKIT_VERSION,
        "ARCH": arch,
        "SHA256": binary_sha256 or "",
        "CONFIG": config_template,
        "REGION": region,
        "LIVEKIT_SECRET_ARN": livekit_secret_arn,
        "REDIS_SECRET_ARN": redis_secret_arn,
        "API_KEY_PLACEHOLDER": API_KEY_PLACEHOLDER,
        "API_SECRET_PLACEHOLDER": API_SECRET_PLACEHOLDER,
        "REDIS_PASSWORD_PLACEHOLDER": REDIS_PASSWORD_PLACEHOLDER,
        "FIELD_API_KEY": names.SECRET_FIELD_API_KEY,
        "FIELD_API_SECRET": names.SECRET_FIELD_API_SECRET,
        "DRAIN_SECONDS": str(drain_seconds),
        "GROUP_NAME": group_name,
        "HOOK_NAME": LIFECYCLE_HOOK_NAME,
    }
    script = _NODE_SCRIPT
    for key, value in values.items():
        script = script.replace(f"@@{key}@@", value)
    return script
