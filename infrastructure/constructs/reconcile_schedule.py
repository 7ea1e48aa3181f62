"""The reconciler's schedule: EventBridge Scheduler invokes a Lambda (the control plane's code, the
`reconcile_handler` entry) every minute, and it patrols that minute (functions/reconcile/loop.py):
a sweep over every live Space every SWEEP_SECONDS, and the trailing reactions' flush every window.

Writes and webhooks already run a pass for their room; the sweep repairs what they could not (a
failed SFU call, a dropped webhook, an agent that never came) and ends a Space whose host is gone
past the grace period, within SWEEP_SECONDS. A Lambda that loops through its minute is the finest
schedule without a server: EventBridge Scheduler's finest rate is one minute.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from contract import names

from .control_plane import RUNTIME, TABLE_ACTIONS

HANDLER = "functions.handler.reconcile_handler"
# Seconds between two sweeps within a patrol: each sweep makes ~3 SFU calls per live Space.
SWEEP_SECONDS = 10


class ReconcileSchedule(Construct):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        code: lambda_.Code,
        environment: Mapping[str, str],
        table: dynamodb.ITable,
        livekit_secret: secretsmanager.ISecret,
        log_retention: logs.RetentionDays,
        # Minutes between sweeps: 1 is EventBridge Scheduler's finest rate.
        every_minutes: int = 1,
    ) -> None:
        super().__init__(scope, id_)
        every = Duration.minutes(every_minutes)
        self.log_group = logs.LogGroup(
            self, "FunctionLogs", retention=log_retention, removal_policy=RemovalPolicy.DESTROY
        )
        self.role = iam.Role(
            self,
            "FunctionRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Spaces reconciler: its table, its LiveKit secret, its log group",
        )
        self.log_group.grant_write(self.role)
        # The same store calls as the API: reads (GetItem, Query on the live index), the end of a
        # Space whose room is gone and the listener count of a live role change (UpdateItem,
        # PutItem of the dedupe record), the audience entries of connected people (UpdateItem to
        # renew; PutItem for someone sent back from the stage; Query on the index to find theirs).
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=list(TABLE_ACTIONS),
                resources=[table.table_arn, f"{table.table_arn}/index/{names.TABLE_GSI1}"],
            )
        )
        livekit_secret.grant_read(self.role)
        self.function = lambda_.Function(
            self,
            "Function",
            runtime=RUNTIME,
            architecture=lambda_.Architecture.ARM_64,
            handler=HANDLER,
            code=code,
            role=self.role,
            memory_size=512,
            # Each invocation patrols its period (functions/reconcile/loop.py) and stops 2 s before
            # the next one starts, so two patrols never overlap.
            timeout=Duration.seconds(every.to_seconds() - 2),
            # One patrol at a time: a second one would only repeat the first one's SFU calls.
            reserved_concurrent_executions=1,
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            # A sweep every 10 s within the period (the host's grace period ends within ~10 s of
            # its due time); the trailing reactions are flushed every 0.5 s window in between.
            environment={**environment, names.ENV_RECONCILE_INTERVAL_SECONDS: str(SWEEP_SECONDS)},
            description="Spaces reconciler: converges every live Space's room to its stored state",
        )
        # May invoke this function and nothing else (LambdaInvoke grants it, versions included).
        self.schedule_role = iam.Role(
            self,
            "ScheduleRole",
            assumed_by=iam.ServicePrincipal("scheduler.amazonaws.com"),
            description="EventBridge Scheduler: invoke the Spaces reconciler",
        )
        self.schedule = scheduler.Schedule(
            self,
            "EveryMinute",
            schedule=scheduler.ScheduleExpression.rate(every),
            description="Reconcile every live Space",
            target=targets.LambdaInvoke(
                self.function,
                role=self.schedule_role,
                # When this start was due and how long until the next: a late start stops in time.
                input=scheduler.ScheduleTargetInput.from_object(
                    {
                        "scheduled_time": scheduler.ContextAttribute.scheduled_time,
                        "period_seconds": int(every.to_seconds()),
                    }
                ),
                # A missed tick is not worth retrying: the next one comes within the period.
                retry_attempts=0,
                max_event_age=Duration.minutes(1),
            ),
        )
