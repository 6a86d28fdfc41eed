"""Pipeline runs, their steps and their logs in SQLite, so they survive a restart of the lab's daemon.

The runner (in the lab's daemon) writes; `driftlab pipeline ...` and the checks read from other processes,
which is why the database is in WAL mode: readers never wait for the writer, nor the writer for readers.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import paths
from .errors import PipelineError

QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED, INTERRUPTED = (
    "queued",
    "running",
    "succeeded",
    "failed",
    "cancelled",
    "interrupted",
)
RUN_STATUSES = (QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED, INTERRUPTED)
FINISHED = frozenset({SUCCEEDED, FAILED, CANCELLED, INTERRUPTED})
PENDING, TIMED_OUT, SKIPPED = "pending", "timed_out", "skipped"
STEP_STATUSES = (PENDING, RUNNING, SUCCEEDED, FAILED, TIMED_OUT, SKIPPED, CANCELLED, INTERRUPTED)
OUTPUT, RUNNER = "out", "sys"  # a log line written by a step, or by the runner about the run
STORE_FILE = "pipelines.db"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    repo TEXT NOT NULL,
    ref TEXT NOT NULL,
    commit_sha TEXT NOT NULL,
    old_sha TEXT NOT NULL,
    message TEXT NOT NULL,
    author TEXT NOT NULL,
    pusher TEXT NOT NULL,
    status TEXT NOT NULL,
    queued_at REAL NOT NULL,
    started_at REAL,
    ended_at REAL,
    error TEXT NOT NULL DEFAULT '',
    cancel_requested INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS runs_by_repo ON runs (repo, status, id);
CREATE TABLE IF NOT EXISTS steps (
    run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    job TEXT NOT NULL,
    name TEXT NOT NULL,
    command TEXT NOT NULL,
    status TEXT NOT NULL,
    exit_code INTEGER,
    started_at REAL,
    ended_at REAL,
    pid INTEGER,
    PRIMARY KEY (run_id, idx)
);
CREATE TABLE IF NOT EXISTS logs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    time REAL NOT NULL,
    step INTEGER,
    stream TEXT NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS logs_by_run ON logs (run_id, id);
CREATE TABLE IF NOT EXISTS heads (
    repo TEXT NOT NULL,
    ref TEXT NOT NULL,
    sha TEXT NOT NULL,
    PRIMARY KEY (repo, ref)
);
"""


def _duration(start: float | None, end: float | None) -> float | None:
    return None if start is None or end is None else max(end - start, 0.0)


@dataclass(frozen=True)
class Run:
    """One run of a repo's pipeline for one pushed commit."""

    id: int
    repo: str
    ref: str
    commit: str
    old: str
    message: str
    author: str
    pusher: str
    status: str
    queued_at: float
    started_at: float | None
    ended_at: float | None
    error: str
    cancel_requested: bool

    @property
    def branch(self) -> str:
        return self.ref.removeprefix("refs/heads/")

    @property
    def short_commit(self) -> str:
        return self.commit[:7]

    @property
    def summary(self) -> str:
        """The commit message's first line."""
        return self.message.strip().splitlines()[0] if self.message.strip() else ""

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def duration(self) -> float | None:
        return _duration(self.started_at, self.ended_at)


@dataclass(frozen=True)
class StepRecord:
    """One step of a run: what it ran and how it ended (exit code 128+N when killed by signal N)."""

    run_id: int
    index: int
    job: str
    name: str
    command: str
    status: str
    exit_code: int | None
    started_at: float | None
    ended_at: float | None
    pid: int | None

    @property
    def duration(self) -> float | None:
        return _duration(self.started_at, self.ended_at)


@dataclass(frozen=True)
class LogLine:
    """One line of a run's log; `id` grows with every line written, so it orders and resumes a stream."""

    id: int
    run_id: int
    time: float
    step: int | None
    stream: str
    text: str


def store_path(lab: str) -> Path:
    """The pipeline store of a lab, by the lab's name."""
    return paths.pipeline_store(lab)


def find_store(lab: str | None) -> Path:
    """The store of the named lab, or of the only lab that has one; a clear error otherwise."""
    if lab is not None:
        path = store_path(lab)
        if not path.exists():
            raise PipelineError(f"lab {lab!r} has no pipeline runs yet (no {path})")
        return path
    found = sorted(path.parent.name for path in paths.lab_states_dir().glob(f"*/{STORE_FILE}"))
    if not found:
        raise PipelineError("no lab has pipeline runs yet; push to a lab's repo first (see: driftlab lab status)")
    if len(found) > 1:
        raise PipelineError(f"several labs have pipeline runs; name one with --lab ({', '.join(found)})")
    return store_path(found[0])


class PipelineStore:
    """Runs, steps and log lines of one lab. Safe to share between threads; one short transaction per call."""

    def __init__(self, path: Path, *, create: bool = True) -> None:
        if not create and not path.exists():
            raise PipelineError(f"no pipeline store at {path}")
        paths.private_file(path)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE takes the write lock at once, so a read-then-write cannot race another process."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _query(self, sql: str, args: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    # runs ---------------------------------------------------------------------------------------------------

    def add_run(self, repo: str, ref: str, commit: str, old: str, message: str, author: str, pusher: str) -> Run:
        """Queue a run for a pushed commit."""
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT INTO runs (repo, ref, commit_sha, old_sha, message, author, pusher, status, queued_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (repo, ref, commit, old, message, author, pusher, QUEUED, time.time()),
            )
            run_id = cursor.lastrowid
        return self.run(int(run_id or 0))

    def run(self, run_id: int) -> Run:
        rows = self._query("SELECT * FROM runs WHERE id = ?", (run_id,))
        if not rows:
            raise PipelineError(f"there is no pipeline run {run_id}")
        return _run(rows[0])

    def runs(self, repo: str | None = None, limit: int | None = None, status: str | None = None) -> list[Run]:
        """Runs, newest first."""
        where, args = _filters(repo=repo, status=status)
        sql = f"SELECT * FROM runs{where} ORDER BY id DESC" + (" LIMIT ?" if limit is not None else "")
        return [_run(row) for row in self._query(sql, [*args, *([limit] if limit is not None else [])])]

    def latest(self, repo: str, branch: str | None = None) -> Run | None:
        """The newest run of a repo (on a branch), whatever its status."""
        where, args = _filters(repo=repo, ref=f"refs/heads/{branch}" if branch else None)
        rows = self._query(f"SELECT * FROM runs{where} ORDER BY id DESC LIMIT 1", args)
        return _run(rows[0]) if rows else None

    def queued_repos(self) -> list[str]:
        rows = self._query("SELECT DISTINCT repo FROM runs WHERE status = ? ORDER BY repo", (QUEUED,))
        return [row["repo"] for row in rows]

    def claim_next(self, repo: str) -> Run | None:
        """Mark the repo's oldest queued run as running and return it (None when nothing is queued)."""
        with self._transaction() as db:
            row = db.execute(
                "SELECT id FROM runs WHERE repo = ? AND status = ? ORDER BY id LIMIT 1", (repo, QUEUED)
            ).fetchone()
            if row is None:
                return None
            db.execute("UPDATE runs SET status = ?, started_at = ? WHERE id = ?", (RUNNING, time.time(), row["id"]))
        return self.run(row["id"])

    def finish_run(self, run_id: int, status: str, error: str = "") -> Run:
        """End a run: its pending steps are skipped, a step still marked running gets the run's status."""
        now = time.time()
        step_status = status if status in (CANCELLED, INTERRUPTED) else FAILED
        with self._transaction() as db:
            db.execute(
                "UPDATE runs SET status = ?, ended_at = ?, error = ?, started_at = COALESCE(started_at, ?)"
                " WHERE id = ?",
                (status, now, error, now, run_id),
            )
            db.execute("UPDATE steps SET status = ? WHERE run_id = ? AND status = ?", (SKIPPED, run_id, PENDING))
            db.execute(
                "UPDATE steps SET status = ?, ended_at = ?, pid = NULL WHERE run_id = ? AND status = ?",
                (step_status, now, run_id, RUNNING),
            )
        return self.run(run_id)

    def cancel_queued(self, run_id: int) -> bool:
        """Cancel a run that has not started; False when it is no longer queued."""
        with self._transaction() as db:
            changed = db.execute(
                "UPDATE runs SET status = ?, ended_at = ?, cancel_requested = 1 WHERE id = ? AND status = ?",
                (CANCELLED, time.time(), run_id, QUEUED),
            ).rowcount
        return changed == 1

    def request_cancel(self, run_id: int) -> bool:
        """Flag a running run for cancellation; False when it is not running."""
        with self._transaction() as db:
            changed = db.execute(
                "UPDATE runs SET cancel_requested = 1 WHERE id = ? AND status = ?", (run_id, RUNNING)
            ).rowcount
        return changed == 1

    def has_run(self, repo: str, ref: str, commit: str) -> bool:
        """Whether a push of `commit` to `ref` already made a run."""
        rows = self._query(
            "SELECT 1 FROM runs WHERE repo = ? AND ref = ? AND commit_sha = ? LIMIT 1", (repo, ref, commit)
        )
        return bool(rows)

    # branch heads the runner has taken pushes to ------------------------------------------------------------

    def heads(self, repo: str) -> dict[str, str] | None:
        """The last commit of each branch of a repo that a push was taken for; None for a repo never seen."""
        rows = self._query("SELECT ref, sha FROM heads WHERE repo = ?", (repo,))
        return {row["ref"]: row["sha"] for row in rows} if rows else None

    def set_heads(self, repo: str, heads: dict[str, str | None]) -> None:
        """Record where branches are once their pushes were taken (None: the branch was deleted). A repo is
        remembered even with no branch, so that a first branch pushed later is told apart from a new repo."""
        with self._transaction() as db:
            for ref, sha in heads.items():
                if sha is None:
                    db.execute("DELETE FROM heads WHERE repo = ? AND ref = ?", (repo, ref))
                else:
                    db.execute("INSERT OR REPLACE INTO heads (repo, ref, sha) VALUES (?, ?, ?)", (repo, ref, sha))
            db.execute("INSERT OR IGNORE INTO heads (repo, ref, sha) VALUES (?, '', '')", (repo,))

    # steps --------------------------------------------------------------------------------------------------

    def add_steps(self, run_id: int, steps: Iterable[tuple[str, str, str]]) -> None:
        """Record a run's steps (job, name, command) as pending, in the order they will run."""
        rows = [(run_id, i, job, name, command, PENDING) for i, (job, name, command) in enumerate(steps)]
        with self._transaction() as db:
            db.executemany(
                "INSERT INTO steps (run_id, idx, job, name, command, status) VALUES (?, ?, ?, ?, ?, ?)", rows
            )

    def step_started(self, run_id: int, index: int, pid: int) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE steps SET status = ?, started_at = ?, pid = ? WHERE run_id = ? AND idx = ?",
                (RUNNING, time.time(), pid, run_id, index),
            )

    def step_finished(self, run_id: int, index: int, status: str, exit_code: int | None) -> None:
        now = time.time()
        with self._transaction() as db:
            db.execute(
                "UPDATE steps SET status = ?, exit_code = ?, ended_at = ?, pid = NULL,"
                " started_at = COALESCE(started_at, ?) WHERE run_id = ? AND idx = ?",
                (status, exit_code, now, now, run_id, index),
            )

    def steps(self, run_id: int) -> list[StepRecord]:
        rows = self._query("SELECT * FROM steps WHERE run_id = ? ORDER BY idx", (run_id,))
        return [
            StepRecord(
                row["run_id"],
                row["idx"],
                row["job"],
                row["name"],
                row["command"],
                row["status"],
                row["exit_code"],
                row["started_at"],
                row["ended_at"],
                row["pid"],
            )
            for row in rows
        ]

    # logs ---------------------------------------------------------------------------------------------------

    def append(self, run_id: int, lines: Sequence[tuple[float, int | None, str, str]]) -> None:
        """Add log lines (time, step index or None, stream, text) in one transaction."""
        if not lines:
            return
        with self._transaction() as db:
            db.executemany(
                "INSERT INTO logs (run_id, time, step, stream, text) VALUES (?, ?, ?, ?, ?)",
                [(run_id, *line) for line in lines],
            )

    def lines(self, run_id: int, after: int = 0, step: int | None = None) -> list[LogLine]:
        """Log lines of a run written after the line with id `after` (of one step when `step` is given)."""
        sql = "SELECT * FROM logs WHERE run_id = ? AND id > ?" + (" AND step = ?" if step is not None else "")
        args: list[Any] = [run_id, after, *([step] if step is not None else [])]
        rows = self._query(sql + " ORDER BY id", args)
        return [LogLine(r["id"], r["run_id"], r["time"], r["step"], r["stream"], r["text"]) for r in rows]


def _filters(**values: str | None) -> tuple[str, list[Any]]:
    columns = {"repo": "repo", "status": "status", "ref": "ref"}
    chosen = [(columns[name], value) for name, value in values.items() if value is not None]
    if not chosen:
        return "", []
    return " WHERE " + " AND ".join(f"{column} = ?" for column, _ in chosen), [value for _, value in chosen]


def _run(row: sqlite3.Row) -> Run:
    return Run(
        id=row["id"],
        repo=row["repo"],
        ref=row["ref"],
        commit=row["commit_sha"],
        old=row["old_sha"],
        message=row["message"],
        author=row["author"],
        pusher=row["pusher"],
        status=row["status"],
        queued_at=row["queued_at"],
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        error=row["error"],
        cancel_requested=bool(row["cancel_requested"]),
    )
