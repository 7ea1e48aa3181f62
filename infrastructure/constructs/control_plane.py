"""The control plane: the FastAPI app (functions/) as an arm64 Python Lambda behind an HTTP API.

Every route needs a valid JWT (API Gateway's JWT authorizer) except three: the LiveKit webhook, which
the SFU cannot sign as a user (the app verifies it by its signature, livekit WebhookReceiver,
instead), `GET /healthz`, which health probes call without a user and which reveals nothing but
liveness, and `GET /avatars`, which pages load pictures from with an <img> (that sends no token); it
answers only re-encoded pictures from allow-listed avatar hosts, and the CDN in front of it caches
them (broadcast_delivery.py `serve_avatars`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, Duration, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from contract import names

from .lambda_bundle import ROOT, LocalPythonBundling, source_hash

# names.LAMBDA_PYTHON, which `make test-lambda-python` tests on (tests/infra checks they agree).
RUNTIME = lambda_.Runtime.PYTHON_3_13
HANDLER = "functions.handler.handler"
WEBHOOK_PATH = "/livekit/webhook"
WEBHOOK_ROUTE_KEY = f"POST {WEBHOOK_PATH}"
HEALTH_PATH = "/healthz"
HEALTH_ROUTE_KEY = f"GET {HEALTH_PATH}"
# The app serves nothing at / in the cloud (functions/api/web_page.py serves the page locally only).
ROOT_ROUTE_KEY = "ANY /"
AVATAR_PATH = names.AVATAR_PATH
AVATAR_ROUTE_KEY = f"GET {AVATAR_PATH}"
# The app's reaction route (functions/api/routes/reactions.py), given a route of its own so its bucket
# is not the one joins and moderation go through (tests/infra checks the app serves this path).
REACTIONS_PATH = "/spaces/{space_id}/reactions"
REACTIONS_ROUTE_KEY = f"POST {REACTIONS_PATH}"
TABLE_ACTIONS = (
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:Query",
)


@dataclass(frozen=True, kw_only=True)
class BroadcastLinks:
    """What the control plane tells clients about the broadcast tier; it reads no broadcast object."""

    # Public base URL of the broadcasts (https://<cdn>/broadcasts).
    base_url: str
    # From this many listeners in a Space on, a listener gets HLS instead of a WebRTC token.
    webrtc_listener_limit: int
    # Days a recording stays available after its Space ends (the bucket lifecycle follows it).
    recording_retention_days: int


@dataclass(frozen=True, kw_only=True)
class ApiLimits:
    # The stage's default route throttle: requests per second and burst. API Gateway applies it to
    # each route without settings of its own, as a bucket per route, not one bucket for the stage;
    # in effect it is the catch-all `ANY /{proxy+}`'s (joins, reads, moderation), since every other
    # route has its own below. The sum of all routes' rates stays under the account's 10,000/s.
    rate_limit: int
    burst_limit: int
    # POST /livekit/webhook's own throttle, so viewers' requests can never use up the SFU's
    # (LiveKit retries a refused webhook a few times, then drops it). 1,000/s covers a join storm
    # of 60,000 WebRTC joins a minute across all rooms; what a dropped webhook leaves wrong, the
    # reconciler's next pass repairs, a listener count the patrol (docs/control-plane.md, "Webhooks").
    webhook_rate_limit: int = 1000
    webhook_burst_limit: int = 2000
    # GET /avatars' own bucket, below the API's: the CDN answers every face it has seen (an hour), and
    # what reaches the API is new pictures, each one fetch of at most 3 s, DNS included, and a decode
    # (functions/usecases/avatars.py). At the full rate that is ~10 concurrent invocations typically
    # (~0.2 s a fetch), ~170 at worst (every host as slow as allowed). 50/s is a host paging through
    # a listener list of new faces (50 a page) every second.
    avatar_rate_limit: int = 50
    avatar_burst_limit: int = 100
    # POST /spaces/{id}/reactions' own bucket, so a reaction burst (a tenth of a 100k audience
    # tapping at once) is throttled on its own instead of taking the tokens joins and moderation
    # need. A reaction is the one request worth dropping: the room sees one aggregate per 0.5 s
    # window, bubbles grow with log2 of the count, and the page drops a refused tap quietly. The
    # store would take far more (32 shards, ~32,000 reactions/s per Space, docs/reactions.md), so
    # the bound is the API's: 2,000/s admits a fifth of that burst's 10,000 taps/s (each emoji used
    # still floats, with a smaller count), each a Space read and two writes (docs/bench/reactions.md),
    # and with the catch-all (5,000), the webhook (1,000), the avatars (50) and the two probe routes
    # (20 each) it stays under the account's 10,000 requests/s (8,090 in all).
    reactions_rate_limit: int = 2000
    reactions_burst_limit: int = 2000
    # GET /healthz (unauthenticated, for probes) and ANY / (nothing served there): small buckets of
    # their own, or each would get the default's and add it to what the account's quota must cover.
    probe_rate_limit: int = 20
    probe_burst_limit: int = 20
    # Live Spaces one person may host at once: each holds a room, a stage agent and a composer
    # from its start, so self sign-up must not let one account fill the worker fleets.
    max_live_per_host: int = 2
    # Scheduled Spaces one person may host at once: each is an item and a line in the lobby.
    max_scheduled_per_host: int = 20
    # None: share the account's unreserved pool. A number caps (and guarantees) the Lambda's slice.
    reserved_concurrency: int | None
    memory_mb: int = 1024
    # API Gateway gives up at 30 s; the Lambda stops just before so the caller gets the app's answer.
    timeout: Duration = Duration.seconds(29)


class ControlPlane(Construct):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        table: dynamodb.ITable,
        livekit_secret: secretsmanager.ISecret,
        livekit_api_url: str,
        livekit_public_url: str,
        jwt_issuer: str,
        jwt_audience: Sequence[str],
        limits: ApiLimits,
        log_retention: logs.RetentionDays,
        broadcast: BroadcastLinks,
        cors_origins: Sequence[str] = (),
        # Hosts the avatar proxy fetches pictures from (SPACES_AVATAR_HOSTS); None: its defaults.
        avatar_hosts: Sequence[str] | None = None,
        # Only members of this group may create Spaces (SPACES_HOST_GROUP); None: anyone signed in.
        host_group: str | None = None,
        bundle: bool = True,
    ) -> None:
        super().__init__(scope, id_)
        self.log_group = logs.LogGroup(
            self, "FunctionLogs", retention=log_retention, removal_policy=RemovalPolicy.DESTROY
        )
        # An own role instead of AWSLambdaBasicExecutionRole: logs to its own group, nothing else.
        self.role = iam.Role(
            self,
            "FunctionRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Spaces control plane: its table, its LiveKit secret, its log group",
        )
        self.log_group.grant_write(self.role)

        # The code and settings the scheduled reconciler runs too (reconcile_schedule.py).
        self.code = lambda_.Code.from_asset(
            str(ROOT / "functions"),
            asset_hash_type=AssetHashType.CUSTOM,
            asset_hash=source_hash(),
            exclude=["__pycache__", "*.pyc"],
            # bundle=False: a synth-only template (offline `make synth`), not deployable.
            bundling=BundlingOptions(
                # Never pulled: local bundling always succeeds or fails loudly.
                image=DockerImage.from_registry("unused-local-bundling-only"),
                local=LocalPythonBundling(python_version=RUNTIME.name.removeprefix("python")),
            )
            if bundle
            else None,
        )
        self.environment = {
            names.ENV_MODE: "cloud",
            names.ENV_STORE: "dynamodb",
            names.ENV_TABLE_NAME: table.table_name,
            # The ARN only: the app reads the key pair from Secrets Manager at cold start.
            names.ENV_LIVEKIT_SECRET_ARN: livekit_secret.secret_arn,
            names.ENV_LIVEKIT_URL: livekit_api_url,
            names.ENV_PUBLIC_LIVEKIT_URL: livekit_public_url,
            # The schedule runs the sweep (EventBridge Scheduler); no loop inside the API.
            names.ENV_RECONCILE_INTERVAL_SECONDS: "0",
            # Shared with the reconciler too: with a broadcast configured it dispatches (and repairs)
            # the composer beside the stage agent.
            names.ENV_BROADCAST_BASE_URL: broadcast.base_url,
            names.ENV_WEBRTC_LISTENER_LIMIT: str(broadcast.webrtc_listener_limit),
            names.ENV_RECORDING_RETENTION_DAYS: str(broadcast.recording_retention_days),
            names.ENV_MAX_LIVE_PER_HOST: str(limits.max_live_per_host),
            names.ENV_MAX_SCHEDULED_PER_HOST: str(limits.max_scheduled_per_host),
        }
        self.function = lambda_.Function(
            self,
            "Function",
            runtime=RUNTIME,
            architecture=lambda_.Architecture.ARM_64,
            handler=HANDLER,
            code=self.code,
            role=self.role,
            memory_size=limits.memory_mb,
            timeout=limits.timeout,
            reserved_concurrent_executions=limits.reserved_concurrency,
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            environment={
                **self.environment,
                # API Gateway answers CORS preflights (before the JWT authorizer); the app agrees.
                names.ENV_CORS_ORIGINS: ",".join(cors_origins),
                **({} if avatar_hosts is None else {names.ENV_AVATAR_HOSTS: ",".join(avatar_hosts)}),
                **({} if host_group is None else {names.ENV_HOST_GROUP: host_group}),
            },
            description="Spaces control plane (FastAPI through Mangum)",
            # Importing FastAPI + pydantic (229 ms measured) and the app costs ~340 ms of CPU
            # (docs/bench/control_plane.md), above the 250 ms cold-start goal; SnapStart restores an
            # initialised snapshot instead.
            # Nothing secret is in the snapshot: credentials are read on the first request.
            # Every environment restored from it starts with the same `random` state; the handler
            # reseeds on its first invocation (functions/handler.py, ReseedOnFirstCall).
            snap_start=lambda_.SnapStartConf.ON_PUBLISHED_VERSIONS,
        )
        # SnapStart applies to published versions only, so the API invokes an alias of the latest one.
        self.alias = lambda_.Alias(self, "Live", alias_name="live", version=self.function.current_version)
        # Exactly what functions/store/dynamodb.py calls: GetItem, BatchGetItem (a member and the
        # listener shards), PutItem, UpdateItem, and Query on the gsi1 listing index.
        # TransactWriteItems is authorised per item: Put/Update, Delete (a lowered hand, an unblock)
        # and ConditionCheck (version and member checks). The store never scans, so it may not.
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=list(TABLE_ACTIONS),
                resources=[table.table_arn, f"{table.table_arn}/index/{names.TABLE_GSI1}"],
            )
        )
        livekit_secret.grant_read(self.role)

        self.authorizer = authorizers.HttpJwtAuthorizer(
            "Jwt",
            jwt_issuer,
            jwt_audience=list(jwt_audience),
            identity_source=["$request.header.Authorization"],
        )
        integration = integrations.HttpLambdaIntegration("App", self.alias)
        self.api = apigwv2.HttpApi(
            self,
            "Api",
            description="Spaces API",
            default_authorizer=self.authorizer,
            create_default_stage=False,
            cors_preflight=apigwv2.CorsPreflightOptions(
                allow_origins=list(cors_origins),
                allow_headers=["authorization", "content-type", "idempotency-key"],
                # With CORS configured, API Gateway replaces the app's CORS headers: a page on the
                # web origin reads a 503's Retry-After only if this exposes it.
                expose_headers=["retry-after", names.PAGE_GENERATION_HEADER.lower()],
                allow_methods=[apigwv2.CorsHttpMethod.ANY],
                max_age=Duration.hours(1),
            )
            if cors_origins
            else None,
        )
        root_routes = self.api.add_routes(path="/", methods=[apigwv2.HttpMethod.ANY], integration=integration)
        self.api.add_routes(path="/{proxy+}", methods=[apigwv2.HttpMethod.ANY], integration=integration)
        webhook_routes = self.api.add_routes(
            path=WEBHOOK_PATH,
            methods=[apigwv2.HttpMethod.POST],
            integration=integration,
            authorizer=apigwv2.HttpNoneAuthorizer(),
        )
        # A more specific route than /{proxy+}, so probes reach the app without a token.
        health_routes = self.api.add_routes(
            path=HEALTH_PATH,
            methods=[apigwv2.HttpMethod.GET],
            integration=integration,
            authorizer=apigwv2.HttpNoneAuthorizer(),
        )

        # More specific than /{proxy+}, with the default JWT authorizer: only its bucket differs.
        reaction_routes = self.api.add_routes(
            path=REACTIONS_PATH, methods=[apigwv2.HttpMethod.POST], integration=integration
        )

        # Pictures for <img> tags, which send no token (the CDN's /avatars behaviour calls this).
        avatar_routes = self.api.add_routes(
            path=AVATAR_PATH,
            methods=[apigwv2.HttpMethod.GET],
            integration=integration,
            authorizer=apigwv2.HttpNoneAuthorizer(),
        )

        self.access_log_group = logs.LogGroup(
            self, "AccessLogs", retention=log_retention, removal_policy=RemovalPolicy.DESTROY
        )
        self.stage = apigwv2.HttpStage(
            self,
            "Stage",
            http_api=self.api,
            auto_deploy=True,
            throttle=apigwv2.ThrottleSettings(rate_limit=limits.rate_limit, burst_limit=limits.burst_limit),
            access_log_settings=_AccessLogs(apigwv2.LogGroupLogDestination(self.access_log_group)),
        )
        # Every route but the catch-all has its own token bucket (the L2 stage has no per-route
        # settings yet); the default above is applied per route, so a route left out of this would
        # get a bucket of the default's size (tests/infra sums every route's).
        cfn_stage = self.stage.node.default_child
        assert isinstance(cfn_stage, apigwv2.CfnStage)
        cfn_stage.add_property_override(
            "RouteSettings",
            {
                WEBHOOK_ROUTE_KEY: {
                    "ThrottlingRateLimit": limits.webhook_rate_limit,
                    "ThrottlingBurstLimit": limits.webhook_burst_limit,
                },
                AVATAR_ROUTE_KEY: {
                    "ThrottlingRateLimit": limits.avatar_rate_limit,
                    "ThrottlingBurstLimit": limits.avatar_burst_limit,
                },
                REACTIONS_ROUTE_KEY: {
                    "ThrottlingRateLimit": limits.reactions_rate_limit,
                    "ThrottlingBurstLimit": limits.reactions_burst_limit,
                },
                HEALTH_ROUTE_KEY: {
                    "ThrottlingRateLimit": limits.probe_rate_limit,
                    "ThrottlingBurstLimit": limits.probe_burst_limit,
                },
                ROOT_ROUTE_KEY: {
                    "ThrottlingRateLimit": limits.probe_rate_limit,
                    "ThrottlingBurstLimit": limits.probe_burst_limit,
                },
            },
        )
        # Settings for a route the stage cannot find fail its creation ("Unable to find Route by
        # key"); nothing else orders the stage after the routes (they wait for the Lambda's
        # published version, which SnapStart makes slow), so this does.
        for route in (*webhook_routes, *avatar_routes, *reaction_routes, *health_routes, *root_routes):
            self.stage.node.add_dependency(route)
        # The $default stage serves at the API's root endpoint (no trailing slash, no stage prefix).
        self.url = self.api.api_endpoint
        self.webhook_url = f"{self.url}{WEBHOOK_PATH}"


# One JSON object per request, from variables HTTP APIs define (CDK's default is a common-log line
# written for REST APIs). The caller's address is the CDN's for /avatars (a viewer's only on a miss).
ACCESS_LOG_FIELDS = {
    "requestId": "$context.requestId",
    "ip": "$context.identity.sourceIp",
    "requestTime": "$context.requestTime",
    "httpMethod": "$context.httpMethod",
    "routeKey": "$context.routeKey",
    "path": "$context.path",
    "status": "$context.status",
    "protocol": "$context.protocol",
    "responseLength": "$context.responseLength",
    "responseLatency": "$context.responseLatency",
    "integrationError": "$context.integrationErrorMessage",
}


@jsii.implements(apigwv2.IAccessLogSettings)
class _AccessLogs:
    """Access logs as JSON (request id, caller, route, status, latency): ACCESS_LOG_FIELDS."""

    def __init__(self, destination: apigwv2.IAccessLogDestination) -> None:
        self._destination = destination

    @property
    def destination(self) -> apigwv2.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigw.AccessLogFormat:
        return apigw.AccessLogFormat.custom(json.dumps(ACCESS_LOG_FIELDS, separators=(",", ":")))
