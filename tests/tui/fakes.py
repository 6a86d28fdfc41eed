"""A LabSession without a cluster, for snapshot tests: the real course, progress store and Markdown, and
scripted lab events (phases, check results, resources), so every picture is the same on every run."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.checks.results import CheckResult, StepResult
from engine.course import Step, load_course
from engine.lab.lab import CheckOutcome
from engine.lab.progress import ProgressStore
from engine.lab.resources_view import CommitRow, Meaning, RepoHistory, ResourceRow
from engine.lab.session import DONE, PHASES, RUNNING, SKIPPED, LabCancelled, LabSession, PhaseEvent
from engine.lab.shell import ShellLaunch
from engine.pipeline import LogLine, Run

ROOT = Path(__file__).resolve().parents[2]
COURSES = ROOT / "tests" / "lab_courses" / "courses"
BASICS = COURSES / "basics"
PIPELINES = COURSES / "pipelines"
NOW = 1_750_000_000.0

ROWS = [
    ResourceRow(0, "Namespace", "work", "work", "Active", Meaning.NEUTRAL, age="4m"),
    ResourceRow(1, "Deployment", "work", "web", "Progressing", Meaning.PENDING, "1/3", "", "2m"),
    ResourceRow(2, "Pod", "work", "web-5d8f7c9b6-2xkqp", "Running", Meaning.OK, "1/1", "0", "2m"),
    ResourceRow(2, "Pod", "work", "web-5d8f7c9b6-8hz4m", "ContainerCreating", Meaning.PENDING, "0/1", "0", "3s"),
    ResourceRow(2, "Pod", "work", "web-5d8f7c9b6-vt9wr", "CrashLoopBackOff", Meaning.ERROR, "0/1", "4", "3s"),
]
HISTORY = [
    RepoHistory(
        "app",
        "main",
        (
            CommitRow("4f9c2e1" + "0" * 33, "Say pushed", "learner", NOW - 120),
            CommitRow("9a0b7c3" + "0" * 33, "Seed the app", "driftlab", NOW - 3600),
        ),
    )
]
RUNS = [
    Run(2, "app", "refs/heads/main", "4f9c2e1" + "0" * 33, "9a0b7c3", "Say pushed", "learner", "learner", "running",
        NOW - 30, NOW - 28, None, "", False),
    Run(1, "app", "refs/heads/main", "9a0b7c3" + "0" * 33, "0" * 40, "Seed the app", "driftlab", "driftlab",
        "succeeded", NOW - 3600, NOW - 3599, NOW - 3590, "", False),
]  # fmt: skip
LOG = [
    LogLine(1, 2, NOW - 28, None, "sys", "run 2 of app at 4f9c2e1: job deploy"),
    LogLine(2, 2, NOW - 27, 0, "out", "configmap/app-config configured"),
]


def failing(step: Step) -> StepResult:
    """Every check of the step failing, as the evaluator reports a missing object."""
    return StepResult(
        tuple(
            CheckResult(check.name, check.kind, False, "ConfigMap work/greeting does not exist")
            for check in step.checks
        )
    )


def passing(step: Step) -> StepResult:
    return StepResult(tuple(CheckResult(check.name, check.kind, True, "as expected") for check in step.checks))


class FakeWatch:
    def __init__(self, on_result: Callable[[StepResult], None]) -> None:
        self.on_result = on_result
        self.triggers = 0
        self.stopped = False
        self.latest: StepResult | None = None

    def trigger(self) -> None:
        self.triggers += 1

    def stop(self) -> None:
        self.stopped = True


class FakeFeed:
    def __init__(self) -> None:
        self.stopped = False
        self.selected: list[int | None] = []

    def stop(self) -> None:
        self.stopped = True

    def select(self, run_id: int | None) -> None:
        self.selected.append(run_id)


class FakeSession(LabSession):
    """`hold` keeps start() waiting after the cluster phase until released (to picture provisioning);
    `fail` makes start() fail with that message; `results` is what the watch reports at once."""

    def __init__(self, course_folder: Path, store: ProgressStore, **script: Any) -> None:
        super().__init__(load_course(str(course_folder)), trusted=True, store=store)
        self.hold: threading.Event | None = script.get("hold")
        self.reached: threading.Event = script.get("reached") or threading.Event()
        self.fail: str | None = script.get("fail")
        self.results: Callable[[Step], StepResult] = script.get("results", failing)
        self.watches: list[FakeWatch] = []
        self.feeds: list[FakeFeed] = []
        self.resets = 0
        self.calls: list[str] = []

    def start(self, on_phase: Callable[[PhaseEvent], None], cancel: threading.Event | None = None) -> Any:
        from engine.errors import DriftlabError

        self.runtime.store.open(self.name, self.course.steps[0].id, str(self.course.source))
        on_phase(PhaseEvent("cluster", RUNNING, "starting cluster lab-" + self.name))
        if self.fail:
            on_phase(PhaseEvent("cluster", "failed", self.fail))
            raise DriftlabError(self.fail)
        on_phase(PhaseEvent("cluster", DONE, "running"))
        on_phase(PhaseEvent("seed", RUNNING, "creating the namespaces and applying the seed"))
        if self.hold is not None:
            self.reached.set()
            while not self.hold.wait(0.02):
                if cancel is not None and cancel.is_set():
                    raise LabCancelled("starting the lab was cancelled")
        for phase in PHASES:
            on_phase(PhaseEvent(phase, SKIPPED if phase in ("git", "agent") else DONE, ""))
        return None

    def watch(self, step: Step, on_result: Callable[[StepResult], None]) -> Any:
        watch = FakeWatch(on_result)
        self.watches.append(watch)
        result = self.results(step)
        watch.latest = result
        on_result(result)
        return watch

    def complete(self, step: Step) -> CheckOutcome:
        following = self.following(step)
        self.runtime.store.pass_and_advance(self.name, step.id, following.id if following else None)
        return CheckOutcome(step, self.results(step), True, following, following is None)

    def go_to(self, step: Step) -> Step:
        self.runtime.store.set_current(self.name, step.id)
        return step

    def reset(self) -> Any:
        self.resets += 1
        return None

    def shell(self) -> ShellLaunch:
        return ShellLaunch("true", ["true"], {}, f"(driftlab:{self.name})")

    def resources(self, on_rows: Callable[..., None], on_connection: Callable[..., None]) -> Any:
        on_rows(list(ROWS))
        return self._feed()

    def git_history(self, on_history: Callable[..., None]) -> Any:
        on_history(list(HISTORY))
        return self._feed()

    def pipelines(self, on_runs: Callable[..., None], on_log: Callable[..., None]) -> Any:
        on_runs(list(RUNS))
        on_log(2, list(LOG), True)
        return self._feed()

    def _feed(self) -> FakeFeed:
        feed = FakeFeed()
        self.feeds.append(feed)
        return feed
