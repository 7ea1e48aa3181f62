"""AWS Lambda entry point: API Gateway HTTP API (payload v2) events through Mangum."""

from mangum import Mangum

from .api.main import app

# lifespan off: the app keeps no startup state; everything is created lazily on first use.
handler = Mangum(app, lifespan="off")
