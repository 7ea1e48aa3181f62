"""AWS Lambda entry point: API Gateway HTTP API (payload v2) events through Mangum."""

import os

from mangum import Mangum

from .api.main import app
from .core.logging import configure_lambda_logging

if "AWS_LAMBDA_FUNCTION_NAME" in os.environ:  # set by the Lambda runtime; tests keep pytest's logging
    configure_lambda_logging()

# lifespan off: the app keeps no startup state; everything is created lazily on first use.
handler = Mangum(app, lifespan="off")
