"""The web page, hosted by the stack: a private S3 bucket behind its own CloudFront distribution, and
the built page (`make web`) deployed into it with the stack's `config.json` and policy.

The page's origin is what the API's CORS, the sign-in's callback URLs and the broadcast CDN's CORS
allow, so those depend on this distribution. The page in turn names the API, the SFU and the CDN in
its policy and `config.json`; were those in the distribution (a response headers policy), the
distribution and the API would each wait for the other. So the distribution carries only headers that
name no origin (`web_security.hosted_headers`), and the policy travels in the page itself (a <meta>
element, `web_security.page_with_policy`), written into the bucket at deploy time next to
`config.json`: the deployment depends on everything, nothing depends on it.

Caching: `assets/*` (content-hashed names) for a year and immutable; `index.html` and `config.json`
revalidated by browsers every load and kept one second at the edge, so a deploy shows at the next
load without an invalidation. Files of earlier builds are left in the bucket: a page loaded before a
deploy still finds the chunks it loads later (the HLS player is loaded on demand).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_s3_deployment as s3_deployment
from constructs import Construct

from contract import web_security
from infrastructure.constructs import private_origin

PAGE = "index.html"
CONFIG = "config.json"
ASSET_FOLDER = "assets"
ASSETS = f"{ASSET_FOLDER}/*"
# Content-hashed names: a browser and the edge keep them as long as they like.
ASSET_CACHE_CONTROL = "public, max-age=31536000, immutable"
# Browsers revalidate the page and its config on every load (a 304 while unchanged). The edge keeps
# them exactly a second whatever that header says (a minimum TTL overrides no-cache): a deploy is
# live at the next load, and an audience arriving at once (100,000 pages in a minute) costs the
# bucket a request per edge and second, not one per page (S3 serves ~5,500 GETs/s per prefix).
PAGE_CACHE_CONTROL = "no-cache"
PAGE_EDGE_TTL = Duration.seconds(1)
# The deployment's handler copies the build (~1 MB) and the two small files.
DEPLOYMENT_MEMORY_MIB = 256


def _member(header_value: str) -> str:
    """CDK's enum member for a header's value ("strict-origin-when-cross-origin" is
    STRICT_ORIGIN_WHEN_CROSS_ORIGIN)."""
    return header_value.upper().replace("-", "_")


@dataclass(frozen=True, kw_only=True)
class WebHosting:
    # The built page (`make web`: web/dist, with index.html and assets/).
    dist: Path
    # Days the bucket's and the distribution's access logs are kept.
    access_log_days: int
    price_class: cloudfront.PriceClass
    # How long the deployment handler's logs are kept.
    log_retention: logs.RetentionDays
    # A custom name for the page, with its certificate in us-east-1 (CloudFront's region). None: the
    # distribution's *.cloudfront.net name.
    domain: str | None = None
    certificate_arn: str | None = None


class WebSite(Construct):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        settings: WebHosting,
        hosted_zone: route53.IHostedZone | None = None,
    ) -> None:
        super().__init__(scope, id_)
        if (settings.domain is None) != (settings.certificate_arn is None):
            raise ValueError("a web domain needs its us-east-1 certificate ARN, and the other way round")
        index = settings.dist / PAGE
        if not index.is_file():
            raise ValueError(
                f"{index} is missing: build the page first (`make web`), or deploy with "
                "-c host_web=false and serve it elsewhere (docs/web.md)"
            )
        if not (settings.dist / ASSET_FOLDER).is_dir():
            raise ValueError(f"{settings.dist / ASSET_FOLDER} is missing: build the page again (`make web`)")
        # Only content-hashed files may be cached for a year. A config.json in the build (written for
        # a page served elsewhere) is replaced by the stack's; hidden files (.DS_Store) are not served.
        others = sorted(
            p.name
            for p in settings.dist.iterdir()
            if p.name not in (PAGE, CONFIG, ASSET_FOLDER) and not p.name.startswith(".")
        )
        if others:
            raise ValueError(
                f"{settings.dist} holds {', '.join(others)} beside {PAGE} and {ASSET_FOLDER}/: the stack "
                f"serves only those two (and its own {CONFIG}); a file the page needs belongs in "
                f"{ASSET_FOLDER}/ under a content-hashed name"
            )
        self._dist = settings.dist
        self._log_retention = settings.log_retention

        # Rebuilt from the source at every deploy, so nothing here is worth keeping past a
        # `cdk destroy`, but a bucket with objects cannot be deleted by CloudFormation without a
        # custom resource to empty it first: both are kept, like the broadcast's buckets.
        self.log_bucket = private_origin.log_bucket(self, "Logs", days=settings.access_log_days)
        self.bucket = private_origin.private_bucket(
            self, "Files", logs=self.log_bucket, lifecycle_rules=[], removal_policy=RemovalPolicy.RETAIN
        )

        headers = web_security.hosted_headers()
        self.response_headers_policy = cloudfront.ResponseHeadersPolicy(
            self,
            "Headers",
            response_headers_policy_name=private_origin.account_wide_name(self, "headers"),
            comment="The page's headers that name no origin (its policy is in the page)",
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                    content_security_policy=headers["Content-Security-Policy"], override=True
                ),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy[_member(headers["Referrer-Policy"])],
                    override=True,
                ),
                frame_options=cloudfront.ResponseHeadersFrameOptions(
                    frame_option=cloudfront.HeadersFrameOption[_member(headers["X-Frame-Options"])],
                    override=True,
                ),
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=Duration.days(365), include_subdomains=False, override=True
                ),
            ),
        )
        page_cache = cloudfront.CachePolicy(
            self,
            "PageCache",
            comment="The page and its config: revalidated by browsers, a second at the edge",
            min_ttl=PAGE_EDGE_TTL,
            default_ttl=PAGE_EDGE_TTL,
            max_ttl=PAGE_EDGE_TTL,
            cookie_behavior=cloudfront.CacheCookieBehavior.none(),
            header_behavior=cloudfront.CacheHeaderBehavior.none(),
            query_string_behavior=cloudfront.CacheQueryStringBehavior.none(),
            enable_accept_encoding_gzip=True,
            enable_accept_encoding_brotli=True,
        )
        origin = private_origin.read_only_origin(self, "OriginAccess", self.bucket)

        def behaviour(cache_policy: cloudfront.ICachePolicy) -> cloudfront.BehaviorOptions:
            return cloudfront.BehaviorOptions(
                origin=origin,
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
                cached_methods=cloudfront.CachedMethods.CACHE_GET_HEAD,
                cache_policy=cache_policy,
                response_headers_policy=self.response_headers_policy,
                compress=True,
            )

        self.distribution = cloudfront.Distribution(
            self,
            "Cdn",
            comment="Spaces web page",
            default_root_object=PAGE,
            default_behavior=behaviour(page_cache),
            additional_behaviors={ASSETS: behaviour(cloudfront.CachePolicy.CACHING_OPTIMIZED)},
            **private_origin.serving_options(
                self,
                domain=settings.domain,
                certificate_arn=settings.certificate_arn,
                price_class=settings.price_class,
                logs=self.log_bucket,
            ),
        )
        if settings.domain and hosted_zone is not None:
            private_origin.alias_records(self, self.distribution, domain=settings.domain, zone=hosted_zone)
        self.domain_name = settings.domain or self.distribution.distribution_domain_name
        # What the API, the sign-in and the broadcast CDN must allow.
        self.origin = f"https://{self.domain_name}"
        self.url = f"{self.origin}/"

    def publish(self, *, config: dict[str, object], policy: str, after: Sequence[Construct] = ()) -> None:
        """Deploy the build with this stack's `config.json` and Content-Security-Policy (both may hold
        deploy-time values: the API's URL, the user pool's client id, the CDN's name).

        The copy runs in CDK's deployment handler (a Lambda with the AWS CLI). Its role is ours:
        its own log group and what CDK grants it, reading the build from the asset bucket and writing
        (and, with prune, deleting) in this bucket; not AWS's managed basic-execution policy, which
        may write to any log group."""
        self.deployment_logs = logs.LogGroup(
            self, "DeploymentLogs", retention=self._log_retention, removal_policy=RemovalPolicy.DESTROY
        )
        self.deployment_role = iam.Role(
            self,
            "DeploymentRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Copies the built web page into its bucket at deploy time",
        )
        self.deployment_role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.deployment_logs.log_group_arn],
            )
        )
        assets = s3_deployment.BucketDeployment(
            self,
            "Assets",
            sources=[s3_deployment.Source.asset(str(self._dist / ASSET_FOLDER))],
            destination_bucket=self.bucket,
            destination_key_prefix=f"{ASSET_FOLDER}/",
            cache_control=[s3_deployment.CacheControl.from_string(ASSET_CACHE_CONTROL)],
            prune=False,
            memory_limit=DEPLOYMENT_MEMORY_MIB,
            role=self.deployment_role,
            log_group=self.deployment_logs,
        )
        page = s3_deployment.BucketDeployment(
            self,
            "PageAndConfig",
            sources=[
                s3_deployment.Source.data(
                    PAGE, web_security.page_with_policy((self._dist / PAGE).read_text(), policy)
                ),
                s3_deployment.Source.json_data(CONFIG, config),
            ],
            destination_bucket=self.bucket,
            cache_control=[s3_deployment.CacheControl.from_string(PAGE_CACHE_CONTROL)],
            prune=False,
            memory_limit=DEPLOYMENT_MEMORY_MIB,
            role=self.deployment_role,
            log_group=self.deployment_logs,
        )
        # The page names the assets of its own build: they are in place before it is; and it goes
        # live after `after` (the API's alias): a page newer than the API would meet the old one,
        # and a Reload its update notice offers would load the same page again.
        page.node.add_dependency(assets)
        for construct in after:
            page.node.add_dependency(construct)
        # Both deployments run in one handler Lambda (CDK keeps one per stack and memory size), with
        # the role and log group given here; each still publishes its own AWS CLI layer, of which the
        # handler uses the first (a few MB in the account, nothing at run time).
