"""Pictures of the TUI at 120×40 and 80×24: the picker, the lesson in its main states (the GitOps tab and demo
mode among them), help and dialogs.

Sessions are FakeSessions (scripted lab events, fixed resources and a fixed clock), so nothing on screen
depends on time, ports or pod names. Update with `pytest tests/tui/test_snapshots.py --snapshot-update` after
looking at the report.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from textual.pilot import Pilot

from engine.lab.demo import INSTANT, DemoSettings
from engine.lab.progress import ProgressStore
from engine.tui.screens.lesson import LessonScreen
from engine.tui.widgets.checks_panel import ChecksPanel
from engine.tui.widgets.demo_pane import DemoPane

from .fakes import BASICS, PIPELINES, passing
from .pilots import settle

SIZES = [pytest.param((120, 40), id="120x40"), pytest.param((80, 24), id="80x24")]
Snap = Callable[..., bool]


async def lesson_ready(pilot: Pilot[Any]) -> None:
    await settle(pilot)
    assert isinstance(pilot.app.screen, LessonScreen) and pilot.app.screen.ready


def then(*steps: Callable[[Pilot[Any]], Awaitable[None]]) -> Callable[[Pilot[Any]], Awaitable[None]]:
    async def run(pilot: Pilot[Any]) -> None:
        for step in steps:
            await step(pilot)

    return run


def press(*keys: str) -> Callable[[Pilot[Any]], Awaitable[None]]:
    async def run(pilot: Pilot[Any]) -> None:
        await pilot.press(*keys)
        await settle(pilot)

    return run


@pytest.mark.parametrize("size", SIZES)
def test_picker_resumes_the_last_course(snap_compare: Snap, fake_app: Any, store: ProgressStore, size: Any) -> None:
    opened = store.open("basics", "greeting", str(BASICS / "course.yaml"))
    store.pass_and_advance("basics", "greeting", "scale")
    assert opened.last_opened is not None
    two_hours_later = opened.last_opened.timestamp() + 7200
    assert snap_compare(fake_app(clock=lambda: two_hours_later), terminal_size=size, run_before=settle)


@pytest.mark.parametrize("size", SIZES)
def test_lesson_while_the_lab_starts(snap_compare: Snap, fake_app: Any, size: Any) -> None:
    hold, reached = threading.Event(), threading.Event()

    async def at_the_seed(pilot: Pilot[Any]) -> None:
        await asyncio.to_thread(reached.wait, 10)
        await pilot.pause()

    app = fake_app(course=str(BASICS), hold=hold, reached=reached)
    assert snap_compare(app, terminal_size=size, run_before=at_the_seed)


@pytest.mark.parametrize("size", SIZES)
def test_lesson_with_failing_checks(snap_compare: Snap, fake_app: Any, size: Any) -> None:
    assert snap_compare(fake_app(course=str(BASICS)), terminal_size=size, run_before=lesson_ready)


@pytest.mark.parametrize("size", SIZES)
def test_lesson_with_a_passed_step_and_a_hint(snap_compare: Snap, fake_app: Any, size: Any) -> None:
    app = fake_app(course=str(BASICS), results=passing)
    assert snap_compare(app, terminal_size=size, run_before=then(lesson_ready, press("h")))


@pytest.mark.parametrize("size", SIZES)
def test_lesson_of_a_lab_with_repos_shows_its_pipelines(snap_compare: Snap, fake_app: Any, size: Any) -> None:
    app = fake_app(course=str(PIPELINES))
    assert snap_compare(app, terminal_size=size, run_before=then(lesson_ready, press("l", "l")))


@pytest.mark.parametrize("size", SIZES)
def test_help(snap_compare: Snap, fake_app: Any, size: Any) -> None:
    assert snap_compare(fake_app(course=str(BASICS)), terminal_size=size, run_before=then(lesson_ready, press("?")))


@pytest.mark.parametrize("size", SIZES)
def test_reset_asks_first(snap_compare: Snap, fake_app: Any, size: Any) -> None:
    assert snap_compare(fake_app(course=str(BASICS)), terminal_size=size, run_before=then(lesson_ready, press("r")))


@pytest.mark.parametrize("size", SIZES)
def test_error_dialog_when_the_lab_cannot_start(snap_compare: Snap, fake_app: Any, size: Any) -> None:
    app = fake_app(course=str(BASICS), fail="the embedded cluster 'lab-basics' did not start; port 6443 is taken")
    assert snap_compare(app, terminal_size=size, run_before=settle)


@pytest.mark.parametrize("size", SIZES)
def test_the_gitops_tab_of_a_lab_with_flux(snap_compare: Snap, fake_app: Any, size: Any) -> None:
    app = fake_app(course=str(BASICS), agents=["flux"])
    assert snap_compare(app, terminal_size=size, run_before=then(lesson_ready, press("l")))


async def demo_played(pilot: Pilot[Any]) -> None:
    """Until the demo typed the first step's solution and the step is recorded (the demo runs on threads)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while loop.time() < deadline:
        await settle(pilot)
        screen = pilot.app.screen
        if isinstance(screen, LessonScreen) and screen.query(DemoPane):
            played = "solution played" in str(screen.query_one(DemoPane).border_subtitle)
            if played and screen.query_one(ChecksPanel).has_class("-recorded"):
                return
        await pilot.pause(0.02)
    raise AssertionError("the demo did not play the step")


@pytest.mark.parametrize("size", SIZES)
def test_demo_mode_after_typing_the_first_step(snap_compare: Snap, fake_app: Any, size: Any) -> None:
    outputs = {"kubectl create configmap greeting --from-literal=message=hello": "configmap/greeting created\r\n"}
    app = fake_app(course=str(BASICS), demo=DemoSettings(autostart=True, rhythm=INSTANT), outputs=outputs)
    assert snap_compare(app, terminal_size=size, run_before=demo_played)
