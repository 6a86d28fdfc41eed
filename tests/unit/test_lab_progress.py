"""Progress: what a learner did per course, persisted in SQLite, atomic and durable across killed processes."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from engine.lab.progress import ProgressError, ProgressStore

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def store(tmp_path: Path) -> ProgressStore:
    opened = ProgressStore(tmp_path / "progress.sqlite3")
    yield opened
    opened.close()


def test_a_course_never_opened_has_no_progress(store: ProgressStore) -> None:
    progress = store.load("shop")
    assert not progress.opened
    assert progress.current_step is None
    assert progress.passed_steps == ()
    assert store.courses() == []


def test_opening_starts_at_the_first_step_and_reopening_keeps_the_place(store: ProgressStore) -> None:
    first = store.open("shop", "one", "/courses/shop/course.yaml")
    assert first.current_step == "one"
    assert first.source == "/courses/shop/course.yaml"
    assert first.started_at is not None and first.last_opened is not None
    store.pass_and_advance("shop", "one", "two")
    again = store.open("shop", "one")
    assert again.current_step == "two"
    assert again.source == "/courses/shop/course.yaml"
    assert again.started_at == first.started_at
    assert again.last_opened is not None and again.last_opened >= first.last_opened


def test_passing_records_a_timestamp_and_moves_on_until_finished(store: ProgressStore) -> None:
    store.open("shop", "one")
    after_one = store.pass_and_advance("shop", "one", "two")
    assert after_one.current_step == "two"
    assert after_one.passed("one") and not after_one.passed("two")
    assert after_one.step("one").passed_at is not None
    done = store.pass_and_advance("shop", "two", None)
    assert done.current_step is None
    assert done.finished
    assert done.passed_steps == ("one", "two")


def test_passing_again_keeps_the_first_time(store: ProgressStore) -> None:
    store.open("shop", "one")
    first = store.mark_passed("shop", "one").step("one").passed_at
    assert store.mark_passed("shop", "one").step("one").passed_at == first


def test_mark_passed_does_not_move_the_current_step(store: ProgressStore) -> None:
    store.open("shop", "one")
    progress = store.mark_passed("shop", "three")
    assert progress.current_step == "one"
    assert progress.passed("three")


def test_set_current_goes_back_and_unfinishes(store: ProgressStore) -> None:
    store.open("shop", "one")
    store.pass_and_advance("shop", "one", None)
    progress = store.set_current("shop", "one")
    assert progress.current_step == "one"
    assert not progress.finished


def test_hints_and_solution_are_counted_per_step(store: ProgressStore) -> None:
    store.open("shop", "one")
    assert store.reveal_hint("shop", "one") == 1
    assert store.reveal_hint("shop", "one") == 2
    assert store.reveal_hint("shop", "two") == 1
    first = store.show_solution("shop", "one").step("one").solution_shown_at
    progress = store.show_solution("shop", "one")
    assert progress.step("one").solution_shown_at == first
    assert progress.step("one").hints_used == 2
    assert progress.step("two").solution_shown_at is None


def test_courses_are_kept_apart_and_listed_by_last_opened(store: ProgressStore) -> None:
    store.open("shop", "one")
    store.open("bank", "intro")
    store.pass_and_advance("bank", "intro", "accounts")
    assert store.load("shop").current_step == "one"
    assert [progress.course for progress in store.courses()] == ["bank", "shop"]
    store.open("shop", "one")
    assert [progress.course for progress in store.courses()] == ["shop", "bank"]


def test_forget_starts_the_course_over(store: ProgressStore) -> None:
    store.open("shop", "one")
    store.pass_and_advance("shop", "one", "two")
    store.forget("shop")
    assert not store.load("shop").opened
    assert store.open("shop", "one").passed_steps == ()


def test_writing_to_a_course_never_opened_says_how_to_start_it(store: ProgressStore) -> None:
    with pytest.raises(ProgressError, match="never opened; start it with: driftlab lab up shop"):
        store.pass_and_advance("shop", "one", "two")


def test_a_damaged_database_is_reported_with_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "progress.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(ProgressError, match="move it aside"):
        ProgressStore(path).load("shop")


def test_the_database_is_in_wal_mode_under_driftlab_home(driftlab_home: Path) -> None:
    with ProgressStore() as default:
        default.open("shop", "one")
        assert default.path == driftlab_home / "progress.sqlite3"
    mode = sqlite3.connect(driftlab_home / "progress.sqlite3").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from engine.lab.progress import ProgressStore

    store = ProgressStore(Path(sys.argv[1]))
    store.open("shop", "s0")
    i = 0
    while True:
        store.pass_and_advance("shop", f"s{i}", f"s{i + 1}")
        store.reveal_hint("shop", f"s{i + 1}")
        print(i, flush=True)
        i += 1
    """
)


def test_a_process_killed_while_writing_leaves_every_committed_change_and_no_half_change(tmp_path: Path) -> None:
    path = tmp_path / "progress.sqlite3"
    child = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert child.stdout is not None
    confirmed = -1
    for line in child.stdout:
        confirmed = int(line)
        if confirmed >= 40:
            break
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert confirmed >= 40

    with ProgressStore(path) as store:
        progress = store.load("shop")
    passed = len(progress.passed_steps)
    assert passed > confirmed  # nothing that was committed is lost
    # Each transaction passed s<i> and moved to s<i+1> together: the two always agree.
    assert progress.passed_steps == tuple(f"s{i}" for i in range(passed))
    assert progress.current_step == f"s{passed}"
    assert sqlite3.connect(path).execute("PRAGMA integrity_check").fetchone()[0] == "ok"
