"""The TUI's headless façade on a real embedded lab: starting with a progress event per phase, cancelling a
start, the live watch of a step's checks, recording a pass, and the resources feed."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine import proc
from engine.checks.results import StepResult
from engine.cluster.embedded.settings import PodTimings
from engine.lab.lab import down_all
from engine.lab.progress import ProgressStore
from engine.lab.resources_view import ResourceRow
from engine.lab.session import LabCancelled, LabSession, PhaseEvent

ROOT = Path(__file__).resolve().parents[2]
BASICS = ROOT / "tests" / "lab_courses" / "courses" / "basics"
TIMEOUT = 30.0

pytestmark = pytest.mark.slow


@pytest.fixture
def session(driftlab_home: Path) -> Iterator[LabSession]:
    store = ProgressStore(driftlab_home / "progress.sqlite3")
    yield LabSession.load(BASICS, trusted=True, store=store, timings=PodTimings().scaled(0))
    down_all(purge=True)
    store.close()


def kubectl(session: LabSession, *args: str) -> None:
    env = {"KUBECONFIG": str(session.runtime.kubeconfig_path())}
    result = proc.run([proc.tool("kubectl"), "-n", "work", *args], env=env, timeout=60)
    assert result.ok, result.stderr


def test_start_tells_each_phase_and_the_step_is_watched_until_it_passes(session: LabSession) -> None:
    events: list[PhaseEvent] = []
    session.start(events.append)
    told = [(event.phase, event.state) for event in events]
    assert told == [
        ("cluster", "running"),
        ("cluster", "done"),
        ("git", "skipped"),
        ("seed", "running"),
        ("seed", "done"),
        ("setup", "running"),
        ("setup", "done"),
        ("agent", "skipped"),
    ]
    assert events[0].detail == "starting cluster lab-basics"
    assert events[5].detail == "setting up step 1: Create the greeting"
    assert events[-1].detail == "this lab has no GitOps agent"

    step = session.current()
    assert step is not None and step.id == "greeting"
    results: list[StepResult] = []
    changed = threading.Condition()

    def got(result: StepResult) -> None:
        with changed:
            results.append(result)
            changed.notify_all()

    watch = session.watch(step, got)
    try:
        with changed:
            assert changed.wait_for(lambda: results and results[-1].passed is False, TIMEOUT)
        kubectl(session, "create", "configmap", "greeting", "--from-literal=message=hello")
        with changed:
            assert changed.wait_for(lambda: results[-1].passed, TIMEOUT)
    finally:
        watch.stop()
    outcome = session.complete(step)
    assert outcome.passed and outcome.next_step is not None and outcome.next_step.id == "scale"
    assert session.current() == outcome.next_step


def test_a_second_start_skips_what_is_done(session: LabSession) -> None:
    session.start(lambda event: None)
    events: list[PhaseEvent] = []
    session.start(events.append)
    assert ("seed", "skipped") in [(event.phase, event.state) for event in events]
    assert ("setup", "skipped") in [(event.phase, event.state) for event in events]


def test_a_cancelled_start_stops_the_lab_it_started(session: LabSession) -> None:
    cancel = threading.Event()

    def on_phase(event: PhaseEvent) -> None:
        if event.phase == "cluster" and event.state == "done":
            cancel.set()

    with pytest.raises(LabCancelled, match="cancelled"):
        session.start(on_phase, cancel)
    assert not session.runtime.cluster.status().running
    events: list[PhaseEvent] = []
    session.start(events.append)
    assert ("seed", "done") in [(event.phase, event.state) for event in events]


def test_the_resources_feed_shows_the_labs_namespace(session: LabSession) -> None:
    session.start(lambda event: None)
    seen: list[list[ResourceRow]] = []
    arrived = threading.Condition()

    def rows(found: list[ResourceRow]) -> None:
        with arrived:
            seen.append(found)
            arrived.notify_all()

    feed = session.resources(rows, lambda connected, message: None)
    try:
        kubectl(session, "create", "deployment", "web", "--image=nginx:1.25")
        with arrived:
            assert arrived.wait_for(lambda: seen and any(row.kind == "Pod" for row in seen[-1]), TIMEOUT)
        names = [(row.level, row.kind, row.name) for row in seen[-1]]
        assert (0, "Namespace", "work") in names
        assert (1, "Deployment", "web") in names
    finally:
        feed.stop()
