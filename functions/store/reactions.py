"""The reactions' store items, beside (not inside) the Space records: per-user limit items (also
the hand toggles' limit),
sharded per-window counters and one per-Space publication item. Two implementations
(sqlite.SqliteReactions, dynamodb.DynamoReactions), one contract suite
(tests/integration/control_plane/test_reaction_store_contract.py).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from ..core.config import Settings
from ..domain import reactions
from ..domain.reactions import LimitState, RateLimit


class ReactionStore(ABC):
    @abstractmethod
    def accept(self, space_id: str, user: str, now: float, *, limit: RateLimit = reactions.LIMIT) -> float:
        """Record an action by `user` at `now` if `limit` (a reaction's by default; a hand
        toggle's, stage.HAND_LIMIT) allows it: 0.0. Otherwise nothing is written and the answer is
        the seconds to wait (> 0). One conditional write; each limit is kept in items of its own."""

    @abstractmethod
    def add(self, space_id: str, window: int, shard: int, code: str) -> int | None:
        """Atomically add one `code` reaction to the counter item (window, shard); returns the
        item's total after the add (1: this was the shard's first reaction in the window), or
        None when the window is already sealed (published): nothing was written."""

    @abstractmethod
    def claim(self, space_id: str, through: int) -> tuple[bool, int | None]:
        """Mark windows up to `through` published if no one has yet: (True, previously published
        window or None). (False, None) when someone else already claimed `through` or later."""

    @abstractmethod
    def published(self, space_id: str) -> int | None:
        """The newest published window (None: never)."""

    @abstractmethod
    def seal(self, space_id: str, windows: range) -> list[dict[str, int]]:
        """Seal these windows (later adds to them are refused) and return every counter they
        hold, one dict per shard item. Each shard is sealed and read in one atomic step, so a
        count is either in the answer or refused to its writer, never lost. DynamoDB seals only
        the shard items it finds (writing all 32 of every window cost ~100 writes per reaction);
        an item first written after a publisher could have read its window is late
        (`reactions.late`), and its writer takes it back (`take_back`), so that holds there too."""

    def take_back(self, space_id: str, window: int, shard: int) -> dict[str, int] | None:
        """After a late add to this counter item, once a publisher has claimed its window: seal it
        unless a publisher did, and return its counts, which the caller publishes itself (no
        publisher counts them: a publisher's later read leaves the item out). None: a publisher
        sealed it, with the late count in. A store whose seal refuses every later add of a window
        (SQLite's) has nothing to take: None."""
        return None

    @abstractmethod
    def mark_active(self, space_id: str, window: int) -> None:
        """Record that the Space had reactions up to `window` (an earlier window never replaces a
        later one), for the trailing flush (`active`)."""

    @abstractmethod
    def active(self, since: int) -> list[tuple[str, int]]:
        """(Space, newest marked window) of every Space marked with a window >= `since`."""

    def limit_state(
        self, space_id: str, user: str, *, limit: RateLimit = reactions.LIMIT
    ) -> LimitState | None:  # pragma: no cover
        raise NotImplementedError

    def close(self) -> None:  # noqa: B027 - optional hook
        pass


def open_reactions(settings: Settings, *, client: Any = None) -> ReactionStore:
    """`client`: a DynamoDB client to share (the Space store's), instead of creating another."""
    if settings.store == "dynamodb":
        from .dynamodb import DynamoReactions

        return DynamoReactions(settings.table_name, endpoint_url=settings.dynamodb_endpoint, client=client)
    from .sqlite import SqliteReactions

    return SqliteReactions(settings.sqlite_path)
