"""The Problem body (schemas.Problem: `{"detail", "rule"}`) that every refusal other than a
validation error answers with, built in one place, with every non-ASCII character escaped: a lone
surrogate a client sent (valid JSON, not encodable as UTF-8) and quoted back in a detail cannot turn
the answer to bad input into a 500."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from fastapi.responses import JSONResponse


def encode(content: Any) -> bytes:
    return json.dumps(content, ensure_ascii=True, separators=(",", ":")).encode("ascii")


class AsciiJSONResponse(JSONResponse):
    """JSON with every non-ASCII character escaped (see the module's docstring)."""

    def render(self, content: Any) -> bytes:
        return encode(content)


def problem(status: int, rule: str, detail: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    """A refusal: what went wrong (`detail`, for a person) and which rule said so (`rule`, for code)."""
    return AsciiJSONResponse({"detail": detail, "rule": rule}, status_code=status, headers=headers)
