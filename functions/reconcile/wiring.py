"""Building the reconciler (and the trailing reactions' flush that patrols with it) from settings:
shared by the API (deps.py), its local loop (loop.py) and the scheduled Lambda
(handler.reconcile_handler)."""

from __future__ import annotations

from ..core.config import Settings
from ..domain.broadcast import agents_for
from ..livekit_edge.gateway import LiveKitGateway, RoomGateway
from ..store import open_store
from ..store.base import SpaceStore
from ..store.reactions import ReactionStore, open_reactions
from ..usecases.reactions import ReactionService, TrailingFlush
from .diff import Timing
from .runner import Memory, Reconciler

_stores: dict[tuple[str, str, str | None], SpaceStore] = {}
_reaction_stores: dict[tuple[str, str, str | None], ReactionStore] = {}


def _store_key(settings: Settings) -> tuple[str, str, str | None]:
    location = settings.table_name if settings.store == "dynamodb" else settings.sqlite_path
    return (settings.store, location, settings.dynamodb_endpoint)


def store_for(settings: Settings) -> SpaceStore:
    """One store per configuration for the process (connections and clients are reused)."""
    key = _store_key(settings)
    if key not in _stores:
        _stores[key] = open_store(settings)
    return _stores[key]


def reactions_store_for(settings: Settings) -> ReactionStore:
    """One reactions store per configuration for the process, on the Space store's DynamoDB client:
    every request's context holds it (the hand limit), and a second client would add its creation
    to a fresh Lambda instance's first request."""
    key = _store_key(settings)
    if key not in _reaction_stores:
        client = getattr(store_for(settings), "client", None) if settings.store == "dynamodb" else None
        _reaction_stores[key] = open_reactions(settings, client=client)
    return _reaction_stores[key]


def reconciler_for(
    settings: Settings,
    *,
    memory: Memory,
    store: SpaceStore | None = None,
    gateway: RoomGateway | None = None,
) -> Reconciler:
    # A request's pass: listener counts are corrected by the patrol alone (one process at a time).
    return patrol_for(settings, memory=memory, store=store, gateway=gateway, recount=False)[0]


def patrol_for(
    settings: Settings,
    *,
    memory: Memory,
    store: SpaceStore | None = None,
    gateway: RoomGateway | None = None,
    recount: bool = True,
) -> tuple[Reconciler, TrailingFlush]:
    """The reconciler, and the trailing reactions' flush on the same stores and SFU (loop.patrol)."""
    store = store or store_for(settings)
    gateway = gateway or LiveKitGateway(settings)
    reactions = ReactionService(spaces=store, store=reactions_store_for(settings), gateway=gateway)
    reconciler = Reconciler(
        store=store,
        gateway=gateway,
        agents=agents_for(settings.broadcast),
        memory=memory,
        timing=Timing(host_grace=settings.host_grace_seconds),
        flush_reactions=reactions.flush,
        metadata_interval=settings.metadata_interval_seconds,
        presence_window=settings.presence_window_seconds,
        recount=recount,
    )
    return reconciler, TrailingFlush(reactions)
