"""AWS Lambda entry points (one image, two handlers):
- `handler`: API Gateway HTTP API (payload v2) events through Mangum;
- `reconcile_handler`: EventBridge Scheduler's every-minute sweep over every live Space."""

import asyncio
import os
from typing import Any

from mangum import Mangum

from .api.main import app
from .core.logging import configure_lambda_logging

if "AWS_LAMBDA_FUNCTION_NAME" in os.environ:  # set by the Lambda runtime; tests keep pytest's logging
    configure_lambda_logging()

# lifespan off: the app keeps no startup state; everything is created lazily on first use.
handler = Mangum(app, lifespan="off")


def reconcile_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """One sweep: make every live Space's room match its stored state; delete ended Spaces' rooms."""
    from .core.config import get_settings
    from .reconcile.runner import Memory
    from .reconcile.wiring import reconciler_for

    settings = get_settings()
    reconciler = reconciler_for(settings, memory=Memory())
    outcomes = asyncio.run(reconciler.sweep(budget_per_space=settings.reconcile_budget_seconds))
    return {
        "spaces": len(outcomes),
        "converged": sum(o.converged for o in outcomes),
        "acted": {o.space_id: list(o.done) for o in outcomes if o.done},
        "failed": {o.space_id: list(o.failed) for o in outcomes if o.failed},
    }
