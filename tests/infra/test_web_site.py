"""The page the stack hosts (infrastructure/constructs/web_site.py), read from synthesized templates:
the private bucket behind its own CloudFront, the build copied in with the stack's policy and
config.json (deploy-time values, resolved here the way CloudFormation would), its origin allowed by
the API, the sign-in and the broadcast CDN, and a template with no dependency cycle."""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

from app import WEB_DIST, build_app, settings_from_context
from contract import names, web_security
from infrastructure.constructs import web_site
from infrastructure.stacks.spaces_stack import LOCAL_WEB_ORIGIN

from .conftest import Synthesized, synthesize

WEB_CERTIFICATE = "arn:aws:acm:us-east-1:111111111111:certificate/web"


def _cfn(value: Any) -> str:
    """A CloudFormation value as a string, with every reference named `<LogicalId[.Attribute]>`."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(_cfn(part) for part in parts)
    if "Fn::GetAtt" in value:
        logical, attribute = value["Fn::GetAtt"]
        return f"<{logical}.{attribute}>"
    if "Ref" in value:
        return f"<{value['Ref']}>"
    raise AssertionError(f"unexpected CloudFormation value {value}")


def _web(synth: Synthesized, type_: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in synth.resources(type_).items() if k.startswith("Web")}


def _web_distribution(synth: Synthesized) -> tuple[str, dict[str, Any]]:
    ((logical, distribution),) = _web(synth, "AWS::CloudFront::Distribution").items()
    return logical, distribution["Properties"]["DistributionConfig"]


def _deployed_file(synth: Synthesized, name: str) -> str:
    """A file the page's deployment writes, with its markers replaced by what they stand for."""
    (folder,) = [f for f in synth.outdir.glob("asset.*") if (f / name).is_file()]
    (deployment,) = [
        d["Properties"]
        for d in synth.resources("Custom::CDKBucketDeployment").values()
        if "SourceMarkers" in d["Properties"]
    ]
    keys = [key if isinstance(key, str) else json.dumps(key) for key in deployment["SourceObjectKeys"]]
    (index,) = [i for i, key in enumerate(keys) if folder.name.removeprefix("asset.") in key]
    text = (folder / name).read_text()
    for marker, value in deployment["SourceMarkers"][index].items():
        text = text.replace(marker, _cfn(value))
    return text


def test_the_page_carries_the_stack_policy_before_anything_it_loads(synth: Synthesized) -> None:
    page = _deployed_file(synth, web_site.PAGE)
    match = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)" />', page)
    assert match is not None
    policy = _cfn(synth.template["Outputs"][names.OUTPUT_WEB_POLICY]["Value"])
    # The output (for a page served elsewhere) and the page say the same, but for the frame policy,
    # which a <meta> element cannot carry and the distribution sends as a header.
    assert html.unescape(match.group(1)) == web_security.meta_policy(policy)
    assert "frame-ancestors" not in match.group(1)
    assert page.index(match.group(0)) < page.index("<script") < page.index("<body")
    # The rest is the build's own page.
    built = (WEB_DIST / web_site.PAGE).read_text()
    assert page.replace(match.group(0), "").replace("\n    \n", "\n") == built.replace("\n    \n", "\n")


def test_config_json_is_the_stacks_web_config(synth: Synthesized) -> None:
    config = json.loads(_deployed_file(synth, web_site.CONFIG))
    assert config == json.loads(_cfn(synth.template["Outputs"][names.OUTPUT_WEB_CONFIG]["Value"]))
    (api,) = synth.resources("AWS::ApiGatewayV2::Api")
    assert config["apiUrl"] == f"<{api}.ApiEndpoint>"
    assert set(config) == {"apiUrl", "avatarUrl", "cognito"}


def test_the_build_is_copied_with_long_lived_assets_and_a_revalidated_page(synth: Synthesized) -> None:
    deployments = [d["Properties"] for d in synth.resources("Custom::CDKBucketDeployment").values()]
    controls = sorted(d["SystemMetadata"]["cache-control"] for d in deployments)
    assert controls == sorted([web_site.ASSET_CACHE_CONTROL, web_site.PAGE_CACHE_CONTROL])
    # Nothing of an earlier build is deleted: a page loaded before a deploy still finds its chunks.
    assert all(d["Prune"] is False for d in deployments)
    # The build's assets/ and nothing else goes under the year-long cache.
    (copy,) = [d for d in deployments if "SourceMarkers" not in d]
    assert copy["SystemMetadata"]["cache-control"] == web_site.ASSET_CACHE_CONTROL
    assert copy["DestinationBucketKeyPrefix"] == f"{web_site.ASSET_FOLDER}/"
    keys = json.dumps(copy["SourceObjectKeys"])
    (folder,) = [
        f for f in synth.outdir.glob("asset.*") if f.is_dir() and f.name.removeprefix("asset.") in keys
    ]
    built = {
        p.relative_to(WEB_DIST / web_site.ASSET_FOLDER)
        for p in (WEB_DIST / "assets").rglob("*")
        if p.is_file()
    }
    copied = {p.relative_to(folder) for p in folder.rglob("*") if p.is_file()}
    assert built and copied == built
    # The page waits for the assets it names.
    (page_id,) = [
        k
        for k, d in synth.resources("Custom::CDKBucketDeployment").items()
        if "SourceMarkers" in d["Properties"]
    ]
    (assets_id,) = set(synth.resources("Custom::CDKBucketDeployment")) - {page_id}
    assert assets_id in synth.template["Resources"][page_id]["DependsOn"]
    # ... and for the API it calls: a new page never meets the old API (docs/web.md).
    (alias_id,) = synth.resources("AWS::Lambda::Alias")
    assert alias_id in synth.template["Resources"][page_id]["DependsOn"]


def test_the_private_bucket_is_read_by_this_distribution_only(synth: Synthesized) -> None:
    ((bucket_id, bucket),) = [
        (k, v) for k, v in _web(synth, "AWS::S3::Bucket").items() if k.startswith("WebFiles")
    ]
    block = bucket["Properties"]["PublicAccessBlockConfiguration"]
    assert all(block[k] is True for k in block)
    assert bucket["Properties"]["LoggingConfiguration"]["LogFilePrefix"] == "s3/"
    (policy,) = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in synth.resources("AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": bucket_id}
    ]
    (allow,) = [s for s in policy if s["Effect"] == "Allow"]
    dist_id, config = _web_distribution(synth)
    assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"} and allow["Action"] == "s3:GetObject"
    assert f'{{"Ref": "{dist_id}"}}' in json.dumps(allow["Condition"])
    assert [s for s in policy if s["Effect"] == "Deny"]  # TLS only
    assert config["DefaultRootObject"] == "index.html"
    assert config["Logging"]["Prefix"] == "cloudfront/"


def test_every_file_is_served_over_https_with_the_headers_that_name_no_origin(synth: Synthesized) -> None:
    _, config = _web_distribution(synth)
    behaviours = [config["DefaultCacheBehavior"], *config["CacheBehaviors"]]
    assert [b.get("PathPattern") for b in behaviours] == [None, web_site.ASSETS]
    ((headers_id, headers),) = _web(synth, "AWS::CloudFront::ResponseHeadersPolicy").items()
    for behaviour in behaviours:
        assert behaviour["ViewerProtocolPolicy"] == "redirect-to-https"
        assert behaviour["AllowedMethods"] == ["GET", "HEAD"]
        assert behaviour["ResponseHeadersPolicyId"] == {"Ref": headers_id}
    security = headers["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    expected = web_security.hosted_headers()
    assert security["ContentSecurityPolicy"]["ContentSecurityPolicy"] == expected["Content-Security-Policy"]
    assert security["ReferrerPolicy"]["ReferrerPolicy"] == expected["Referrer-Policy"]
    assert security["ContentTypeOptions"] == {"Override": True}
    assert security["FrameOptions"]["FrameOption"] == expected["X-Frame-Options"]
    assert security["StrictTransportSecurity"]["AccessControlMaxAgeSec"] > 0
    # The page and its config: a second at the edge, whatever their no-cache says (so an audience
    # arriving at once does not reach the bucket page by page); the hashed assets: CDK's long policy.
    ((_, page_cache),) = _web(synth, "AWS::CloudFront::CachePolicy").items()
    ttl = page_cache["Properties"]["CachePolicyConfig"]
    assert (ttl["MinTTL"], ttl["DefaultTTL"], ttl["MaxTTL"]) == (1, 1, 1)


def test_the_page_origin_is_allowed_by_the_api_the_sign_in_and_the_broadcast(synth: Synthesized) -> None:
    dist_id, _ = _web_distribution(synth)
    origin = f"https://<{dist_id}.DomainName>"
    (api,) = synth.resources("AWS::ApiGatewayV2::Api").values()
    assert [_cfn(o) for o in api["Properties"]["CorsConfiguration"]["AllowOrigins"]] == [origin]
    (client,) = synth.resources("AWS::Cognito::UserPoolClient").values()
    assert [_cfn(u) for u in client["Properties"]["CallbackURLs"]] == [f"{origin}/"]
    (broadcast,) = [
        p["Properties"]["ResponseHeadersPolicyConfig"]
        for k, p in synth.resources("AWS::CloudFront::ResponseHeadersPolicy").items()
        if k.startswith("Broadcast")
    ]
    assert [_cfn(o) for o in broadcast["CorsConfig"]["AccessControlAllowOrigins"]["Items"]] == [origin]
    for function in synth.resources("AWS::Lambda::Function").values():
        env = function["Properties"].get("Environment", {}).get("Variables", {})
        if names.ENV_CORS_ORIGINS in env:
            assert _cfn(env[names.ENV_CORS_ORIGINS]) == origin
    assert _cfn(synth.template["Outputs"][names.OUTPUT_WEB_URL]["Value"]) == f"{origin}/"


def test_the_copy_runs_under_the_stacks_own_narrow_role(synth: Synthesized) -> None:
    ((role_id, role),) = [
        (k, v) for k, v in _web(synth, "AWS::IAM::Role").items() if k.startswith("WebDeploymentRole")
    ]
    assert "ManagedPolicyArns" not in role["Properties"]
    statements = [
        s
        for p in synth.resources("AWS::IAM::Policy").values()
        if {"Ref": role_id} in p["Properties"]["Roles"]
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    (logs,) = [s for s in statements if any(str(a).startswith("logs:") for a in s["Action"])]
    ((group_id, group),) = _web(synth, "AWS::Logs::LogGroup").items()
    assert logs["Resource"] == {"Fn::GetAtt": [group_id, "Arn"]}
    assert group["Properties"]["RetentionInDays"] == 30
    assert not [s for s in statements if s["Resource"] == "*"]
    # The one handler Lambda both copies run in (CDK keeps one per stack and memory size) has this
    # role and log group: another BucketDeployment made first could have given it its own.
    for deployment in synth.resources("Custom::CDKBucketDeployment").values():
        (handler,) = deployment["Properties"]["ServiceToken"]["Fn::GetAtt"][:1]
        function = synth.template["Resources"][handler]["Properties"]
        assert function["Role"] == {"Fn::GetAtt": [role_id, "Arn"]}
        assert function["LoggingConfig"]["LogGroup"] == {"Ref": group_id}


def _references(value: Any, found: set[str]) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                found.add(inner)
            elif key == "Fn::GetAtt":
                found.add(inner[0] if isinstance(inner, list) else str(inner).split(".")[0])
            elif key == "Fn::Sub":
                text = inner if isinstance(inner, str) else inner[0]
                found.update(re.findall(r"\$\{([A-Za-z0-9]+)", text))
                _references(inner, found)
            else:
                _references(inner, found)
    elif isinstance(value, list):
        for inner in value:
            _references(inner, found)


def test_no_resource_waits_on_itself(synth: Synthesized) -> None:
    """The page names the API and the CDN, and they allow the page's origin: a cycle CloudFormation
    refuses only at deploy time. Here, with a depth-first search over every reference."""
    resources = synth.template["Resources"]
    edges: dict[str, set[str]] = {}
    for logical, resource in resources.items():
        found: set[str] = set()
        _references(resource.get("Properties", {}), found)
        depends = resource.get("DependsOn", [])
        found.update([depends] if isinstance(depends, str) else depends)
        edges[logical] = found & set(resources)
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for nxt in edges[node]:
            assert state.get(nxt) != "open", f"dependency cycle: {[*path[path.index(nxt) :], nxt]}"
            if nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = "done"

    for node in edges:
        if node not in state:
            visit(node, [node])


@pytest.fixture(scope="module")
def elsewhere(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(tmp_path_factory.mktemp("cdk.out.web"), host_web="false")


def test_a_page_served_elsewhere_gets_no_web_resources(elsewhere: Synthesized) -> None:
    assert not [k for k in elsewhere.template["Resources"] if k.startswith("Web")]
    assert not elsewhere.resources("Custom::CDKBucketDeployment")
    assert names.OUTPUT_WEB_URL not in elsewhere.template["Outputs"]
    # What such a deployment uploads itself (docs/web.md) is still output.
    assert {names.OUTPUT_WEB_CONFIG, names.OUTPUT_WEB_POLICY} <= set(elsewhere.template["Outputs"])
    (client,) = elsewhere.resources("AWS::Cognito::UserPoolClient").values()
    assert client["Properties"]["CallbackURLs"] == [f"{LOCAL_WEB_ORIGIN}/"]


@pytest.fixture(scope="module")
def named(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(
        tmp_path_factory.mktemp("cdk.out.web"),
        web_domain="spaces.example.org",
        web_certificate_arn=WEB_CERTIFICATE,
        # The page's own origin named again (a deployment that served it by hand before): once each.
        cors_origins="http://localhost:5173,https://spaces.example.org/",
        hosted_zone_id="Z0000000000000",
        hosted_zone_name="example.org",
    )


def test_a_web_domain_gets_its_certificate_records_and_is_allowed_by_name(named: Synthesized) -> None:
    _, config = _web_distribution(named)
    assert config["Aliases"] == ["spaces.example.org"]
    assert config["ViewerCertificate"]["AcmCertificateArn"] == WEB_CERTIFICATE
    assert config["ViewerCertificate"]["MinimumProtocolVersion"] == "TLSv1.2_2021"
    records = _web(named, "AWS::Route53::RecordSet").values()
    assert sorted(r["Properties"]["Type"] for r in records) == ["A", "AAAA"]
    assert {r["Properties"]["Name"] for r in records} == {"spaces.example.org."}
    (api,) = named.resources("AWS::ApiGatewayV2::Api").values()
    assert api["Properties"]["CorsConfiguration"]["AllowOrigins"] == [
        "http://localhost:5173",
        "https://spaces.example.org",
    ]
    (client,) = named.resources("AWS::Cognito::UserPoolClient").values()
    assert client["Properties"]["CallbackURLs"] == ["http://localhost:5173/", "https://spaces.example.org/"]
    assert named.template["Outputs"][names.OUTPUT_WEB_URL]["Value"] == "https://spaces.example.org/"
    assert "WebCdnDomainName" in named.template["Outputs"]


@pytest.mark.parametrize(
    ("context", "complaint"),
    [
        ({"web_domain": "spaces.example.org"}, "web_certificate_arn"),
        ({"web_certificate_arn": WEB_CERTIFICATE}, "web_domain"),
        (
            {"host_web": "false", "web_domain": "spaces.example.org", "web_certificate_arn": WEB_CERTIFICATE},
            "host_web",
        ),
        ({"host_web": "maybe"}, "host_web"),
    ],
)
def test_web_context_that_cannot_work_is_refused(context: dict[str, str], complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        settings_from_context(cdk.App(context=context))


@pytest.mark.parametrize(
    ("context", "complaint"),
    [
        ({"cors_origins": "spaces.example.org"}, "cors_origins"),
        ({"cors_origins": "https://spaces.example.org/app"}, "cors_origins"),
        ({"cors_origins": "http://spaces.example.org"}, "cors_origins"),
        ({"cors_origins": "https://a.example.org, https://b.example.org/path"}, "b.example.org/path"),
        ({"web_domain": "https://spaces.example.org", "web_certificate_arn": WEB_CERTIFICATE}, "web_domain"),
        ({"web_domain": "spaces.example.org/", "web_certificate_arn": WEB_CERTIFICATE}, "web_domain"),
    ],
)
def test_an_origin_or_name_the_browser_or_cloudfront_would_not_match_is_refused(
    context: dict[str, str], complaint: str
) -> None:
    with pytest.raises(ValueError, match=complaint):
        settings_from_context(cdk.App(context=context))


def test_origins_are_taken_as_a_browser_sends_them() -> None:
    settings = settings_from_context(
        cdk.App(
            context={
                "cors_origins": " https://a.example.org/ ,http://localhost:5173,https://b.example.org:8443"
            }
        )
    )
    assert settings.cors_origins == (
        "https://a.example.org",
        "http://localhost:5173",
        "https://b.example.org:8443",
    )


def test_a_build_with_more_than_the_page_and_its_assets_is_refused(tmp_path: Path) -> None:
    """Anything else at the build's root would be served without a content hash: it is refused
    rather than cached for a year, or never."""
    dist = tmp_path / "dist"
    shutil.copytree(WEB_DIST, dist)
    (dist / "robots.txt").write_text("User-agent: *\n")
    with pytest.raises(Exception, match="robots.txt"):
        build_app(
            context={"aws:cdk:bundling-stacks": [], "web_dist": str(dist)}, outdir=str(tmp_path / "out")
        )


def test_a_build_with_a_config_of_its_own_or_hidden_files_is_hosted_with_the_stacks_config(
    tmp_path: Path,
) -> None:
    """A config.json written into the build for a page served elsewhere (docs/web.md) is neither
    refused nor uploaded: the stack's replaces it. A hidden file is ignored."""
    dist = tmp_path / "dist"
    shutil.copytree(WEB_DIST, dist)
    (dist / web_site.CONFIG).write_text('{"apiUrl": "https://stale.example.org"}')
    (dist / ".DS_Store").write_bytes(b"\0")
    outdir = synthesize(tmp_path / "out", web_dist=str(dist)).outdir
    assert "stale.example.org" not in "".join(
        f.read_text(errors="replace")
        for f in outdir.glob("asset.*/**/*")
        if f.is_file() and f.suffix != ".zip"
    )
    assert not list(outdir.glob("asset.*/.DS_Store"))


def test_a_missing_build_is_refused_with_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="make web"):
        build_app(
            context={"aws:cdk:bundling-stacks": [], "web_dist": str(tmp_path)}, outdir=str(tmp_path / "out")
        )
