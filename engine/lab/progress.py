"""A learner's progress through each course, kept in SQLite so it survives restarts, crashes and kills.

One database under DRIFTLAB_HOME holds every course: the current step, when each step passed, how many hints
were revealed, whether the solution was shown, and when the course was last opened. Every change is one
transaction in WAL mode with full sync, so a process killed at any instant leaves either the old or the new
state, never a mix (a step recorded as passed while the current step has not moved on, say).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from .. import paths
from ..errors import DriftlabError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS courses (
    course TEXT PRIMARY KEY,
    current_step TEXT,
    source TEXT,
    started_at REAL NOT NULL,
    last_opened REAL NOT NULL,
    finished_at REAL
);
CREATE TABLE IF NOT EXISTS steps (
    course TEXT NOT NULL,
    step TEXT NOT NULL,
    passed_at REAL,
    hints_used INTEGER NOT NULL DEFAULT 0,
    solution_shown_at REAL,
    PRIMARY KEY (course, step)
);
"""


class ProgressError(DriftlabError):
    """The progress database cannot be read or written."""


def _when(value: float | None) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if value is not None else None


@dataclass(frozen=True)
class StepProgress:
    """What the learner did on one step."""

    step: str
    passed_at: datetime | None = None
    hints_used: int = 0
    solution_shown_at: datetime | None = None

    @property
    def passed(self) -> bool:
        return self.passed_at is not None


@dataclass(frozen=True)
class CourseProgress:
    """A course's progress; a course never opened has no current step and no dates."""

    course: str
    current_step: str | None = None
    source: str | None = None
    started_at: datetime | None = None
    last_opened: datetime | None = None
    finished_at: datetime | None = None
    steps: Mapping[str, StepProgress] = field(default_factory=dict)

    @property
    def opened(self) -> bool:
        return self.started_at is not None

    @property
    def finished(self) -> bool:
        return self.finished_at is not None

    def step(self, step_id: str) -> StepProgress:
        return self.steps.get(step_id) or StepProgress(step_id)

    def passed(self, step_id: str) -> bool:
        return self.step(step_id).passed

    @property
    def passed_steps(self) -> tuple[str, ...]:
        """Ids of the passed steps, in the order they passed."""
        done = [entry for entry in self.steps.values() if entry.passed_at is not None]
        return tuple(entry.step for entry in sorted(done, key=lambda entry: entry.passed_at or 0))


class ProgressStore:
    """Reads and writes progress; safe to share between threads of one process and between processes."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path if path is not None else paths.progress_file()
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    # Connection ---------------------------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            try:
                paths.private_file(self.path)
                conn = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=FULL")
                conn.executescript(_SCHEMA)
            except sqlite3.Error as err:
                raise self._error(err) from err
            self._conn = conn
        return self._conn

    def _error(self, err: sqlite3.Error) -> ProgressError:
        return ProgressError(
            f"cannot use the progress database {self.path}: {err}; if it is damaged, move it aside and "
            "driftlab starts a new one (progress in it is lost)"
        )

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._connect()
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            except sqlite3.Error as err:
                raise self._error(err) from err

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> ProgressStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Reading ------------------------------------------------------------------------------------------------

    def load(self, course: str) -> CourseProgress:
        """The course's progress (empty when it was never opened)."""
        with self._transaction() as conn:
            return self._load(conn, course)

    def courses(self) -> list[CourseProgress]:
        """Every course ever opened, the most recently opened first."""
        with self._transaction() as conn:
            names = [row[0] for row in conn.execute("SELECT course FROM courses ORDER BY last_opened DESC")]
            return [self._load(conn, name) for name in names]

    def _load(self, conn: sqlite3.Connection, course: str) -> CourseProgress:
        row = conn.execute(
            "SELECT current_step, source, started_at, last_opened, finished_at FROM courses WHERE course = ?",
            (course,),
        ).fetchone()
        steps = {
            step: StepProgress(step, _when(passed), hints, _when(shown))
            for step, passed, hints, shown in conn.execute(
                "SELECT step, passed_at, hints_used, solution_shown_at FROM steps WHERE course = ?", (course,)
            )
        }
        if row is None:
            return CourseProgress(course, steps=steps)
        current, source, started, opened, finished = row
        return CourseProgress(course, current, source, _when(started), _when(opened), _when(finished), steps)

    # Writing ------------------------------------------------------------------------------------------------

    def open(self, course: str, first_step: str, source: str | None = None) -> CourseProgress:
        """Start the course at `first_step` if it is new; either way, note that it was opened now."""
        now = time.time()
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO courses (course, current_step, source, started_at, last_opened) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (course) DO UPDATE SET last_opened = excluded.last_opened, "
                "source = COALESCE(excluded.source, courses.source)",
                (course, first_step, source, now, now),
            )
            return self._load(conn, course)

    def set_current(self, course: str, step: str) -> CourseProgress:
        """Move to `step` (going back to an earlier step, or jumping ahead); the course is no longer finished."""
        with self._transaction() as conn:
            self._require(conn, course)
            conn.execute("UPDATE courses SET current_step = ?, finished_at = NULL WHERE course = ?", (step, course))
            return self._load(conn, course)

    def mark_passed(self, course: str, step: str) -> CourseProgress:
        """Record that `step` passed now, without moving the current step."""
        with self._transaction() as conn:
            self._require(conn, course)
            self._passed(conn, course, step)
            return self._load(conn, course)

    def pass_and_advance(self, course: str, step: str, next_step: str | None) -> CourseProgress:
        """Record that `step` passed and make `next_step` current (None: the course is finished), atomically."""
        with self._transaction() as conn:
            self._require(conn, course)
            self._passed(conn, course, step)
            if next_step is None:
                conn.execute(
                    "UPDATE courses SET current_step = NULL, finished_at = COALESCE(finished_at, ?) WHERE course = ?",
                    (time.time(), course),
                )
            else:
                conn.execute("UPDATE courses SET current_step = ? WHERE course = ?", (next_step, course))
            return self._load(conn, course)

    def reveal_hint(self, course: str, step: str) -> int:
        """Count one more hint revealed on `step`; returns how many have been revealed."""
        with self._transaction() as conn:
            self._require(conn, course)
            conn.execute(
                "INSERT INTO steps (course, step, hints_used) VALUES (?, ?, 1) "
                "ON CONFLICT (course, step) DO UPDATE SET hints_used = steps.hints_used + 1",
                (course, step),
            )
            row = conn.execute("SELECT hints_used FROM steps WHERE course = ? AND step = ?", (course, step))
            return int(row.fetchone()[0])

    def show_solution(self, course: str, step: str) -> CourseProgress:
        """Note that the solution of `step` was shown (the first time counts)."""
        with self._transaction() as conn:
            self._require(conn, course)
            conn.execute(
                "INSERT INTO steps (course, step, solution_shown_at) VALUES (?, ?, ?) "
                "ON CONFLICT (course, step) DO UPDATE SET "
                "solution_shown_at = COALESCE(steps.solution_shown_at, excluded.solution_shown_at)",
                (course, step, time.time()),
            )
            return self._load(conn, course)

    def forget(self, course: str) -> None:
        """Drop everything recorded about the course, so it starts over."""
        with self._transaction() as conn:
            conn.execute("DELETE FROM steps WHERE course = ?", (course,))
            conn.execute("DELETE FROM courses WHERE course = ?", (course,))

    def _require(self, conn: sqlite3.Connection, course: str) -> None:
        if conn.execute("SELECT 1 FROM courses WHERE course = ?", (course,)).fetchone() is None:
            raise ProgressError(f"course {course!r} was never opened; start it with: driftlab lab up {course}")

    @staticmethod
    def _passed(conn: sqlite3.Connection, course: str, step: str) -> None:
        conn.execute(
            "INSERT INTO steps (course, step, passed_at) VALUES (?, ?, ?) "
            "ON CONFLICT (course, step) DO UPDATE SET passed_at = COALESCE(steps.passed_at, excluded.passed_at)",
            (course, step, time.time()),
        )
