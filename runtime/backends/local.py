"""The local backend: tables, durable queues, topics and secrets over SQLite, for `omnicloud dev`.

State lives in ``$OMNICLOUD_STATE_DIR/state.db`` (WAL, one connection per process). Besides the
four backend factories, `Store` has the queue API the dev server drives (lease, ack, release,
dead-letter, inspect) and the subscriptions table it writes from app.yaml.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import sqlite3
import threading
import time
from _random import Random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..links import Link, LinkError, current_environ
from ..types import Message
from .base import ConditionFailed, OutgoingMessage, Page

STATE_DIR_ENV = "OMNICLOUD_STATE_DIR"
DOTENV_ENV = "OMNICLOUD_DOTENV"  # path of the app's .env file (set by the dev server)
DEFAULT_STATE_DIR = ".omnicloud/state"
DLQ_SUFFIX = "-dlq"
SUBSCRIPTION_SEPARATOR = "~"  # a subscription's internal queue is "<topic>~<function>"
DEDUP_WINDOW = 300.0  # seconds, as SQS FIFO and Service Bus duplicate detection default to

# Message ids and leases must be unique, not secret: a Mersenne Twister seeded from the OS costs
# no system call per id (os.urandom, behind uuid4 and secrets, also hands the GIL around).
_bits = Random(int.from_bytes(os.urandom(32), "big")).getrandbits
_encode_item = json.JSONEncoder(separators=(",", ":"), default=str).encode  # json.dumps(item, same options)


def random_uuid() -> str:
    """A random (version 4) UUID as text, like str(uuid.uuid4())."""
    h = f"{_bits(128) & ~(0xF000 << 64 | 0xC000 << 48) | 4 << 76 | 0x8000 << 48:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    tbl TEXT NOT NULL, pk TEXT NOT NULL, sk TEXT NOT NULL, item TEXT NOT NULL,
    PRIMARY KEY (tbl, pk, sk)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    queue TEXT NOT NULL,
    source TEXT NOT NULL,
    body BLOB NOT NULL,
    attributes TEXT NOT NULL,
    content_type TEXT NOT NULL,
    visible_at REAL NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    enqueued_at REAL NOT NULL,
    lease TEXT,
    lease_owner TEXT,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS messages_ready ON messages (queue, visible_at);
CREATE INDEX IF NOT EXISTS messages_age ON messages (queue, enqueued_at);
CREATE TABLE IF NOT EXISTS dedup (
    queue TEXT NOT NULL, dedup_id TEXT NOT NULL, message_id TEXT NOT NULL, at REAL NOT NULL,
    PRIMARY KEY (queue, dedup_id)
);
CREATE TABLE IF NOT EXISTS subscriptions (
    topic TEXT NOT NULL, subscription TEXT NOT NULL, queue TEXT NOT NULL, filter TEXT NOT NULL,
    PRIMARY KEY (topic, subscription)
);
CREATE TABLE IF NOT EXISTS secrets (name TEXT PRIMARY KEY, value TEXT NOT NULL, generated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS schedules (name TEXT PRIMARY KEY, expression TEXT NOT NULL, next_due REAL NOT NULL);
"""


def state_dir() -> Path:
    """The state directory of the calling function (or process)."""
    return Path(current_environ().get(STATE_DIR_ENV) or os.environ.get(STATE_DIR_ENV) or DEFAULT_STATE_DIR)


def dlq_name(queue: str) -> str:
    return queue + DLQ_SUFFIX


def subscription_queue(topic: str, subscriber: str) -> str:
    return f"{topic}{SUBSCRIPTION_SEPARATOR}{subscriber}"


@dataclass
class Received:
    """A message as stored, with the lease that lets its holder ack or release it."""

    id: str
    queue: str
    source: str
    body: bytes
    attributes: dict[str, str]
    content_type: str
    receive_count: int
    enqueued_at: float
    visible_at: float
    lease: str | None = None
    last_error: str | None = None

    def to_message(self) -> Message:
        from ..context import TRACEPARENT

        traceparent = self.attributes.get(TRACEPARENT, "")
        parts = traceparent.split("-")
        return Message(
            id=self.id, body=self.body, attributes=dict(self.attributes),
            delivery_attempt=max(1, self.receive_count), source=self.source,
            correlation_id=parts[1] if len(parts) == 4 else None,
            published_at=datetime.fromtimestamp(self.enqueued_at, tz=UTC),
        )


@dataclass
class QueueStats:
    ready: int = 0
    delayed: int = 0
    in_flight: int = 0
    oldest_age: float | None = None


class Store:
    """One state database. Safe to share between threads: each thread gets its own connection."""

    _instances: dict[Path, Store] = {}
    _by_resolved: dict[Path, Store] = {}
    _instances_lock = threading.Lock()

    def __init__(self, directory: Path):
        self.directory = directory
        self.path = directory / "state.db"
        self._lock = threading.RLock()  # one statement or transaction at a time on the connection
        self._listener: Callable[[str, int], None] | None = None
        # Owner only: the state holds generated secrets, API key hashes and task outputs.
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._db = self._connect()  # creates the schema

    _by_setting: dict[str, Store] = {}

    @classmethod
    def at(cls, directory: str | Path | None = None) -> Store:
        """The shared Store for `directory` (default: the caller's state dir)."""
        if directory is None:  # the warm path of every client call: no Path objects
            raw = current_environ().get(STATE_DIR_ENV) or os.environ.get(STATE_DIR_ENV) or DEFAULT_STATE_DIR
            store = cls._by_setting.get(raw)
            if store is None:
                store = cls._by_setting[raw] = cls.at(Path(raw))
            return store
        path = Path(directory)
        store = cls._instances.get(path)  # fast path for warm calls: no filesystem lookups
        if store is None:
            with cls._instances_lock:
                key = path.resolve()
                store = cls._by_resolved.get(key) or cls(key)
                cls._by_resolved[key] = cls._instances[path] = store
        return store

    # -- plumbing --------------------------------------------------------------------------

    def conn(self) -> sqlite3.Connection:
        """The process's connection to the state database; use it holding `_lock`.

        One connection, shared by the threads in turn: SQLite empties a connection's page cache
        whenever another connection has written, so with one per thread (and ~25 writes per
        agent task) nearly every statement re-read its pages from the file. In-process writers
        queued on a lock anyway (see _tx), and statements take microseconds.
        """
        return self._db

    def _one(self, sql: str, params: tuple = ()) -> tuple | None:
        with self._lock:
            return self._db.execute(sql, params).fetchone()

    def _all(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout = 30000")
        conn.execute("PRAGMA journal_mode = WAL")
        # NORMAL in WAL survives any process crash (kill -9); only a power cut may lose the
        # last commits, which is fine for a laptop's dev state.
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.executescript(_SCHEMA)
        return conn

    def on_enqueue(self, listener: Callable[[str, int], None] | None) -> None:
        """Call `listener(queue, count)` after a commit that made `count` messages ready on
        `queue` in this process, so a consumer can wake at once instead of at its next poll."""
        self._listener = listener

    def _write(self, sql: str, params: tuple) -> sqlite3.Cursor:
        """One statement as its own (autocommit) transaction, queued on the writers' lock."""
        with self._lock:
            return self._db.execute(sql, params)

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction, taken up front so concurrent writers queue on the busy timeout.

        Writers of this process queue on a lock first: SQLite's busy handler polls with sleeps
        of 1 to 100 ms, which made threads of one dev server wait on each other far longer
        than the writes take. Other processes (`omnicloud invoke`) still meet the busy timeout.
        """
        conn = self._db
        with self._lock:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            else:
                conn.execute("COMMIT")

    # -- tables ----------------------------------------------------------------------------

    def table_put(self, table: str, pk: str, sk: str, item: dict[str, Any], condition: Any = None) -> None:
        # Each write is one statement, the condition checked inside it: one round trip, no read.
        data = _encode_item(item)
        if condition is None:
            self._write("INSERT OR REPLACE INTO items (tbl, pk, sk, item) VALUES (?, ?, ?, ?)", (table, pk, sk, data))
        elif condition == "absent":
            try:
                self._write("INSERT INTO items (tbl, pk, sk, item) VALUES (?, ?, ?, ?)", (table, pk, sk, data))
            except sqlite3.IntegrityError:
                self._condition_failed(table, pk, sk, condition)
        elif not self._write("UPDATE items SET item=? WHERE tbl=? AND pk=? AND sk=? AND " + _VERSION_IS,
                             (data, table, pk, sk, _expected_version(condition))).rowcount:
            self._condition_failed(table, pk, sk, condition)

    def table_get(self, table: str, pk: str, sk: str) -> dict[str, Any] | None:
        row = self._one("SELECT item FROM items WHERE tbl=? AND pk=? AND sk=?", (table, pk, sk))
        return json.loads(row[0]) if row else None

    def table_delete(self, table: str, pk: str, sk: str, condition: Any = None) -> None:
        if condition is None:
            self._write("DELETE FROM items WHERE tbl=? AND pk=? AND sk=?", (table, pk, sk))
        elif condition == "absent":  # fails if the item exists; there is nothing to delete otherwise
            _check_condition(table, pk, sk, self._version_row(table, pk, sk), condition)
        elif not self._write("DELETE FROM items WHERE tbl=? AND pk=? AND sk=? AND " + _VERSION_IS,
                             (table, pk, sk, _expected_version(condition))).rowcount:
            self._condition_failed(table, pk, sk, condition)

    def _version_row(self, table: str, pk: str, sk: str) -> tuple | None:
        return self._one("SELECT json_extract(item, '$._version') FROM items WHERE tbl=? AND pk=? AND sk=?",
                         (table, pk, sk))

    def _condition_failed(self, table: str, pk: str, sk: str, condition: Any) -> None:
        """Raise ConditionFailed saying why a conditional write did not apply."""
        _check_condition(table, pk, sk, self._version_row(table, pk, sk), condition)
        # The condition held by the time we looked: another write came in between.
        key = f"{pk!r}" + (f"/{sk!r}" if sk else "")
        expected = "no item" if condition == "absent" else f"version {condition[1]}"
        raise ConditionFailed(f"{table}: item {key} was written concurrently (expected {expected})")

    def table_query(self, table: str, pk: str, *, prefix: str | None = None, start: str | None = None,
                    end: str | None = None, limit: int = 100, cursor: str | None = None,
                    descending: bool = False) -> Page:
        where, params = ["tbl = ?", "pk = ?"], [table, pk]
        # At most one lower and one upper bound on sk: SQLite seeks the index on one of each and only
        # filters by the others, so a prefix and a cursor as two lower bounds would make every page
        # scan from the prefix again (page n costing n pages).
        lower: tuple[str, bool] | None = None  # (value, inclusive)
        upper: tuple[str, bool] | None = None
        if prefix:
            where.append("substr(sk, 1, ?) = ?")
            params += [len(prefix), prefix]
            lower = (prefix, True)
        if start is not None:
            lower = _tighter(lower, (start, True), max)
        if end is not None:
            upper = (end, True)
        if cursor:
            after = (_decode_cursor(cursor, table, pk, descending), False)
            if descending:
                upper = _tighter(upper, after, min)
            else:
                lower = _tighter(lower, after, max)
        if lower is not None:
            where.append("sk >= ?" if lower[1] else "sk > ?")
            params.append(lower[0])
        if upper is not None:
            where.append("sk <= ?" if upper[1] else "sk < ?")
            params.append(upper[0])
        order = "DESC" if descending else "ASC"
        rows = self._all(f"SELECT sk, item FROM items WHERE {' AND '.join(where)} ORDER BY sk {order} LIMIT ?",
                         (*params, limit + 1))
        more = len(rows) > limit
        rows = rows[:limit]
        next_cursor = _encode_cursor(rows[-1][0], table, pk, descending) if more and rows else None
        return Page(items=[json.loads(item) for _, item in rows], cursor=next_cursor)

    def table_count(self, table: str) -> int:
        row = self._one("SELECT count(*) FROM items WHERE tbl=?", (table,))
        return row[0] if row else 0

    def table_partitions(self, table: str, *, prefix: str = "", after: str | None = None,
                         limit: int = 50) -> list[str]:
        """Distinct partition keys of `table` in order (those starting with `prefix`), after `after`.

        One index seek per key (a recursive "loose index scan"), so a partition of 100,000 items
        costs no more to step over than one of a single item."""
        low = max(prefix, after) if after is not None else prefix
        inclusive = after is None or after < prefix
        rows = self._all(
            "WITH RECURSIVE keys(pk) AS ("
            f" SELECT min(pk) FROM items WHERE tbl = ? AND pk {'>=' if inclusive else '>'} ?"
            " UNION ALL SELECT (SELECT min(pk) FROM items WHERE tbl = ? AND pk > keys.pk) FROM keys"
            " WHERE keys.pk IS NOT NULL AND substr(keys.pk, 1, ?) = ?"
            ") SELECT pk FROM keys WHERE pk IS NOT NULL AND substr(pk, 1, ?) = ? LIMIT ?",
            (table, low, table, len(prefix), prefix, len(prefix), prefix, limit),
        )
        return [row[0] for row in rows]

    def purge_expired_items(self, table: str, ttl_attribute: str, now: float | None = None) -> int:
        """Delete items whose TTL (epoch seconds) has passed, as the clouds do in the background."""
        with self._tx() as conn:
            cur = conn.execute(
                "DELETE FROM items WHERE tbl = ? AND json_type(item, '$.' || ?) IN ('integer', 'real') "
                "AND json_extract(item, '$.' || ?) <= ?",
                (table, ttl_attribute, ttl_attribute, time.time() if now is None else now),
            )
            return cur.rowcount

    # -- queues ----------------------------------------------------------------------------

    def send(self, queue: str, messages: list[OutgoingMessage], *, source: str | None = None,
             conn: sqlite3.Connection | None = None) -> list[str]:
        """Enqueue `messages` on `queue`; delay and dedup ids honoured. Returns their ids."""
        if conn is None:
            with self._tx() as tx:
                ids = self.send(queue, messages, source=source, conn=tx)
            ready = sum(1 for message in messages if message.delay_seconds <= 0)
            if ready and self._listener is not None:
                self._listener(queue, ready)
            return ids
        now = time.time()
        ids = []
        if any(message.dedup_id for message in messages):  # lookups below see only live entries
            conn.execute("DELETE FROM dedup WHERE at < ?", (now - DEDUP_WINDOW,))
        for message in messages:
            if message.dedup_id:
                row = conn.execute("SELECT message_id FROM dedup WHERE queue=? AND dedup_id=?",
                                   (queue, message.dedup_id)).fetchone()
                if row:
                    ids.append(row[0])
                    continue
            message_id = random_uuid()
            conn.execute(
                "INSERT INTO messages (id, queue, source, body, attributes, content_type, visible_at, enqueued_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (message_id, queue, source or queue, message.body, json.dumps(message.attributes),
                 message.content_type, now + max(0, message.delay_seconds), now),
            )
            if message.dedup_id:
                conn.execute("INSERT OR REPLACE INTO dedup VALUES (?, ?, ?, ?)", (queue, message.dedup_id, message_id, now))
            ids.append(message_id)
        return ids

    def receive(self, queue: str, *, max_messages: int = 1, visibility_timeout: float = 30.0,
                owner: str = "", max_receives: int | None = None, retention: float | None = None) -> list[Received]:
        """Lease up to `max_messages` visible messages for `visibility_timeout` seconds.

        A message already received `max_receives` times is moved to the dead-letter queue
        instead of being delivered again (SQS redrive semantics); messages older than
        `retention` seconds are dropped.
        """
        now = time.time()
        visibility_timeout = max(visibility_timeout, 0.001)  # a lease always hides the message from this pass
        out: list[Received] = []
        with self._tx() as conn:
            if retention is not None:
                conn.execute("DELETE FROM messages WHERE queue=? AND enqueued_at < ?", (queue, now - retention))
            dead_lettered = True
            while dead_lettered and len(out) < max_messages:  # refill the batch past dead-lettered ones
                dead_lettered = False
                rows = conn.execute(
                    f"SELECT {_COLUMNS} FROM messages WHERE queue=? AND visible_at <= ? ORDER BY visible_at, seq LIMIT ?",
                    (queue, now, max_messages - len(out)),
                ).fetchall()
                for row in rows:
                    msg = _received(row)
                    if max_receives is not None and msg.receive_count >= max_receives:
                        self._move_to_dlq(conn, msg.id, msg.queue, now,
                                          msg.last_error or f"not acknowledged after {msg.receive_count} deliveries")
                        dead_lettered = True
                        continue
                    lease = f"{_bits(64):016x}"
                    conn.execute(
                        "UPDATE messages SET visible_at=?, receive_count=receive_count+1, lease=?, lease_owner=? WHERE id=?",
                        (now + visibility_timeout, lease, owner, msg.id),
                    )
                    msg.receive_count += 1
                    msg.lease = lease
                    msg.visible_at = now + visibility_timeout
                    out.append(msg)
        return out

    def ack(self, message_id: str, lease: str) -> bool:
        """Delete a handled message; False if its lease expired and someone else holds it now."""
        return self._write("DELETE FROM messages WHERE id=? AND lease=?", (message_id, lease)).rowcount == 1

    def ack_many(self, leased: list[tuple[str, str]]) -> list[bool]:
        """Delete several handled messages, given as (id, lease), in one transaction."""
        with self._tx() as conn:
            return [conn.execute("DELETE FROM messages WHERE id=? AND lease=?", pair).rowcount == 1 for pair in leased]

    def release(self, message_id: str, lease: str, *, delay: float = 0.0, error: str | None = None,
                refund: bool = False) -> bool:
        """Make a leased message visible again after `delay` seconds (a retry with backoff).
        With `refund`, this delivery does not count against its retries (it was never handled)."""
        cur = self._write(
            "UPDATE messages SET visible_at=?, lease=NULL, lease_owner=NULL, last_error=coalesce(?, last_error),"
            " receive_count=CASE WHEN ? THEN max(receive_count-1, 0) ELSE receive_count END"
            " WHERE id=? AND lease=?",
            (time.time() + max(0.0, delay), error, 1 if refund else 0, message_id, lease),
        )
        return cur.rowcount == 1

    def dead_letter(self, message_id: str, lease: str | None = None, *, error: str | None = None) -> bool:
        """Move a message to its queue's dead-letter queue (`<queue>-dlq`)."""
        with self._tx() as conn:
            row = conn.execute("SELECT queue, lease FROM messages WHERE id=?", (message_id,)).fetchone()
            if row is None or (lease is not None and row[1] != lease):
                return False
            self._move_to_dlq(conn, message_id, row[0], time.time(), error)
            return True

    @staticmethod
    def _move_to_dlq(conn: sqlite3.Connection, message_id: str, queue: str, now: float, error: str | None) -> None:
        conn.execute(
            "UPDATE messages SET queue=?, visible_at=?, lease=NULL, lease_owner=NULL,"
            " last_error=coalesce(?, last_error) WHERE id=?",
            (dlq_name(queue), now, error, message_id),
        )

    def release_leases(self, *, keep_owner: str | None = None, refund: bool = True) -> int:
        """Make every leased message not held by `keep_owner` visible now (after a crash or stop).

        With `refund`, the interrupted delivery does not count against the message's retries:
        the local cloud stopped, the handler did not fail.
        """
        with self._tx() as conn:
            cur = conn.execute(
                "UPDATE messages SET visible_at=min(visible_at, ?), lease=NULL, lease_owner=NULL,"
                " receive_count=CASE WHEN ? THEN max(receive_count-1, 0) ELSE receive_count END"
                " WHERE lease IS NOT NULL AND lease_owner IS NOT ?",
                (time.time(), 1 if refund else 0, keep_owner),
            )
            return cur.rowcount

    def queues(self) -> dict[str, QueueStats]:
        """Every queue that holds messages, with counts of ready, delayed and in-flight ones."""
        now = time.time()
        stats: dict[str, QueueStats] = {}
        for queue, ready, delayed, in_flight, oldest in self._all(
            "SELECT queue, sum(visible_at <= ?), sum(visible_at > ? AND lease IS NULL),"
            " sum(lease IS NOT NULL AND visible_at > ?), min(enqueued_at) FROM messages GROUP BY queue ORDER BY queue",
            (now, now, now),
        ):
            stats[queue] = QueueStats(ready=ready or 0, delayed=delayed or 0, in_flight=in_flight or 0,
                                      oldest_age=now - oldest if oldest else None)
        return stats

    def peek(self, queue: str, limit: int = 10) -> list[Received]:
        """Messages of `queue` in delivery order, without leasing them."""
        rows = self._all(f"SELECT {_COLUMNS} FROM messages WHERE queue=? ORDER BY visible_at, seq LIMIT ?", (queue, limit))
        return [_received(row) for row in rows]

    def purge(self, queue: str) -> int:
        with self._tx() as conn:
            return conn.execute("DELETE FROM messages WHERE queue=?", (queue,)).rowcount

    def count(self, queue: str) -> int:
        """How many messages `queue` holds (ready, delayed and in flight)."""
        row = self._one("SELECT count(*) FROM messages WHERE queue=?", (queue,))
        return row[0] if row else 0

    def browse(self, queue: str, *, limit: int = 50, after: int | None = None) -> list[tuple[int, Received]]:
        """(position, message) pairs of `queue` in arrival order, `limit` at a time: pass the last
        position back as `after` for the next page. Nothing is leased."""
        rows = self._all(f"SELECT seq, {_COLUMNS} FROM messages WHERE queue=? AND seq > ? ORDER BY seq LIMIT ?",
                         (queue, after or 0, limit))
        return [(row[0], _received(row[1:])) for row in rows]

    def message(self, queue: str, message_id: str) -> Received | None:
        """One message of `queue` by id (None if it is not there), without leasing it."""
        row = self._one(f"SELECT {_COLUMNS} FROM messages WHERE queue=? AND id=?", (queue, message_id))
        return _received(row) if row else None

    def delete_message(self, queue: str, message_id: str) -> bool:
        return self._write("DELETE FROM messages WHERE queue=? AND id=?", (queue, message_id)).rowcount == 1

    def redrive(self, queue: str, message_ids: list[str] | None = None) -> int:
        """Move dead letters of `queue` (from `<queue>-dlq`; all of them, or those in `message_ids`)
        back to `queue`, ready now and with their deliveries counted from zero again, as SQS's
        redrive does. Their last error is kept. Returns how many moved."""
        now = time.time()
        with self._tx() as conn:
            sql = ("UPDATE messages SET queue=?, visible_at=?, receive_count=0, lease=NULL, lease_owner=NULL"
                   " WHERE queue=?")
            if message_ids is None:
                moved = conn.execute(sql, (queue, now, dlq_name(queue))).rowcount
            else:
                moved = sum(conn.execute(sql + " AND id=?", (queue, now, dlq_name(queue), message_id)).rowcount
                            for message_id in message_ids)
        if moved and self._listener is not None:
            self._listener(queue, moved)
        return moved

    # -- topics ----------------------------------------------------------------------------

    def set_subscriptions(self, subscriptions: list[tuple[str, str, dict[str, Any]]]) -> None:
        """Replace every subscription with `(topic, subscriber, filter)` triples (from app.yaml)."""
        with self._tx() as conn:
            conn.execute("DELETE FROM subscriptions")
            for topic, subscriber, filter_ in subscriptions:
                conn.execute("INSERT INTO subscriptions VALUES (?, ?, ?, ?)",
                             (topic, subscriber, subscription_queue(topic, subscriber), json.dumps(filter_ or {})))

    def subscriptions(self, topic: str | None = None) -> list[tuple[str, str, str, dict[str, Any]]]:
        sql = "SELECT topic, subscription, queue, filter FROM subscriptions"
        rows = self._all(sql + (" WHERE topic=?" if topic else "") + " ORDER BY topic, subscription",
                         (topic,) if topic else ())
        return [(t, s, q, json.loads(f)) for t, s, q, f in rows]

    def publish(self, topic: str, message: OutgoingMessage) -> str:
        """Fan `message` out to every subscription whose filter matches, all in one transaction."""
        return self.fan_out(topic, message)[0]

    def fan_out(self, topic: str, message: OutgoingMessage) -> tuple[str, list[str]]:
        """`publish`, saying also which subscription queues the filters let the message into."""
        from ..filters import matches

        message_id = random_uuid()
        delivered = []
        with self._tx() as conn:
            rows = conn.execute("SELECT queue, filter FROM subscriptions WHERE topic=?", (topic,)).fetchall()
            for queue, filter_ in rows:
                if matches(_filter(filter_), message.attributes):
                    self.send(queue, [message], source=topic, conn=conn)
                    delivered.append(queue)
        if self._listener is not None:
            for queue in delivered:
                self._listener(queue, 1)
        return message_id, delivered

    # -- secrets ---------------------------------------------------------------------------

    def generated_secret(self, name: str) -> str | None:
        row = self._one("SELECT value FROM secrets WHERE name=?", (name,))
        return row[0] if row else None

    def ensure_generated_secret(self, name: str) -> tuple[str, bool]:
        """The dev value of secret `name`, generated once and kept; (value, newly generated)."""
        with self._tx() as conn:
            row = conn.execute("SELECT value FROM secrets WHERE name=?", (name,)).fetchone()
            if row:
                return row[0], False
            value = secrets.token_urlsafe(24)
            conn.execute("INSERT INTO secrets VALUES (?, ?, ?)", (name, value, time.time()))
            return value, True

    # -- schedules -------------------------------------------------------------------------

    def schedule_due(self, name: str, expression: str) -> float | None:
        row = self._one("SELECT expression, next_due FROM schedules WHERE name=?", (name,))
        return row[1] if row and row[0] == expression else None

    def set_schedule_due(self, name: str, expression: str, next_due: float) -> None:
        with self._tx() as conn:
            conn.execute("INSERT OR REPLACE INTO schedules VALUES (?, ?, ?)", (name, expression, next_due))


_filters: dict[str, Any] = {}


def _filter(text: str) -> Any:
    """A subscription's filter, parsed once (subscriptions change only when a server starts)."""
    parsed = _filters.get(text)
    if parsed is None:
        parsed = _filters[text] = json.loads(text)
    return parsed


_COLUMNS = ("id, queue, source, body, attributes, content_type, receive_count, enqueued_at, visible_at, lease,"
            " last_error")


def _received(row: tuple) -> Received:
    id_, queue, source, body, attributes, content_type, count, enqueued, visible, lease, error = row
    return Received(id=id_, queue=queue, source=source, body=bytes(body), attributes=json.loads(attributes),
                    content_type=content_type, receive_count=count, enqueued_at=enqueued, visible_at=visible,
                    lease=lease, last_error=error)


_VERSION_IS = "json_extract(item, '$._version') = ?"


def _expected_version(condition: Any) -> Any:
    if isinstance(condition, (tuple, list)) and len(condition) == 2 and condition[0] == "version":
        return condition[1]
    raise ValueError(f"unknown write condition {condition!r}; use 'absent' or ('version', n)")


def _check_condition(table: str, pk: str, sk: str, row: tuple | None, condition: Any) -> None:
    key = f"{pk!r}" + (f"/{sk!r}" if sk else "")
    if condition == "absent":
        if row is not None:
            raise ConditionFailed(f"{table}: item {key} already exists")
        return
    if isinstance(condition, (tuple, list)) and len(condition) == 2 and condition[0] == "version":
        if row is None:
            raise ConditionFailed(f"{table}: item {key} does not exist (expected version {condition[1]})")
        version = row[0]  # the stored item's _version
        if version != condition[1]:
            raise ConditionFailed(f"{table}: item {key} is at version {version}, expected {condition[1]}")
        return
    raise ValueError(f"unknown write condition {condition!r}; use 'absent' or ('version', n)")


def _encode_cursor(sk: str, table: str, pk: str, descending: bool) -> str:
    data = json.dumps({"t": table, "p": pk, "s": sk, "d": descending}, separators=(",", ":"))
    return base64.urlsafe_b64encode(data.encode()).decode().rstrip("=")


def _tighter(bound: tuple[str, bool] | None, other: tuple[str, bool], pick) -> tuple[str, bool]:
    """The tighter of two bounds on sk (`pick` is max for lower bounds, min for upper ones); at equal
    values the exclusive one."""
    if bound is None or bound[0] != other[0]:
        return other if bound is None else (bound if pick(bound[0], other[0]) == bound[0] else other)
    return bound if not bound[1] else other


def _decode_cursor(cursor: str, table: str, pk: str, descending: bool) -> str:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if data["t"] == table and data["p"] == pk and data["d"] == descending and isinstance(data["s"], str):
            return data["s"]
    except (ValueError, KeyError, TypeError, RecursionError):  # RecursionError: a deeply nested JSON cursor
        pass
    raise ValueError("cursor does not belong to this query; pass back page.cursor unchanged with the same pk and order")


# -- the backend protocol -------------------------------------------------------------------


class LocalQueue:
    def __init__(self, link: Link):
        self.name = link.get("name") or link.logical

    def send_batch(self, messages: list[OutgoingMessage]) -> list[str]:
        return Store.at().send(self.name, messages)


class LocalTopic:
    def __init__(self, link: Link):
        self.name = link.get("name") or link.logical

    def publish(self, message: OutgoingMessage) -> str:
        return Store.at().publish(self.name, message)


class LocalTable:
    def __init__(self, link: Link):
        self.name = link.get("name") or link.logical
        self.partition_key = link.get("partition_key", "pk")
        self.sort_key = link.get("sort_key")

    def _key(self, item: dict[str, Any]) -> tuple[str, str]:
        return str(item[self.partition_key]), str(item[self.sort_key]) if self.sort_key else ""

    def put(self, item: dict[str, Any], condition: Any = None) -> None:
        pk, sk = self._key(item)
        Store.at().table_put(self.name, pk, sk, item, condition)

    def get(self, pk: str, sk: str | None) -> dict[str, Any] | None:
        return Store.at().table_get(self.name, pk, sk if self.sort_key else "")

    def delete(self, pk: str, sk: str | None, condition: Any = None) -> None:
        Store.at().table_delete(self.name, pk, sk if self.sort_key else "", condition)

    def query(self, pk: str, *, prefix: str | None, start: str | None, end: str | None,
              limit: int, cursor: str | None, descending: bool) -> Page:
        return Store.at().table_query(self.name, pk, prefix=prefix, start=start, end=end, limit=limit,
                                      cursor=cursor, descending=descending)


class LocalSecret:
    """The value comes from the variable named by the link's `env`, then the app's .env file,
    then the value `omnicloud dev` generated for local use."""

    def __init__(self, link: Link):
        self.logical = link.logical
        self.env = link.get("env") or env_var_for_secret(link.logical)

    def value(self) -> str:
        found = lookup_secret(self.logical, self.env)
        if found is None:
            raise LinkError(
                f"secret {self.logical!r} has no local value; set {self.env} in the environment or in the app's .env file"
            )
        return found[0]


def env_var_for_secret(logical: str) -> str:
    return logical.upper().replace("-", "_")


def dotenv_path() -> Path:
    return Path(current_environ().get(DOTENV_ENV) or os.environ.get(DOTENV_ENV) or ".env")


def lookup_secret(logical: str, env: str, store: Store | None = None) -> tuple[str, str] | None:
    """(value, where it came from: "environment" | ".env" | "generated"), or None."""
    for environ in (current_environ(), os.environ):
        if environ.get(env):
            return environ[env], "environment"
    path = dotenv_path()
    if path.is_file():
        from dotenv import dotenv_values

        value = dotenv_values(path).get(env)
        if value:
            return value, ".env"
    generated = (store or Store.at()).generated_secret(logical)
    return (generated, "generated") if generated else None


# The factories runtime.clients calls with a resolved Link (runtime/backends/base.py).
queue = LocalQueue
topic = LocalTopic
table = LocalTable
secret = LocalSecret
