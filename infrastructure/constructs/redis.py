"""ElastiCache Redis: the LiveKit fleet's shared routing state (multi-node rooms, node registry).

TLS in transit (required), AUTH token from Secrets Manager, Multi-AZ with automatic failover.
Only the SFU nodes may connect.
"""

from __future__ import annotations

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticache as elasticache
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

# Not the default 6379: one less thing for a scanner that lands in the VPC to guess.
REDIS_PORT = 6380
# A primary and a replica.
CLUSTERS = 2


def burstable_cache_node(node_type: str) -> bool:
    """Whether an ElastiCache node type runs on CPU credits (the T families: cache.t4g.micro, ...)."""
    family = node_type.removeprefix("cache.").split(".")[0]
    return family.startswith("t") and family[1:2].isdigit()


class Redis(Construct):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        auth_token: secretsmanager.ISecret,
        node_type: str,
        maintenance_window: str,
    ) -> None:
        super().__init__(scope, id_)
        self.port = REDIS_PORT
        self.security_group = ec2.SecurityGroup(
            self, "SecurityGroup", vpc=vpc, description="LiveKit routing Redis", allow_all_outbound=False
        )
        subnet_group = elasticache.CfnSubnetGroup(
            self,
            "Subnets",
            description="LiveKit routing Redis (isolated subnets)",
            subnet_ids=vpc.select_subnets(subnet_group_name=subnets.subnet_group_name).subnet_ids,
        )
        self.replication_group = elasticache.CfnReplicationGroup(
            self,
            "ReplicationGroup",
            replication_group_description="LiveKit multi-node routing",
            engine="redis",
            engine_version="7.1",
            cache_node_type=node_type,
            port=REDIS_PORT,
            # A primary and a replica in two AZs; failover keeps the fleet routing through an AZ loss.
            num_cache_clusters=CLUSTERS,
            automatic_failover_enabled=True,
            multi_az_enabled=True,
            transit_encryption_enabled=True,
            transit_encryption_mode="required",
            at_rest_encryption_enabled=True,
            # A CloudFormation dynamic reference: resolved by CloudFormation, never in the template.
            auth_token=auth_token.secret_value.unsafe_unwrap(),
            cache_subnet_group_name=subnet_group.ref,
            security_group_ids=[self.security_group.security_group_id],
            # Routing state is rebuilt by the nodes within seconds; snapshots would only cost money.
            snapshot_retention_limit=0,
            auto_minor_version_upgrade=True,
            # Minor upgrades and patches land here (weekly, UTC): the replica first, then a failover
            # of a few seconds in which nodes cannot route. Left to AWS, it is a random weekly
            # hour, which may fall in the middle of an event.
            preferred_maintenance_window=maintenance_window,
        )
        # ElastiCache names a replication group's clusters <group id>-001, -002, ...; their engine
        # metrics are per cluster (either may be the primary after a failover).
        self.cluster_ids = tuple(f"{self.replication_group.ref}-{n:03d}" for n in range(1, CLUSTERS + 1))
        self.host = self.replication_group.attr_primary_end_point_address
        self.address = f"{self.host}:{REDIS_PORT}"

    def allow_from(self, peer: ec2.ISecurityGroup) -> None:
        self.security_group.add_ingress_rule(
            peer, ec2.Port.tcp(REDIS_PORT), "Redis (TLS, AUTH) from the SFU nodes"
        )
