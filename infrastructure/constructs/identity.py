"""Who the users are: a Cognito user pool by default. Deployments with their own OIDC provider
pass its issuer and audience instead and this construct is not created (see app.py).

The web page signs in through Cognito's managed login (hosted UI) on the pool's Cognito domain with
the OAuth 2.0 authorization-code grant and PKCE (docs/web.md): the only cloud sign-in that hands the
page a refresh token, so a session outlives the 1-hour ID token."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cognito as cognito
from constructs import Construct

from contract import web_security

REFRESH_TOKEN_DAYS = 30


@dataclass(frozen=True, kw_only=True)
class SesEmail:
    """The pool's e-mail (verification codes, invitations, password resets) sent through Amazon SES
    instead of Cognito's own sender, which AWS limits to about 50 e-mails a day per account."""

    from_email: str
    # Where SES verified the sender; None: the stack's region.
    region: str | None = None
    # The verified SES identity when it is a domain rather than the address itself.
    verified_domain: str | None = None
    configuration_set: str | None = None


class UserPoolIdentity(Construct):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        removal_policy: RemovalPolicy,
        mfa_required: bool = False,
        self_sign_up: bool = True,
        host_group: str | None = None,
        ses: SesEmail | None = None,
        domain_prefix: str,
        web_origins: Sequence[str],
    ) -> None:
        super().__init__(scope, id_)
        self.mfa_required = mfa_required
        self.user_pool = cognito.UserPool(
            self,
            "Users",
            # Off: only an administrator creates accounts (AdminCreateUser, the console), and managed
            # login shows no sign-up link.
            self_sign_up_enabled=self_sign_up,
            sign_in_aliases=cognito.SignInAliases(email=True),
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            password_policy=cognito.PasswordPolicy(
                min_length=12,
                require_digits=True,
                require_lowercase=True,
                require_uppercase=True,
                require_symbols=True,
            ),
            # Required: managed login enrols a TOTP app at first sign-in. Otherwise optional, which
            # offers no enrolment (the web client has no page for it; docs/infrastructure.md).
            mfa=cognito.Mfa.REQUIRED if mfa_required else cognito.Mfa.OPTIONAL,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            feature_plan=cognito.FeaturePlan.PLUS,
            standard_threat_protection_mode=cognito.StandardThreatProtectionMode.FULL_FUNCTION,
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            # What other people see (docs/identity.md): the ID token's `name` and `picture` claims.
            # Sign-up asks for a name, so no one appears as their subject (a UUID); the avatar is
            # optional. Both are mutable: an administrator can correct them (AdminUpdateUserAttributes),
            # and so can the user through Cognito's API after an SRP sign-in (whose tokens carry the
            # admin scope); no page does it. Roles are shown from the store, never from names.
            standard_attributes=cognito.StandardAttributes(
                fullname=cognito.StandardAttribute(required=True, mutable=True),
                profile_picture=cognito.StandardAttribute(required=False, mutable=True),
            ),
            # Here, not in the console: CloudFormation writes every property of the pool it updates, so
            # the next update would put back a sender chosen by hand.
            email=cognito.UserPoolEmail.with_ses(
                from_email=ses.from_email,
                # The stack is environment-agnostic: CDK needs a region, the deploy's one is a token.
                ses_region=ses.region or Stack.of(self).region,
                ses_verified_domain=ses.verified_domain,
                configuration_set_name=ses.configuration_set,
            )
            if ses
            else None,
            removal_policy=removal_policy,
        )
        # The control plane lets only members of this group create Spaces (SPACES_HOST_GROUP): their
        # tokens carry it in `cognito:groups`. Administrators add members; nobody joins by themselves.
        self.host_group = (
            cognito.CfnUserPoolGroup(
                self,
                "Hosts",
                user_pool_id=self.user_pool.user_pool_id,
                group_name=host_group,
                description="Users who may create Spaces (SPACES_HOST_GROUP of the control plane)",
            )
            if host_group
            else None
        )
        # Managed login lives at https://<prefix>.auth.<region>.amazoncognito.com (classic hosted UI:
        # no branding resource to keep).
        self.domain = self.user_pool.add_domain(
            "Login", cognito_domain=cognito.CognitoDomainOptions(domain_prefix=domain_prefix)
        )
        # The page is served at the root of each web origin; Cognito sends the code back there and
        # returns there after logout. Exact-match URLs, so the page uses `<origin>/` as redirect_uri.
        self.redirect_urls = [f"{origin.rstrip('/')}/" for origin in web_origins]
        # The web client: a public SPA, so no client secret (PKCE protects the code instead);
        # authorization-code grant only (no implicit: tokens never travel in a URL).
        self.client = self.user_pool.add_client(
            "Web",
            generate_secret=False,
            auth_flows=cognito.AuthFlow(user_srp=True),
            o_auth=cognito.OAuthSettings(
                flows=cognito.OAuthFlows(authorization_code_grant=True, implicit_code_grant=False),
                scopes=[cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL, cognito.OAuthScope.PROFILE],
                callback_urls=self.redirect_urls,
                logout_urls=self.redirect_urls,
            ),
            supported_identity_providers=[cognito.UserPoolClientIdentityProvider.COGNITO],
            access_token_validity=Duration.hours(1),
            id_token_validity=Duration.hours(1),
            # 30 days: someone who opens Spaces about once a month stays signed in, and a stolen
            # refresh token (it sits in localStorage, docs/web.md) is useful for at most that long;
            # sign-out revokes it at once.
            refresh_token_validity=Duration.days(REFRESH_TOKEN_DAYS),
            enable_token_revocation=True,
            prevent_user_existence_errors=True,
            # Only what the page needs in the ID token (the `profile` scope would otherwise put every
            # readable profile attribute there) and what sign-up and profile edits write.
            read_attributes=cognito.ClientAttributes().with_standard_attributes(
                email=True, email_verified=True, fullname=True, profile_picture=True
            ),
            write_attributes=cognito.ClientAttributes().with_standard_attributes(
                email=True, fullname=True, profile_picture=True
            ),
        )
        region = Stack.of(self).region
        self.issuer = f"{web_security.cognito_api_origin(region)}/{self.user_pool.user_pool_id}"
        self.audience = [self.client.user_pool_client_id]
        self.region = region
        self.domain_name = f"{domain_prefix}.auth.{region}.amazoncognito.com"
