"""Demo mode on a scripted session: the solution is typed into the demo's pane and the checks turn green with no
key pressed; the presenter moves on with n (or auto-next does); `d` asks first; esc stops the demo cleanly; a
step the demo cannot type becomes a dialog. Nothing sleeps: tests await the messages the app handles."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from textual import events
from textual.pilot import Pilot
from textual.worker import Worker, WorkerState

from engine.lab.demo import INSTANT, PLAYED, DemoError, DemoSettings
from engine.lab.progress import ProgressStore
from engine.tui.app import DriftlabApp
from engine.tui.screens.dialogs import ConfirmDialog, ErrorDialog
from engine.tui.screens.lesson import LessonScreen
from engine.tui.widgets.checks_panel import ChecksPanel
from engine.tui.widgets.demo_pane import DemoPane, ScreenView

from .fakes import BASICS, FakeSession
from .pilots import Messages, settle

GREETING = "kubectl create configmap greeting --from-literal=message=hello"
SCALE = "kubectl scale deployment web --replicas=3"
DEMO = DemoSettings(autostart=True, rhythm=INSTANT)
Journey = Callable[[DriftlabApp, Pilot[Any], Messages], Awaitable[None]]


def drive(app: DriftlabApp, journey: Journey, size: tuple[int, int] = (120, 40)) -> Messages:
    messages = Messages()

    async def run() -> None:
        async with app.run_test(size=size, message_hook=messages.hook) as pilot:
            await journey(app, pilot, messages)

    asyncio.run(run())
    return messages


def lesson(app: DriftlabApp) -> LessonScreen:
    screen = app.screen
    assert isinstance(screen, LessonScreen), f"on {type(screen).__name__}"
    return screen


def session(app: DriftlabApp) -> FakeSession:
    found = lesson(app).session
    assert isinstance(found, FakeSession)
    return found


def demo_screen(app: DriftlabApp) -> list[str]:
    shot = lesson(app).query_one(ScreenView).shot
    assert shot is not None
    return shot.text()


def recorded(step_id: str) -> Callable[[Any], bool]:
    return lambda m: isinstance(m, LessonScreen.StepRecorded) and m.step.id == step_id


def played(step_id: str) -> Callable[[Any], bool]:
    return lambda m: isinstance(m, LessonScreen.DemoChanged) and m.event.kind == PLAYED and m.event.step_id == step_id


def test_demo_mode_types_the_solution_and_the_checks_pass_with_no_key_pressed(
    fake_app: Any, store: ProgressStore
) -> None:
    async def journey(app: DriftlabApp, pilot: Pilot[Any], messages: Messages) -> None:
        await messages.wait_for(recorded("greeting"), timeout=10)
        await messages.wait_for(played("greeting"), timeout=10)
        await settle(pilot)
        screen = lesson(app)
        assert screen.has_class("-demo")
        assert session(app).shells[0].ran == [GREETING]
        lines = demo_screen(app)
        typed = f"(driftlab:basics) $ {GREETING}".replace(" ", "")
        assert "".join(lines).replace(" ", "").startswith(typed), "the command, as typed (and wrapped)"
        assert "configmap/greeting created" in lines
        assert screen.query_one(ChecksPanel).has_class("-passed")
        assert "solution played" in str(screen.query_one(DemoPane).border_subtitle)
        assert store.load("basics").passed("greeting")

    app = fake_app(course=str(BASICS), demo=DEMO, outputs={GREETING: "configmap/greeting created\r\n"})
    seen = drive(app, journey).seen
    assert not [m for m in seen if isinstance(m, events.Key)], "no key was pressed"


def test_the_presenter_moves_on_with_n_and_the_next_step_is_typed(fake_app: Any, store: ProgressStore) -> None:
    async def journey(app: DriftlabApp, pilot: Pilot[Any], messages: Messages) -> None:
        await messages.wait_for(recorded("greeting"), timeout=10)
        await settle(pilot)
        assert session(app).shells[0].ran == [GREETING], "nothing more is typed until the presenter asks"
        await pilot.press("n")
        await messages.wait_for(recorded("scale"), timeout=10)
        await settle(pilot)
        assert session(app).shells[0].ran == [GREETING, SCALE]
        assert f"(driftlab:basics) $ {SCALE}".replace(" ", "") in "".join(demo_screen(app)).replace(" ", "")

    drive(fake_app(course=str(BASICS), demo=DEMO), journey)
    assert store.load("basics").passed("scale")


def test_auto_next_plays_the_course_on_by_itself(fake_app: Any, store: ProgressStore) -> None:
    async def journey(app: DriftlabApp, pilot: Pilot[Any], messages: Messages) -> None:
        await messages.wait_for(recorded("settings"), timeout=20)
        await settle(pilot)
        ran = session(app).shells[0].ran
        assert ran[:2] == [GREETING, SCALE]
        assert ran[2] == "cat > settings.yaml <<'EOF'", "the patched file is written with a heredoc"
        assert "  mode: final" in ran and ran[-1] == "kubectl apply -f settings.yaml"

    settings = DemoSettings(autostart=True, auto_next=True, rhythm=INSTANT)
    drive(fake_app(course=str(BASICS), demo=settings), journey)
    assert store.load("basics").finished
    assert "mode: draft" in (BASICS / "settings.yaml").read_text(), "the demo's fake shell wrote no file"


def test_d_asks_first_and_esc_stops_the_demo_without_leaving_the_lesson(fake_app: Any) -> None:
    async def journey(app: DriftlabApp, pilot: Pilot[Any], messages: Messages) -> None:
        await settle(pilot)
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("enter")  # Cancel has the focus
        await settle(pilot)
        assert not lesson(app).query(DemoPane)

        await pilot.press("d", "tab", "enter")
        await messages.wait_for(recorded("greeting"), timeout=10)
        await settle(pilot)
        shell = session(app).shells[0]
        assert lesson(app).query(DemoPane) and not shell.closed

        await pilot.press("escape")
        await settle(pilot)
        screen = lesson(app)
        assert not screen.query(DemoPane) and not screen.has_class("-demo")
        assert "Demo stopped." in str(screen.query_one("#flash").render())
        assert await asyncio.to_thread(shell.gone.wait, 5), "the demo's shell was closed"
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, LessonScreen), "a second esc goes back to the courses"

    drive(fake_app(course=str(BASICS)), journey)


def test_a_step_the_demo_cannot_type_becomes_a_dialog(fake_app: Any) -> None:
    class Unplayable(FakeSession):
        def demo_actions(self, step: Any) -> list[Any]:
            raise DemoError("the patch of settings.yaml does not apply: @@ -4,5 +4,5 @@: these lines are not there")

    app = fake_app(course=str(BASICS), demo=DEMO)
    app.session_factory = lambda arg: Unplayable(Path(arg), app.store)

    async def journey(app: DriftlabApp, pilot: Pilot[Any], messages: Messages) -> None:
        await messages.wait_for(lambda m: isinstance(m, Worker.StateChanged) and m.state == WorkerState.ERROR)
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, ErrorDialog)
        assert dialog.title_text == "The demo cannot play this step"
        assert "the patch of settings.yaml does not apply" in dialog.message

    drive(app, journey)
