"""Workshop mode: each session asks the learner's name first, refuses a bad one saying why, and then runs with
that learner's own state folder (progress, labs), so two learners never share one and the same name resumes.
Each app here stands for one browser tab's process; the environment is put back between them as a new process
would start with the server's."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Input, Static

from engine import paths
from engine.lab.progress import ProgressStore
from engine.tui.app import DriftlabApp
from engine.tui.screens.learner import LearnerScreen
from engine.tui.screens.lesson import LessonScreen
from engine.tui.screens.picker import PickerScreen
from engine.tui.workshop import learner_name_problem, learners_with_state

from .fakes import BASICS, COURSES, NOW, FakeSession
from .pilots import KEYS_FILE, settle


@pytest.fixture
def presenter_home(driftlab_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The server's home; DRIFTLAB_LEARNER unset, and both put back after the test whatever the app set."""
    monkeypatch.delenv("DRIFTLAB_LEARNER", raising=False)
    paths.home()
    return driftlab_home


def workshop_app(course: str | None = None) -> DriftlabApp:
    """The app as `driftlab start --workshop` runs it, on the test courses, opening courses as FakeSessions on
    whatever progress store the app holds once the learner said who they are."""
    app: DriftlabApp

    def session(arg: str) -> FakeSession:
        return FakeSession(Path(arg), app.store)

    app = DriftlabApp(
        course=course,
        courses_root=COURSES,
        clock=lambda: NOW,
        keymap_file=KEYS_FILE,
        session_factory=session,
        terminal=False,
        workshop=True,
    )
    return app


def tab(home: Path, name: str, course: str | None = None, check: Callable[[DriftlabApp], Any] | None = None) -> Any:
    """One browser tab: a new process (the server's environment) whose learner types `name` and Enter."""
    os.environ["DRIFTLAB_HOME"] = str(home)
    os.environ.pop("DRIFTLAB_LEARNER", None)
    app = workshop_app(course)

    async def journey() -> Any:
        async with app.run_test(size=(110, 34)) as pilot:
            await settle(pilot)
            assert isinstance(app.screen, LearnerScreen)
            await pilot.press(*name, "enter")
            await settle(pilot)
            seen = check(app) if check else None
            app.store.close()
            return seen

    return asyncio.run(journey())


def cards(app: DriftlabApp) -> dict[str, Any]:
    picker = next(screen for screen in app.screen_stack if isinstance(screen, PickerScreen))
    return {card.name: card for card in picker.cards}


@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("", "Type your name first, for example ada."),
        ("Ada", "'A' is a capital letter: use lowercase letters only, as in ada."),
        ("ada lovelace", "No spaces, please: join the words with '-', as in ada-lovelace."),
        ("ada_l", "'_' cannot be part of a name: use lowercase letters, digits and '-'."),
        ("../ada", "'.' cannot be part of a name: use lowercase letters, digits and '-'."),
        ("7ada", "Start with a letter."),
        ("ada-", "End with a letter or a digit, not '-'."),
        ("a" * 31, "That is 31 characters: use at most 30."),
    ],
)
def test_a_bad_name_is_refused_saying_what_is_wrong(name: str, said: str) -> None:
    assert learner_name_problem(name) == said


@pytest.mark.parametrize("name", ["ada", "ada-lovelace", "b2", "a" * 30])
def test_good_names_pass(name: str) -> None:
    assert learner_name_problem(name) is None


def test_the_name_screen_refuses_a_bad_name_and_keeps_asking(presenter_home: Path) -> None:
    app = workshop_app()

    async def journey() -> None:
        async with app.run_test(size=(110, 34)) as pilot:
            await settle(pilot)
            assert isinstance(app.screen, LearnerScreen)
            await pilot.press(*"Ada", "enter")
            await settle(pilot)
            assert isinstance(app.screen, LearnerScreen)
            problem = app.screen.query_one("#learner-problem", Static)
            assert str(problem.render()) == "'A' is a capital letter: use lowercase letters only, as in ada."
            app.screen.query_one("#learner-name", Input).value = ""
            await pilot.press("enter")
            await settle(pilot)
            assert str(problem.render()) == "Type your name first, for example ada."

    asyncio.run(journey())
    assert not paths.learners_dir().exists()
    assert os.environ["DRIFTLAB_HOME"] == str(presenter_home)


def test_a_good_name_opens_the_picker_on_that_learners_own_progress(presenter_home: Path) -> None:
    ada_home = presenter_home / "learners" / "ada"
    with ProgressStore(paths.learner_home("ada") / "progress.sqlite3") as store:
        store.open("basics", "greeting", str(BASICS / "course.yaml"))
        store.pass_and_advance("basics", "greeting", "scale")

    def seen(app: DriftlabApp) -> tuple[Any, ...]:
        title = app.screen.query_one("#picker-title", Static)
        return type(app.screen), str(title.render()), cards(app)["basics"], app.store.path, dict(os.environ)

    screen, title, basics, store_path, environment = tab(presenter_home, "ada", check=seen)
    assert screen is PickerScreen
    assert title == "driftlab  ·  pick a course  ·  ada"
    assert (basics.started, basics.passed) == (True, 1)
    assert store_path == ada_home / "progress.sqlite3"
    assert environment["DRIFTLAB_HOME"] == str(ada_home)
    assert environment["DRIFTLAB_LEARNER"] == "ada"
    assert (ada_home.stat().st_mode & 0o777) == 0o700


def test_two_learners_have_separate_state_and_the_same_name_resumes(presenter_home: Path) -> None:
    def opened(app: DriftlabApp) -> tuple[type, Path]:
        return type(app.screen), app.store.path

    # `driftlab serve --workshop basics`: the course opens straight after the name.
    ada_screen, ada_store = tab(presenter_home, "ada", course=str(BASICS), check=opened)
    bob_screen, bob_store = tab(presenter_home, "bob", check=lambda app: (type(app.screen), app.store.path))
    assert ada_screen is LessonScreen and bob_screen is PickerScreen
    assert ada_store == presenter_home / "learners" / "ada" / "progress.sqlite3"
    assert bob_store == presenter_home / "learners" / "bob" / "progress.sqlite3"
    assert not (presenter_home / "progress.sqlite3").exists()

    bob_basics = tab(presenter_home, "bob", check=lambda app: cards(app)["basics"])
    assert not bob_basics.started
    ada_basics = tab(presenter_home, "ada", check=lambda app: cards(app)["basics"])
    assert ada_basics.started and ada_basics.last_opened is not None
    os.environ["DRIFTLAB_HOME"] = str(presenter_home)
    assert learners_with_state() == ["ada", "bob"]


@pytest.mark.parametrize("size", [pytest.param((120, 40), id="120x40"), pytest.param((80, 24), id="80x24")])
def test_snapshot_the_name_screen_explains_a_refused_name(
    snap_compare: Callable[..., bool], presenter_home: Path, size: tuple[int, int]
) -> None:
    async def refused(pilot: Any) -> None:
        await settle(pilot)
        await pilot.press(*"ada lovelace", "enter")
        await settle(pilot)

    assert snap_compare(workshop_app(), terminal_size=size, run_before=refused)
