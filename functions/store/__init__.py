"""Persistence behind one interface (base.SpaceStore). Backends are imported on demand so the SQLite
path never pays for boto3."""

from __future__ import annotations

from ..core.config import Settings
from .base import SpaceStore


def open_store(settings: Settings) -> SpaceStore:
    store: SpaceStore
    if settings.store == "dynamodb":
        from .dynamodb import DynamoStore

        store = DynamoStore(settings.table_name, endpoint_url=settings.dynamodb_endpoint)
    else:
        from .sqlite import SqliteStore

        store = SqliteStore(settings.sqlite_path)
    store.live_quota = settings.limits.max_live_per_host
    store.scheduled_quota = settings.limits.max_scheduled_per_host
    store.hand_cap = settings.limits.max_raised_hands
    store.block_cap = settings.limits.max_blocked
    return store
