"""The JSON Schemas: the single definition of every JSON message that crosses a process boundary."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

DIR = Path(__file__).resolve().parent
SCHEMAS = ("stage", "room_metadata", "hands", "broadcast", "reactions")


@cache
def load(name: str) -> dict[str, Any]:
    """The schema `<name>.schema.json` as a dict."""
    doc: dict[str, Any] = json.loads((DIR / f"{name}.schema.json").read_text(encoding="utf-8"))
    return doc
