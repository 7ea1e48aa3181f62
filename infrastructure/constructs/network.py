"""The VPC: public subnets for the SFU nodes, private ones for agents, isolated ones for Redis."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from constructs import Construct

PUBLIC = "Sfu"
PRIVATE = "Private"
ISOLATED = "Data"


class Network(Construct):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        max_azs: int,
        nat_gateways: int,
        flow_log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, id_)
        if max_azs < 2:
            raise ValueError("the stack needs at least 2 AZs (Multi-AZ Redis, an SFU node per AZ)")
        self.flow_log_group = logs.LogGroup(
            self, "FlowLogs", retention=flow_log_retention, removal_policy=RemovalPolicy.DESTROY
        )
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=max_azs,
            nat_gateways=nat_gateways,
            subnet_configuration=[
                # SFU nodes need public IPs: WebRTC media goes straight to them over UDP.
                ec2.SubnetConfiguration(name=PUBLIC, subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
                # Agents reach the SFU's public URL and ECR through NAT.
                ec2.SubnetConfiguration(
                    name=PRIVATE, subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=22
                ),
                # Redis talks only to the SFU nodes.
                ec2.SubnetConfiguration(
                    name=ISOLATED, subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=26
                ),
            ],
            flow_logs={
                "All": ec2.FlowLogOptions(
                    destination=ec2.FlowLogDestination.to_cloud_watch_logs(self.flow_log_group),
                    traffic_type=ec2.FlowLogTrafficType.ALL,
                )
            },
        )
        self.public_subnets = ec2.SubnetSelection(subnet_group_name=PUBLIC)
        self.private_subnets = ec2.SubnetSelection(subnet_group_name=PRIVATE)
        # Done once the private subnets route to their NAT gateways: what anything that must reach
        # AWS's public endpoints as it starts (a Fargate task's secrets and image) waits for.
        self.private_egress = self.vpc.select_subnets(
            subnet_group_name=PRIVATE
        ).internet_connectivity_established
        # Composers upload every broadcast segment to S3 and tasks pull image layers from it: through
        # the gateway endpoint (free) instead of NAT (billed per GB processed). IAM still decides
        # what each role may do in S3.
        self.s3_endpoint = self.vpc.add_gateway_endpoint(
            "S3", service=ec2.GatewayVpcEndpointAwsService.S3, subnets=[self.private_subnets]
        )
        self.isolated_subnets = ec2.SubnetSelection(subnet_group_name=ISOLATED)
