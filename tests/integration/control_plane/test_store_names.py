"""Display names in both stores (SQLite file, DynamoDB Local): the host's with the Space record, a
raised hand's with its hand record, a promoted speaker's moved into the record; records and hands
written before names existed still read (their people show as their id)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from functions.domain import people, stage
from functions.domain.model import Limits, Role
from functions.store.base import SpaceStore
from functions.store.sqlite import SqliteStore

from .test_store_contract import live, make_space

pytestmark = pytest.mark.integration
LIMITS = Limits()


def raise_named_hand(store: SpaceStore, space_id: str, caller: people.Caller) -> None:
    store.update(space_id, lambda s: people.named(stage.raise_hand(s, user=caller.id, limits=LIMITS), caller))


def test_names_live_with_the_space_and_with_each_hand(store: SpaceStore) -> None:
    space = live(store, people.named(make_space(), people.Caller("host", "Hana Host")))
    assert store.require(space.id).names == {"host": "Hana Host"}
    raise_named_hand(store, space.id, people.Caller("lee", "Lee Listener"))
    store.update(space.id, lambda s: stage.raise_hand(s, user="old", limits=LIMITS))  # nameless hand
    got = store.require(space.id)
    assert got.raised_hands == ("lee", "old")
    assert got.names == {"host": "Hana Host", "lee": "Lee Listener"}
    assert got.version == space.version  # a hand's name is on the hand, not the Space record

    promoted = store.update(
        space.id, lambda s: stage.change_role(s, actor="host", target="lee", role=Role.SPEAKER, limits=LIMITS)
    ).after
    assert promoted.speakers == ("lee",)
    again = store.require(space.id)
    assert again.names == {"host": "Hana Host", "lee": "Lee Listener"}  # the hand is gone, the name stays
    assert people.stage_names(again) == {"host": "Hana Host", "lee": "Lee Listener"}

    demoted = store.update(
        space.id,
        lambda s: stage.change_role(s, actor="host", target="lee", role=Role.LISTENER, limits=LIMITS),
    ).after
    assert demoted.speakers == ()
    assert store.require(space.id).names == {"host": "Hana Host"}  # listeners' names are not kept


def test_a_sqlite_file_from_before_names_opens_and_its_hands_read(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    store = SqliteStore(path)
    space = live(store, make_space())
    store.update(space.id, lambda s: stage.raise_hand(s, user="a", limits=LIMITS))
    # The hands table as it was before names: no `name` column.
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE old_hands AS SELECT seq, space_id, user FROM hands;"
        "DROP TABLE hands; ALTER TABLE old_hands RENAME TO hands;"
    )
    db.close()
    reopened = SqliteStore(path)
    assert reopened.require(space.id).raised_hands == ("a",)
    assert reopened.require(space.id).names == {}
    raise_named_hand(reopened, space.id, people.Caller("b", "Bea"))
    assert reopened.require(space.id).names == {"b": "Bea"}
