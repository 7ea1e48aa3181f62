"""The control plane's DynamoDB table, shaped exactly as functions/store/dynamodb.py expects."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from contract import names


class State(Construct):
    def __init__(self, scope: Construct, id_: str, *, production: bool) -> None:
        super().__init__(scope, id_)
        string = dynamodb.AttributeType.STRING
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name=names.TABLE_PK, type=string),
            sort_key=dynamodb.Attribute(name=names.TABLE_SK, type=string),
            # Spaces traffic is bursty (a popular Space starts, thousands join): no capacity planning.
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute=names.TABLE_TTL_ATTRIBUTE,
            deletion_protection=production,
            removal_policy=RemovalPolicy.RETAIN if production else RemovalPolicy.DESTROY,
        )
        # Discovery. Sparse: only Space records carry its keys (hands, blocks, counters and dedupe
        # records do not), and sharded by the writer (STATE#<state>#<k>); docs/control-plane.md.
        self.table.add_global_secondary_index(
            index_name=names.TABLE_GSI1,
            partition_key=dynamodb.Attribute(name=names.TABLE_GSI1_PK, type=string),
            sort_key=dynamodb.Attribute(name=names.TABLE_GSI1_SK, type=string),
            projection_type=dynamodb.ProjectionType.ALL,
        )
