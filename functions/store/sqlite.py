"""SQLite: the embedded local default. One connection per call (threads: FastAPI's pool), WAL, and
`BEGIN IMMEDIATE` so concurrent writers queue on the database lock instead of failing late."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..domain import reactions
from ..domain.errors import Conflict
from ..domain.model import Space, SpaceState
from ..domain.reactions import LimitState
from .base import (
    DEDUPE_TTL,
    IdempotencyKey,
    InvalidCursor,
    SpaceStore,
    discovery_key,
    from_record,
    newest_first,
    to_record,
)
from .reactions import ReactionStore

SCHEMA = """
CREATE TABLE IF NOT EXISTS spaces (
    id TEXT PRIMARY KEY,
    record TEXT NOT NULL,
    state TEXT NOT NULL,
    discovery_key TEXT NOT NULL,
    version INTEGER NOT NULL,
    listener_count INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS spaces_by_state ON spaces (state, discovery_key);
CREATE TABLE IF NOT EXISTS events (id TEXT PRIMARY KEY, expires REAL NOT NULL);
CREATE TABLE IF NOT EXISTS idempotency (
    owner TEXT NOT NULL, key TEXT NOT NULL, fingerprint TEXT NOT NULL, space_id TEXT NOT NULL,
    expires REAL NOT NULL, PRIMARY KEY (owner, key)
);
"""

# Seconds a writer waits for the database lock before giving up (then the request fails cleanly).
LOCK_TIMEOUT = 10.0


class SqliteStore(SpaceStore):
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        db = self._connect()
        try:
            db.executescript(SCHEMA)
            # WAL: readers (token requests) never wait for a writer.
            db.execute("PRAGMA journal_mode=WAL")
        finally:
            db.close()

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=LOCK_TIMEOUT, isolation_level=None)
        db.row_factory = sqlite3.Row
        return db

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        db = self._connect()
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        finally:
            db.close()

    def get(self, space_id: str) -> Space | None:
        db = self._connect()
        try:
            row = db.execute("SELECT record, listener_count FROM spaces WHERE id = ?", (space_id,)).fetchone()
        finally:
            db.close()
        return None if row is None else _space(row)

    def _insert(self, space: Space, idempotency: IdempotencyKey | None) -> Space:
        now = time.time()
        with self._tx() as db:
            if idempotency is not None:
                row = db.execute(
                    "SELECT fingerprint, space_id FROM idempotency"
                    " WHERE owner = ? AND key = ? AND expires > ?",
                    (idempotency.owner, idempotency.key, now),
                ).fetchone()
                if row is not None:
                    return _replay(row["fingerprint"], idempotency, db, row["space_id"])
                db.execute(
                    "INSERT OR REPLACE INTO idempotency VALUES (?, ?, ?, ?, ?)",
                    (idempotency.owner, idempotency.key, idempotency.fingerprint, space.id, now + DEDUPE_TTL),
                )
            db.execute(
                "INSERT INTO spaces (id, record, state, discovery_key, version) VALUES (?, ?, ?, ?, ?)",
                (
                    space.id,
                    json.dumps(to_record(space)),
                    space.state.value,
                    discovery_key(space),
                    space.version,
                ),
            )
        return space

    def _compare_and_set(self, space: Space, *, expected_version: int) -> bool:
        with self._tx() as db:
            cur = db.execute(
                "UPDATE spaces SET record = ?, state = ?, discovery_key = ?, version = ? "
                "WHERE id = ? AND version = ?",
                (
                    json.dumps(to_record(space)),
                    space.state.value,
                    discovery_key(space),
                    space.version,
                    space.id,
                    expected_version,
                ),
            )
            return cur.rowcount == 1

    def _page(
        self, state: SpaceState, *, limit: int, after: dict[str, Any] | None
    ) -> tuple[list[Space], dict[str, Any] | None]:
        desc = newest_first(state)
        sql = "SELECT record, listener_count, discovery_key FROM spaces WHERE state = ?"
        args: list[Any] = [state.value]
        if after is not None:
            if set(after) != {"k"}:
                raise InvalidCursor("cursor is not one this API returned")
            sql += " AND discovery_key < ?" if desc else " AND discovery_key > ?"
            args.append(after["k"])
        sql += f" ORDER BY discovery_key {'DESC' if desc else 'ASC'} LIMIT ?"
        args.append(limit + 1)  # one more tells whether there is a next page
        db = self._connect()
        try:
            rows = db.execute(sql, args).fetchall()
        finally:
            db.close()
        more = len(rows) > limit
        rows = rows[:limit]
        last = {"k": rows[-1]["discovery_key"]} if more and rows else None
        return [_space(r) for r in rows], last

    def adjust_listeners(self, space_id: str, delta: int, *, event_id: str | None = None) -> bool:
        with self._tx() as db:
            if event_id is not None and not _claim(db, event_id):
                return False
            db.execute(
                "UPDATE spaces SET listener_count = listener_count + ? WHERE id = ?", (delta, space_id)
            )
            return True

    def claim_event(self, event_id: str) -> bool:
        with self._tx() as db:
            return _claim(db, event_id)


def _claim(db: sqlite3.Connection, event_id: str) -> bool:
    now = time.time()
    db.execute("DELETE FROM events WHERE expires < ?", (now,))
    cur = db.execute("INSERT OR IGNORE INTO events VALUES (?, ?)", (event_id, now + DEDUPE_TTL))
    return cur.rowcount == 1


def _replay(fingerprint: str, idempotency: IdempotencyKey, db: sqlite3.Connection, space_id: str) -> Space:
    if fingerprint != idempotency.fingerprint:
        raise Conflict("idempotency_key_reused", "this Idempotency-Key was used for a different request")
    row = db.execute("SELECT record, listener_count FROM spaces WHERE id = ?", (space_id,)).fetchone()
    return _space(row)


def _space(row: sqlite3.Row) -> Space:
    return from_record(json.loads(row["record"]), listener_count=row["listener_count"])


# --- reactions (functions/store/reactions.py) -------------------------------------------------

REACTION_SCHEMA = """
CREATE TABLE IF NOT EXISTS reaction_limits (
    space_id TEXT NOT NULL, user TEXT NOT NULL, bucket INTEGER NOT NULL, count INTEGER NOT NULL,
    last REAL NOT NULL, expires REAL NOT NULL, PRIMARY KEY (space_id, user)
);
CREATE TABLE IF NOT EXISTS reaction_counts (
    space_id TEXT NOT NULL, win INTEGER NOT NULL, shard INTEGER NOT NULL, code TEXT NOT NULL,
    n INTEGER NOT NULL, expires REAL NOT NULL, PRIMARY KEY (space_id, win, shard, code)
);
CREATE TABLE IF NOT EXISTS reaction_published (space_id TEXT PRIMARY KEY, win INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS reaction_sealed (
    space_id TEXT NOT NULL, win INTEGER NOT NULL, expires REAL NOT NULL, PRIMARY KEY (space_id, win)
);
"""


class SqliteReactions(ReactionStore):
    """The same database file as SqliteStore, its own tables."""

    def __init__(self, path: str | Path) -> None:
        self._db = SqliteStore(path)
        db = self._db._connect()
        try:
            db.executescript(REACTION_SCHEMA)
        finally:
            db.close()

    def accept(self, space_id: str, user: str, now: float) -> float:
        with self._db._tx() as db:
            row = db.execute(
                "SELECT bucket, count, last FROM reaction_limits WHERE space_id = ? AND user = ?",
                (space_id, user),
            ).fetchone()
            state = None if row is None else LimitState(row["bucket"], row["count"], row["last"])
            wait = reactions.retry_after(state, now)
            if wait > 0:
                return wait
            new = reactions.after_accept(state, now)
            db.execute(
                "INSERT OR REPLACE INTO reaction_limits VALUES (?, ?, ?, ?, ?, ?)",
                (space_id, user, new.bucket, new.count, new.last, now + reactions.ITEM_TTL),
            )
            return 0.0

    def limit_state(self, space_id: str, user: str) -> LimitState | None:
        db = self._db._connect()
        try:
            row = db.execute(
                "SELECT bucket, count, last FROM reaction_limits WHERE space_id = ? AND user = ?",
                (space_id, user),
            ).fetchone()
        finally:
            db.close()
        return None if row is None else LimitState(row["bucket"], row["count"], row["last"])

    def add(self, space_id: str, window: int, shard: int, code: str) -> int | None:
        with self._db._tx() as db:
            sealed = db.execute(
                "SELECT 1 FROM reaction_sealed WHERE space_id = ? AND win = ?", (space_id, window)
            ).fetchone()
            if sealed is not None:
                return None
            db.execute(
                "INSERT INTO reaction_counts VALUES (?, ?, ?, ?, 1, ?)"
                " ON CONFLICT (space_id, win, shard, code) DO UPDATE SET n = n + 1",
                (space_id, window, shard, code, time.time() + reactions.ITEM_TTL),
            )
            row = db.execute(
                "SELECT SUM(n) AS total FROM reaction_counts WHERE space_id = ? AND win = ? AND shard = ?",
                (space_id, window, shard),
            ).fetchone()
            return int(row["total"])

    def claim(self, space_id: str, through: int) -> tuple[bool, int | None]:
        with self._db._tx() as db:
            now = time.time()
            db.execute("DELETE FROM reaction_counts WHERE expires < ?", (now,))
            db.execute("DELETE FROM reaction_limits WHERE expires < ?", (now,))
            db.execute("DELETE FROM reaction_sealed WHERE expires < ?", (now,))
            row = db.execute("SELECT win FROM reaction_published WHERE space_id = ?", (space_id,)).fetchone()
            if row is not None and row["win"] >= through:
                return False, None
            db.execute("INSERT OR REPLACE INTO reaction_published VALUES (?, ?)", (space_id, through))
            return True, None if row is None else int(row["win"])

    def published(self, space_id: str) -> int | None:
        db = self._db._connect()
        try:
            row = db.execute("SELECT win FROM reaction_published WHERE space_id = ?", (space_id,)).fetchone()
        finally:
            db.close()
        return None if row is None else int(row["win"])

    def seal(self, space_id: str, windows: range) -> list[dict[str, int]]:
        if not windows:
            return []
        with self._db._tx() as db:
            expires = time.time() + reactions.ITEM_TTL
            db.executemany(
                "INSERT OR IGNORE INTO reaction_sealed VALUES (?, ?, ?)",
                [(space_id, w, expires) for w in windows],
            )
            rows = db.execute(
                "SELECT win, shard, code, n FROM reaction_counts WHERE space_id = ? AND win >= ? AND win < ?",
                (space_id, windows.start, windows.stop),
            ).fetchall()
        items: dict[tuple[int, int], dict[str, int]] = {}
        for r in rows:
            items.setdefault((r["win"], r["shard"]), {})[r["code"]] = int(r["n"])
        return list(items.values())
