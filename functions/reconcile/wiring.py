"""Building the reconciler from settings: shared by the API (deps.py), its local loop (loop.py)
and the scheduled Lambda (handler.reconcile_handler)."""

from __future__ import annotations

from ..core.config import Settings
from ..domain.broadcast import agents_for
from ..livekit_edge.gateway import LiveKitGateway, RoomGateway
from ..store import open_store
from ..store.base import SpaceStore
from .runner import Memory, Reconciler

_stores: dict[tuple[str, str, str | None], SpaceStore] = {}


def store_for(settings: Settings) -> SpaceStore:
    """One store per configuration for the process (connections and clients are reused)."""
    location = settings.table_name if settings.store == "dynamodb" else settings.sqlite_path
    key = (settings.store, location, settings.dynamodb_endpoint)
    if key not in _stores:
        _stores[key] = open_store(settings)
    return _stores[key]


def reconciler_for(
    settings: Settings,
    *,
    memory: Memory,
    store: SpaceStore | None = None,
    gateway: RoomGateway | None = None,
) -> Reconciler:
    return Reconciler(
        store=store or store_for(settings),
        gateway=gateway or LiveKitGateway(settings),
        agents=agents_for(settings.broadcast),
        memory=memory,
    )
