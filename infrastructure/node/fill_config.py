"""Fills livekit.yaml's placeholders with the secrets, read from Secrets Manager on the node.

Runs on the node's own python3 (Amazon Linux 2023: 3.9), standard library only. Usage:
    fill_config.py TEMPLATE OUTPUT
Environment: AWS_REGION, LIVEKIT_SECRET_ARN, REDIS_SECRET_ARN, the placeholders (PLACEHOLDER_*) and
the fields of the LiveKit secret (SECRET_FIELD_*), all set by the user data.
"""

import json
import os
import subprocess
import sys


def secret(arn: str) -> str:
    command = "aws secretsmanager get-secret-value --query SecretString --output text".split()
    out = subprocess.run(
        [*command, "--region", os.environ["AWS_REGION"], "--secret-id", arn],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip()


def main(template: str, output: str) -> None:
    keys = json.loads(secret(os.environ["LIVEKIT_SECRET_ARN"]))
    values = {
        os.environ["PLACEHOLDER_API_KEY"]: keys[os.environ["SECRET_FIELD_API_KEY"]],
        os.environ["PLACEHOLDER_API_SECRET"]: keys[os.environ["SECRET_FIELD_API_SECRET"]],
        os.environ["PLACEHOLDER_REDIS_PASSWORD"]: secret(os.environ["REDIS_SECRET_ARN"]),
    }
    with open(template) as f:
        text = f.read()
    # The template is JSON (a subset of YAML): replace whole quoted strings, escaped as JSON.
    for placeholder, value in values.items():
        quoted = json.dumps(placeholder)
        if quoted not in text:
            sys.exit(f"fill_config: {placeholder} is not in {template}")
        text = text.replace(quoted, json.dumps(value))
    os.umask(0o027)
    with open(output, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
