"""One contract, two stores: SQLite (file) and DynamoDB (DynamoDB Local, started by the fixture)."""

from __future__ import annotations

import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from functions.domain import lifecycle, stage
from functions.domain.errors import Conflict, NotFound
from functions.domain.model import Limits, Role, Space, SpaceState, VideoPolicy
from functions.store.base import CURSOR_PATTERN, CURSOR_SLOTS, IdempotencyKey, InvalidCursor, SpaceStore

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def make_space(
    host: str = "host", *, title: str = "t", at: datetime = T0, scheduled_start: datetime | None = None
) -> Space:
    return lifecycle.new_space(
        space_id=uuid.uuid4().hex,
        title=title,
        host=host,
        video=VideoPolicy.SPEAKERS,
        now=at,
        scheduled_start=scheduled_start,
    )


def live(store: SpaceStore, space: Space, *, at: datetime = T0) -> Space:
    store.create(space)
    return store.update(space.id, lambda s: lifecycle.start(s, actor=s.host, now=at)).after


def test_create_then_get_round_trips_every_field(store: SpaceStore) -> None:
    space = make_space(scheduled_start=T0 + timedelta(hours=1))
    store.create(space)
    got = store.get(space.id)
    assert got == space
    assert store.get(uuid.uuid4().hex) is None
    # The host's choice not to keep a recording (the default is to keep one).
    unrecorded = make_space().replace(record=False)
    store.create(unrecorded)
    assert store.get(unrecorded.id) == unrecorded and store.require(unrecorded.id).record is False
    assert got is not None and got.record is True


def test_update_applies_rule_and_bumps_version(store: SpaceStore) -> None:
    space = live(store, make_space())
    change = store.update(
        space.id,
        lambda s: stage.change_role(
            s, actor="host", target="bob", role=Role.SPEAKER, limits=Limits(), now=T0
        ),
    )
    assert change.changed
    assert change.after.version == space.version + 1
    assert store.require(space.id).speakers == ("bob",)


def test_an_invitation_to_speak_round_trips(store: SpaceStore) -> None:
    space = live(store, make_space())
    limits = Limits()
    invited = store.update(
        space.id, lambda s: stage.invite(s, actor="host", target="lee", tag="tag-lee0", limits=limits, now=T0)
    ).after
    assert store.require(space.id).invited == invited.invited
    assert store.require(space.id).invited["lee"].until == T0 + timedelta(seconds=stage.INVITATION_SECONDS)
    assert store.get_own(space.id).invited == invited.invited  # the Space's own fields' read
    # The invitee's own read (what an answer is first judged on) sees it too.
    assert store.require(space.id, member="lee").invited == invited.invited
    accepted = store.update(space.id, lambda s: stage.accept_invitation(s, user="lee", limits=limits, now=T0))
    assert accepted.changed and store.require(space.id).speakers == ("lee",)
    assert store.require(space.id).invited == {}


def test_an_invitation_does_not_pass_a_block_committed_after_its_read(store: SpaceStore) -> None:
    """The invitation's write read the Space before a moderator blocked the invitee: it must not
    commit over the block (a seat held and a tag published for a blocked person)."""
    space = live(store, make_space())
    limits = Limits()
    blocked_meanwhile = False

    def invite_racing_a_block(s: Space) -> Space:
        nonlocal blocked_meanwhile
        if not blocked_meanwhile:
            blocked_meanwhile = True
            store.update(
                space.id, lambda t: stage.remove(t, actor="host", target="lee", block=True, limits=limits)
            )
        return stage.invite(s, actor="host", target="lee", tag="tag-lee0", limits=limits, now=T0)

    with pytest.raises(Conflict) as err:
        store.update(space.id, invite_racing_a_block)
    assert err.value.rule == "user_blocked"
    assert store.require(space.id).invited == {} and "lee" in store.require(space.id).blocked


def test_get_own_reads_the_roles_and_state_without_the_members(store: SpaceStore) -> None:
    space = live(store, make_space())
    store.update(
        space.id,
        lambda s: stage.change_role(s, actor="host", target="co", role=Role.COHOST, limits=Limits(), now=T0),
    )
    store.update(space.id, lambda s: stage.raise_hand(s, user="fan", limits=Limits()))
    own = store.get_own(space.id)
    assert own is not None and own.state is SpaceState.LIVE
    assert (own.host, own.cohosts, own.raised_hands, own.blocked) == ("host", ("co",), (), ())
    assert own.version == store.require(space.id).version
    assert store.get_own(uuid.uuid4().hex) is None
    with pytest.raises(NotFound):
        store.require_own(uuid.uuid4().hex)


def test_update_of_missing_space_is_not_found(store: SpaceStore) -> None:
    with pytest.raises(NotFound):
        store.update(uuid.uuid4().hex, lambda s: s)


def test_rule_error_changes_nothing(store: SpaceStore) -> None:
    space = live(store, make_space())
    with pytest.raises(Conflict):
        store.update(space.id, lambda s: lifecycle.start(s, actor="host", now=T0))
    assert store.require(space.id) == space


def test_stale_compare_and_set_is_refused(store: SpaceStore) -> None:
    space = make_space()
    store.create(space)
    stale = store._read(space.id)
    assert stale is not None
    store.update(space.id, lambda s: s.replace(title="new"))
    assert store._commit(stale, space.replace(title="stale", version=1)) is None
    assert store.require(space.id).title == "new"


def test_idempotent_create_returns_the_first_space(store: SpaceStore) -> None:
    key = IdempotencyKey(owner="alice", key="k1", fingerprint="f")
    first = store.create(make_space("alice"), idempotency=key)
    again = store.create(make_space("alice"), idempotency=key)
    assert again.id == first.id
    other_owner = store.create(
        make_space("bob"), idempotency=IdempotencyKey(owner="bob", key="k1", fingerprint="f")
    )
    assert other_owner.id != first.id
    with pytest.raises(Conflict) as err:
        store.create(
            make_space("alice"), idempotency=IdempotencyKey(owner="alice", key="k1", fingerprint="other")
        )
    assert err.value.rule == "idempotency_key_reused"


def test_parallel_creates_with_one_idempotency_key_make_one_space(store: SpaceStore) -> None:
    key = IdempotencyKey(owner="alice", key="burst", fingerprint="f")
    candidates = [make_space("alice") for _ in range(20)]
    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(lambda s: store.create(s, idempotency=key), candidates))
    assert len({r.id for r in results}) == 1
    winner = results[0].id
    assert winner in {c.id for c in candidates}
    # The losers' Spaces were never stored.
    assert [c.id for c in candidates if store.get(c.id) is not None] == [winner]


def test_an_expired_idempotency_key_is_free_again(store: SpaceStore) -> None:
    """DynamoDB deletes expired items lazily; SQLite keeps them until overwritten. Both treat an
    expired key as unused."""
    from functions.store.dynamodb import DynamoStore

    first = store.create(make_space("alice"), idempotency=IdempotencyKey("alice", "old", "f"))
    expired_at = int(time.time()) - 10
    if isinstance(store, DynamoStore):
        store.client.update_item(
            TableName=store.table,
            Key={"pk": {"S": "IDEMP#alice#old"}, "sk": {"S": "IDEMP"}},
            UpdateExpression="SET #t = :t",
            ExpressionAttributeNames={"#t": "ttl"},
            ExpressionAttributeValues={":t": {"N": str(expired_at)}},
        )
    else:
        db = store._connect()  # type: ignore[attr-defined]
        with db:
            db.execute("UPDATE idempotency SET expires = ?", (expired_at,))
        db.close()
    # Expired: a new create with the same key (even another body) makes a new Space.
    second = store.create(make_space("alice"), idempotency=IdempotencyKey("alice", "old", "other"))
    assert second.id != first.id
    replayed = store.create(make_space("alice"), idempotency=IdempotencyKey("alice", "old", "other"))
    assert replayed.id == second.id


def test_discovery_pages_by_state_in_order(store: SpaceStore) -> None:
    started = [live(store, make_space(title=f"live{i}"), at=T0 + timedelta(minutes=i)) for i in range(5)]
    scheduled = [make_space(title=f"sched{i}", scheduled_start=T0 + timedelta(hours=5 - i)) for i in range(3)]
    for s in scheduled:
        store.create(s)

    seen: list[str] = []
    cursor = None
    for _ in range(10):
        page = store.list(SpaceState.LIVE, limit=2, cursor=cursor)
        seen += [s.id for s in page.items]
        cursor = page.cursor
        if cursor is None:
            break
    # Live: most recently started first, every Space exactly once.
    assert seen == [s.id for s in reversed(started)]

    soonest_first = store.list(SpaceState.SCHEDULED, limit=10)
    assert [s.id for s in soonest_first.items] == [s.id for s in reversed(scheduled)]
    assert soonest_first.cursor is None


def test_ended_spaces_leave_discovery(store: SpaceStore) -> None:
    space = live(store, make_space())
    store.update(space.id, lambda s: lifecycle.end(s, actor="host", now=T0))
    assert store.list(SpaceState.LIVE, limit=10).items == []


def test_garbage_cursor_is_invalid(store: SpaceStore) -> None:
    key = "20261201T201500123456Z_" + "a" * 32
    garbage = (
        "not-a-cursor!!",
        "eyJ4IjogMX0",  # store-scale's base64 JSON ({"x": 1})
        "eyJrIjoiXHVkODAwIn0",  # {"k":"\ud800"} verbatim
        key,  # one position: the cursor before discovery was sharded (it needs one per slot)
        "~".join([key] * (CURSOR_SLOTS - 1)),  # a slot short
        "~".join([key] * (CURSOR_SLOTS + 1)),  # a slot too many
        "~".join(["20261201T201500123456Z_" + "\ud800" * 32] + ["-"] * (CURSOR_SLOTS - 1)),  # lone surrogate
        "~".join(["2026_abc"] + ["-"] * (CURSOR_SLOTS - 1)),  # a short position
        "~".join(["end"] + ["-"] * (CURSOR_SLOTS - 1)),  # store-scale's end marker
        "~".join([key.upper()] + ["-"] * (CURSOR_SLOTS - 1)),  # ids are lower-case hex
        "-" * CURSOR_SLOTS,  # no separators
    )
    for cursor in garbage:
        with pytest.raises(InvalidCursor):
            store.list(SpaceState.LIVE, limit=5, cursor=cursor)


def test_any_well_formed_cursor_is_a_position(store: SpaceStore) -> None:
    """Keyset pagination: a cursor of the documented shape that no page returned (its Space does not
    exist) still names a place in the order, and the page continues from there."""
    started = [live(store, make_space(title=f"live{i}"), at=T0 + timedelta(minutes=i)) for i in range(3)]
    between = T0 + timedelta(minutes=1, seconds=30)
    position = between.strftime("%Y%m%dT%H%M%S%fZ") + "_" + "f" * 32
    # Newest first: after the position between the 2nd and 3rd start come the 2nd and the 1st.
    page = store.list(SpaceState.LIVE, limit=5, cursor="~".join([position] * CURSOR_SLOTS))
    assert [s.id for s in page.items] == [started[1].id, started[0].id]
    assert page.cursor is None
    # A position past everything, or every slot exhausted, is an empty last page, not an error.
    past = "00000000T000000000000Z_" + "0" * 32
    assert store.list(SpaceState.LIVE, limit=5, cursor="~".join([past] * CURSOR_SLOTS)).items == []
    exhausted = store.list(SpaceState.LIVE, limit=5, cursor="~".join(["-"] * CURSOR_SLOTS))
    assert (exhausted.items, exhausted.cursor) == ([], None)
    # Every slot at the start is the first page.
    first = store.list(SpaceState.LIVE, limit=5, cursor="~".join(["0"] * CURSOR_SLOTS))
    assert [s.id for s in first.items] == [s.id for s in reversed(started)]
    # Slots that disagree (no page returns such a mix from SQLite) are still a page, never an error.
    mixed = "~".join([position, "0", "-", past, position][:CURSOR_SLOTS])
    ids = {s.id for s in store.list(SpaceState.LIVE, limit=5, cursor=mixed).items}
    assert ids <= {s.id for s in started}


def test_returned_cursors_have_the_documented_shape(store: SpaceStore) -> None:
    for i in range(3):
        live(store, make_space(title=f"live{i}"), at=T0 + timedelta(minutes=i))
    cursor = store.list(SpaceState.LIVE, limit=1).cursor
    assert cursor is not None and re.fullmatch(CURSOR_PATTERN, cursor), cursor
    assert len(cursor.split("~")) == CURSOR_SLOTS


def test_listener_counter_dedupes_events(store: SpaceStore) -> None:
    space = live(store, make_space())
    assert store.adjust_listeners(space.id, 1, event_id="ev1")
    assert not store.adjust_listeners(space.id, 1, event_id="ev1")
    assert store.adjust_listeners(space.id, 1, event_id="ev2")
    assert store.adjust_listeners(space.id, -1, event_id="ev3")
    assert store.require(space.id).listener_count == 1
    # The counter lives outside the version: counting never conflicts with role changes.
    assert store.require(space.id).version == space.version


def test_claim_event_once(store: SpaceStore) -> None:
    assert store.claim_event("room-finished-1")
    assert not store.claim_event("room-finished-1")


def test_a_released_event_can_be_claimed_again(store: SpaceStore) -> None:
    """A webhook whose effect could not be stored lets its id go, so the SFU's retry applies it."""
    assert store.claim_event("host-left-1") and store.claim_event("host-left-2")
    store.release_event("host-left-1")
    store.release_event("never-claimed")  # nothing to let go: no error
    assert store.claim_event("host-left-1")
    assert not store.claim_event("host-left-1") and not store.claim_event("host-left-2")


def test_parallel_promotions_never_exceed_the_speaker_limit(store: SpaceStore) -> None:
    """20 concurrent promotions into 10 free speaker slots: exactly 10 win, none is lost."""
    space = live(store, make_space())
    limits = Limits(max_speakers=10)

    def promote(user: str) -> bool:
        try:
            store.update(
                space.id,
                lambda s: stage.change_role(
                    s, actor="host", target=user, role=Role.SPEAKER, limits=limits, now=T0
                ),
            )
            return True
        except Conflict as exc:
            assert exc.rule == "speaker_limit"
            return False

    users = [f"listener{i}" for i in range(20)]
    with ThreadPoolExecutor(max_workers=20) as pool:
        won = list(pool.map(promote, users))
    final = store.require(space.id)
    assert sum(won) == 10
    assert len(final.speakers) == 10
    assert set(final.speakers) == {u for u, ok in zip(users, won, strict=True) if ok}


def test_parallel_hand_raises_are_all_kept(store: SpaceStore) -> None:
    space = live(store, make_space())
    users = [f"u{i}" for i in range(15)]
    with ThreadPoolExecutor(max_workers=15) as pool:
        list(
            pool.map(
                lambda u: store.update(space.id, lambda s: stage.raise_hand(s, user=u, limits=Limits())),
                users,
            )
        )
    assert sorted(store.require(space.id).raised_hands) == sorted(users)


def test_a_space_with_a_full_hand_queue_ends(store: SpaceStore) -> None:
    """Every raised hand the queue holds, a pin, and the host ends it: one change, on both stores
    (DynamoDB: one transaction, which must not grow with the hands it clears)."""
    limits = Limits()
    space = live(store, make_space())
    store.update(
        space.id,
        lambda s: stage.change_role(s, actor=s.host, target="sp", role=Role.SPEAKER, limits=limits, now=T0),
    )
    store.update(space.id, lambda s: stage.pin(s, actor=s.host, target="sp"))
    for i in range(limits.max_raised_hands):
        store.update(space.id, lambda s, u=f"u{i}": stage.raise_hand(s, user=u, limits=limits))
    assert len(store.require(space.id).raised_hands) == limits.max_raised_hands
    store.update(space.id, lambda s: lifecycle.end(s, actor=s.host, now=T0 + timedelta(hours=1)))
    ended = store.require(space.id)
    assert ended.state is SpaceState.ENDED and ended.raised_hands == () and ended.pinned is None
