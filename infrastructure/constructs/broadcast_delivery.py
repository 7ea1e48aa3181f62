"""The broadcast tier's storage and CDN: a private S3 bucket the composer writes HLS into, CloudFront
in front of it for any audience size, and a log bucket for both.

Layout (docs/broadcast.md, names in contract/names.py): `broadcasts/<space_id>/index.m3u8`,
`broadcasts/<space_id>/<epoch>-<n>.ts`, `broadcasts/<space_id>/timeline.json`. The public URL of a key
is `https://<distribution>/<key>`, so the base URL handed to clients is `https://<distribution>/broadcasts`
and no origin path is needed.

Caching follows what the composer's sink sets per object (it knows whether a playlist is live or
closed): the playlist behaviours honour the origin's Cache-Control with a 1 s default, the segment
behaviours cache for a year (segment names are never reused: `<epoch>-<n>`).

The same distribution fronts the API's avatar proxy (`/avatars?url=<picture>`, `serve_avatars`):
every viewer of a Space loads the same dozen stage faces, so the edge answers them, keyed on the
picture URL alone, and the API sees one request per picture and edge an hour.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_iam as iam
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_s3 as s3
from constructs import Construct

from contract import names
from infrastructure.constructs import private_origin

PLAYLIST_PATTERNS = ("*.m3u8", "*.json")
SEGMENT_PATTERNS = ("*.ts", "*.m4s")
# A live playlist changes every segment (1 s): the sink sends s-maxage=1 (CloudFront uses s-maxage
# over max-age; max-age=0 is for browsers); without a header, 1 s too.
PLAYLIST_DEFAULT_TTL = Duration.seconds(1)
# The ceiling on what the origin may ask for a playlist or timeline: a closed playlist is sent with
# max-age=60; a wrong header on a live one can never freeze a Space for longer than this.
PLAYLIST_MAX_TTL = Duration.seconds(60)
# Segments are immutable by name. The floor stops a sink that forgot its header (or sent a short one)
# from turning every edge into an origin request per segment and viewer wave.
SEGMENT_MIN_TTL = Duration.days(1)
SEGMENT_TTL = Duration.days(365)
# How long an edge remembers an error: a 403/404 (a missing key reads as 403 from S3 without
# ListBucket) or a 5xx (an S3 hiccup). CloudFront's default is 10 s, which would hide the first
# playlist of a starting Space for 10 s, and hand one 503 to a whole edge's viewers for longer than
# hls.js retries. Not 0: an origin in trouble then gets one request a second per edge, not one per
# viewer.
ERROR_CACHING_TTL = Duration.seconds(1)
CACHED_ERRORS = (403, 404, 500, 502, 503, 504)
# Object lifecycle counts from each object's creation, not from the end of the Space; a segment from
# the start of a long Space would expire that much earlier than the recording's announced end
# (ended_at + retention). One extra day covers Spaces of up to 24 h.
RETENTION_SLACK_DAYS = 1
# Days the broadcast of a Space without a recording (tagged by its composer) is kept after each
# object is written: long enough for the live stream, never offered as a replay.
UNRECORDED_DAYS = 1
# The avatar proxy sends Cache-Control (an hour for a picture, 5 minutes for a failure,
# functions/usecases/avatars.py); the edge keeps a picture at most a day whatever it says.
AVATAR_DEFAULT_TTL = Duration.hours(1)
AVATAR_MAX_TTL = Duration.days(1)


@dataclass(frozen=True, kw_only=True)
class BroadcastSettings:
    # Days a recording stays available after its Space ends (SPACES_RECORDING_RETENTION_DAYS).
    retention_days: int
    # Days the S3 server access logs and CloudFront access logs are kept.
    access_log_days: int
    price_class: cloudfront.PriceClass
    # A custom name for the CDN. CloudFront needs its certificate in us-east-1, so the SFU's
    # regional certificate cannot be reused. None: the *.cloudfront.net name and certificate.
    domain: str | None = None
    certificate_arn: str | None = None


class BroadcastDelivery(Construct):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        settings: BroadcastSettings,
        cors_origins: Sequence[str],
        hosted_zone: route53.IHostedZone | None = None,
    ) -> None:
        super().__init__(scope, id_)
        if settings.retention_days < 1:
            raise ValueError("retention_days must be at least 1")
        if (settings.domain is None) != (settings.certificate_arn is None):
            raise ValueError(
                "a broadcast domain needs its us-east-1 certificate ARN, and the other way round"
            )
        self.prefix = names.BROADCAST_PREFIX

        # Recordings are user data and logs are the audit trail: a `cdk destroy` keeps both buckets
        # (empty and delete them by hand, docs/infrastructure.md). Auto-delete would need a custom
        # resource Lambda for a convenience.
        self.log_bucket = private_origin.log_bucket(self, "Logs", days=settings.access_log_days)
        # SSE-S3, not KMS: everything in here is published through the CDN to anyone with the URL,
        # so a customer key protects nothing more; SSE-KMS would add a KMS request to every origin
        # GET and PUT (a segment and a playlist per second per Space) and a key policy for CloudFront.
        # Versioning off: the playlist is rewritten every second; versioning would keep each of those
        # copies (a Space-hour leaves ~3,600 old playlists of growing size) and segments are never
        # overwritten. Only the composer writes here (no one may delete), and a recording is a copy of
        # a live event kept for days, not a system of record worth a version history.
        self.bucket = private_origin.private_bucket(
            self,
            "Broadcasts",
            logs=self.log_bucket,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-recordings",
                    prefix=self.prefix,
                    expiration=Duration.days(settings.retention_days + RETENTION_SLACK_DAYS),
                ),
                # A Space whose host kept no recording (Space.record false): the composer tags its
                # objects, and they go a day after they were written (S3 acts at the next midnight
                # UTC after that, so 1-2 days), whatever the retention.
                s3.LifecycleRule(
                    id="expire-unrecorded",
                    prefix=self.prefix,
                    tag_filters={names.BROADCAST_DISCARD_TAG_KEY: names.BROADCAST_DISCARD_TAG_VALUE},
                    expiration=Duration.days(UNRECORDED_DAYS),
                ),
            ],
            removal_policy=RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        )

        self.playlist_cache_policy = cloudfront.CachePolicy(
            self,
            "PlaylistCache",
            comment="HLS playlists and timelines: honour the origin's Cache-Control, 1 s by default",
            min_ttl=Duration.seconds(0),
            default_ttl=PLAYLIST_DEFAULT_TTL,
            max_ttl=PLAYLIST_MAX_TTL,
            cookie_behavior=cloudfront.CacheCookieBehavior.none(),
            header_behavior=cloudfront.CacheHeaderBehavior.none(),
            query_string_behavior=cloudfront.CacheQueryStringBehavior.none(),
            enable_accept_encoding_gzip=True,
            enable_accept_encoding_brotli=True,
        )
        self.segment_cache_policy = cloudfront.CachePolicy(
            self,
            "SegmentCache",
            comment="HLS media segments: immutable by name, cached for a year",
            min_ttl=SEGMENT_MIN_TTL,
            default_ttl=SEGMENT_TTL,
            max_ttl=SEGMENT_TTL,
            cookie_behavior=cloudfront.CacheCookieBehavior.none(),
            header_behavior=cloudfront.CacheHeaderBehavior.none(),
            query_string_behavior=cloudfront.CacheQueryStringBehavior.none(),
            # Compressed media does not shrink; one cache entry per segment, not one per encoding.
            enable_accept_encoding_gzip=False,
            enable_accept_encoding_brotli=False,
        )
        # The broadcast is public and credential-less (no cookies, no Authorization), so with no web
        # origin configured any page may read it: '*' reveals nothing the URL does not.
        self.response_headers_policy = cloudfront.ResponseHeadersPolicy(
            self,
            "Headers",
            response_headers_policy_name=private_origin.account_wide_name(self, "headers"),
            comment="CORS for the web client's hls.js, HSTS and nosniff",
            cors_behavior=cloudfront.ResponseHeadersCorsBehavior(
                access_control_allow_credentials=False,
                access_control_allow_headers=["Range"],
                access_control_allow_methods=["GET", "HEAD", "OPTIONS"],
                access_control_allow_origins=list(cors_origins) or ["*"],
                access_control_expose_headers=["Content-Length", "Content-Range", "Age", "Date"],
                access_control_max_age=Duration.hours(1),
                origin_override=True,
            ),
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=Duration.days(365), include_subdomains=False, override=True
                ),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
            ),
        )

        # Origin access control (private_origin.py): this distribution alone reads objects, and a
        # missing key is a 403 (cached 1 s).
        origin = private_origin.read_only_origin(self, "OriginAccess", self.bucket)

        def behaviour(cache_policy: cloudfront.ICachePolicy, *, compress: bool) -> cloudfront.BehaviorOptions:
            return cloudfront.BehaviorOptions(
                origin=origin,
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD_OPTIONS,
                cached_methods=cloudfront.CachedMethods.CACHE_GET_HEAD_OPTIONS,
                cache_policy=cache_policy,
                response_headers_policy=self.response_headers_policy,
                compress=compress,
            )

        # Playlists and state.json are text (compressed); segments are already compressed media.
        playlists = behaviour(self.playlist_cache_policy, compress=True)
        segments = behaviour(self.segment_cache_policy, compress=False)
        self.distribution = cloudfront.Distribution(
            self,
            "Cdn",
            comment="Spaces broadcasts (HLS)",
            # Anything that is neither playlist nor segment gets the short-lived policy.
            default_behavior=playlists,
            additional_behaviors={
                **{f"{self.prefix}{pattern}": playlists for pattern in PLAYLIST_PATTERNS},
                **{f"{self.prefix}{pattern}": segments for pattern in SEGMENT_PATTERNS},
            },
            **private_origin.serving_options(
                self,
                domain=settings.domain,
                certificate_arn=settings.certificate_arn,
                price_class=settings.price_class,
                logs=self.log_bucket,
            ),
            error_responses=[
                cloudfront.ErrorResponse(http_status=code, ttl=ERROR_CACHING_TTL) for code in CACHED_ERRORS
            ],
        )
        if settings.domain and hosted_zone is not None:
            private_origin.alias_records(self, self.distribution, domain=settings.domain, zone=hosted_zone)
        self.domain_name = settings.domain or self.distribution.distribution_domain_name
        self.base_url = f"https://{self.domain_name}/{self.prefix.rstrip('/')}"

    def serve_avatars(self, api: apigwv2.IHttpApi) -> str:
        """`/avatars` on this distribution goes to the API's avatar proxy; returns its public URL
        (what the page's config.json names as `avatarUrl`).

        Only the `url` query parameter reaches the API and keys the cache: no cookies, no
        Authorization, no other parameter, so every viewer of a face shares one cache entry. (On a
        miss CloudFront still adds the viewer's address in X-Forwarded-For; the avatar host only
        ever sees the API.)"""
        self.avatar_cache_policy = cloudfront.CachePolicy(
            self,
            "AvatarCache",
            comment="Avatars through the API's proxy: keyed on the picture URL only",
            min_ttl=Duration.seconds(0),
            default_ttl=AVATAR_DEFAULT_TTL,
            max_ttl=AVATAR_MAX_TTL,
            cookie_behavior=cloudfront.CacheCookieBehavior.none(),
            header_behavior=cloudfront.CacheHeaderBehavior.none(),
            query_string_behavior=cloudfront.CacheQueryStringBehavior.allow_list(names.AVATAR_URL_PARAM),
            # WebP does not shrink.
            enable_accept_encoding_gzip=False,
            enable_accept_encoding_brotli=False,
        )
        stack = Stack.of(self)
        # The API's own name (https://<id>.execute-api.<region>.<suffix>), with its $default stage at /.
        api_domain = f"{api.api_id}.execute-api.{stack.region}.{stack.url_suffix}"
        self.distribution.add_behavior(
            names.AVATAR_PATH,
            origins.HttpOrigin(api_domain, protocol_policy=cloudfront.OriginProtocolPolicy.HTTPS_ONLY),
            viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
            allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
            cached_methods=cloudfront.CachedMethods.CACHE_GET_HEAD,
            cache_policy=self.avatar_cache_policy,
            response_headers_policy=self.response_headers_policy,
            compress=False,
        )
        return f"https://{self.domain_name}{names.AVATAR_PATH}"

    def grant_composer(self, grantee: iam.IGrantable) -> None:
        """Exactly what a composer's sink does: write objects under the prefix, read them back to
        resume a playlist, and list the prefix so that a missing playlist reads as 404, not 403
        (S3 answers AccessDenied for a missing key to a caller without ListBucket).

        s3:PutObjectTagging because a PUT with a tag (x-amz-tagging) needs it too: a Space without a
        recording tags its objects for deletion (S3Sink.discarding). Not narrowed to that one tag by
        a condition: a composer that may overwrite any object here gains nothing from tagging one.
        """
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject", "s3:PutObjectTagging", "s3:GetObject"],
                resources=[self.bucket.arn_for_objects(f"{self.prefix}*")],
            )
        )
        # composer/hls/sinks.py S3Sink: put_object, and get_object treating NoSuchKey as "none yet".
        # No s3:prefix condition: a GetObject carries no prefix for S3's "may this caller list?"
        # check, so a conditioned grant is not documented to turn that 403 into a 404, and a
        # composer that cannot tell "no playlist yet" from "denied" starts no broadcast. Listing
        # shows keys under broadcasts/ only (the bucket holds nothing else), which it may read anyway.
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(actions=["s3:ListBucket"], resources=[self.bucket.bucket_arn])
        )
