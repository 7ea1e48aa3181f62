"""SQLite: the embedded local default. One connection per call (threads: FastAPI's pool), WAL, and
`BEGIN IMMEDIATE` so concurrent writers queue on the database lock instead of failing late.

The same data model as DynamoDB without its partitions: the Space's own fields in `spaces.record`
(JSON, `schema_version` 2), one row per raised hand and per block, the listener count in a column.
A row written before issue 9 (record without `schema_version`, hands and blocks inside it) reads
unchanged; the first change to it moves its hands and blocks into their tables."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from contract.room_metadata import REMOVED_VIEWERS_MAX

from ..domain import audience, reactions
from ..domain.audience import Listener, ListenerPage
from ..domain.broadcast import SeatClaim
from ..domain.errors import Conflict
from ..domain.model import Space, SpaceState
from ..domain.presence import HlsEstimate
from ..domain.reactions import LimitState, RateLimit
from ..domain.stage import HAND_LIMIT
from .base import (
    CURSOR_SLOTS,
    DEDUPE_TTL,
    END,
    START,
    IdempotencyKey,
    Positions,
    Snapshot,
    SpaceStore,
    discovery_key,
    epoch_ms,
    from_record,
    hosting_change,
    legacy_members,
    listed_without_counts,
    live_quota_reached,
    newest_first,
    parse_ts,
    scheduled_quota_reached,
    scheduling_change,
    to_record,
    ts,
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
CREATE TABLE IF NOT EXISTS hands (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, space_id TEXT NOT NULL, user TEXT NOT NULL, name TEXT,
    picture TEXT, UNIQUE (space_id, user)
);
CREATE TABLE IF NOT EXISTS blocks (space_id TEXT NOT NULL, user TEXT NOT NULL, PRIMARY KEY (space_id, user));
CREATE TABLE IF NOT EXISTS live_hosts (host TEXT PRIMARY KEY, n INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS scheduled_hosts (
    host TEXT NOT NULL, space_id TEXT NOT NULL, PRIMARY KEY (host, space_id)
);
CREATE TABLE IF NOT EXISTS events (id TEXT PRIMARY KEY, expires REAL NOT NULL);
CREATE TABLE IF NOT EXISTS audience (
    space_id TEXT NOT NULL, sort_key TEXT NOT NULL, user_id TEXT NOT NULL, name TEXT NOT NULL,
    picture TEXT, joined_at INTEGER NOT NULL, expires REAL, PRIMARY KEY (space_id, sort_key)
);
CREATE INDEX IF NOT EXISTS audience_by_user ON audience (space_id, user_id);
CREATE TABLE IF NOT EXISTS presence (
    space_id TEXT NOT NULL, win INTEGER NOT NULL, user TEXT NOT NULL, expires REAL NOT NULL,
    PRIMARY KEY (space_id, win, user)
);
CREATE TABLE IF NOT EXISTS seats (
    space_id TEXT NOT NULL, user TEXT NOT NULL, bucket INTEGER NOT NULL, PRIMARY KEY (space_id, user)
);
CREATE INDEX IF NOT EXISTS seats_by_bucket ON seats (space_id, bucket);
CREATE TABLE IF NOT EXISTS removals (
    space_id TEXT NOT NULL, user TEXT NOT NULL, at TEXT NOT NULL, expires REAL NOT NULL,
    PRIMARY KEY (space_id, user)
);
CREATE TABLE IF NOT EXISTS removed_viewers (
    space_id TEXT NOT NULL, tag TEXT NOT NULL, at INTEGER NOT NULL, expires REAL NOT NULL,
    PRIMARY KEY (space_id, tag)
);
CREATE TABLE IF NOT EXISTS hls_estimates (
    space_id TEXT PRIMARY KEY, win INTEGER NOT NULL, viewers INTEGER NOT NULL
);
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
            # Hands stored before display names existed: the column is added, their rows read as
            # nameless (the page shows the id).
            # Likewise avatars (initials then).
            columns = {r[1] for r in db.execute("PRAGMA table_info(hands)")}
            for column in ("name", "picture"):
                if column not in columns:
                    db.execute(f"ALTER TABLE hands ADD COLUMN {column} TEXT")
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

    def get(self, space_id: str, *, member: str | None = None, consistent: bool = True) -> Space | None:
        # One file, one writer at a time: every read is consistent.
        db = self._connect()
        try:
            return _load(db, space_id, member=member)
        finally:
            db.close()

    def get_own(self, space_id: str) -> Space | None:
        db = self._connect()
        try:
            row = db.execute("SELECT record FROM spaces WHERE id = ?", (space_id,)).fetchone()
        finally:
            db.close()
        return None if row is None else from_record(json.loads(row["record"]))

    def queued_hands(self, space_id: str) -> int:
        db = self._connect()
        try:
            row = db.execute("SELECT count(*) FROM hands WHERE space_id = ?", (space_id,)).fetchone()
        finally:
            db.close()
        return int(row[0])

    def _read(self, space_id: str) -> Snapshot | None:
        space = self.get(space_id)
        return None if space is None else Snapshot(space=space)

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
            self._schedule(db, space.id, scheduling_change(None, space))
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

    def _schedule(self, db: sqlite3.Connection, space_id: str, change: dict[str, int]) -> None:
        """Move the Space in or out of its host's scheduled Spaces (scheduling_change), the quota
        checked on the one it joins."""
        for host, delta in change.items():
            if delta < 0:
                db.execute("DELETE FROM scheduled_hosts WHERE host = ? AND space_id = ?", (host, space_id))
                continue
            held = [r[0] for r in db.execute("SELECT space_id FROM scheduled_hosts WHERE host = ?", (host,))]
            if self.scheduled_quota is not None and len(held) >= self.scheduled_quota:
                raise scheduled_quota_reached(self.scheduled_quota, held)
            db.execute("INSERT OR IGNORE INTO scheduled_hosts VALUES (?, ?)", (host, space_id))

    def _commit(self, read: Snapshot, after: Space) -> Space | None:
        """Under the database lock: if the Space (fields, hands, blocks) is still what was read,
        write its record (as schema 2) and make the hand and block rows match `after`."""
        with self._tx() as db:
            current = _load(db, after.id)
            if current is None or _own(current) != _own(read.space):
                return None
            for host, delta in hosting_change(read.space, after).items():
                row = db.execute("SELECT n FROM live_hosts WHERE host = ?", (host,)).fetchone()
                if delta > 0 and self.live_quota is not None and (row[0] if row else 0) >= self.live_quota:
                    raise live_quota_reached(self.live_quota)
                db.execute(
                    "INSERT INTO live_hosts (host, n) VALUES (?, ?)"
                    " ON CONFLICT(host) DO UPDATE SET n = n + excluded.n",
                    (host, delta),
                )
            self._schedule(db, after.id, scheduling_change(read.space, after))
            db.execute(
                "UPDATE spaces SET record = ?, state = ?, discovery_key = ?, version = ? WHERE id = ?",
                (
                    json.dumps(to_record(after)),
                    after.state.value,
                    discovery_key(after),
                    after.version,
                    after.id,
                ),
            )
            for table, users in (("hands", after.raised_hands), ("blocks", after.blocked)):
                marks = ",".join("?" * len(users))
                db.execute(
                    f"DELETE FROM {table} WHERE space_id = ? AND user NOT IN ({marks})", (after.id, *users)
                )
                if table == "blocks":
                    db.executemany(
                        "INSERT OR IGNORE INTO blocks (space_id, user) VALUES (?, ?)",
                        [(after.id, u) for u in users],
                    )
                    continue
                # In order: a record's hands move to the table (empty until then) in queue order.
                db.executemany(
                    "INSERT OR IGNORE INTO hands (space_id, user, name, picture) VALUES (?, ?, ?, ?)",
                    [(after.id, u, after.names.get(u), after.pictures.get(u)) for u in users],
                )
            return after

    def _page(
        self, state: SpaceState, *, limit: int, after: Positions | None, floor: str | None = None
    ) -> tuple[list[Space], Positions | None]:
        """One ordering (no index shards): the cursor carries the last key in every slot. A cursor
        whose slots differ continues from the least advanced one, so nothing is skipped."""
        desc = newest_first(state)
        sql = (
            "SELECT id, record, listener_count, discovery_key, e.win AS hls_window,"
            " e.viewers AS hls_viewers FROM spaces LEFT JOIN hls_estimates e ON e.space_id = spaces.id"
            " WHERE state = ?"
        )
        args: list[Any] = [state.value]
        if after is not None:
            if all(pos == END for pos in after):
                return [], None
            keys = [pos for pos in after if pos != END]
            if START not in keys:
                sql += " AND discovery_key < ?" if desc else " AND discovery_key > ?"
                args.append(max(keys) if desc else min(keys))
        if floor is not None:
            sql += " AND discovery_key > ?"
            args.append(floor)
        sql += f" ORDER BY discovery_key {'DESC' if desc else 'ASC'} LIMIT ?"
        args.append(limit + 1)  # one more tells whether there is a next page
        db = self._connect()
        try:
            rows = db.execute(sql, args).fetchall()
        finally:
            db.close()
        more = len(rows) > limit
        rows = rows[:limit]
        last = (str(rows[-1]["discovery_key"]),) * CURSOR_SLOTS if more and rows else None
        # Listed Spaces carry their listener count, not their hands and blocks (as on DynamoDB).
        spaces = [_space(r, hands=(), blocked=(), listing=True) for r in rows]
        return [s if s.state is SpaceState.LIVE else listed_without_counts(s) for s in spaces], last

    def adjust_listeners(self, space_id: str, delta: int, *, event_id: str | None = None) -> bool:
        with self._tx() as db:
            if event_id is not None and not _claim(db, event_id):
                return False
            db.execute(
                "UPDATE spaces SET listener_count = listener_count + ? WHERE id = ?", (delta, space_id)
            )
            return True

    # --- the HLS viewers' presence (one row per counted (user, window); no partitions to spread) --
    def record_presence(self, space_id: str, user: str, window: int, *, expires_at: float) -> bool:
        with self._tx() as db:
            # Expired windows of this Space go as new ones come (the primary key's prefix finds them).
            db.execute(
                "DELETE FROM presence WHERE space_id = ? AND win < ? AND expires < ?",
                (space_id, window, time.time()),
            )
            cursor = db.execute(
                "INSERT OR IGNORE INTO presence VALUES (?, ?, ?, ?)", (space_id, window, user, expires_at)
            )
            return cursor.rowcount == 1

    def presence_count(self, space_id: str, window: int) -> int:
        db = self._connect()
        try:
            row = db.execute(
                "SELECT COUNT(*) FROM presence WHERE space_id = ? AND win = ?", (space_id, window)
            ).fetchone()
            return int(row[0])
        finally:
            db.close()

    def put_hls_estimate(self, space_id: str, estimate: HlsEstimate) -> bool:
        with self._tx() as db:
            cursor = db.execute(
                "INSERT INTO hls_estimates VALUES (?, ?, ?) ON CONFLICT (space_id) DO UPDATE"
                " SET win = excluded.win, viewers = excluded.viewers"
                " WHERE excluded.win > hls_estimates.win",
                (space_id, estimate.window, estimate.viewers),
            )
            return cursor.rowcount == 1

    def claim_seat(self, space_id: str, claim: SeatClaim) -> int | None:
        with self._tx() as db:  # BEGIN IMMEDIATE: one writer at a time, so the count is exact
            # Seats older than the bucket before are done with.
            db.execute("DELETE FROM seats WHERE space_id = ? AND bucket < ?", (space_id, claim.bucket - 1))
            held = db.execute(
                "SELECT bucket FROM seats WHERE space_id = ? AND user = ?", (space_id, claim.user)
            ).fetchone()
            if held is not None:
                # Theirs again, moved to this bucket so it lasts as long as a new one (same place).
                db.execute(
                    "UPDATE seats SET bucket = ? WHERE space_id = ? AND user = ?",
                    (claim.bucket, space_id, claim.user),
                )
                return claim.bucket
            taken = db.execute("SELECT COUNT(*) FROM seats WHERE space_id = ?", (space_id,)).fetchone()
            if int(taken[0]) >= claim.capacity:
                return None
            db.execute("INSERT INTO seats VALUES (?, ?, ?)", (space_id, claim.user, claim.bucket))
            return claim.bucket

    def release_seat(self, space_id: str, user: str, bucket: int) -> bool:
        with self._tx() as db:
            cursor = db.execute(
                "DELETE FROM seats WHERE space_id = ? AND user = ? AND bucket = ?", (space_id, user, bucket)
            )
            return cursor.rowcount == 1

    def record_removed_viewer(self, space_id: str, tag: str, *, at: datetime, expires_at: datetime) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM removed_viewers WHERE expires <= ?", (at.timestamp(),))
            db.execute(
                "INSERT INTO removed_viewers (space_id, tag, at, expires) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (space_id, tag) DO UPDATE SET at = excluded.at, expires = excluded.expires"
                " WHERE excluded.at > removed_viewers.at",
                (space_id, tag, epoch_ms(at), expires_at.timestamp()),
            )
            # Only the latest are kept: a host removing made-up ids cannot grow what whole reads load.
            db.execute(
                "DELETE FROM removed_viewers WHERE space_id = ? AND tag NOT IN (SELECT tag FROM"
                " removed_viewers WHERE space_id = ? ORDER BY at DESC, tag DESC LIMIT ?)",
                (space_id, space_id, REMOVED_VIEWERS_MAX),
            )

    def record_removal(self, space_id: str, user: str, *, at: datetime, expires_at: datetime) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM removals WHERE expires <= ?", (at.timestamp(),))
            db.execute(
                # ts() is fixed-width UTC, so its text orders as its time does.
                "INSERT INTO removals (space_id, user, at, expires) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (space_id, user) DO UPDATE SET at = excluded.at, expires = excluded.expires"
                " WHERE excluded.at > removals.at",
                (space_id, user, ts(at), expires_at.timestamp()),
            )

    def removed_at(self, space_id: str, user: str, *, now: datetime) -> datetime | None:
        db = self._connect()
        try:
            row = db.execute(
                "SELECT at FROM removals WHERE space_id = ? AND user = ? AND expires > ?",
                (space_id, user, now.timestamp()),
            ).fetchone()
        finally:
            db.close()
        return parse_ts(None if row is None else row["at"])

    def claim_event(self, event_id: str) -> bool:
        with self._tx() as db:
            return _claim(db, event_id)

    def release_event(self, event_id: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM events WHERE id = ?", (event_id,))

    # --- the audience (one ordering; SQLite has no partitions to spread) -----------------------
    def put_listener(self, space_id: str, listener: Listener) -> None:
        expires = None if listener.expires_at is None else listener.expires_at.timestamp()
        joined_ms = round(listener.joined_at.timestamp() * 1000)
        keys = listener.keys
        with self._tx() as db:
            # The same user under an earlier name (renamed at the identity provider): replaced.
            db.execute(
                "DELETE FROM audience WHERE space_id = ? AND user_id = ? AND joined_at < ?"
                f" AND sort_key NOT IN ({','.join('?' * len(keys))})",
                (space_id, listener.user_id, joined_ms, *keys),
            )
            db.executemany(
                "INSERT OR REPLACE INTO audience VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (space_id, key, listener.user_id, listener.name, listener.picture, joined_ms, expires)
                    for key in keys
                ],
            )

    def renew_listeners(
        self, space_id: str, present: Sequence[tuple[str, str]], *, expires_at: datetime
    ) -> int:
        until = expires_at.timestamp()
        renewed = 0
        with self._tx() as db:
            for user, name in present:
                keys = audience.all_keys(name, user)
                updated = db.execute(
                    "UPDATE audience SET expires = ? WHERE space_id = ? AND (expires IS NULL OR expires < ?)"
                    f" AND sort_key IN ({','.join('?' * len(keys))})",
                    (until, space_id, until, *keys),
                ).rowcount
                renewed += 1 if updated else 0
        return renewed

    def listed(self, space_id: str, user_id: str) -> Listener | None:
        db = self._connect()
        try:
            row = db.execute(
                "SELECT * FROM audience WHERE space_id = ? AND user_id = ? ORDER BY joined_at DESC LIMIT 1",
                (space_id, user_id),
            ).fetchone()
        finally:
            db.close()
        return None if row is None else _listener(row)

    def remove_listener(self, space_id: str, user_id: str, *, joined_before: datetime | None = None) -> int:
        sql = "DELETE FROM audience WHERE space_id = ? AND user_id = ?"
        args: list[Any] = [space_id, user_id]
        if joined_before is not None:
            sql += " AND joined_at <= ?"
            args.append(round(joined_before.timestamp() * 1000))
        with self._tx() as db:
            return db.execute(sql, args).rowcount

    def listeners(
        self,
        space_id: str,
        *,
        query: str | None,
        limit: int,
        after: str | None,
        now: datetime,
        hidden: frozenset[str] = frozenset(),
    ) -> ListenerPage:
        limit = max(1, min(limit, audience.PAGE_MAX))
        # The ranges in order; a page reads at most `limit` entries from them (those a search shows
        # under an earlier word are read, not shown) and ends after the last one it read.
        items: list[Listener] = []
        read = 0
        last: str | None = None
        more = False
        db = self._connect()
        try:
            for key_range in audience.search_ranges(query, after):
                room = limit - read
                if room <= 0:
                    more = True
                    break
                entries = [
                    _listener(r) for r in self._audience_rows(db, space_id, key_range, room + 1, now, hidden)
                ]
                if len(entries) > room:
                    entries, more = entries[:room], True
                read += len(entries)
                last = entries[-1].position if entries else last
                items += [e for e in entries if audience.shown(e, query=query)]
                if more:
                    break
        finally:
            db.close()
        return ListenerPage(items=items, cursor=last if more else None)

    @staticmethod
    def _audience_rows(
        db: sqlite3.Connection,
        space_id: str,
        key_range: audience.KeyRange,
        limit: int,
        now: datetime,
        hidden: frozenset[str],
    ) -> list[sqlite3.Row]:
        sql = (
            "SELECT * FROM audience WHERE space_id = ? AND (expires IS NULL OR expires > ?) AND sort_key < ?"
        )
        args: list[Any] = [space_id, now.timestamp(), key_range.upper]
        for op, bound in ((">", key_range.after), (">=", key_range.start)):
            if bound is not None:
                sql += f" AND sort_key {op} ?"
                args.append(bound)
        if hidden:
            sql += f" AND user_id NOT IN ({','.join('?' * len(hidden))})"
            args += sorted(hidden)
        sql += " ORDER BY sort_key LIMIT ?"
        args.append(limit)
        return db.execute(sql, args).fetchall()


def _listener(row: sqlite3.Row) -> Listener:
    return Listener(
        user_id=row["user_id"],
        name=row["name"],
        picture=row["picture"],
        joined_at=datetime.fromtimestamp(row["joined_at"] / 1000, UTC),
        expires_at=None if row["expires"] is None else datetime.fromtimestamp(row["expires"], UTC),
        listed_as=row["sort_key"],
    )


def _claim(db: sqlite3.Connection, event_id: str) -> bool:
    now = time.time()
    db.execute("DELETE FROM events WHERE expires < ?", (now,))
    cur = db.execute("INSERT OR IGNORE INTO events VALUES (?, ?)", (event_id, now + DEDUPE_TTL))
    return cur.rowcount == 1


def _replay(fingerprint: str, idempotency: IdempotencyKey, db: sqlite3.Connection, space_id: str) -> Space:
    if fingerprint != idempotency.fingerprint:
        raise Conflict("idempotency_key_reused", "this Idempotency-Key was used for a different request")
    space = _load(db, space_id)
    assert space is not None  # the key and the Space were inserted in one transaction
    return space


def _load(db: sqlite3.Connection, space_id: str, *, member: str | None = None) -> Space | None:
    row = db.execute(
        "SELECT id, record, listener_count, e.win AS hls_window, e.viewers AS hls_viewers"
        " FROM spaces LEFT JOIN hls_estimates e ON e.space_id = spaces.id WHERE id = ?",
        (space_id,),
    ).fetchone()
    if row is None:
        return None
    only = " AND user = ?" if member is not None else ""
    args = (space_id, member) if member is not None else (space_id,)
    rows = db.execute(
        f"SELECT user, name, picture FROM hands WHERE space_id = ?{only} ORDER BY seq", args
    ).fetchall()
    hands = [r[0] for r in rows]
    names = {r[0]: r[1] for r in rows if r[1]}
    pictures = {r[0]: r[2] for r in rows if r[2]}
    blocks = [
        r[0] for r in db.execute(f"SELECT user FROM blocks WHERE space_id = ?{only} ORDER BY user", args)
    ]
    removed = (
        {}
        if member is not None
        else dict(
            db.execute(
                "SELECT tag, at FROM removed_viewers WHERE space_id = ? AND expires > ?",
                (space_id, time.time()),
            ).fetchall()
        )
    )
    return _space(
        row,
        hands=tuple(hands),
        blocked=tuple(blocks),
        member=member,
        hand_names=names,
        hand_pictures=pictures,
        removed_viewers=removed,
    )


def _space(
    row: sqlite3.Row,
    *,
    hands: tuple[str, ...],
    blocked: tuple[str, ...],
    member: str | None = None,
    listing: bool = False,
    hand_names: dict[str, str] | None = None,
    hand_pictures: dict[str, str] | None = None,
    removed_viewers: dict[str, int] | None = None,
) -> Space:
    record = json.loads(row["record"])
    legacy_hands, legacy_blocked = legacy_members(record)
    if listing:
        legacy_hands = legacy_blocked = ()
    elif member is not None:
        legacy_hands = tuple(u for u in legacy_hands if u == member)
        legacy_blocked = tuple(u for u in legacy_blocked if u == member)
    return from_record(
        record,
        raised_hands=legacy_hands + tuple(u for u in hands if u not in legacy_hands),
        blocked=legacy_blocked + tuple(u for u in blocked if u not in legacy_blocked),
        listener_count=row["listener_count"],
        hand_names=hand_names,
        hand_pictures=hand_pictures,
        hls=None if row["hls_window"] is None else HlsEstimate(row["hls_window"], row["hls_viewers"]),
        removed_viewers=removed_viewers,
    )


def _own(space: Space) -> Space:
    """What a change is conditioned on: not the counts nor the removals told to viewers, which are
    written beside the Space."""
    return space.replace(listener_count=0, hls=None, removed_viewers={})


# --- reactions (functions/store/reactions.py) -------------------------------------------------

REACTION_SCHEMA = """
CREATE TABLE IF NOT EXISTS reaction_limits (
    space_id TEXT NOT NULL, user TEXT NOT NULL, bucket INTEGER NOT NULL, count INTEGER NOT NULL,
    last REAL NOT NULL, expires REAL NOT NULL, PRIMARY KEY (space_id, user)
);
CREATE TABLE IF NOT EXISTS hand_limits (
    space_id TEXT NOT NULL, user TEXT NOT NULL, bucket INTEGER NOT NULL, count INTEGER NOT NULL,
    last REAL NOT NULL, expires REAL NOT NULL, PRIMARY KEY (space_id, user)
);
CREATE TABLE IF NOT EXISTS reaction_counts (
    space_id TEXT NOT NULL, win INTEGER NOT NULL, shard INTEGER NOT NULL, code TEXT NOT NULL,
    n INTEGER NOT NULL, expires REAL NOT NULL, PRIMARY KEY (space_id, win, shard, code)
);
CREATE TABLE IF NOT EXISTS reaction_published (space_id TEXT PRIMARY KEY, win INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS reaction_active (space_id TEXT PRIMARY KEY, win INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS reaction_sealed (
    space_id TEXT NOT NULL, win INTEGER NOT NULL, expires REAL NOT NULL, PRIMARY KEY (space_id, win)
);
"""


# The table of each per-user limit (domain/reactions.py RateLimit.name). Expired rows are deleted
# with the reactions' other expired rows (claim), as DynamoDB's TTL deletes their items.
LIMIT_TABLES = {reactions.LIMIT.name: "reaction_limits", HAND_LIMIT.name: "hand_limits"}


class SqliteReactions(ReactionStore):
    """The same database file as SqliteStore, its own tables."""

    def __init__(self, path: str | Path) -> None:
        self._db = SqliteStore(path)
        db = self._db._connect()
        try:
            db.executescript(REACTION_SCHEMA)
        finally:
            db.close()

    def accept(self, space_id: str, user: str, now: float, *, limit: RateLimit = reactions.LIMIT) -> float:
        table = LIMIT_TABLES[limit.name]
        with self._db._tx() as db:
            row = db.execute(
                f"SELECT bucket, count, last FROM {table} WHERE space_id = ? AND user = ?", (space_id, user)
            ).fetchone()
            state = None if row is None else LimitState(row["bucket"], row["count"], row["last"])
            wait = reactions.retry_after(state, now, limit)
            if wait > 0:
                return wait
            new = reactions.after_accept(state, now, limit)
            db.execute(
                f"INSERT OR REPLACE INTO {table} VALUES (?, ?, ?, ?, ?, ?)",
                (space_id, user, new.bucket, new.count, new.last, now + reactions.ITEM_TTL),
            )
            return 0.0

    def limit_state(
        self, space_id: str, user: str, *, limit: RateLimit = reactions.LIMIT
    ) -> LimitState | None:
        db = self._db._connect()
        try:
            row = db.execute(
                f"SELECT bucket, count, last FROM {LIMIT_TABLES[limit.name]} WHERE space_id = ? AND user = ?",
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
            for table in LIMIT_TABLES.values():
                db.execute(f"DELETE FROM {table} WHERE expires < ?", (now,))
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

    def mark_active(self, space_id: str, window: int) -> None:
        with self._db._tx() as db:
            db.execute(
                "INSERT INTO reaction_active VALUES (?, ?)"
                " ON CONFLICT (space_id) DO UPDATE SET win = max(win, excluded.win)",
                (space_id, window),
            )

    def active(self, since: int) -> list[tuple[str, int]]:
        with self._db._tx() as db:
            # Marks too old to publish are garbage (what DynamoDB's TTL does to its items).
            db.execute("DELETE FROM reaction_active WHERE win < ?", (since - reactions.MAX_CATCH_UP_WINDOWS,))
            rows = db.execute("SELECT space_id, win FROM reaction_active WHERE win >= ?", (since,)).fetchall()
        return [(r["space_id"], int(r["win"])) for r in rows]

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
