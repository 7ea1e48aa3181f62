"""Cloud sign-in: the user pool's Cognito domain and the web client's OAuth settings (code grant +
PKCE from a public SPA, docs/web.md), both in the whole stack and in the identity construct alone."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks

from app import build_app, settings_from_context
from contract import names
from infrastructure.constructs.identity import REFRESH_TOKEN_DAYS, SesEmail, UserPoolIdentity
from infrastructure.stacks.spaces_stack import web_config
from tests.infra.conftest import Synthesized

ORIGINS = ("https://spaces.example.com", "https://staging.example.com/")


def _identity_template(
    origins: tuple[str, ...],
    *,
    mfa_required: bool = False,
    self_sign_up: bool = True,
    ses: SesEmail | None = None,
) -> Template:
    app = cdk.App()
    stack = cdk.Stack(app, "IdentityOnly", env=cdk.Environment(account="123456789012", region="eu-west-1"))
    UserPoolIdentity(
        stack,
        "Identity",
        removal_policy=cdk.RemovalPolicy.DESTROY,
        mfa_required=mfa_required,
        self_sign_up=self_sign_up,
        ses=ses,
        domain_prefix="spaces-test",
        web_origins=origins,
    )
    return Template.from_stack(stack)


def _web_client(template: dict[str, Any]) -> dict[str, Any]:
    clients = [r for r in template["Resources"].values() if r["Type"] == "AWS::Cognito::UserPoolClient"]
    assert len(clients) == 1
    props: dict[str, Any] = clients[0]["Properties"]
    return props


def test_the_web_client_is_a_public_code_grant_client_with_the_origins_as_redirects() -> None:
    client = _web_client(_identity_template(ORIGINS).to_json())
    assert client["AllowedOAuthFlowsUserPoolClient"] is True
    assert client["AllowedOAuthFlows"] == ["code"]  # no implicit grant
    assert sorted(client["AllowedOAuthScopes"]) == ["email", "openid", "profile"]
    assert client["GenerateSecret"] is False  # public SPA: PKCE instead of a secret
    redirects = ["https://spaces.example.com/", "https://staging.example.com/"]
    assert client["CallbackURLs"] == redirects
    assert client["LogoutURLs"] == redirects
    assert client["SupportedIdentityProviders"] == ["COGNITO"]
    assert client["EnableTokenRevocation"] is True
    assert client["RefreshTokenValidity"] == REFRESH_TOKEN_DAYS * 24 * 60
    assert client["IdTokenValidity"] == 60 and client["AccessTokenValidity"] == 60
    assert client["TokenValidityUnits"] == {
        "AccessToken": "minutes",
        "IdToken": "minutes",
        "RefreshToken": "minutes",
    }
    # The existing refresh (InitiateAuth REFRESH_TOKEN_AUTH) stays allowed; no password flow.
    assert "ALLOW_REFRESH_TOKEN_AUTH" in client["ExplicitAuthFlows"]
    assert "ALLOW_USER_PASSWORD_AUTH" not in client["ExplicitAuthFlows"]


def test_the_pool_gets_the_cognito_domain_from_the_prefix() -> None:
    template = _identity_template(ORIGINS)
    template.has_resource_properties("AWS::Cognito::UserPoolDomain", {"Domain": "spaces-test"})
    template.resource_count_is("AWS::Cognito::UserPoolDomain", 1)


def test_the_stack_defaults_to_its_hosted_page_and_a_per_account_prefix(synth: Synthesized) -> None:
    client = _web_client(synth.template)
    (web_cdn,) = [k for k in synth.resources("AWS::CloudFront::Distribution") if k.startswith("Web")]
    page = {"Fn::Join": ["", ["https://", {"Fn::GetAtt": [web_cdn, "DomainName"]}, "/"]]}
    assert client["CallbackURLs"] == client["LogoutURLs"] == [page]
    assert client["AllowedOAuthFlows"] == ["code"]
    synth.assertions.has_resource_properties(
        "AWS::Cognito::UserPoolDomain",
        {"Domain": {"Fn::Join": ["", ["spaces-", {"Ref": "AWS::AccountId"}]]}},
    )


def test_the_web_config_output_names_the_cognito_client_and_domain(synth: Synthesized) -> None:
    output = synth.template["Outputs"][names.OUTPUT_WEB_CONFIG]["Value"]
    rendered = json.dumps(output)
    for piece in ('\\"apiUrl\\"', '\\"cognito\\"', '\\"region\\"', '\\"clientId\\"', '\\"domain\\"'):
        assert piece in rendered, piece
    assert ".auth." in rendered and "amazoncognito.com" in rendered
    client_id = next(
        k for k, v in synth.template["Resources"].items() if v["Type"] == "AWS::Cognito::UserPoolClient"
    )
    assert client_id in rendered


def test_with_an_external_oidc_provider_the_page_config_has_no_cognito() -> None:
    # No user pool is created then (settings.oidc set): the page keeps its pasted-token sign-in.
    assert web_config("https://api.example.com", None) == {"apiUrl": "https://api.example.com"}


def test_context_passes_the_prefix_and_origins() -> None:
    app = cdk.App(context={"auth_domain_prefix": "my-spaces", "cors_origins": ",".join(ORIGINS)})
    settings = settings_from_context(app)
    assert settings.auth_domain_prefix == "my-spaces"
    # One trailing slash is dropped: a browser's Origin header has none.
    assert settings.cors_origins == tuple(o.removesuffix("/") for o in ORIGINS)


@pytest.mark.parametrize(
    "prefix", ["My-Spaces", "-spaces", "spaces-", "a" * 64, "spaces.auth", "my-aws-spaces", "cognito-x"]
)
def test_a_bad_prefix_is_refused_with_the_key_named(prefix: str) -> None:
    with pytest.raises(ValueError, match="auth_domain_prefix"):
        settings_from_context(cdk.App(context={"auth_domain_prefix": prefix}))


def test_the_identity_construct_alone_is_nag_clean_but_for_the_acknowledged_mfa_finding() -> None:
    app = cdk.App()
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    stack = cdk.Stack(app, "IdentityNag", env=cdk.Environment(account="123456789012", region="eu-west-1"))
    identity = UserPoolIdentity(
        stack,
        "Identity",
        removal_policy=cdk.RemovalPolicy.DESTROY,
        domain_prefix="spaces-test",
        web_origins=ORIGINS,
    )
    # The same acknowledgment (and reason) the stack gives; synth raises on any other finding.
    cdk.Validations.of(identity.user_pool).acknowledge(
        cdk.Acknowledgment(id="AwsSolutions-COG2", reason="MFA not required by default: see spaces_stack.py")
    )
    app.synth()


def test_mfa_is_optional_by_default_and_required_on_demand_with_totp_only() -> None:
    assert settings_from_context(cdk.App()).mfa_required is False
    settings = settings_from_context(cdk.App(context={"mfa_required": "true"}))
    assert settings.mfa_required is True
    for required, mode in ((False, "OPTIONAL"), (True, "ON")):
        _identity_template(ORIGINS, mfa_required=required).has_resource_properties(
            "AWS::Cognito::UserPool",
            {"MfaConfiguration": mode, "EnabledMfas": ["SOFTWARE_TOKEN_MFA"]},
        )


def test_a_stack_that_requires_mfa_needs_no_mfa_acknowledgement() -> None:
    # cdk-nag raises on any unacknowledged finding at synth: COG2 is acknowledged only when MFA is
    # optional, so this synth passing says a required MFA satisfies it.
    app = build_app(
        context={"aws:cdk:bundling-stacks": [], "mfa_required": "true", "lambda_bundling": "false"}
    )
    app.synth()
    pool = next(
        r
        for r in Template.from_stack(app.node.find_child("Spaces")).to_json()["Resources"].values()  # type: ignore[arg-type]
        if r["Type"] == "AWS::Cognito::UserPool"
    )
    assert pool["Properties"]["MfaConfiguration"] == "ON"


def test_the_api_accepts_the_id_token_of_the_web_client(synth: Synthesized) -> None:
    # The managed-login ID token carries aud = the web client id and iss = the pool: exactly what the
    # JWT authorizer already checked for pasted tokens (functions/api/deps.py reads only `sub`).
    resources = synth.template["Resources"]
    client_id = next(k for k, v in resources.items() if v["Type"] == "AWS::Cognito::UserPoolClient")
    _, authorizer = synth.one("AWS::ApiGatewayV2::Authorizer", AuthorizerType="JWT")
    jwt = authorizer["Properties"]["JwtConfiguration"]
    assert jwt["Audience"] == [{"Ref": client_id}]
    assert "cognito-idp." in json.dumps(jwt["Issuer"])


def test_the_pool_asks_for_a_name_and_the_id_token_carries_name_and_picture() -> None:
    """Names and faces (docs/identity.md): sign-up requires `name`, `picture` is optional, and the web
    client may read both (so the ID token the page sends the API carries them, with the `profile`
    scope) and write both (sign-up, profile edits)."""
    template = _identity_template(ORIGINS).to_json()
    pools = [r for r in template["Resources"].values() if r["Type"] == "AWS::Cognito::UserPool"]
    schema = {a["Name"]: a for a in pools[0]["Properties"]["Schema"]}
    assert schema["name"]["Required"] is True and schema["name"]["Mutable"] is True
    assert schema["picture"]["Required"] is False and schema["picture"]["Mutable"] is True
    client = _web_client(template)
    assert {"name", "picture", "email"} <= set(client["ReadAttributes"])
    assert {"name", "picture", "email"} <= set(client["WriteAttributes"])
    assert "profile" in client["AllowedOAuthScopes"]


@pytest.mark.parametrize("stack_name", ["S" * 51, "AwsSpaces"])
def test_a_stack_name_that_cannot_make_the_default_prefix_is_refused(stack_name: str) -> None:
    """The default prefix is `<stack name>-<account id>`: Cognito would refuse it at deploy time."""
    with pytest.raises(ValueError, match="auth_domain_prefix"):
        build_app(context={"stack_name": stack_name, "aws:cdk:bundling-stacks": []})
    build_app(
        context={"stack_name": stack_name, "auth_domain_prefix": "spaces-x", "aws:cdk:bundling-stacks": []}
    )


def test_the_page_policy_output_allows_the_stacks_own_origins(synth: Synthesized) -> None:
    rendered = json.dumps(synth.template["Outputs"][names.OUTPUT_WEB_POLICY]["Value"])
    directives = {part.split()[0] for part in rendered.split("; ")[1:]}
    assert {"connect-src", "media-src", "img-src", "frame-ancestors"} <= directives
    # The API (a reference to the HTTP API), the SFU's signalling, the CDN and the sign-in domain.
    api = next(k for k, v in synth.template["Resources"].items() if v["Type"] == "AWS::ApiGatewayV2::Api")
    assert api in rendered
    assert "wss://livekit.example.com" in rendered and "https://livekit.example.com" in rendered
    distribution = next(
        k
        for k, v in synth.template["Resources"].items()
        if v["Type"] == "AWS::CloudFront::Distribution" and k.startswith("Broadcast")
    )
    assert distribution in rendered
    assert ".auth." in rendered and "amazoncognito.com" in rendered
    # Where the page renews its 1-hour ID token (web/src/auth.ts cognitoRefresh): without it every
    # session ends an hour after sign-in.
    assert ' https://cognito-idp.", {"Ref": "AWS::Region"}, ".amazonaws.com;' in rendered
    assert "frame-ancestors 'none'" in rendered and "script-src 'self';" in rendered


def _admin_only(template: dict[str, Any]) -> bool:
    pools = [r for r in template["Resources"].values() if r["Type"] == "AWS::Cognito::UserPool"]
    assert len(pools) == 1
    only: bool = pools[0]["Properties"]["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"]
    return only


def test_self_sign_up_is_open_by_default_and_closed_on_demand(synth: Synthesized) -> None:
    assert _admin_only(synth.template) is False  # today's behaviour: anyone may sign up
    assert settings_from_context(cdk.App()).self_sign_up is True
    closed = settings_from_context(cdk.App(context={"self_sign_up": "false"}))
    assert closed.self_sign_up is False
    assert _admin_only(_identity_template(ORIGINS, self_sign_up=closed.self_sign_up).to_json()) is True
    assert _admin_only(_identity_template(ORIGINS, self_sign_up=True).to_json()) is False


def test_a_misspelt_self_sign_up_is_refused_with_the_key_named() -> None:
    with pytest.raises(ValueError, match="self_sign_up"):
        settings_from_context(cdk.App(context={"self_sign_up": "flase"}))


def _api_environment(template: dict[str, Any]) -> dict[str, str]:
    (api,) = [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function" and r["Properties"]["Handler"] == "functions.handler.handler"
    ]
    variables: dict[str, str] = api["Environment"]["Variables"]
    return variables


def test_without_host_group_anyone_may_host(synth: Synthesized) -> None:
    assert names.ENV_HOST_GROUP not in _api_environment(synth.template)
    assert not synth.resources("AWS::Cognito::UserPoolGroup")
    assert settings_from_context(cdk.App()).host_group is None


def test_host_group_creates_the_group_and_tells_the_control_plane() -> None:
    app = build_app(
        context={"aws:cdk:bundling-stacks": [], "lambda_bundling": "false", "host_group": "hosts"}
    )
    app.synth()  # cdk-nag included: the group adds no finding
    template = Template.from_stack(app.node.find_child("Spaces"))  # type: ignore[arg-type]
    (group,) = [
        r["Properties"]
        for r in template.to_json()["Resources"].values()
        if r["Type"] == "AWS::Cognito::UserPoolGroup"
    ]
    assert group["GroupName"] == "hosts"
    pool = next(
        k for k, v in template.to_json()["Resources"].items() if v["Type"] == "AWS::Cognito::UserPool"
    )
    assert group["UserPoolId"] == {"Ref": pool}
    assert _api_environment(template.to_json())[names.ENV_HOST_GROUP] == "hosts"


@pytest.mark.parametrize(
    "context",
    [
        {"host_group": ""},
        {"host_group": "space hosts"},
        {"host_group": "a,b"},
        {"host_group": "h" * 129},
        {"host_group": "hosts", "oidc_issuer": "https://idp.example.com", "oidc_audience": "spaces"},
    ],
)
def test_a_host_group_that_cannot_work_is_refused_with_the_key_named(context: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="host_group"):
        settings_from_context(cdk.App(context=context))


def _email_configuration(template: dict[str, Any]) -> dict[str, Any]:
    (pool,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::Cognito::UserPool"]
    configuration: dict[str, Any] = pool["Properties"].get("EmailConfiguration", {})
    return configuration


def test_without_ses_the_pool_uses_cognitos_own_sender(synth: Synthesized) -> None:
    assert _email_configuration(synth.template).get("EmailSendingAccount", "COGNITO_DEFAULT") == (
        "COGNITO_DEFAULT"
    )
    assert settings_from_context(cdk.App()).sign_up_email is None


def test_ses_context_makes_the_pool_send_through_ses() -> None:
    settings = settings_from_context(
        cdk.App(
            context={
                "ses_from_email": "no-reply@spaces.example.org",
                "ses_verified_domain": "spaces.example.org",
                "ses_configuration_set": "sign-up",
            }
        )
    )
    assert settings.sign_up_email == SesEmail(
        from_email="no-reply@spaces.example.org",
        verified_domain="spaces.example.org",
        configuration_set="sign-up",
    )
    # The construct's stack has a region: the identity ARN is in it unless ses_region says otherwise.
    email = _email_configuration(_identity_template(ORIGINS, ses=settings.sign_up_email).to_json())
    assert email["EmailSendingAccount"] == "DEVELOPER"
    assert email["From"] == "no-reply@spaces.example.org"
    assert email["ConfigurationSet"] == "sign-up"
    assert ":ses:eu-west-1:" in json.dumps(email["SourceArn"])
    assert json.dumps(email["SourceArn"]).endswith(':identity/spaces.example.org"]]}')
    other = _identity_template(ORIGINS, ses=SesEmail(from_email="a@example.org", region="us-east-1"))
    source = json.dumps(_email_configuration(other.to_json())["SourceArn"])
    assert ":ses:us-east-1:" in source and source.endswith(':identity/a@example.org"]]}')


def test_the_environment_agnostic_stack_sends_through_ses_in_its_deploy_region() -> None:
    app = build_app(
        context={"aws:cdk:bundling-stacks": [], "lambda_bundling": "false", "ses_from_email": "a@example.org"}
    )
    app.synth()
    email = _email_configuration(Template.from_stack(app.node.find_child("Spaces")).to_json())  # type: ignore[arg-type]
    assert email["EmailSendingAccount"] == "DEVELOPER"
    assert {"Ref": "AWS::Region"} in email["SourceArn"]["Fn::Join"][1]


@pytest.mark.parametrize(
    "context",
    [
        {"ses_from_email": "Spaces <no-reply@example.org>"},
        {"ses_from_email": "no-reply"},
        {"ses_region": "eu-west-1"},
        {"ses_from_email": "a@example.org", "oidc_issuer": "https://idp.example.com", "oidc_audience": "x"},
    ],
)
def test_ses_context_that_cannot_work_is_refused_with_the_key_named(context: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="ses_"):
        settings_from_context(cdk.App(context=context))


def test_self_sign_up_with_an_external_provider_is_refused_rather_than_ignored() -> None:
    """Sign-up is the external provider's business: the key would do nothing there."""
    context = {"self_sign_up": "false", "oidc_issuer": "https://idp.example.com", "oidc_audience": "x"}
    with pytest.raises(ValueError, match="self_sign_up"):
        settings_from_context(cdk.App(context=context))
