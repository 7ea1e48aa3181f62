"""Structured logs on Lambda: one JSON object per line, which CloudWatch Logs Insights can query."""

from __future__ import annotations

import json
import logging
import os
import sys


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "time": record.created,
        }
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return json.dumps(doc)


def configure_lambda_logging() -> None:
    """The Lambda runtime pre-installs a plain-text handler on the root logger; replace its format."""
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler(sys.stdout))
    for handler in root.handlers:
        handler.setFormatter(JsonFormatter())
    root.setLevel(os.environ.get("LOG_LEVEL", "INFO"))
