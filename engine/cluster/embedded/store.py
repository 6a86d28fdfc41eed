"""Object storage in SQLite (WAL): one global revision, and an event log that lets watches resume.

Every write bumps the global revision and appends an event in the same transaction, so a watch that resumes
from a resourceVersion after a daemon restart sees exactly what happened after it. The event log is compacted
to a window; a watch from before the window gets 410 Gone, as etcd compaction gives on a real cluster.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS objects (
    resource TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    rv INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (resource, namespace, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
    rv INTEGER PRIMARY KEY,
    resource TEXT NOT NULL,
    namespace TEXT NOT NULL,
    type TEXT NOT NULL,
    body TEXT NOT NULL
);
"""

DEFAULT_EVENT_WINDOW = 20_000


class StorageError(Exception):
    """A write the database refused (a full disk, a read-only folder); nothing of it was kept. The server
    answers the request that made it with a 500 Status carrying this message, and keeps serving."""


@dataclass(frozen=True)
class StoredEvent:
    rv: int
    resource: str
    namespace: str
    type: str  # ADDED, MODIFIED, DELETED
    obj: dict[str, Any]


class Store:
    """A thin, synchronous layer over SQLite. The server runs it on one event loop, so writes never race."""

    def __init__(self, path: Path, event_window: int = DEFAULT_EVENT_WINDOW) -> None:
        self.event_window = max(10, event_window)
        self.path = Path(path)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        row = self._db.execute("SELECT value FROM meta WHERE key='revision'").fetchone()
        self.revision = int(row[0]) if row else 1
        row = self._db.execute("SELECT MIN(rv) FROM events").fetchone()
        self._oldest_event = int(row[0]) if row and row[0] is not None else self.revision + 1

    def close(self) -> None:
        self._db.close()

    def storage_error(self, err: sqlite3.Error) -> StorageError:
        """What a failed write says: a full disk or a read-only folder by name, anything else as SQLite put it."""
        folder = self.path.parent
        text = str(err)
        if "full" in text:
            return StorageError(f"the cluster's storage is full: no space left on the device holding {folder}")
        if "readonly" in text or "read-only" in text:
            return StorageError(f"the cluster's storage cannot be written: {folder} is read-only")
        return StorageError(f"the cluster's storage failed: {text}")

    @property
    def oldest_watchable(self) -> int:
        """A watch may resume from any revision at or after this one."""
        return self._oldest_event - 1

    def get(self, resource: str, namespace: str, name: str) -> dict[str, Any] | None:
        row = self._db.execute(
            "SELECT body FROM objects WHERE resource=? AND namespace=? AND name=?",
            (resource, namespace, name),
        ).fetchone()
        return json.loads(row[0]) if row else None

    def list(
        self, resource: str, namespace: str | None = None, after: tuple[str, str] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Objects ordered by (namespace, name); `after` continues a paged list past that key."""
        sql = "SELECT body FROM objects WHERE resource=?"
        args: list[Any] = [resource]
        if namespace is not None:
            sql += " AND namespace=?"
            args.append(namespace)
        if after is not None:
            sql += " AND (namespace, name) > (?, ?)"
            args.extend(after)
        sql += " ORDER BY namespace, name"
        for (body,) in self._db.execute(sql, args):
            yield json.loads(body)

    def count(self, resource: str, namespace: str | None = None) -> int:
        if namespace is None:
            row = self._db.execute("SELECT COUNT(*) FROM objects WHERE resource=?", (resource,)).fetchone()
        else:
            row = self._db.execute(
                "SELECT COUNT(*) FROM objects WHERE resource=? AND namespace=?", (resource, namespace)
            ).fetchone()
        return int(row[0])

    def namespaced_resources_in(self, namespace: str) -> list[str]:
        rows = self._db.execute("SELECT DISTINCT resource FROM objects WHERE namespace=?", (namespace,))
        return [r[0] for r in rows]

    def put(self, resource: str, obj: dict[str, Any], event_type: str) -> dict[str, Any]:
        """Create or replace an object, giving it the next revision; returns it with resourceVersion set."""
        meta = obj["metadata"]
        namespace = meta.get("namespace", "")
        with self._transaction() as rv:
            meta["resourceVersion"] = str(rv)
            body = json.dumps(obj, separators=(",", ":"))
            self._db.execute(
                "INSERT OR REPLACE INTO objects (resource, namespace, name, rv, body) VALUES (?, ?, ?, ?, ?)",
                (resource, namespace, meta["name"], rv, body),
            )
            self._log(rv, resource, namespace, event_type, body)
        return obj

    def delete(self, resource: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Remove an object; the DELETED event carries the final state at a new revision."""
        meta = obj["metadata"]
        namespace = meta.get("namespace", "")
        with self._transaction() as rv:
            meta["resourceVersion"] = str(rv)
            self._db.execute(
                "DELETE FROM objects WHERE resource=? AND namespace=? AND name=?",
                (resource, namespace, meta["name"]),
            )
            self._log(rv, resource, namespace, "DELETED", json.dumps(obj, separators=(",", ":")))
        return obj

    def events_since(self, rv: int, resource: str, namespace: str | None) -> Iterator[StoredEvent]:
        sql = "SELECT rv, resource, namespace, type, body FROM events WHERE rv > ? AND resource=?"
        args: list[Any] = [rv, resource]
        if namespace is not None:
            sql += " AND namespace=?"
            args.append(namespace)
        for row in self._db.execute(sql + " ORDER BY rv", args).fetchall():
            yield StoredEvent(row[0], row[1], row[2], row[3], json.loads(row[4]))

    def _log(self, rv: int, resource: str, namespace: str, event_type: str, body: str) -> None:
        self._db.execute(
            "INSERT INTO events (rv, resource, namespace, type, body) VALUES (?, ?, ?, ?, ?)",
            (rv, resource, namespace, event_type, body),
        )
        if rv % max(1, self.event_window // 10) == 0:
            cutoff = rv - self.event_window
            self._db.execute("DELETE FROM events WHERE rv <= ?", (cutoff,))
            self._oldest_event = max(self._oldest_event, cutoff + 1)

    class _Tx:
        def __init__(self, store: Store) -> None:
            self.store = store

        def __enter__(self) -> int:
            self.store._db.execute("BEGIN IMMEDIATE")
            self.store.revision += 1
            return self.store.revision

        def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
            db = self.store._db
            if exc_type is None:
                try:
                    db.execute(
                        "INSERT OR REPLACE INTO meta (key, value) VALUES ('revision', ?)",
                        (str(self.store.revision),),
                    )
                    db.execute("COMMIT")
                    return
                except sqlite3.Error as err:
                    self._undo()
                    raise self.store.storage_error(err) from None
            self._undo()
            if isinstance(exc, sqlite3.Error):
                raise self.store.storage_error(exc) from None

        def _undo(self) -> None:
            """Roll back (SQLite may have done so itself, on a full disk) so the next write starts clean."""
            if self.store._db.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    self.store._db.execute("ROLLBACK")
            self.store.revision -= 1

    def _transaction(self) -> Store._Tx:
        return Store._Tx(self)
