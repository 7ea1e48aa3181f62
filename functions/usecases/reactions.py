"""Reactions use cases: react (limit -> count -> maybe publish) and flush (publish finished windows).

Stateless between calls (a Lambda keeps nothing): every step is one store item write, and the
"publish" step is a conditional claim on the Space's publication item, so whatever the number of
reacting users at most one aggregated message leaves per window per room.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from contract.names import REACTION_RATE_LIMITED_RULE, REACTIONS_TOPIC
from contract.reactions import ReactionBurst

from ..domain import lifecycle, reactions
from ..domain.errors import Conflict, PartlyDone, TooMany
from ..domain.model import room_name_for
from ..livekit_edge.gateway import GatewayError, RoomGateway
from ..store.base import SpaceStore
from ..store.reactions import ReactionStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Published:
    burst: ReactionBurst | None
    """What was sent (None: the claim was won but nothing was counted, so nothing was sent)."""


class ReactionService:
    def __init__(
        self,
        *,
        spaces: SpaceStore,
        store: ReactionStore,
        gateway: RoomGateway,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.spaces = spaces
        self.store = store
        self.gateway = gateway
        self.clock = clock

    async def react(self, *, actor: str, space_id: str, emoji: str) -> None:
        """Count one reaction (emoji already validated against REACTION_EMOJI by the API)."""
        code = reactions.EMOJI[emoji]
        # Read as one member (whether the actor is blocked), eventually consistent: a few items at
        # half cost whatever the Space's size, not its whole partition of hands and blocks on every
        # tap of a large audience. A block reaches reactions within about a second, the end within
        # about two (the store shares the Space's own items between requests for a second).
        space = await asyncio.to_thread(lambda: self.spaces.require(space_id, member=actor, consistent=False))
        lifecycle.require_live(space)
        lifecycle.require_not_blocked(space, actor)
        now = self.clock()
        wait = await asyncio.to_thread(self.store.accept, space_id, actor, now)
        if wait > 0:
            raise TooMany(
                REACTION_RATE_LIMITED_RULE, f"too many reactions; retry in {wait:.1f} s", retry_after=wait
            )
        try:
            in_shard, window, taken = await asyncio.to_thread(self._count, space_id, actor, code)
        except Conflict:
            raise
        except Exception as exc:
            raise PartlyDone(
                f"the reaction was not counted, but it used up one of yours ({reactions.LIMIT.describe()})"
            ) from exc
        # The first reaction of each shard in a window marks the Space active through this window,
        # so the trailing flush publishes the last windows, which no later reaction will (every one
        # marks: a flush by the patrol may already have won this window's claim). Then it tries to
        # publish the finished windows: at most SHARDS marks and claim attempts per window, not one
        # per request.
        if taken:
            # Counted late into a window a publisher may have read without it: this request took
            # the counter item back, and its counts (this reaction's among them) go out as their
            # own message, which no publisher will send (docs/reactions.md).
            await self._send(_burst(space_id, range(window, window + 1), reactions.merge_counts([taken])))
        elif in_shard == 1:
            try:
                await asyncio.to_thread(self.store.mark_active, space_id, window)
                await self.flush(space_id)
            except Exception:  # noqa: BLE001 - counted is done: the sweep publishes what this missed
                # The reaction is counted and the caller's rate limit spent: a store hiccup here must
                # not turn that into a 500 the client retries into a 429. Reactions are ephemeral;
                # the reconciler's sweep flushes every live Space's finished windows.
                log.warning("reactions of %s counted, not yet published", space_id, exc_info=True)

    def _count(self, space_id: str, actor: str, code: str) -> tuple[int, int, dict[str, int] | None]:
        """(the shard's total in the window after this add, the window it was counted in, and the
        counts of the item when this add landed late and took it back, else None)"""
        # The window is read right before the write, in the thread that writes. A write that
        # arrives after its window was sealed (a stalled request) moves to a later window.
        shard = reactions.shard_of(actor)
        window = reactions.window_of(self.clock())
        for _ in range(reactions.MAX_CATCH_UP_WINDOWS):
            total = self.store.add(space_id, window, shard, code)
            if total is not None:
                return total, window, self._late(space_id, window, shard)
            window = max(window + 1, reactions.window_of(self.clock()))
        raise Conflict("reactions_busy", "the reaction could not be counted; retry")

    def _late(self, space_id: str, window: int, shard: int) -> dict[str, int] | None:
        """After an add that may have landed after a publisher read its window without the item
        (by the clock, `reactions.late`; then by the store: a publisher has claimed the window),
        take the item back: its counts, for this request to publish. None: nothing to take."""
        if not reactions.late(window, self.clock()):
            return None
        published = self.store.published(space_id)
        if published is None or published < window:
            return None  # no publisher has claimed it: the one that does reads this item
        return self.store.take_back(space_id, window, shard)

    async def flush(self, space_id: str) -> Published | None:
        """Publish every finished, unpublished window as one message. None: someone else already
        claimed them (the common case under load: one claim per window wins)."""
        through = reactions.publishable_through(self.clock())
        claimed, previous = await asyncio.to_thread(self.store.claim, space_id, through)
        if not claimed:
            return None
        windows = reactions.windows_to_publish(previous, through)
        parts = await asyncio.to_thread(self.store.seal, space_id, windows)
        counts = reactions.merge_counts(parts)
        if not counts:
            return Published(None)
        burst = _burst(space_id, windows, counts)
        await self._send(burst)
        return Published(burst)

    async def _send(self, burst: ReactionBurst) -> None:
        try:
            payload = burst.to_json().encode()
            await self.gateway.send_data(_room(burst.space_id), payload, topic=REACTIONS_TOPIC)
        except GatewayError:
            # Reactions are ephemeral: a lost aggregate is logged, never a failed request.
            log.warning("reactions %s lost: the SFU refused", burst.to_json(), exc_info=True)


class TrailingFlush:
    """Publishes each Space's last windows with reactions once they may be published: no later
    reaction would ever publish them. One `tick` per window reads the few partitions of marks
    (store.active) and flushes the Spaces marked with a window it has not flushed yet. Kept by a
    long-running loop (the local schedule, the cloud's patrolling reconciler), not by a request."""

    def __init__(self, service: ReactionService) -> None:
        self.service = service
        # Space -> newest marked window this loop flushed.
        self._flushed: dict[str, int] = {}

    async def tick(self) -> int:
        """Flush what is due; returns how many Spaces were flushed."""
        through = reactions.publishable_through(self.service.clock())
        marked = await asyncio.to_thread(
            self.service.store.active, through - reactions.MAX_CATCH_UP_WINDOWS + 1
        )
        due = [(s, w) for s, w in marked if w <= through and self._flushed.get(s, w - 1) < w]
        for space_id, window in due:
            try:
                await self.service.flush(space_id)
            except Exception:  # noqa: BLE001 - ephemeral; the other Spaces still get theirs
                log.warning("reactions of %s not flushed", space_id, exc_info=True)
            self._flushed[space_id] = window
        still_marked = {s for s, _ in marked}
        self._flushed = {s: w for s, w in self._flushed.items() if s in still_marked}
        return len(due)


def _room(space_id: str) -> str:
    return room_name_for(space_id)


def _burst(space_id: str, windows: range, counts: dict[str, int]) -> ReactionBurst:
    """The message for `windows` of a Space, from merged counts by store code."""
    return ReactionBurst(
        space_id=space_id,
        first_window=windows.start,
        last_window=windows.stop - 1,
        window_seconds=reactions.WINDOW_SECONDS,
        counts={reactions.EMOJI_BY_CODE[c]: n for c, n in counts.items()},
    )
