"""The audience (the host's listener list) in both stores: SQLite and DynamoDB Local."""

from __future__ import annotations

import random
import sqlite3
import uuid
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from functions.domain.audience import Listener, ListenerPage, normalize
from functions.store.base import SpaceStore
from functions.store.sqlite import SqliteStore

NOW = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)


def entry(user: str, name: str, *, at: datetime = NOW, expires: datetime | None = None) -> Listener:
    return Listener(user_id=user, name=name, picture=None, joined_at=at, expires_at=expires)


def every_page(store: SpaceStore, space: str, *, query: str | None = None, limit: int) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        page: ListenerPage = store.listeners(space, query=query, limit=limit, after=cursor, now=NOW)
        pages.append([e.user_id for e in page.items])
        assert len(page.items) <= limit
        if page.cursor is None:
            return pages
        cursor = page.cursor


def test_pages_cover_every_listener_once_in_name_order(store: SpaceStore) -> None:
    space = uuid.uuid4().hex
    rng = random.Random(7)
    people = {
        f"u{i}": f"{rng.choice(['Ann', 'bob', 'Élodie', 'zed', 'Anna'])} {rng.randrange(1000)}"
        for i in range(230)
    }
    for user, name in people.items():
        store.put_listener(space, entry(user, name))
    pages = every_page(store, space, limit=40)
    assert len(pages) == 6
    assert all(len(p) == 40 for p in pages[:-1])
    seen = [u for p in pages for u in p]
    assert len(seen) == len(set(seen)) == 230
    assert seen == sorted(people, key=lambda u: (normalize(people[u]).encode(), u))


def test_prefix_search_ignores_case_and_accents(store: SpaceStore) -> None:
    space = uuid.uuid4().hex
    names = {
        "a": "Zoë Adams",
        "b": "zoe baker",
        "c": "ZOE",
        "d": "Zoltan",
        "e": "Émile",
        "f": "emily",
        "g": "Ann",
    }
    for user, name in names.items():
        store.put_listener(space, entry(user, name))

    def search(q: str) -> list[str]:
        return [e.name for e in store.listeners(space, query=q, limit=100, after=None, now=NOW).items]

    assert search("zoe") == ["ZOE", "Zoë Adams", "zoe baker"]
    assert search("ZOË  a") == ["Zoë Adams"]
    assert search("Zo") == ["ZOE", "Zoë Adams", "zoe baker", "Zoltan"]
    assert search("ÉMI") == ["Émile", "emily"]
    assert search("emile") == ["Émile"]
    assert search("x") == []
    assert len(search("")) == 7


def test_prefix_search_pages(store: SpaceStore) -> None:
    space = uuid.uuid4().hex
    for i in range(120):
        store.put_listener(space, entry(f"m{i}", f"Maria {i:03}"))
        store.put_listener(space, entry(f"o{i}", f"Mario {i:03}" if i % 2 else f"Other {i:03}"))
    pages = every_page(store, space, query="MARIA", limit=25)
    assert [len(p) for p in pages] == [25, 25, 25, 25, 20]
    assert [u for p in pages for u in p] == [f"m{i}" for i in range(120)]
    marios = [u for p in every_page(store, space, query="mari", limit=50) for u in p]
    assert len(marios) == 180


def test_a_search_finds_the_start_of_any_word_once_whole_names_first(store: SpaceStore) -> None:
    space = uuid.uuid4().hex
    names = {
        "a": "Carol Jones",
        "b": "Jonas Berg",
        "c": "John Jones",  # both words match "jo": listed once
        "d": "Mary Ann Jo Smith",
        "e": "Ann",
        "f": "Zed Ann",
        "g": "a b c d jo",  # a fifth word is not indexed
    }
    for user, name in names.items():
        store.put_listener(space, entry(user, name))

    def search(q: str, limit: int = 100) -> list[str]:
        return [u for page in every_page(store, space, query=q, limit=limit) for u in page]

    assert search("jo") == ["c", "b", "d", "a"]  # whole names, then later words, each in key order
    assert search("JONES") == ["a", "c"]
    assert search("ann") == ["e", "f", "d"]
    assert search("ann jo") == ["d"]
    # Small pages cross from whole names to later words without losing or repeating anyone.
    assert search("jo", limit=1) == search("jo") and search("ann", limit=2) == search("ann")
    # The unfiltered list shows each listener once, under the whole name.
    assert sorted(search("")) == sorted(names)
    # Renamed, removed and renewed with all their words.
    store.put_listener(space, entry("a", "Carol Smith", at=NOW + timedelta(seconds=1)))
    assert search("jones") == ["c"] and search("smith") == ["a", "d"]
    assert store.remove_listener(space, "c") == 2
    assert search("jo") == ["b", "d"]
    soon, later = NOW + timedelta(minutes=10), NOW + timedelta(minutes=20)
    store.put_listener(space, entry("h", "Hal Jordan", expires=soon))
    assert store.renew_listeners(space, [("h", "Hal Jordan")], expires_at=later) == 1
    found = store.listeners(space, query="jord", limit=10, after=None, now=NOW + timedelta(minutes=15))
    assert [e.user_id for e in found.items] == ["h"]


def test_a_cursor_outside_the_prefix_range_is_an_empty_last_page(store: SpaceStore) -> None:
    space = uuid.uuid4().hex
    store.put_listener(space, entry("a", "alice"))
    store.put_listener(space, entry("z", "zed"))
    page = store.listeners(space, query="a", limit=10, after=entry("z", "zed").key, now=NOW)
    assert page.items == [] and page.cursor is None
    # A cursor before the range starts at the range.
    page = store.listeners(space, query="zed", limit=10, after=entry("a", "alice").key, now=NOW)
    assert [e.user_id for e in page.items] == ["z"]


def test_leave_removes_the_entry_but_keeps_a_later_rejoin(store: SpaceStore) -> None:
    space = uuid.uuid4().hex
    store.put_listener(space, entry("bob", "Bob", at=NOW))
    store.put_listener(space, entry("amy", "Amy", at=NOW))
    # A leave of the session that connected after this token: gone.
    assert store.remove_listener(space, "bob", joined_before=NOW + timedelta(seconds=2)) == 1
    assert [e.user_id for e in store.listeners(space, query=None, limit=10, after=None, now=NOW).items] == [
        "amy"
    ]
    # Amy rejoins (new token) before the leave of her first session arrives: she stays listed.
    store.put_listener(space, entry("amy", "Amy", at=NOW + timedelta(seconds=30)))
    assert store.remove_listener(space, "amy", joined_before=NOW + timedelta(seconds=2)) == 0
    assert [e.user_id for e in store.listeners(space, query=None, limit=10, after=None, now=NOW).items] == [
        "amy"
    ]
    # Removed by a host: every entry, whenever written; a repeat is harmless.
    assert store.remove_listener(space, "amy") == 1
    assert store.remove_listener(space, "amy") == 0
    assert store.listeners(space, query=None, limit=10, after=None, now=NOW).items == []


def names_listed(store: SpaceStore, space: str, at: datetime = NOW) -> list[str]:
    return [e.name for e in store.listeners(space, query=None, limit=10, after=None, now=at).items]


def test_a_renamed_listener_is_listed_once_under_the_new_name(store: SpaceStore) -> None:
    space = uuid.uuid4().hex
    store.put_listener(space, entry("amy", "Amy"))
    store.put_listener(space, entry("bob", "Bob", at=NOW))
    store.put_listener(space, entry("bob", "Robert", at=NOW + timedelta(seconds=5)))
    assert names_listed(store, space) == ["Amy", "Robert"]
    # A join that read the clock before the rename but wrote after it deletes nothing newer.
    store.put_listener(space, entry("bob", "Bobby", at=NOW + timedelta(seconds=1)))
    assert names_listed(store, space) == ["Amy", "Bobby", "Robert"]
    assert store.remove_listener(space, "bob") == 2
    assert names_listed(store, space) == ["Amy"]


def test_listed_gives_the_users_newest_entry_expired_or_not(store: SpaceStore) -> None:
    space = uuid.uuid4().hex
    assert store.listed(space, "bob") is None
    store.put_listener(space, entry("bob", "Bob", at=NOW, expires=NOW - timedelta(minutes=1)))
    found = store.listed(space, "bob")
    assert found is not None and (found.name, found.expires_at) == ("Bob", NOW - timedelta(minutes=1))
    store.put_listener(space, entry("bob", "Bobby", at=NOW - timedelta(seconds=5)))  # an older join
    found = store.listed(space, "bob")
    assert found is not None and found.name == "Bob"
    assert store.listed(space, "amy") is None and store.listed(uuid.uuid4().hex, "bob") is None


def test_renewal_extends_present_entries_only(store: SpaceStore) -> None:
    space = uuid.uuid4().hex
    soon, later = NOW + timedelta(minutes=10), NOW + timedelta(minutes=20)
    store.put_listener(space, entry("rita", "Rita", expires=soon))
    store.put_listener(space, entry("gus", "Gus", expires=soon))  # his leave was lost
    store.put_listener(space, entry("hal", "Hal", expires=NOW + timedelta(hours=1)))
    store.put_listener(space, entry("old", "Olga"))  # written before entries expired
    present = [("rita", "Rita"), ("hal", "Hal"), ("old", "Olga"), ("nina", "Nina"), ("host", "host")]
    # Rita extended; Hal's later expiry kept; Olga's entry gains one; nobody else gets an entry.
    assert store.renew_listeners(space, present, expires_at=later) == 2
    assert store.renew_listeners(space, [], expires_at=later) == 0
    assert names_listed(store, space, NOW + timedelta(minutes=15)) == ["Hal", "Olga", "Rita"]
    assert names_listed(store, space, NOW + timedelta(minutes=25)) == ["Hal"]


def test_hls_entries_expire_and_a_new_token_renews_them(store: SpaceStore) -> None:
    space = uuid.uuid4().hex
    store.put_listener(space, entry("hls", "Hal", expires=NOW + timedelta(hours=1)))
    store.put_listener(space, entry("rtc", "Rita"))

    def listed(at: datetime) -> list[str]:
        return [e.user_id for e in store.listeners(space, query=None, limit=10, after=None, now=at).items]

    assert listed(NOW) == ["hls", "rtc"]
    assert listed(NOW + timedelta(hours=1, seconds=1)) == ["rtc"]
    store.put_listener(
        space, entry("hls", "Hal", at=NOW + timedelta(minutes=50), expires=NOW + timedelta(hours=2))
    )
    assert listed(NOW + timedelta(hours=1, seconds=1)) == ["hls", "rtc"]


def test_hidden_users_are_skipped_without_shortening_pages(store: SpaceStore) -> None:
    space = uuid.uuid4().hex
    for i in range(60):
        store.put_listener(space, entry(f"u{i:02}", f"user {i:02}"))
    hidden = frozenset(f"u{i:02}" for i in range(0, 60, 3))
    page = store.listeners(space, query=None, limit=30, after=None, now=NOW, hidden=hidden)
    assert len(page.items) == 30 and not {e.user_id for e in page.items} & hidden
    rest = store.listeners(space, query=None, limit=30, after=page.cursor, now=NOW, hidden=hidden)
    assert len(rest.items) == 10 and rest.cursor is None


def test_entries_keep_name_picture_and_join_time(store: SpaceStore) -> None:
    space = uuid.uuid4().hex
    at = NOW + timedelta(milliseconds=123)
    store.put_listener(space, Listener("pia", "Pia", "https://example.com/p.png", at))
    (got,) = store.listeners(space, query=None, limit=10, after=None, now=NOW).items
    assert got == Listener("pia", "Pia", "https://example.com/p.png", at)


@pytest.mark.parametrize("limit", [1, 7])
def test_other_spaces_are_not_listed(store: SpaceStore, limit: int) -> None:
    one, two = uuid.uuid4().hex, uuid.uuid4().hex
    store.put_listener(one, entry("a", "A"))
    store.put_listener(two, entry("b", "B"))
    assert [e.user_id for e in store.listeners(one, query=None, limit=limit, after=None, now=NOW).items] == [
        "a"
    ]


def test_a_sqlite_file_from_before_the_audience_gains_it_on_open(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    SqliteStore(path)
    with closing(sqlite3.connect(path)) as db:  # the file as the previous version left it
        db.execute("DROP TABLE audience")
    store = SqliteStore(path)
    space = uuid.uuid4().hex
    assert store.listeners(space, query=None, limit=10, after=None, now=NOW).items == []
    store.put_listener(space, entry("a", "Ann"))
    assert [e.user_id for e in store.listeners(space, query=None, limit=10, after=None, now=NOW).items] == [
        "a"
    ]
