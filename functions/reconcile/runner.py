"""Reads the desired state (store) and the observed state (SFU) of a Space, acts on the difference
(diff.py), and repeats until a pass finds nothing to do or its time is up.

- A failed SFU call is not undone and not fatal: the pass carries on with the other actions and
  reports `converged=False`; the next pass (the next write, webhook or tick) tries again.
- After acting, the pass reads both sides again: a call that was delayed behind a newer write (a
  promote racing a demote) is corrected by the pass that made it, with the newest stored state.
- Within one process, passes over one room run one at a time; a wake that finds one running marks
  the room dirty and the running pass goes round once more (coalescing webhook bursts).
- Room metadata is published at most once per `metadata_interval` per room and process; a change
  held back is published by a later round of the same pass, or by the next pass.
- Once per presence window a pass over a live Space folds the HLS viewers' heartbeats of the last
  complete window into the HLS estimate the listener count adds (domain/presence.py).
- A listener's join or leave wakes an *audience pass* (`wake(..., member=...)`), and a raised or
  lowered hand runs one after its write: it reads the room's metadata and that one person
  (`gateway.observe_member`), not the whole room, acts on the metadata and that person's grants
  only (`diff.audience_diff`), and sends the hands to the moderators if they changed. Listing a
  room costs in proportion to the people in it, and listeners are most of the webhooks: listing on
  each made a room's webhooks cost O(N^2). If something else wakes the room during it (a coalesced
  wake), or the room is not live or answers for no node, the pass goes on as a full one.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from ..domain import audience, host, lifecycle, presence, pushed
from ..domain.errors import DomainError
from ..domain.model import Space, SpaceState, space_id_from_room
from ..livekit_edge.gateway import (
    GatewayError,
    ObservedDispatch,
    ObservedMember,
    ObservedRoom,
    RoomGateway,
    StrandedRoom,
)
from ..store.base import SpaceStore
from . import diff as d

log = logging.getLogger(__name__)

# Seconds between two metadata updates of one room (one process): every viewer receives each
# update, so a burst of joins (the listener count) or pins is coalesced into one every 2 s.
METADATA_INTERVAL = 2.0
# Seconds to wait before another round after a failed SFU call within one pass.
RETRY_BACKOFF = 0.25
# Spaces reconciled at once by a sweep (each pass makes a handful of SFU calls).
SWEEP_CONCURRENCY = 8


@dataclass(frozen=True)
class Outcome:
    space_id: str
    # True when the last round found nothing left to do: the SFU matches the stored state.
    converged: bool
    done: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()
    # Not converged only because the room metadata waits out its publish interval: all else
    # matches (the pass was asked not to wait for it, `wait_held_back=False`).
    metadata_pending: bool = False
    # What a person reads in a log: "coalesced" (a pass for this room was already running and will
    # go round once more), "metadata pending", "out of time; ...".
    note: str = ""


# A stored listener count that differs from the room's listeners by the same amount for this long
# (a few patrol sweeps) lost webhooks, and is corrected; webhooks on their way arrive in seconds.
RECOUNT_AFTER_SECONDS = 30.0


@dataclass
class Round:
    """What one round did. `acted`: changes to the room, verified by another round at once.
    `noted`: done, with nothing in the room to verify (a hands message sent, an HLS estimate
    stored), so a raised hand costs one round, not two. `held_back`: seconds until held-back
    metadata may go."""

    acted: list[str] = field(default_factory=list)
    noted: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    held_back: float | None = None
    evicted: set[str] = field(default_factory=set)
    widened: bool = False  # an audience round found the room gone or stranded: go on in full


@dataclass
class Memory:
    """What one process remembers between passes: locks, dirty marks, metadata publish times."""

    metadata_published: dict[str, float] = field(default_factory=dict)
    # The raised hands (and their moderator audience) last sent to each room by this process. A data
    # message leaves nothing in the room to observe, so this is the reconciler's observed state for
    # it; a new process sends each live Space's hands once (idempotent for clients: versioned).
    hands_sent: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = field(default_factory=dict)
    dirty: set[str] = field(default_factory=set)
    # When (reconciler clock, epoch seconds) each room's connected people last had their audience
    # entries renewed by this process.
    audience_renewed: dict[str, float] = field(default_factory=dict)
    # Per room: how far the stored WebRTC listener count is from the listeners connected, the stored
    # count, and since when (reconciler clock) both have been exactly that (RECOUNT_AFTER_SECONDS).
    count_drift: dict[str, tuple[int, int, float]] = field(default_factory=dict)
    # When (monotonic seconds) this process last dispatched each agent to each room, as (room, agent
    # name), by a Dispatch or with a room it created. Such a dispatch counts as on its way for the
    # dispatch grace whatever the SFU lists: one the SFU dates by a clock more than the grace behind
    # this one (or does not list) was sent again every ~10 ms for a whole pass, seen when a test
    # moved the reconciler's clock forward.
    dispatched: dict[tuple[str, str], float] = field(default_factory=dict)
    _locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = field(
        default_factory=weakref.WeakKeyDictionary
    )
    # Spaces the last sweep did not patrol (keep_only).
    _gone: set[str] = field(default_factory=set)

    def lock(self, space_id: str) -> asyncio.Lock:
        # Per event loop: on Lambda, Mangum runs each invocation on its own loop.
        locks = self._locks.setdefault(asyncio.get_running_loop(), {})
        return locks.setdefault(space_id, asyncio.Lock())

    def keep_only(self, space_ids: set[str]) -> None:
        """Forget the Spaces two sweeps in a row no longer patrolled (ended, their rooms gone): a
        long-running process (`make dev`'s API, a warm Lambda) would otherwise keep ~1 KB for every
        Space it ever saw. Two in a row: a Space a request has just started may not be listed yet
        (the listing is eventually consistent). A lock someone holds stays; what is forgotten is
        only ever a cache, a throttle or a mark the next request sets again."""
        per_space = (self.metadata_published, self.hands_sent, self.audience_renewed, self.count_drift)
        known = {s for d in per_space for s in d} | self.dirty
        known |= {s for s in (space_id_from_room(room) for room, _ in self.dispatched) if s}
        known |= {s for locks in self._locks.values() for s in locks}
        gone = known - space_ids
        forget, self._gone = gone & self._gone, gone
        for table in per_space:
            for space_id in forget & set(table):
                del table[space_id]
        self.dirty -= forget
        for key in [k for k in self.dispatched if space_id_from_room(k[0]) in forget]:
            del self.dispatched[key]
        for locks in self._locks.values():
            for space_id in [s for s, lock in locks.items() if s in forget and not lock.locked()]:
                del locks[space_id]


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Reconciler:
    def __init__(
        self,
        *,
        store: SpaceStore,
        gateway: RoomGateway,
        agents: tuple[str, ...],
        memory: Memory | None = None,
        timing: d.Timing | None = None,
        metadata_interval: float = METADATA_INTERVAL,
        clock: Callable[[], datetime] = _utcnow,
        flush_reactions: Callable[[str], Awaitable[object]] | None = None,
        presence_window: int = presence.WINDOW_SECONDS,
        recount: bool = False,
    ) -> None:
        self.store = store
        # Correct a listener count that lost webhooks (the patrol only: one process at a time, so a
        # correction is never applied twice; see _recount).
        self.recount = recount
        self.presence_window = presence_window
        # The reactions' publish step alone (usecases/reactions.py `flush`): a sweep runs it for
        # every live Space, so a window nobody reacted after is still sent (docs/reactions.md).
        self.flush_reactions = flush_reactions
        self.gateway = gateway
        self.agents = agents
        self.memory = memory or Memory()
        self.timing = timing or d.Timing()
        self.metadata_interval = metadata_interval
        self.clock = clock

    async def wake(
        self, space_id: str, *, budget: float, member: str | None = None, evict: frozenset[str] = frozenset()
    ) -> Outcome:
        """A webhook's nudge: run a pass, or, if one is running for this room, let it go round again.

        `member`: the listener whose join or leave this is; the pass then reads that person, not
        the whole room (an audience pass, see the module docstring). `evict`: people to disconnect
        once (a join the removal's own pass could not see); never coalesced, since a round of a pass
        already running would not know them."""
        lock = self.memory.lock(space_id)
        if lock.locked() and not evict:
            self.memory.dirty.add(space_id)
            return Outcome(space_id, converged=False, note="coalesced")
        # A webhook's answer does not wait out the metadata interval: in a busy room the next
        # webhook's pass publishes it, otherwise the next scheduled pass.
        return await self.reconcile(space_id, budget=budget, evict=evict, wait_held_back=False, member=member)

    async def reconcile(
        self,
        space_id: str,
        *,
        budget: float,
        evict: frozenset[str] = frozenset(),
        wait_held_back: bool = True,
        member: str | None = None,
        resend_hands: bool = False,
    ) -> Outcome:
        """Converge one Space within `budget` seconds (best effort); say whether it converged.

        `resend_hands`: send the hands message even if this process sent the same one last (after
        a hand toggle: another process may have sent a different one since)."""
        if resend_hands:
            self.memory.hands_sent.pop(space_id, None)
        deadline = time.monotonic() + budget
        try:
            async with asyncio.timeout(budget):
                async with self.memory.lock(space_id):
                    return await self._rounds(
                        space_id, evict=evict, deadline=deadline, wait_held_back=wait_held_back, member=member
                    )
        except TimeoutError:
            return Outcome(space_id, converged=False, note="out of time; the next pass continues")

    async def _rounds(
        self,
        space_id: str,
        *,
        evict: frozenset[str],
        deadline: float,
        wait_held_back: bool,
        member: str | None,
    ) -> Outcome:
        done: list[str] = []
        failed: list[str] = []
        pending_evict = set(evict)
        while True:
            if space_id in self.memory.dirty:
                member = None  # someone else woke the room meanwhile: a full round covers them all
            self.memory.dirty.discard(space_id)
            result = await self._round(space_id, evict=frozenset(pending_evict), member=member)
            if result.widened:
                member = None
            round_done, round_failed, held_back = result.acted, result.failed, result.held_back
            pending_evict -= result.evicted
            done += result.acted + result.noted
            failed = round_failed  # only the last round's failures are still true
            idle = not round_done and not round_failed and held_back is None
            if idle and space_id not in self.memory.dirty:
                return Outcome(space_id, converged=True, done=tuple(done))
            if (
                held_back is not None
                and not wait_held_back
                and not round_done
                and not round_failed
                and space_id not in self.memory.dirty  # a coalesced webhook: go round for it first
            ):
                return Outcome(
                    space_id,
                    converged=False,
                    done=tuple(done),
                    metadata_pending=True,
                    note="metadata pending",
                )
            if round_done:
                wait = 0.0  # verify at once what was just done, before waiting for anything else
            elif held_back is not None:
                wait = held_back
            else:
                wait = RETRY_BACKOFF if round_failed else 0.0
            if time.monotonic() + wait >= deadline:
                return Outcome(space_id, converged=False, done=tuple(done), failed=tuple(failed))
            if wait:
                await asyncio.sleep(wait)

    async def _round(self, space_id: str, *, evict: frozenset[str], member: str | None = None) -> Round:
        """One read-compare-act round: of the whole room, or of the room's metadata and `member`."""
        read_at_ms = int(self.clock().timestamp() * 1000)  # orders the hands messages (pushed.py)
        space = await asyncio.to_thread(self.store.get, space_id)
        if space is None:
            return Round()
        done: list[str] = []
        noted: list[str] = []
        if space.state is SpaceState.LIVE:
            space, folded = await self._fold_hls(space)
            noted += folded
        # The host's presence is the full diff's: a host rejoining with a listener's token (after a
        # hand-over) is not just audience.
        widened = False
        if member is not None and member != space.host and space.state is SpaceState.LIVE and not evict:
            try:
                one = await self.gateway.observe_member(space.room_name, member)
            except GatewayError as exc:
                return Round(failed=[f"observe {member}: {exc}"])
            if isinstance(one, ObservedMember):
                # Only that person is known: what an action needs of "the room" is them alone.
                known = ObservedRoom(one.metadata, (one.participant,) if one.participant else (), ())
                result = await self._apply(
                    space, d.audience_diff(space, one, timing=self.timing), known, done, noted
                )
                await self._send_hands(space, read_at_ms, result)
                return result
            # No room, or no node answers for it: this round and the rest of the pass are full ones
            # (create or place the room, then verify all of it).
            widened = True
        try:
            observed = await self.gateway.observe(space.room_name)
        except GatewayError as exc:
            return Round(failed=[f"observe: {exc}"])
        room = observed if isinstance(observed, ObservedRoom) else None
        if room is not None and space.state is SpaceState.LIVE:
            await self._renew_audience(space, room)
            if self.recount:
                noted += await self._recount(space, room)
        now = self.clock().timestamp()
        if room is not None:
            observed = self._with_own_dispatches(room, space.room_name, now=now)
        actions = d.diff(space, observed, agents=self.agents, now=now, evict=evict, timing=self.timing)
        result = await self._apply(space, actions, room, done, noted)
        if room is not None and space.state is SpaceState.LIVE:
            await self._send_hands(space, read_at_ms, result)
        # Someone to evict who is not connected (any more) is done too; in a stranded room nobody is
        # known to be connected yet.
        if not isinstance(observed, StrandedRoom):
            result.evicted |= set(evict) - {p.identity for p in (room.participants if room else ())}
        result.widened = widened
        return result

    def _with_own_dispatches(self, room: ObservedRoom, room_name: str, *, now: float) -> ObservedRoom:
        """The room's dispatches as the SFU lists them, plus this process's own within the dispatch
        grace, dated by this process's clock (`now`)."""
        at = time.monotonic()
        own = tuple(
            ObservedDispatch(agent_name=agent, created_at=now - (at - sent), jobs=0)
            for (name, agent), sent in self.memory.dispatched.items()
            if name == room_name and at - sent < self.timing.dispatch_grace
        )
        return replace(room, dispatches=room.dispatches + own) if own else room

    def _remember_dispatch(self, room_name: str, *agents: str) -> None:
        """A dispatch of `agents` to the room (its own, or a room's creation with them) just sent."""
        at = time.monotonic()
        grace = self.timing.dispatch_grace
        for key in [k for k, sent in self.memory.dispatched.items() if at - sent >= grace]:
            del self.memory.dispatched[key]
        for agent in agents:
            self.memory.dispatched[(room_name, agent)] = at

    async def _send_hands(self, space: Space, read_at_ms: int, result: Round) -> None:
        """The raised hands to the moderators, when they or the moderators changed (per process)."""
        hands = (space.raised_hands, pushed.moderators(space))
        if self.memory.hands_sent.get(space.id) == hands:
            return
        try:
            await self.gateway.send_hands(space, read_at_ms=read_at_ms)
        except GatewayError as exc:
            result.failed.append(f"SendHands: {exc}")
            return
        self.memory.hands_sent[space.id] = hands
        result.noted.append("hands sent to the moderators")

    async def _apply(
        self,
        space: Space,
        actions: list[d.Action],
        room: ObservedRoom | None,
        done: list[str],
        noted: list[str],
    ) -> Round:
        """Act on each difference; a failed one is noted and the others still run."""
        space_id = space.id
        failed: list[str] = []
        held_back: float | None = None
        evicted: set[str] = set()
        for action in actions:
            if isinstance(action, d.SetMetadata):
                wait = self._metadata_wait(space_id)
                if wait > 0:
                    held_back = wait
                    continue
            try:
                what = await self._act(space, action, room)
            except GatewayError as exc:
                failed.append(f"{_name(action)}: {exc}")
                log.warning("reconcile %s: %s failed: %s", space_id, _name(action), exc)
                continue
            except DomainError as exc:  # a store rule refused (e.g. the Space ended meanwhile)
                failed.append(f"{_name(action)}: {exc.rule}")
                continue
            if isinstance(action, d.RemoveParticipant):
                evicted.add(action.identity)
            done.append(what)
        return Round(acted=done, noted=noted, failed=failed, held_back=held_back, evicted=evicted)

    async def _fold_hls(self, space: Space) -> tuple[Space, list[str]]:
        """The Space with the HLS estimate of the last complete window, computed and stored first
        if the stored one is older (once per window: one read of the window's shards, one
        conditional write; a concurrent pass storing the same window wins harmlessly)."""
        window = presence.due(space.hls, self.clock().timestamp(), self.presence_window)
        if window is None:
            return space, []
        counted = await asyncio.to_thread(self.store.presence_count, space.id, window)
        estimate = presence.HlsEstimate(window=window, viewers=presence.estimate(counted))
        await asyncio.to_thread(self.store.put_hls_estimate, space.id, estimate)
        return space.replace(hls=estimate), [f"HLS estimate: {estimate.viewers} viewers"]

    async def _renew_audience(self, space: Space, room: ObservedRoom) -> None:
        """Extend the audience entries of everyone connected, at most every AUDIENCE_RENEW_SECONDS
        per room and process, so only those of people gone without a leave webhook expire
        (domain/audience.py). Not an action: nothing in the room changes, so no round is spent
        verifying it."""
        now = self.clock()
        last = self.memory.audience_renewed.get(space.id)
        if last is not None and now.timestamp() - last < audience.AUDIENCE_RENEW_SECONDS:
            return
        present = [(p.identity, p.name or p.identity) for p in room.participants if not p.is_agent]
        until = now + timedelta(seconds=audience.WEBRTC_ENTRY_TTL_SECONDS)
        try:
            await asyncio.to_thread(self.store.renew_listeners, space.id, present, expires_at=until)
        except Exception:  # noqa: BLE001 - the room still converges; the next pass renews
            log.warning("reconcile %s: audience entries not renewed", space.id, exc_info=True)
            return
        self.memory.audience_renewed[space.id] = now.timestamp()

    async def _recount(self, space: Space, room: ObservedRoom) -> list[str]:
        """The WebRTC listener count follows join and leave webhooks; one that never arrives (LiveKit
        retries a refused webhook a few times, then drops it; a flood of junk requests can use up
        the webhook route's throttle) would leave it wrong for the rest of the Space, and the count
        decides who gets a WebRTC seat. A difference from the listeners connected that stays exactly
        the same for RECOUNT_AFTER_SECONDS is corrected; a webhook on its way changes it first."""
        try:
            # The count as it is now, after the room was observed (the round's own read of it is
            # eventually consistent and older than the observation).
            current = await asyncio.to_thread(self.store.get, space.id, member=space.host, consistent=True)
            if current is None:
                return []
            drift = d.listener_drift(current, room)
            count = current.listener_count
            now = self.clock().timestamp()
            seen = self.memory.count_drift.get(space.id)
            # Any webhook counted meanwhile (the count moved) starts the wait again: only a room
            # whose count stood still while the difference stayed is one whose webhooks were lost.
            if drift == 0 or seen is None or seen[:2] != (drift, count):
                if drift == 0:
                    self.memory.count_drift.pop(space.id, None)
                else:
                    self.memory.count_drift[space.id] = (drift, count, now)
                return []
            if now - seen[2] < RECOUNT_AFTER_SECONDS:
                return []
            # Keyed, so a retried request (botocore retries a timeout) applies it once.
            key = f"recount:{space.id}:{count}:{drift}:{seen[2]:.0f}"
            await asyncio.to_thread(self.store.adjust_listeners, space.id, drift, event_id=key)
        except Exception:  # noqa: BLE001 - a count left as it was; the next sweep tries again
            log.warning("reconcile %s: listener count not checked", space.id, exc_info=True)
            return []
        self.memory.count_drift.pop(space.id, None)
        log.warning("reconcile %s: listener count corrected by %+d (webhooks lost)", space.id, drift)
        return [f"listener count corrected by {drift:+d}"]

    def _uncount_all(self, space: Space) -> None:
        current = self.store.get(space.id, member=space.host, consistent=True)
        if current is not None and current.listener_count != 0:
            # Keyed per attempt, so a retried request applies it once.
            key = f"placed:{uuid.uuid4().hex}"
            self.store.adjust_listeners(space.id, -current.listener_count, event_id=key)

    def _relist(self, space: Space, room: ObservedRoom, user: str) -> None:
        """Someone connected who was moved from the stage back to the audience gets a listener-list
        entry again, under their token's name and avatar, unless they still have one (a listener
        promoted live keeps theirs, hidden while on stage). It expires like the entry of a listener's
        own token, renewed while they stay connected; their leave removes it."""
        if self.store.listed(space.id, user) is not None:
            return
        p = next((p for p in room.participants if p.identity == user), None)
        if p is None:
            return
        now = self.clock()
        entry = audience.Listener(
            user_id=user,
            name=p.name or space.names.get(user, user),
            picture=p.picture,
            joined_at=now,
            expires_at=now + timedelta(seconds=audience.WEBRTC_ENTRY_TTL_SECONDS),
        )
        self.store.put_listener(space.id, entry)

    def _metadata_wait(self, space_id: str) -> float:
        last = self.memory.metadata_published.get(space_id)
        if last is None:
            return 0.0
        return max(0.0, last + self.metadata_interval - time.monotonic())

    async def _act(self, space: Space, action: d.Action, observed: ObservedRoom | None) -> str:
        room = space.room_name
        if isinstance(action, d.CreateRoom):
            await self.gateway.create_room(space, agents=action.agents, metadata=action.metadata)
            self.memory.metadata_published[space.id] = time.monotonic()
            self._remember_dispatch(room, *action.agents)
            return "room created"
        if isinstance(action, d.DeleteRoom):
            await self.gateway.delete_room(room)
            return "room deleted"
        if isinstance(action, d.PlaceRoom):
            if space.state is SpaceState.LIVE:
                # Nobody is connected to a room no node holds, and the dead node sent no leaves:
                # its listeners leave the count now, or every rejoining page would be sent to HLS.
                await asyncio.to_thread(self._uncount_all, space)
            await self.gateway.create_room(space, agents=action.agents, metadata=action.metadata)
            self.memory.metadata_published[space.id] = time.monotonic()
            self._remember_dispatch(room, *action.agents)
            log.warning(
                "reconcile %s: no node held room %s (%s): placed again", space.id, room, action.reason
            )
            return "room placed again: its node did not answer"
        if isinstance(action, d.EndSpace):
            now = self.clock()
            await asyncio.to_thread(self.store.update, space.id, lambda s: lifecycle.room_closed(s, now=now))
            return "space ended: its room is gone"
        if isinstance(action, d.HostAway):
            since = datetime.fromtimestamp(action.since, UTC)
            await asyncio.to_thread(
                self.store.update, space.id, lambda s: host.host_left(s, user=space.host, now=since)
            )
            return f"host {space.host} is not in the room: grace period started"
        if isinstance(action, d.HostBack):
            await asyncio.to_thread(self.store.update, space.id, lambda s: host.host_back(s, user=space.host))
            return f"host {space.host} is back"
        if isinstance(action, d.EndAbandoned):
            now, grace = self.clock(), timedelta(seconds=self.timing.host_grace)
            change = await asyncio.to_thread(
                self.store.update, space.id, lambda s: host.abandoned(s, now=now, grace=grace)
            )
            return "space ended: its host was gone too long" if change.changed else "host came back in time"
        if isinstance(action, d.SetMetadata):
            await self.gateway.set_room_metadata(space, action.metadata)
            self.memory.metadata_published[space.id] = time.monotonic()
            return "metadata published"
        if isinstance(action, d.UpdateParticipant):
            connected = await self.gateway.update_participant(
                room, action.identity, role=action.role, permission=action.permission
            )
            if connected and action.listener_delta:
                await asyncio.to_thread(
                    self.store.adjust_listeners, space.id, action.listener_delta, event_id=action.count_key
                )
            if connected and action.listener_delta > 0 and observed is not None:
                await asyncio.to_thread(self._relist, space, observed, action.identity)
            return f"{action.identity} held to {action.role.value}"
        if isinstance(action, d.RemoveParticipant):
            await self.gateway.remove_participant(room, action.identity)
            return f"{action.identity} removed ({action.reason})"
        if isinstance(action, d.Dispatch):
            await self.gateway.dispatch_agent(room, action.agent_name)
            self._remember_dispatch(room, action.agent_name)
            return f"{action.agent_name} dispatched"
        raise AssertionError(f"unknown action {action!r}")

    async def sweep(self, *, budget_per_space: float) -> list[Outcome]:
        """Every live Space, and every room the SFU holds for a Space (an ended Space's room is
        deleted), and the trailing reaction windows of every live Space: what the schedule runs."""
        live = await asyncio.to_thread(live_space_ids, self.store)
        ids: set[str] = set(live)
        try:
            ids |= {s for s in (space_id_from_room(r) for r in await self.gateway.list_rooms()) if s}
        except GatewayError as exc:
            log.warning("sweep: could not list the SFU's rooms: %s", exc)
        limit = asyncio.Semaphore(SWEEP_CONCURRENCY)

        async def one(space_id: str) -> Outcome:
            async with limit:
                return await self.reconcile(space_id, budget=budget_per_space)

        # A random order: a sweep cut short (the patrol's time is up) leaves out different Spaces
        # each time, never always the same tail of the order.
        order = random.sample(sorted(ids), len(ids))
        outcomes = sorted(await asyncio.gather(*(one(i) for i in order)), key=lambda o: o.space_id)
        self.memory.keep_only(ids)
        if self.flush_reactions is not None:
            await asyncio.gather(*(self._flush(i, limit) for i in live))
        return outcomes

    async def _flush(self, space_id: str, limit: asyncio.Semaphore) -> None:
        assert self.flush_reactions is not None
        async with limit:
            try:
                await self.flush_reactions(space_id)
            except Exception:  # noqa: BLE001 - reactions are ephemeral; one Space's failure ends nothing
                log.warning("sweep: reactions of %s not flushed", space_id, exc_info=True)


def live_space_ids(store: SpaceStore) -> list[str]:
    """Every live Space's id, through the discovery index, page by page."""
    ids: list[str] = []
    cursor: str | None = None
    while True:
        page = store.list(SpaceState.LIVE, limit=100, cursor=cursor)
        ids += [s.id for s in page.items]
        if page.cursor is None:
            return ids
        cursor = page.cursor


def _name(action: d.Action) -> str:
    return type(action).__name__
