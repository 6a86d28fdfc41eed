"""Fixtures for the TUI tests: a progress store in a home of the test's own, and apps on the test courses whose
sessions are scripted (FakeSession)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.lab.demo import DemoSettings
from engine.lab.progress import ProgressStore
from engine.tui.app import DriftlabApp

from .fakes import COURSES, NOW, ROOT, FakeSession
from .pilots import KEYS_FILE


@pytest.fixture(autouse=True)
def in_the_repository(monkeypatch: pytest.MonkeyPatch) -> None:
    """Courses outside driftlab's own are named by their folder relative to here, on screen too."""
    monkeypatch.chdir(ROOT)


@pytest.fixture
def store(driftlab_home: Path) -> Iterator[ProgressStore]:
    opened = ProgressStore(driftlab_home / "progress.sqlite3")
    yield opened
    opened.close()


@pytest.fixture
def fake_app(store: ProgressStore) -> Callable[..., DriftlabApp]:
    """An app whose sessions are FakeSessions; `script` goes to each FakeSession (hold, fail, results, agents,
    cluster, outputs); `demo` sets demo mode up."""

    def make(
        course: str | None = None,
        clock: Callable[[], float] = lambda: NOW,
        demo: DemoSettings | None = None,
        **script: Any,
    ) -> DriftlabApp:
        app = DriftlabApp(
            course=course,
            courses_root=COURSES,
            store=store,
            clock=clock,
            keymap_file=KEYS_FILE,
            session_factory=lambda arg: FakeSession(Path(arg), store, **script),
            terminal=False,
            demo=demo,
        )
        return app

    return make
