"""Display names and avatars in both stores (SQLite file, DynamoDB Local): the host's with the Space
record, a raised hand's with its hand record, a promoted speaker's moved into the record; records
and hands written before names or avatars existed still read (their people show as their id, with
initials)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from functions.domain import people, stage
from functions.domain.model import Limits, Role
from functions.store.base import SpaceStore
from functions.store.sqlite import SqliteStore

from .test_store_contract import live, make_space

pytestmark = pytest.mark.integration
LIMITS = Limits()

# Any moment: these role changes meet no invitation to speak.
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def raise_named_hand(store: SpaceStore, space_id: str, caller: people.Caller) -> None:
    store.update(space_id, lambda s: people.named(stage.raise_hand(s, user=caller.id, limits=LIMITS), caller))


HANA, LEE = "https://img.example/hana.png", "https://img.example/lee.png"


def test_names_live_with_the_space_and_with_each_hand(store: SpaceStore) -> None:
    space = live(store, people.named(make_space(), people.Caller("host", "Hana Host", HANA)))
    assert store.require(space.id).names == {"host": "Hana Host"}
    assert store.require(space.id).pictures == {"host": HANA}
    raise_named_hand(store, space.id, people.Caller("lee", "Lee Listener", LEE))
    store.update(space.id, lambda s: stage.raise_hand(s, user="old", limits=LIMITS))  # nameless hand
    got = store.require(space.id)
    assert got.raised_hands == ("lee", "old")
    assert got.names == {"host": "Hana Host", "lee": "Lee Listener"}
    assert got.pictures == {"host": HANA, "lee": LEE}
    assert got.version == space.version  # a hand's name is on the hand, not the Space record
    # A member read (the token path) has the caller's own hand, with its face.
    assert store.require(space.id, member="lee").pictures == {"host": HANA, "lee": LEE}

    promoted = store.update(
        space.id,
        lambda s: stage.change_role(s, actor="host", target="lee", role=Role.SPEAKER, limits=LIMITS, now=NOW),
    ).after
    assert promoted.speakers == ("lee",)
    again = store.require(space.id)
    assert again.names == {"host": "Hana Host", "lee": "Lee Listener"}  # the hand is gone, the name stays
    assert people.stage_names(again) == {"host": "Hana Host", "lee": "Lee Listener"}
    assert people.stage_pictures(again) == {"host": HANA, "lee": LEE}

    demoted = store.update(
        space.id,
        lambda s: stage.change_role(
            s, actor="host", target="lee", role=Role.LISTENER, limits=LIMITS, now=NOW
        ),
    ).after
    assert demoted.speakers == ()
    assert store.require(space.id).names == {"host": "Hana Host"}  # listeners' names are not kept
    assert store.require(space.id).pictures == {"host": HANA}


def hands_table_as_before(path: Path, columns: str) -> SqliteStore:
    """The SQLite file with its hands table cut back to `columns`, as an older version wrote it,
    opened again (which adds the missing columns)."""
    db = sqlite3.connect(path)
    db.executescript(
        f"CREATE TABLE old_hands AS SELECT {columns} FROM hands;"
        "DROP TABLE hands; ALTER TABLE old_hands RENAME TO hands;"
    )
    db.close()
    return SqliteStore(path)


def test_a_sqlite_file_from_before_names_opens_and_its_hands_read(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    space = live(SqliteStore(path), make_space())
    SqliteStore(path).update(space.id, lambda s: stage.raise_hand(s, user="a", limits=LIMITS))
    reopened = hands_table_as_before(path, "seq, space_id, user")  # no `name`, no `picture`
    assert reopened.require(space.id).raised_hands == ("a",)
    assert reopened.require(space.id).names == {}
    raise_named_hand(reopened, space.id, people.Caller("b", "Bea", LEE))
    assert reopened.require(space.id).names == {"b": "Bea"}
    assert reopened.require(space.id).pictures == {"b": LEE}


def test_a_sqlite_file_from_before_avatars_opens_and_its_named_hands_read(tmp_path: Path) -> None:
    path = tmp_path / "named.sqlite3"
    space = live(SqliteStore(path), make_space())
    raise_named_hand(SqliteStore(path), space.id, people.Caller("a", "Ann", LEE))
    reopened = hands_table_as_before(path, "seq, space_id, user, name")  # no `picture`
    assert reopened.require(space.id).names == {"a": "Ann"} and reopened.require(space.id).pictures == {}
    raise_named_hand(reopened, space.id, people.Caller("b", "Bea", HANA))
    assert reopened.require(space.id).pictures == {"b": HANA}
