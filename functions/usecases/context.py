"""What every use case needs: the store, the reconciler, the settings and a clock."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ..core.config import Settings
from ..domain.errors import TooMany
from ..domain.model import Space
from ..domain.reactions import RateLimit
from ..livekit_edge.gateway import RoomGateway
from ..reconcile.runner import Outcome, Reconciler
from ..store.base import SpaceStore
from ..store.process_limits import ProcessLimits
from ..store.reactions import ReactionStore

logger = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Accepted:
    """The answer to a write: the stored desired state, and whether the SFU already matches it
    (False: accepted, converging; the reconciler's next pass continues)."""

    space: Space
    converged: bool


@dataclass
class Context:
    store: SpaceStore
    gateway: RoomGateway
    reconciler: Reconciler
    settings: Settings
    # Per-user rate limits beside the reactions' (hand toggles: domain/stage.py HAND_LIMIT).
    rate_limits: ReactionStore
    clock: Callable[[], datetime] = field(default=utcnow)
    # Limits kept in this process's memory (join tokens, presence heartbeats): one per process,
    # kept as long as the app (api/main.py); a context made without one counts on its own.
    process_limits: ProcessLimits = field(default_factory=ProcessLimits)

    def spend_process_limit(
        self, space_id: str, actor: str, *, limit: RateLimit, rule: str, what: str
    ) -> None:
        """Count one of `actor`'s `what` against `limit` in this process's memory (before the store
        is read); past it, 429 `rule` with Retry-After and nothing counted."""
        wait = self.process_limits.accept(space_id, actor, self.clock().timestamp(), limit=limit)
        if wait > 0:
            raise TooMany(
                rule, f"too many {what}: {limit.describe()}; retry in {wait:.1f} s", retry_after=wait
            )

    async def own(self, space_id: str) -> Space:
        """The Space's own fields (one small read): what a moderator-only request checks the
        caller's role on before its rule reads the whole Space (store.get_own)."""
        return await asyncio.to_thread(self.store.require_own, space_id)

    async def converge(
        self,
        space: Space,
        *,
        evict: frozenset[str] = frozenset(),
        member: str | None = None,
        resend_hands: bool = False,
        metadata_unchanged: bool = False,
    ) -> Accepted:
        """One bounded pass right after a write (best effort: the schedule repeats it). The write is
        stored whatever happens here, so a failure of the pass (a throttled read of the store, say)
        is "accepted, converging", never an error that would read as "nothing was changed".
        `member`: the write concerned that person alone (a hand): an audience pass (runner.py);
        `resend_hands`: the write changed the hands (runner.py `reconcile`); `metadata_unchanged`:
        the write changes nothing in the room metadata (a hand), so the answer does not wait for a
        publish held back by the metadata interval for someone else's change (up to 2 s, the next
        pass makes it): the write is converged once the rest of the room matches."""
        try:
            outcome: Outcome = await self.reconciler.reconcile(
                space.id,
                budget=self.settings.reconcile_budget_seconds,
                evict=evict,
                member=member,
                resend_hands=resend_hands,
                wait_held_back=not metadata_unchanged,
            )
        except Exception:  # noqa: BLE001 - after a committed write any failure is the pass's, not the write's
            logger.warning(
                "pass after the write to %s failed; the schedule continues", space.id, exc_info=True
            )
            return Accepted(space, converged=False)
        return Accepted(space, outcome.converged or (metadata_unchanged and outcome.metadata_pending))
