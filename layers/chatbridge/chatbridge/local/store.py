"""``chatbridge local --data DIR``: DIR holds the stack's state in one SQLite file, written through as it
changes, so what the stack acknowledged survives ``kill -9`` and a power cut.

Why SQLite, and why write-through: moto keeps everything in memory, and every change it makes to a table
item, a queue message, a parameter or an object is reported here (``moto_dynamodb``, ``moto_changes``)
in the order moto made it, and nothing is acknowledged before it is on disk: a request to moto is answered
after its commit, except the functions' DynamoDB requests, whose invocation ends only after a ``flush``
(``LocalStack.invoke``), so the disk always holds a prefix of moto's history that includes everything
anyone was told. The store keeps the *current* value of each (an upsert or a
delete per row, no history), so it never needs compaction and a restart reads only what exists. SQLite
makes each batch atomic (a torn write rolls back to the last commit) and, with ``synchronous=FULL`` in WAL
mode, durable once ``COMMIT`` returns (the WAL is fsynced). One writer thread commits whatever has queued up
since its last commit in one transaction (group commit), so eight concurrent requests share one fsync
instead of paying eight. An append-only journal would need its own framing, torn-tail handling and
compaction; snapshots plus a journal would add a second format to keep in step. Both come free here.

Rows are keyed by the template's logical ids (table, queue, bucket), so the data survives a renamed stack.
"""

from __future__ import annotations

import fcntl
import json
import logging
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chatbridge.errors import ChatbridgeError
from chatbridge.local.attributes import item_to_json

log = logging.getLogger("chatbridge.local")

STORE_FILE = "chatbridge-local.sqlite3"
LOCK_FILE = ".lock"  # two stacks writing one folder would each overwrite the other's rows
FORMAT_VERSION = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (tbl TEXT NOT NULL, key TEXT NOT NULL, item TEXT NOT NULL, PRIMARY KEY (tbl, key));
CREATE TABLE IF NOT EXISTS stream (tbl TEXT NOT NULL, seq TEXT NOT NULL, record TEXT NOT NULL,
                                   PRIMARY KEY (tbl, seq));
CREATE TABLE IF NOT EXISTS messages (queue TEXT NOT NULL, id TEXT NOT NULL, message TEXT NOT NULL,
                                     PRIMARY KEY (queue, id));
CREATE TABLE IF NOT EXISTS parameters (name TEXT PRIMARY KEY, parameter TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS objects (bucket TEXT NOT NULL, key TEXT NOT NULL, body BLOB NOT NULL, meta TEXT NOT NULL,
                                    PRIMARY KEY (bucket, key));
"""


class StoreError(ChatbridgeError):
    """The data folder cannot be opened, read or written; the message says which file and why."""


@dataclass
class Names:
    """moto's resource names -> the template's logical ids (and back), for the resources worth keeping."""

    tables: dict[str, str] = field(default_factory=dict)
    queues: dict[str, str] = field(default_factory=dict)
    buckets: dict[str, str] = field(default_factory=dict)


Operation = tuple[str, tuple[Any, ...]]


class DurableStore:
    """The SQLite file and its one writer thread. ``submit`` queues operations and returns a ticket;
    ``wait(ticket)`` returns once they are committed (or raises ``StoreError`` if the commit failed)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / STORE_FILE
        try:
            directory.mkdir(parents=True, exist_ok=True)
            self._lock_file = open(directory / LOCK_FILE, "a+")  # noqa: SIM115 - held for the store's life
        except OSError as exc:
            raise StoreError(f"cannot use data folder {directory}: {exc}") from exc
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            self._lock_file.close()
            raise StoreError(f"data folder {directory} is in use by another `chatbridge local` "
                             "(pass another --data DIR, or --ephemeral)") from exc
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            for path in (self.path, self.path.with_name(self.path.name + "-wal"),
                         self.path.with_name(self.path.name + "-shm")):
                if path.exists():
                    path.chmod(0o600)  # it holds the secrets' values: the operator's alone
            version = self._db.execute("SELECT value FROM meta WHERE name = 'version'").fetchone()
            if version is None:
                self._db.execute("INSERT INTO meta VALUES ('version', ?)", (str(FORMAT_VERSION),))
            elif version[0] != str(FORMAT_VERSION):
                raise StoreError(f"{self.path} has format version {version[0]}, expected {FORMAT_VERSION}")
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the data folder's store {self.path}: {exc}") from exc
        self.names = Names()
        self._pending: list[Operation] = []
        self._submitted = 0  # tickets handed out
        self._committed = 0  # tickets on disk
        self._failure: str | None = None
        self._condition = threading.Condition()
        self._closed = False
        self._writer = threading.Thread(target=self._write_forever, name="local-store", daemon=True)
        self._writer.start()

    # --- writing ----------------------------------------------------------------------------------------

    def submit(self, operations: list[Operation]) -> int:
        with self._condition:
            if self._closed:
                raise StoreError(f"{self.path} is closed")
            self._pending.extend(operations)
            self._submitted += 1
            self._condition.notify_all()
            return self._submitted

    def wait(self, ticket: int) -> None:
        with self._condition:
            while self._committed < ticket and self._failure is None:
                self._condition.wait()
            if self._committed < ticket:
                raise StoreError(f"cannot write {self.path}: {self._failure}")

    def flush(self) -> None:
        """Everything submitted so far is on disk when this returns."""
        with self._condition:
            ticket = self._submitted
        self.wait(ticket)

    def close(self) -> None:
        """Flush and close. A store that failed already refused every waiter (nothing it lost was
        acknowledged), so closing it only logs that again instead of failing the stack's stop."""
        try:
            self.flush()
        except StoreError as exc:
            log.error("local store: closing after a failed write: %s", exc)
        with self._condition:
            self._closed = True
            self._condition.notify_all()
        self._writer.join(10)
        self._db.close()
        self._lock_file.close()

    def _write_forever(self) -> None:
        while True:
            with self._condition:
                while not self._pending and not self._closed:
                    self._condition.wait()
                if not self._pending and self._closed:
                    return
                batch, self._pending = self._pending, []
                last = self._submitted
            try:
                self._db.execute("BEGIN IMMEDIATE")
                for statement, parameters in batch:
                    self._db.execute(statement, parameters)
                self._db.execute("COMMIT")  # synchronous=FULL: the WAL is fsynced before COMMIT returns
            except Exception as exc:  # noqa: BLE001 - any failure must reach the waiters, not end the thread silently
                log.error("local store: cannot write %s: %s; the stack stops acknowledging writes", self.path, exc)
                with self._condition:
                    self._failure = str(exc)
                    self._condition.notify_all()
                return
            with self._condition:
                self._committed = last
                self._condition.notify_all()

    # --- what changed, in moto's words --------------------------------------------------------------------

    def submit_items(self, changes: list[tuple[str, dict[str, Any], dict[str, Any] | None]],
                     stream: list[tuple[str, int, dict[str, Any]]]) -> int | None:
        operations: list[Operation] = []
        for table_name, key, item in changes:
            logical_id = self.names.tables.get(table_name)
            if logical_id is None:
                continue
            encoded = json.dumps(item_to_json(key), sort_keys=True)
            if item is None:
                operations.append(("DELETE FROM items WHERE tbl = ? AND key = ?", (logical_id, encoded)))
            else:
                operations.append(("INSERT OR REPLACE INTO items VALUES (?, ?, ?)",
                                   (logical_id, encoded, json.dumps(item_to_json(item), ensure_ascii=False))))
        for table_name, sequence, record in stream:
            logical_id = self.names.tables.get(table_name)
            if logical_id is not None:
                dynamodb = dict(record["dynamodb"])
                for image in ("Keys", "NewImage", "OldImage"):
                    if image in dynamodb:
                        dynamodb[image] = item_to_json(dynamodb[image])
                operations.append(("INSERT OR REPLACE INTO stream VALUES (?, ?, ?)", (logical_id, _seq(sequence), json.dumps(
                    {**record, "dynamodb": dynamodb}, default=str, ensure_ascii=False))))
        return self.submit(operations) if operations else None

    def trim_stream(self, table_name: str, through_sequence: int) -> None:
        logical_id = self.names.tables.get(table_name)
        if logical_id is not None:
            self.submit([("DELETE FROM stream WHERE tbl = ? AND seq <= ?", (logical_id, _seq(through_sequence)))])

    def put_messages(self, queue_name: str, upserts: dict[str, dict[str, Any]], deletes: Iterable[str]) -> int | None:
        logical_id = self.names.queues.get(queue_name)
        if logical_id is None:
            return None
        operations: list[Operation] = [("DELETE FROM messages WHERE queue = ? AND id = ?", (logical_id, message_id))
                                       for message_id in deletes]
        operations.extend(("INSERT OR REPLACE INTO messages VALUES (?, ?, ?)",
                           (logical_id, message_id, json.dumps(message, ensure_ascii=False)))
                          for message_id, message in upserts.items())
        return self.submit(operations) if operations else None

    def put_parameter(self, name: str, parameter: dict[str, Any] | None) -> int:
        if parameter is None:
            return self.submit([("DELETE FROM parameters WHERE name = ?", (name,))])
        return self.submit([("INSERT OR REPLACE INTO parameters VALUES (?, ?)",
                             (name, json.dumps(parameter, ensure_ascii=False)))])

    def put_object(self, bucket: str, key: str, body: bytes | None, meta: dict[str, Any]) -> int | None:
        logical_id = self.names.buckets.get(bucket)
        if logical_id is None:
            return None
        if body is None:
            return self.submit([("DELETE FROM objects WHERE bucket = ? AND key = ?", (logical_id, key))])
        return self.submit([("INSERT OR REPLACE INTO objects VALUES (?, ?, ?, ?)",
                             (logical_id, key, body, json.dumps(meta)))])

    # --- reading back at start ------------------------------------------------------------------------------

    def rows(self, table: str) -> list[tuple[Any, ...]]:
        columns = {"items": "tbl, key, item", "stream": "tbl, seq, record", "messages": "queue, id, message",
                   "parameters": "name, parameter", "objects": "bucket, key, body, meta"}[table]
        order = " ORDER BY tbl, seq" if table == "stream" else ""
        try:
            return self._db.execute(f"SELECT {columns} FROM {table}{order}").fetchall()  # noqa: S608 - fixed names
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read {self.path}: {exc}") from exc


def _seq(sequence: int) -> str:
    """Stream sequence numbers outgrow SQLite's 64-bit integers: kept as fixed-width text, which sorts alike."""
    return f"{sequence:040d}"
