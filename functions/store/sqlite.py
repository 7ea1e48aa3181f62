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

from ..domain.errors import Conflict
from ..domain.model import Space, SpaceState
from .base import (
    DEDUPE_TTL,
    IdempotencyKey,
    SpaceStore,
    discovery_key,
    from_record,
    newest_first,
    to_record,
)

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

    def _page(self, state: SpaceState, *, limit: int, after: str | None) -> tuple[list[Space], str | None]:
        desc = newest_first(state)
        sql = "SELECT record, listener_count, discovery_key FROM spaces WHERE state = ?"
        args: list[Any] = [state.value]
        if after is not None:
            sql += " AND discovery_key < ?" if desc else " AND discovery_key > ?"
            args.append(after)
        sql += f" ORDER BY discovery_key {'DESC' if desc else 'ASC'} LIMIT ?"
        args.append(limit + 1)  # one more tells whether there is a next page
        db = self._connect()
        try:
            rows = db.execute(sql, args).fetchall()
        finally:
            db.close()
        more = len(rows) > limit
        rows = rows[:limit]
        last = str(rows[-1]["discovery_key"]) if more and rows else None
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
