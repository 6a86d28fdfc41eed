"""The lesson screen's keys and dialogs, on a scripted session (no cluster): the command palette, a remapped key,
the solution behind a confirmation, code blocks, cancelling a start, trusting a course, and failures that
become dialogs instead of tracebacks."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from engine.lab.progress import ProgressStore
from engine.lab.trust import ShellCode, UntrustedCourse
from engine.tui.app import DriftlabApp
from engine.tui.screens.dialogs import ConfirmDialog, ErrorDialog
from engine.tui.screens.lesson import LessonScreen
from engine.tui.screens.picker import PickerScreen
from engine.tui.widgets.instructions import Instructions

from .fakes import BASICS, COURSES, NOW, FakeSession
from .pilots import settle

Journey = Callable[[DriftlabApp, Pilot[Any]], Awaitable[None]]


def drive(app: DriftlabApp, journey: Journey, size: tuple[int, int] = (120, 40), *, settled: bool = True) -> None:
    """Run the app headless through `journey`, once every worker finished (unless not `settled`)."""

    async def run() -> None:
        async with app.run_test(size=size) as pilot:
            if settled:
                await settle(pilot)
            await journey(app, pilot)

    asyncio.run(run())


def lesson(app: DriftlabApp) -> LessonScreen:
    screen = app.screen
    assert isinstance(screen, LessonScreen), f"on {type(screen).__name__}"
    return screen


def flash(app: DriftlabApp) -> str:
    return str(lesson(app).query_one("#flash").render())


def test_the_command_palette_offers_the_lesson_actions(fake_app: Any, store: ProgressStore) -> None:
    async def journey(app: DriftlabApp, pilot: Pilot[Any]) -> None:
        await pilot.press("ctrl+p")
        await pilot.press(*"hint")
        await pilot.pause()
        await pilot.press("enter")
        await settle(pilot)
        assert "Hint 1 of 1" in lesson(app).query_one(Instructions).document

    drive(fake_app(course=str(BASICS)), journey)
    assert store.load("basics").step("greeting").hints_used == 1


def test_a_key_remapped_in_keys_toml_works_and_the_old_one_does_not(store: ProgressStore, tmp_path: Path) -> None:
    keys = tmp_path / "keys.toml"
    keys.write_text('[keys]\n"lesson.hint" = "f1"\n')
    app = DriftlabApp(
        course=str(BASICS),
        courses_root=COURSES,
        store=store,
        clock=lambda: NOW,
        keymap_file=keys,
        session_factory=lambda arg: FakeSession(Path(arg), store),
        terminal=False,
    )

    async def journey(app: DriftlabApp, pilot: Pilot[Any]) -> None:
        await pilot.press("h")
        await settle(pilot)
        assert "Hint 1" not in lesson(app).query_one(Instructions).document
        await pilot.press("f1")
        await settle(pilot)
        assert "Hint 1 of 1" in lesson(app).query_one(Instructions).document

    drive(app, journey)


def test_a_wrong_keys_toml_is_explained_and_the_defaults_apply(store: ProgressStore, tmp_path: Path) -> None:
    keys = tmp_path / "keys.toml"
    keys.write_text('[keys]\n"lesson.hnit" = "f1"\n')
    app = DriftlabApp(courses_root=COURSES, store=store, keymap_file=keys, terminal=False)

    async def journey(app: DriftlabApp, pilot: Pilot[Any]) -> None:
        dialog = app.screen
        assert isinstance(dialog, ErrorDialog)
        assert "unknown action 'lesson.hnit'" in dialog.message and "The default keys apply." in dialog.message
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, PickerScreen)

    drive(app, journey)


def test_the_solution_is_shown_only_after_confirming(fake_app: Any, store: ProgressStore) -> None:
    async def journey(app: DriftlabApp, pilot: Pilot[Any]) -> None:
        await pilot.press("s")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("escape")
        await settle(pilot)
        assert "## Solution" not in lesson(app).query_one(Instructions).document
        assert not store.load("basics").step("greeting").solution_shown_at
        await pilot.press("s", "tab", "enter")
        await settle(pilot)
        document = lesson(app).query_one(Instructions).document
        assert (
            "## Solution" in document and "kubectl create configmap greeting --from-literal=message=hello" in document
        )

    drive(fake_app(course=str(BASICS)), journey)
    assert store.load("basics").step("greeting").solution_shown_at is not None


def test_code_blocks_are_selected_and_copied(fake_app: Any) -> None:
    async def journey(app: DriftlabApp, pilot: Pilot[Any]) -> None:
        screen = lesson(app)
        await pilot.press("y")
        assert "no code blocks" in flash(app)
        screen.session.solution(screen.step)  # type: ignore[arg-type]
        await pilot.press("s")
        await settle(pilot)
        await pilot.press("right_square_bracket")
        await pilot.press("y")
        await pilot.pause()
        assert app.clipboard == "kubectl create configmap greeting --from-literal=message=hello"
        assert "Copied" in flash(app)

    drive(fake_app(course=str(BASICS)), journey)


def test_next_and_previous_move_between_steps(fake_app: Any, store: ProgressStore) -> None:
    async def journey(app: DriftlabApp, pilot: Pilot[Any]) -> None:
        await pilot.press("p")
        assert "This is the first step." in flash(app)
        await pilot.press("n")
        await settle(pilot)
        assert lesson(app).step is not None and lesson(app).step.id == "scale"
        assert store.load("basics").current_step == "scale"
        await pilot.press("n", "n")
        await settle(pilot)
        assert lesson(app).step.id == "settings"  # type: ignore[union-attr]
        assert "This is the last step." in flash(app)
        await pilot.press("p")
        await settle(pilot)
        assert lesson(app).step.id == "scale"  # type: ignore[union-attr]

    drive(fake_app(course=str(BASICS)), journey)


def test_passing_checks_record_the_step_and_offer_the_next(fake_app: Any, store: ProgressStore) -> None:
    from .fakes import passing

    async def journey(app: DriftlabApp, pilot: Pilot[Any]) -> None:
        assert store.load("basics").passed("greeting")
        assert "press n for the next one" in flash(app)

    drive(fake_app(course=str(BASICS), results=passing), journey)


def test_esc_cancels_a_starting_lab_and_returns_to_the_picker(fake_app: Any) -> None:
    hold, reached = threading.Event(), threading.Event()

    async def journey(app: DriftlabApp, pilot: Pilot[Any]) -> None:
        await asyncio.to_thread(reached.wait, 10)
        await pilot.pause()
        assert not lesson(app).ready
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, PickerScreen)
        assert not hold.is_set()

    drive(fake_app(course=str(BASICS), hold=hold, reached=reached), journey, settled=False)


def test_an_untrusted_course_asks_for_trust_and_continues(fake_app: Any) -> None:
    class Untrusted(FakeSession):
        def start(self, on_phase: Any, cancel: Any = None) -> Any:
            if not self.runtime.trusted:
                code = [ShellCode("greeting", "setup", "kubectl create configmap marker")]
                raise UntrustedCourse(self.course, code, "driftlab start basics --trust")
            return super().start(on_phase, cancel)

    def factory(arg: str) -> FakeSession:
        session = Untrusted(Path(arg), app.store)
        session.runtime.trusted = False
        return session

    app = fake_app(course=str(BASICS))
    app.session_factory = factory

    async def journey(app: DriftlabApp, pilot: Pilot[Any]) -> None:
        dialog = app.screen
        assert isinstance(dialog, ConfirmDialog)
        assert "step greeting, setup: kubectl create configmap marker" in dialog.message
        await pilot.press("tab", "enter")
        await settle(pilot)
        assert lesson(app).ready

    drive(app, journey)


def test_a_failing_action_becomes_a_dialog_not_a_traceback(fake_app: Any) -> None:
    class Broken(FakeSession):
        def reveal_hint(self, step: Any) -> list[str]:
            raise RuntimeError("the progress database vanished")

    app = fake_app(course=str(BASICS))
    app.session_factory = lambda arg: Broken(Path(arg), app.store)

    async def journey(app: DriftlabApp, pilot: Pilot[Any]) -> None:
        await pilot.press("h")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, ErrorDialog)
        assert dialog.title_text == "That did not work"
        assert "RuntimeError: the progress database vanished" in dialog.message
        assert "This is a bug in driftlab" in dialog.message
        await pilot.press("enter")
        await pilot.pause()
        assert lesson(app).ready

    drive(app, journey)


def test_the_shell_key_explains_when_the_terminal_cannot_be_handed_over(fake_app: Any) -> None:
    async def journey(app: DriftlabApp, pilot: Pilot[Any]) -> None:
        await pilot.press("exclamation_mark")
        await settle(pilot)
        assert "run: driftlab shell tests/lab_courses/courses/basics" in flash(app)

    drive(fake_app(course=str(BASICS)), journey)


def test_at_80_columns_the_step_list_makes_room(fake_app: Any) -> None:
    async def journey(app: DriftlabApp, pilot: Pilot[Any]) -> None:
        assert lesson(app).has_class("-narrow")
        assert not lesson(app).query_one("#steps").display

    drive(fake_app(course=str(BASICS)), journey, size=(80, 24))
