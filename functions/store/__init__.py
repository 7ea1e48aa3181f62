"""Persistence behind one interface (base.SpaceStore). Backends are imported on demand so the SQLite
path never pays for boto3."""

from __future__ import annotations

from ..core.config import Settings
from .base import SpaceStore


def open_store(settings: Settings) -> SpaceStore:
    if settings.store == "dynamodb":
        from .dynamodb import DynamoStore

        return DynamoStore(settings.table_name, endpoint_url=settings.dynamodb_endpoint)
    from .sqlite import SqliteStore

    return SqliteStore(settings.sqlite_path)
