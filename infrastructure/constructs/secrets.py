"""Generated secrets: the LiveKit key pair and the Redis AUTH token. Nothing secret is in the template.

Rotation is manual and documented in docs/infrastructure.md ("Secret rotation"): the secret holds one
key pair, so a new pair replaces the old one and the nodes and the control plane roll onto it, when no
Space is live.
"""

from __future__ import annotations

import json

from aws_cdk import RemovalPolicy
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from contract import names


class Secrets(Construct):
    def __init__(self, scope: Construct, id_: str, *, api_key: str, removal_policy: RemovalPolicy) -> None:
        super().__init__(scope, id_)
        # The API key is the `iss` of every token a client holds, so it is an identifier, not a
        # secret: it sits in the secret's template; the API secret next to it is generated.
        self.livekit = secretsmanager.Secret(
            self,
            "LiveKitKeys",
            description="LiveKit API key and generated secret (signs tokens, API calls and webhooks)",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template=json.dumps({names.SECRET_FIELD_API_KEY: api_key}),
                generate_string_key=names.SECRET_FIELD_API_SECRET,
                exclude_punctuation=True,
                password_length=48,
            ),
            removal_policy=removal_policy,
        )
        # ElastiCache AUTH tokens allow 16-128 printable characters without @ " /: alphanumeric is safe
        # to drop into the livekit.yaml on the node as well.
        self.redis_auth = secretsmanager.Secret(
            self,
            "RedisAuth",
            description="AUTH token of the LiveKit routing Redis",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                exclude_punctuation=True, password_length=64
            ),
            removal_policy=removal_policy,
        )
