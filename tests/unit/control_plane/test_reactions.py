"""Reactions: the pure rules (emoji set, limit, window math), the use case against fakes (one
message per window whatever the number of reacting users, nothing lost), and the route's 4xx."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from contract.names import REACTION_EMOJI, REACTIONS_TOPIC
from contract.reactions import parse_reaction_burst
from functions.domain import reactions as rx
from functions.domain.errors import Conflict, TooMany
from functions.domain.model import SpaceState
from functions.handler import patrol_seconds
from functions.reconcile.runner import Reconciler
from functions.store.reactions import ReactionStore
from functions.store.sqlite import SqliteStore
from functions.usecases.reactions import ReactionService, TrailingFlush
from tests.support.eventually import eventually

from .conftest import auth
from .fakes import FakeGateway
from .test_api import live_space, sweep

pytestmark = pytest.mark.unit


# --- pure rules ------------------------------------------------------------------------------


def test_the_store_codes_cover_exactly_the_contract_emoji() -> None:
    assert tuple(rx.EMOJI) == REACTION_EMOJI
    assert len(set(rx.EMOJI.values())) == len(REACTION_EMOJI)


def test_window_math() -> None:
    assert rx.window_of(0.0) == 0
    assert rx.window_of(0.49) == 0
    assert rx.window_of(0.5) == 1
    assert rx.window_of(10.2) == 20
    # Published only after one whole window of grace.
    assert rx.publishable_through(10.2) == 18
    assert rx.window_start(20) == 10.0


def test_windows_to_publish_resumes_after_the_last_and_caps_the_catch_up() -> None:
    assert rx.windows_to_publish(17, 18) == range(18, 19)
    assert rx.windows_to_publish(10, 18) == range(11, 19)
    assert rx.windows_to_publish(None, 100) == range(100 - rx.MAX_CATCH_UP_WINDOWS + 1, 101)
    assert len(rx.windows_to_publish(0, 1000)) == rx.MAX_CATCH_UP_WINDOWS


def test_shards_are_stable_and_spread() -> None:
    assert rx.shard_of("alice") == 7  # pinned: the same in every process (not the per-process hash())
    used = {rx.shard_of(f"user{i}") for i in range(1000)}
    assert used == set(range(rx.SHARDS))


def test_rate_limit_one_per_second_and_ten_per_ten_seconds() -> None:
    state = None
    t = 100.0
    assert rx.retry_after(state, t) == 0.0
    state = rx.after_accept(state, t)
    assert rx.retry_after(state, t + 0.4) == pytest.approx(0.6)
    assert rx.retry_after(state, t + 1.0) == 0.0
    accepted = 1
    for i in range(1, 20):
        now = t + i * 0.5
        if rx.retry_after(state, now) == 0:
            state = rx.after_accept(state, now)
            accepted += 1
    # t = 100 .. 109.5: one per second in the 10-s bucket [100, 110).
    assert accepted == 10
    assert state is not None and state.count == 10
    # Full bucket: the wait runs to the next bucket, even past the 1-s spacing.
    assert rx.retry_after(state, 109.6) == pytest.approx(0.4)
    fast = rx.LimitState(bucket=rx.burst_bucket(101.0), count=rx.BURST, last=100.0)
    assert rx.retry_after(fast, 101.5) == pytest.approx(8.5)
    assert rx.after_accept(fast, 110.0).count == 1


def test_merge_counts_drops_unknown_codes_and_non_positive() -> None:
    assert rx.merge_counts([{"clap": 2, "fire": 1}, {"clap": 3, "nope": 9, "wow": 0}]) == {
        "clap": 5,
        "fire": 1,
    }


# --- the use case against fakes --------------------------------------------------------------


@dataclass
class MemoryReactions(ReactionStore):
    limits: dict[tuple[str, str], rx.LimitState] = field(default_factory=dict)
    cells: dict[tuple[str, int, int], dict[str, int]] = field(default_factory=dict)
    published_: dict[str, int] = field(default_factory=dict)
    claims: int = 0

    def accept(self, space_id: str, user: str, now: float) -> float:
        state = self.limits.get((space_id, user))
        wait = rx.retry_after(state, now)
        if wait == 0:
            self.limits[(space_id, user)] = rx.after_accept(state, now)
        return wait

    sealed: set[tuple[str, int]] = field(default_factory=set)

    def add(self, space_id: str, window: int, shard: int, code: str) -> int | None:
        if (space_id, window) in self.sealed:
            return None
        cell = self.cells.setdefault((space_id, window, shard), {})
        cell[code] = cell.get(code, 0) + 1
        return sum(cell.values())

    def claim(self, space_id: str, through: int) -> tuple[bool, int | None]:
        self.claims += 1
        previous = self.published_.get(space_id)
        if previous is not None and previous >= through:
            return False, None
        self.published_[space_id] = through
        return True, previous

    def published(self, space_id: str) -> int | None:
        return self.published_.get(space_id)

    marks: dict[str, int] = field(default_factory=dict)

    def mark_active(self, space_id: str, window: int) -> None:
        self.marks[space_id] = max(window, self.marks.get(space_id, window))

    def active(self, since: int) -> list[tuple[str, int]]:
        return [(s, w) for s, w in self.marks.items() if w >= since]

    def seal(self, space_id: str, windows: range) -> list[dict[str, int]]:
        self.sealed |= {(space_id, w) for w in windows}
        return [dict(c) for (s, w, _), c in self.cells.items() if s == space_id and w in windows]


@dataclass
class DataGateway(FakeGateway):
    sent: list[tuple[str, bytes, str]] = field(default_factory=list)

    async def send_data(self, room: str, payload: bytes, *, topic: str) -> None:
        self._maybe_fail("send_data")
        self.sent.append((room, payload, topic))


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def live(tmp_path: Any) -> tuple[SqliteStore, str]:
    from functions.domain import lifecycle
    from functions.domain.model import VideoPolicy

    spaces = SqliteStore(tmp_path / "s.sqlite3")

    now = datetime.now(UTC)
    space = lifecycle.new_space(
        space_id="sp1", title="t", host="host", video=VideoPolicy.OFF, now=now, scheduled_start=None
    )
    spaces.create(space)
    spaces.update(space.id, lambda s: lifecycle.start(s, actor="host", now=now))
    return spaces, space.id


def service(spaces: SqliteStore, clock: Clock) -> tuple[ReactionService, MemoryReactions, DataGateway]:
    store, gateway = MemoryReactions(), DataGateway()
    return ReactionService(spaces=spaces, store=store, gateway=gateway, clock=clock), store, gateway


def bursts(gateway: DataGateway) -> list[Any]:
    out = []
    for room, payload, topic in gateway.sent:
        assert topic == REACTIONS_TOPIC
        assert room == "space-sp1" or room.endswith("sp1")
        burst = parse_reaction_burst(payload)
        assert burst is not None
        out.append(burst)
    return out


def test_many_users_in_one_window_make_one_message_with_every_reaction(live: Any) -> None:
    spaces, space_id = live
    clock = Clock(1000.0)
    svc, store, gateway = service(spaces, clock)

    async def run() -> None:
        for i in range(500):
            clock.t = 1000.0 + i * 0.0009  # all within window 2000
            await svc.react(actor=f"u{i}", space_id=space_id, emoji=REACTION_EMOJI[i % 3])
        assert gateway.sent == []  # window 2000 is not finished (nor its grace window)
        clock.t = 1001.0  # window 2002: 2000 is publishable
        await svc.react(actor="late", space_id=space_id, emoji="🔥")
        clock.t = 1002.0
        await svc.flush(space_id)

    asyncio.run(run())
    got = bursts(gateway)
    assert len(got) == 2  # the first claim publishes 2000, the flush the late window
    first = got[0]
    assert first.counts == {"👏": 167, "😂": 167, "❤️": 166}
    assert sum(b.total for b in got) == 501
    # Claims are attempted by the first reaction of a shard per window, not by every request.
    assert store.claims <= 2 * rx.SHARDS + 1


def test_at_most_one_message_per_window_over_a_long_burst(live: Any) -> None:
    spaces, space_id = live
    clock = Clock(5000.0)
    svc, _, gateway = service(spaces, clock)
    accepted = 0

    async def run() -> None:
        nonlocal accepted
        for step in range(400):  # 10 s, 8 users react each 25 ms
            clock.t = 5000.0 + step * 0.025
            for u in range(8):
                try:
                    await svc.react(actor=f"u{(step * 8 + u) % 199}", space_id=space_id, emoji="👍")
                    accepted += 1
                except TooMany:
                    pass
        clock.t += 2.0
        await svc.flush(space_id)

    asyncio.run(run())
    got = bursts(gateway)
    windows = [w for b in got for w in range(b.first_window, b.last_window + 1)]
    assert len(windows) == len(set(windows)), "a window was published twice"
    assert len(got) <= 10 / rx.WINDOW_SECONDS + 2
    assert sum(b.total for b in got) == accepted


def test_rate_limited_and_not_live(live: Any) -> None:
    spaces, space_id = live
    clock = Clock(100.0)
    svc, _, _ = service(spaces, clock)
    asyncio.run(svc.react(actor="a", space_id=space_id, emoji="👏"))
    with pytest.raises(TooMany) as info:
        asyncio.run(svc.react(actor="a", space_id=space_id, emoji="👏"))
    assert info.value.retry_after == pytest.approx(1.0)
    spaces.update(space_id, lambda s: s.replace(state=SpaceState.ENDED))
    with pytest.raises(Conflict):
        asyncio.run(svc.react(actor="b", space_id=space_id, emoji="👏"))


def test_an_sfu_failure_loses_the_aggregate_not_the_request(live: Any) -> None:
    spaces, space_id = live
    clock = Clock(100.0)
    svc, _, gateway = service(spaces, clock)
    gateway.fail = True
    asyncio.run(svc.react(actor="a", space_id=space_id, emoji="👏"))
    clock.t = 102.0
    published = asyncio.run(svc.flush(space_id))
    assert published is not None and published.burst is not None and published.burst.total == 1


class FailingMarks(MemoryReactions):
    def mark_active(self, space_id: str, window: int) -> None:
        raise RuntimeError("throttled")


def test_a_store_failure_after_counting_does_not_fail_the_counted_reaction(live: Any) -> None:
    spaces, space_id = live
    clock = Clock(100.0)
    store, gateway = FailingMarks(), DataGateway()
    svc = ReactionService(spaces=spaces, store=store, gateway=gateway, clock=clock)
    asyncio.run(svc.react(actor="a", space_id=space_id, emoji="👏"))  # no exception: 202
    # Counted once; the sweep's flush publishes it.
    clock.t = 102.0
    published = asyncio.run(svc.flush(space_id))
    assert published is not None and published.burst is not None and published.burst.total == 1
    assert [b.total for b in bursts(gateway)] == [1]


# --- the route -------------------------------------------------------------------------------


@pytest.fixture
def data_gateway() -> DataGateway:
    return DataGateway()


@pytest.fixture
def rx_client(app: FastAPI, data_gateway: DataGateway) -> Any:
    from functions.api import deps

    app.dependency_overrides[deps.get_gateway] = lambda: data_gateway
    with TestClient(app, base_url="http://127.0.0.1") as c:
        yield c


def test_route_accepts_then_limits_with_retry_after(rx_client: TestClient) -> None:
    space_id = live_space(rx_client)
    r = rx_client.post(f"/spaces/{space_id}/reactions", json={"emoji": "🔥"}, headers=auth("listener1"))
    assert r.status_code == 202, r.text
    r = rx_client.post(f"/spaces/{space_id}/reactions", json={"emoji": "🔥"}, headers=auth("listener1"))
    assert r.status_code == 429
    assert int(r.headers["Retry-After"]) >= 1
    assert r.json()["rule"] == "reaction_rate_limited"


@pytest.mark.parametrize("body", [{"emoji": "🍕"}, {"emoji": ""}, {}, {"emoji": 3}, {"emoji": "👏", "x": 1}])
def test_route_refuses_other_input_with_422_naming_the_field(
    rx_client: TestClient, body: dict[str, Any]
) -> None:
    space_id = live_space(rx_client)
    r = rx_client.post(f"/spaces/{space_id}/reactions", json=body, headers=auth("listener1"))
    assert r.status_code == 422, r.text
    locs = [e["loc"] for e in r.json()["detail"]]
    assert any(loc[:2] in (["body", "emoji"], ["body", "x"]) for loc in locs), locs


def test_route_on_unknown_or_ended_space(rx_client: TestClient) -> None:
    r = rx_client.post("/spaces/" + "0" * 32 + "/reactions", json={"emoji": "👏"}, headers=auth("u"))
    assert r.status_code in (404, 422)
    r = rx_client.post("/spaces/" + "0" * 32 + "/reactions", json={"emoji": "👏"})
    assert r.status_code == 401
    assert json.loads(r.text)


def test_a_write_that_stalls_past_its_sealed_window_counts_in_a_later_one(live: Any) -> None:
    spaces, space_id = live
    clock = Clock(100.0)
    svc, store, gateway = service(spaces, clock)
    real_add = store.add
    stalled_once = []

    def stalled(space: str, window: int, shard: int, code: str) -> int | None:
        if not stalled_once:
            # Meanwhile the window was published (sealed) and time moved on.
            stalled_once.append(window)
            store.seal(space, range(window, window + 1))
            clock.t += 2.0
        return real_add(space, window, shard, code)

    store.add = stalled  # type: ignore[method-assign]
    asyncio.run(svc.react(actor="a", space_id=space_id, emoji="😮"))
    clock.t += 2.0
    asyncio.run(svc.flush(space_id))
    got = bursts(gateway)
    assert [b.counts for b in got] == [{"😮": 1}]
    assert got[0].first_window > stalled_once[0]


def test_a_write_landing_late_in_a_claimed_window_is_published_by_its_own_request(live: Any) -> None:
    """A store that seals only the counter items it reads (DynamoDB): an add that lands after a
    publisher may have read its window, once that window is claimed, takes its item back, and the
    request sends those counts itself, once. Late by the clock but unclaimed, or on time: left to
    the publisher."""
    spaces, space_id = live
    clock = Clock(100.0)
    svc, store, gateway = service(spaces, clock)
    real_add = store.add
    taken: list[int] = []

    def take_back(space: str, window: int, shard: int) -> dict[str, int] | None:
        taken.append(window)
        return store.cells.pop((space, window, shard))  # what no publisher will count any more

    def stalled(space: str, window: int, shard: int, code: str) -> int | None:
        if rx.window_of(clock.t) == window:
            clock.t += rx.WINDOW_SECONDS * rx.PUBLISH_LAG_WINDOWS  # lands two windows later
        return real_add(space, window, shard, code)

    store.add = stalled  # type: ignore[method-assign]
    store.take_back = take_back  # type: ignore[method-assign]
    # Late, but no publisher has claimed the window: the one that does reads the item.
    asyncio.run(svc.react(actor="a", space_id=space_id, emoji="🔥"))
    assert taken == []
    clock.t += 5.0
    first = rx.window_of(clock.t)
    store.published_[space_id] = first  # a publisher claimed it (and read it without this item)
    before = len(bursts(gateway))
    asyncio.run(svc.react(actor="b", space_id=space_id, emoji="😮"))
    assert taken == [first]
    sent = [(b.first_window, b.last_window, b.counts) for b in bursts(gateway)[before:]]
    assert sent == [(first, first, {"😮": 1})]
    clock.t += 5.0
    asyncio.run(svc.flush(space_id))
    counts: dict[str, int] = {}
    for burst in bursts(gateway):
        for emoji, n in burst.counts.items():
            counts[emoji] = counts.get(emoji, 0) + n
    assert counts == {"🔥": 1, "😮": 1}


# --- the reconciler's sweep publishes trailing windows --------------------------------------------


def test_the_sweep_flushes_every_live_space_and_survives_a_failing_flush(live: Any) -> None:
    spaces, space_id = live

    from functions.domain import lifecycle
    from functions.domain.model import VideoPolicy

    now = datetime.now(UTC)
    scheduled = lifecycle.new_space(
        space_id="sp2", title="t", host="host", video=VideoPolicy.OFF, now=now, scheduled_start=None
    )
    spaces.create(scheduled)
    other = lifecycle.new_space(
        space_id="sp3", title="t", host="host", video=VideoPolicy.OFF, now=now, scheduled_start=None
    )
    spaces.create(other)
    spaces.update(other.id, lambda s: lifecycle.start(s, actor="host", now=now))
    flushed: list[str] = []

    async def flush(sid: str) -> None:
        flushed.append(sid)
        if sid == space_id:
            raise RuntimeError("store hiccup")

    reconciler = Reconciler(store=spaces, gateway=DataGateway(), agents=(), flush_reactions=flush)
    outcomes = asyncio.run(reconciler.sweep(budget_per_space=5))
    assert sorted(flushed) == sorted([space_id, "sp3"])  # live ones only; one failing stops nothing
    assert {o.space_id for o in outcomes} == {space_id, "sp3"}


def test_a_trailing_window_is_published_by_the_schedule(
    app: FastAPI, rx_client: TestClient, data_gateway: DataGateway
) -> None:
    """One reaction and nobody after it: no later reaction publishes its window, the sweep does."""
    space_id = live_space(rx_client)
    r = rx_client.post(f"/spaces/{space_id}/reactions", json={"emoji": "💯"}, headers=auth("listener1"))
    assert r.status_code == 202, r.text

    def published() -> list[Any]:
        sweep(app, data_gateway)
        return [parse_reaction_burst(p) for _, p, t in data_gateway.sent if t == REACTIONS_TOPIC]

    got = eventually(published, timeout=60, interval=0.25, what="the sweep publishing the window")
    assert len(got) == 1 and got[0] is not None
    assert got[0].space_id == space_id and got[0].counts == {"💯": 1}


def test_the_trailing_flush_publishes_a_lone_reaction_once_it_may(live: Any) -> None:
    spaces, space_id = live
    clock = Clock(1_000_000.1)
    svc, store, gateway = service(spaces, clock)
    trailing = TrailingFlush(svc)
    asyncio.run(svc.react(actor="u1", space_id=space_id, emoji="🔥"))
    window = rx.window_of(clock.t)
    assert store.marks == {space_id: window}  # the first reaction of its shard marks its window
    # Not publishable until the window after it has ended too.
    clock.t = rx.window_start(window + rx.PUBLISH_LAG_WINDOWS) - 0.01
    assert asyncio.run(trailing.tick()) == 0 and bursts(gateway) == []
    clock.t = rx.window_start(window + rx.PUBLISH_LAG_WINDOWS) + 0.01
    assert asyncio.run(trailing.tick()) == 1
    assert [b.counts for b in bursts(gateway)] == [{"🔥": 1}]
    # Each mark is flushed once; a later reaction's mark is flushed again.
    assert asyncio.run(trailing.tick()) == 0
    clock.t += 3.0
    asyncio.run(svc.react(actor="u2", space_id=space_id, emoji="👏"))
    clock.t += 1.0
    assert asyncio.run(trailing.tick()) == 1
    assert [b.counts for b in bursts(gateway)] == [{"🔥": 1}, {"👏": 1}]


def test_a_reaction_whose_window_the_patrol_claimed_first_is_still_flushed(live: Any) -> None:
    """The patrol's flush at the start of a window wins that window's claim; a reaction later in
    the same window loses it, but its mark still gets its window published."""
    spaces, space_id = live
    clock = Clock(1_000_000.1)
    svc, store, gateway = service(spaces, clock)
    trailing = TrailingFlush(svc)
    asyncio.run(svc.react(actor="u1", space_id=space_id, emoji="🔥"))
    first = rx.window_of(clock.t)
    clock.t = rx.window_start(first + rx.PUBLISH_LAG_WINDOWS) + 0.01
    assert asyncio.run(trailing.tick()) == 1  # claims this window, publishing the first one
    clock.t += 0.2  # the same window
    asyncio.run(svc.react(actor="u2", space_id=space_id, emoji="👏"))
    second = rx.window_of(clock.t)
    assert store.published(space_id) == second - rx.PUBLISH_LAG_WINDOWS  # the claim was the patrol's
    clock.t = rx.window_start(second + rx.PUBLISH_LAG_WINDOWS) + 0.01
    assert asyncio.run(trailing.tick()) == 1
    assert [b.counts for b in bursts(gateway)] == [{"🔥": 1}, {"👏": 1}]


DUE = "2026-12-01T10:00:00Z"


@pytest.mark.parametrize(
    ("event", "remaining", "late", "expected"),
    [
        ({}, 58.0, 0.0, 56.0),  # invoked by hand: until the margin before the timeout
        ({"scheduled_time": DUE, "period_seconds": 60}, 58.0, 0.0, 56.0),
        # Started 5 s late: stops 2 s before the next start, not 56 s after its own.
        ({"scheduled_time": DUE, "period_seconds": 60}, 58.0, 5.0, 53.0),
        # A retry long after its minute: one sweep and done.
        ({"scheduled_time": DUE, "period_seconds": 60}, 58.0, 600.0, 0.0),
        ({"scheduled_time": "not a time", "period_seconds": 60}, 10.0, 0.0, 8.0),
    ],
)
def test_a_patrol_ends_before_its_timeout_and_the_next_start(
    event: dict[str, Any], remaining: float, late: float, expected: float
) -> None:
    due = datetime(2026, 12, 1, 10, 0, tzinfo=UTC).timestamp()
    assert patrol_seconds(event, remaining, due + late) == pytest.approx(expected)
