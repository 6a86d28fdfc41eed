"""The main journeys through the TUI, driven with Pilot against a real embedded lab (the basics course of
tests/lab_courses): pick, provision, solve with kubectl, see the checks pass by themselves, move on; hints,
reset, resume after quitting, demo mode typing a step's solution into a real bash, and the dialog when the lab
cannot start.

Nothing sleeps: tests await the messages the watches and workers post, and the workers themselves.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual import events
from textual.pilot import Pilot

from engine import proc
from engine.cluster.embedded.settings import PodTimings
from engine.lab.demo import INSTANT, PLAYED, DemoSettings
from engine.lab.lab import down_all
from engine.lab.progress import ProgressStore
from engine.tui.app import DriftlabApp
from engine.tui.screens.dialogs import ConfirmDialog, ErrorDialog
from engine.tui.screens.lesson import LessonScreen
from engine.tui.screens.picker import PickerScreen
from engine.tui.widgets.checks_panel import ChecksPanel
from engine.tui.widgets.demo_pane import DemoPane, ScreenView
from engine.tui.widgets.instructions import Instructions
from engine.tui.widgets.step_list import StepList

from .fakes import BASICS, COURSES
from .pilots import KEYS_FILE, Messages, settle

pytestmark = pytest.mark.slow
Journey = Callable[[DriftlabApp, Pilot[Any], Messages], Awaitable[None]]


@pytest.fixture
def lab_home(driftlab_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A home of its own; every lab started in it is stopped and removed afterwards."""
    monkeypatch.setenv("HOME", str(driftlab_home.parent / "user"))
    monkeypatch.setenv("KUBECACHEDIR", str(driftlab_home.parent / "kube-cache"))
    yield driftlab_home
    down_all(purge=True)


def make_app(store: ProgressStore, course: str | None = None, demo: DemoSettings | None = None) -> DriftlabApp:
    return DriftlabApp(
        course=course,
        trusted=True,
        courses_root=COURSES,
        store=store,
        timings=PodTimings().scaled(0),
        keymap_file=KEYS_FILE,
        terminal=False,
        demo=demo,
    )


def drive(app: DriftlabApp, journey: Journey) -> Messages:
    """Run the app headless through `journey`; returns every message it dispatched."""
    messages = Messages()

    async def run() -> None:
        async with app.run_test(size=(120, 40), message_hook=messages.hook) as pilot:
            await journey(app, pilot, messages)

    asyncio.run(run())
    return messages


def kubectl(home: Path, *args: str) -> proc.Result:
    env = {"KUBECONFIG": str(home / "clusters" / "lab-basics" / "lab.kubeconfig"), "HOME": str(home.parent)}
    result = proc.run([proc.tool("kubectl"), "-n", "work", *args], env=env, timeout=60)
    assert result.ok, result.stderr
    return result


async def lesson_ready(app: DriftlabApp, pilot: Pilot[Any], messages: Messages) -> LessonScreen:
    await messages.wait_for_type(LessonScreen.LabReady, timeout=90)
    await messages.wait_for(lambda m: isinstance(m, LessonScreen.ChecksUpdated))
    await settle(pilot)
    screen = app.screen
    assert isinstance(screen, LessonScreen)
    return screen


def test_pick_a_course_solve_it_with_kubectl_and_the_next_step_is_offered(lab_home: Path, store: ProgressStore) -> None:
    async def journey(app: DriftlabApp, pilot: Pilot[Any], messages: Messages) -> None:
        await messages.wait_for_type(DriftlabApp.CatalogueRead)
        await pilot.pause()
        picker = app.screen
        assert isinstance(picker, PickerScreen)
        assert [card.name for card in picker.cards] == ["basics", "pipelines"]
        await pilot.press("enter")
        screen = await lesson_ready(app, pilot, messages)
        assert screen.step is not None and screen.step.id == "greeting"
        checks = screen.query_one(ChecksPanel)
        assert checks.result is not None and not checks.result.passed

        kubectl(lab_home, "create", "configmap", "greeting", "--from-literal=message=hello")
        recorded = await messages.wait_for_type(LessonScreen.StepRecorded)
        await settle(pilot)

        assert recorded.outcome.passed  # type: ignore[attr-defined]
        assert checks.result is not None and checks.result.passed
        assert checks.has_class("-passed")
        assert "Press n for step 2: Scale the web app" in str(checks.query_one("#checks-banner").render())
        assert store.load("basics").passed("greeting")
        await pilot.press("n")
        shown = await messages.wait_for_type(LessonScreen.StepShown, timeout=60, note="")
        await settle(pilot)
        assert shown.step.id == "scale"  # type: ignore[attr-defined]
        assert screen.step is not None and screen.step.id == "scale"
        assert [state.state for state in screen.session.step_states(screen.step)] == ["passed", "open", "open"]
        assert screen.query_one(StepList).highlighted == 1

    seen = drive(make_app(store), journey).seen
    ready = next(i for i, m in enumerate(seen) if isinstance(m, LessonScreen.LabReady))
    recorded = next(i for i, m in enumerate(seen) if isinstance(m, LessonScreen.StepRecorded))
    assert not [m for m in seen[ready:recorded] if isinstance(m, events.Key)], "no key was pressed to check"


def test_hints_are_revealed_one_at_a_time(lab_home: Path, store: ProgressStore) -> None:
    async def journey(app: DriftlabApp, pilot: Pilot[Any], messages: Messages) -> None:
        screen = await lesson_ready(app, pilot, messages)
        instructions = screen.query_one(Instructions)
        assert "Hint 1" not in instructions.document
        await pilot.press("h")
        await settle(pilot)
        assert "Hint 1 of 1" in instructions.document
        assert "`kubectl create configmap --help`" in instructions.document
        await pilot.press("h")
        await settle(pilot)
        assert instructions.document.count("Hint 1 of 1") == 1
        assert "Every hint of this step is shown already." in str(screen.query_one("#flash").render())

    drive(make_app(store, str(BASICS)), journey)
    assert store.load("basics").step("greeting").hints_used == 1


def test_reset_asks_first_then_returns_the_step_to_its_start(lab_home: Path, store: ProgressStore) -> None:
    store.open("basics", "greeting", str(BASICS / "course.yaml"))
    store.pass_and_advance("basics", "greeting", "scale")

    async def journey(app: DriftlabApp, pilot: Pilot[Any], messages: Messages) -> None:
        screen = await lesson_ready(app, pilot, messages)
        assert screen.step is not None and screen.step.id == "scale"
        kubectl(lab_home, "scale", "deployment", "web", "--replicas=2")

        await pilot.press("r")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("enter")  # Cancel has the focus: nothing happens
        await settle(pilot)
        assert app.screen is screen
        assert kubectl(lab_home, "get", "deployment", "web", "-o", "jsonpath={.spec.replicas}").stdout == "2"

        await pilot.press("r", "tab", "enter")
        await messages.wait_for_type(LessonScreen.StepShown, note="The step is back at its start.", timeout=90)
        await settle(pilot)
        assert kubectl(lab_home, "get", "deployment", "web", "-o", "jsonpath={.spec.replicas}").stdout == "1"
        assert "back at its start" in str(screen.query_one("#flash").render())

    drive(make_app(store, str(BASICS)), journey)


def test_resume_after_quitting_opens_the_same_step_with_its_hints(lab_home: Path, store: ProgressStore) -> None:
    async def first_visit(app: DriftlabApp, pilot: Pilot[Any], messages: Messages) -> None:
        await lesson_ready(app, pilot, messages)
        kubectl(lab_home, "create", "configmap", "greeting", "--from-literal=message=hello")
        await messages.wait_for_type(LessonScreen.StepRecorded)
        await pilot.press("n")
        await messages.wait_for(lambda m: isinstance(m, LessonScreen.StepShown) and m.step.id == "scale")
        await settle(pilot)
        await pilot.press("q")

    drive(make_app(store, str(BASICS)), first_visit)

    async def second_visit(app: DriftlabApp, pilot: Pilot[Any], messages: Messages) -> None:
        await messages.wait_for_type(DriftlabApp.CatalogueRead)
        await pilot.pause()
        picker = app.screen
        assert isinstance(picker, PickerScreen)
        assert picker.highlighted is not None and picker.highlighted.name == "basics"
        assert "Enter resumes" in str(picker.query_one("#course-detail").render())
        await pilot.press("enter")
        screen = await lesson_ready(app, pilot, messages)
        assert screen.step is not None and screen.step.id == "scale"
        labels = [str(option.prompt) for option in screen.query_one(StepList).options]
        assert labels[0].startswith("✓ 1.") and labels[1].startswith("▶ 2.")

    drive(make_app(store), second_visit)


def test_demo_mode_types_the_solution_into_bash_and_the_step_passes(lab_home: Path, store: ProgressStore) -> None:
    async def journey(app: DriftlabApp, pilot: Pilot[Any], messages: Messages) -> None:
        recorded = await messages.wait_for_type(LessonScreen.StepRecorded, timeout=90)
        assert recorded.step.id == "greeting" and recorded.outcome.passed  # type: ignore[attr-defined]
        await messages.wait_for(lambda m: isinstance(m, LessonScreen.DemoChanged) and m.event.kind == PLAYED)
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, LessonScreen)
        assert kubectl(lab_home, "get", "configmap", "greeting", "-o", "jsonpath={.data.message}").stdout == "hello"
        shot = screen.query_one(ScreenView).shot
        assert shot is not None
        typed = "".join(shot.text()).replace(" ", "")
        assert "(driftlab:basics)" in typed and "kubectlcreateconfigmapgreeting--from-literal=message=hello" in typed
        assert "configmap/greetingcreated" in typed
        assert screen.query_one(ChecksPanel).has_class("-passed")
        await pilot.press("escape")
        await settle(pilot)
        assert not screen.query(DemoPane) and app.screen is screen

    app = make_app(store, str(BASICS), demo=DemoSettings(autostart=True, rhythm=INSTANT))
    seen = drive(app, journey).seen
    recorded = next(i for i, m in enumerate(seen) if isinstance(m, LessonScreen.StepRecorded))
    assert not [m for m in seen[:recorded] if isinstance(m, events.Key)], "no key was pressed"
    assert store.load("basics").passed("greeting")


def test_an_error_dialog_says_why_the_lab_cannot_start(lab_home: Path, store: ProgressStore, tmp_path: Path) -> None:
    repository = tmp_path / "repository"
    shutil.copytree(BASICS.parents[1], repository)
    lab_file = repository / "labs" / "basics" / "lab.yaml"
    lab_file.write_text(lab_file.read_text().replace("backend: embedded", "backend: kind"))

    async def journey(app: DriftlabApp, pilot: Pilot[Any], messages: Messages) -> None:
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, ErrorDialog)
        assert dialog.title_text == "The lab cannot start"
        assert "runs only on the kind backend" in dialog.message
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, PickerScreen)

    drive(make_app(store, str(repository / "courses" / "basics")), journey)
