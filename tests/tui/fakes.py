"""A LabSession without a cluster, for snapshot tests: the real course, progress store and Markdown, and
scripted lab events (phases, check results, resources, GitOps agents, a demo's shell), so every picture is the
same on every run."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.checks.memory import MemoryCluster
from engine.checks.results import CheckResult, StepResult
from engine.course import Step, load_course
from engine.lab.demo import INSTANT, DemoEvent, DemoPlayer, Emulator, ScreenShot
from engine.lab.feeds import GitOpsFeed
from engine.lab.lab import CheckOutcome
from engine.lab.progress import ProgressStore
from engine.lab.resources_view import AgentRow, CommitRow, Meaning, RepoHistory, ResourceRow
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
AGENT_ROWS = [
    AgentRow(
        "GitRepository",
        "flux-system",
        "fleet",
        "main@sha1:4f9c2e10",
        "True",
        Meaning.OK,
        "stored artifact for revision 'main@sha1:4f9c2e10'",
    ),
    AgentRow(
        "Kustomization",
        "flux-system",
        "shop",
        "main@sha1:9a0b7c30",
        "False",
        Meaning.ERROR,
        "kustomize build failed: accumulating resources: 'apps/shop/sale.yaml' not found",
    ),
    AgentRow(
        "Kustomization",
        "flux-system",
        "infra",
        "main@sha1:4f9c2e10",
        "Unknown",
        Meaning.PENDING,
        "Reconciliation in progress",
    ),
    AgentRow(
        "Kustomization",
        "flux-system",
        "monitoring",
        "main@sha1:4f9c2e10",
        "True, suspended",
        Meaning.KILLED,
        "Applied revision: main@sha1:4f9c2e10",
        suspended=True,
    ),
]
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


class ScriptedShell:
    """A shell for demo tests: echoes keys, and on Enter prints the line's scripted output, tells `on_run`, and
    shows the prompt with the demo's mark."""

    def __init__(self, token: str, prompt: str, outputs: dict[str, str], on_run: Callable[[str], None]) -> None:
        self.token = token
        self.prompt = prompt
        self.outputs = outputs
        self.on_run = on_run
        self.line = ""
        self.ran: list[str] = []
        self.closed = False
        self.gone = threading.Event()
        self.out: queue.Queue[str] = queue.Queue()
        self._prompt(0)

    def _prompt(self, code: int) -> None:
        self.out.put(f"\x1b]7770;{self.token};{code}\x07{self.prompt}")

    def send(self, text: str) -> None:
        for char in text:
            if char == "\r":
                line, self.line = self.line, ""
                self.ran.append(line)
                self.out.put("\r\n" + self.outputs.get(line, ""))
                self.on_run(line)
                self._prompt(0)
            elif char == "\x03":
                self.line = ""
                self.out.put("^C\r\n")
                self._prompt(130)
            else:
                self.line += char
                self.out.put(char)

    def read(self, timeout: float) -> str:
        if self.closed:
            raise EOFError
        try:
            return self.out.get(timeout=timeout)
        except queue.Empty:
            return ""

    def resize(self, rows: int, columns: int) -> None:
        pass

    def close(self) -> None:
        self.closed = True
        self.gone.set()


class FakeSession(LabSession):
    """`hold` keeps start() waiting after the cluster phase until released (to picture provisioning);
    `fail` makes start() fail with that message; `results` is what the watch reports at once. `agents` makes
    the lab one with GitOps agents, whose feed hands `agent_rows`, or follows `cluster` (a MemoryCluster) when
    given. The demo types into a ScriptedShell: running a step's last solution command makes its checks pass."""

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
        self.fake_agents: list[str] = script.get("agents", [])
        self.agent_rows: list[AgentRow] = script.get("agent_rows", list(AGENT_ROWS))
        self.cluster: MemoryCluster | None = script.get("cluster")
        self.outputs: dict[str, str] = script.get("outputs", {})
        self.watched: list[tuple[Step, FakeWatch]] = []
        self.shells: list[ScriptedShell] = []

    @property
    def agents(self) -> list[str]:
        return list(self.fake_agents)

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
        self.watched.append((step, watch))
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

    def gitops(self, on_rows: Callable[..., None], on_connection: Callable[..., None]) -> Any:
        if self.cluster is not None:
            return GitOpsFeed(self.cluster, on_rows, on_connection, debounce=0.01).start()
        on_rows(list(self.agent_rows))
        return self._feed()

    def demo(
        self,
        on_screen: Callable[[ScreenShot], None],
        on_event: Callable[[DemoEvent], None],
        *,
        rows: int,
        columns: int,
        rhythm: Any = None,
        clock: Any = None,
    ) -> DemoPlayer:
        shell = ScriptedShell("fake", f"(driftlab:{self.name}) $ ", self.outputs, self._ran)
        self.shells.append(shell)
        return DemoPlayer(shell, Emulator(rows, columns), "fake", on_screen, on_event, rhythm=INSTANT).start()

    def _ran(self, line: str) -> None:
        """A step whose last solution command ran passes from now on, as a watch would see it."""
        for step, watch in reversed(self.watched):
            if step.solution is not None and step.solution.commands[-1:] == [line]:
                self.results = passing
                if not watch.stopped:
                    watch.latest = passing(step)
                    watch.on_result(watch.latest)
                return

    def _feed(self) -> FakeFeed:
        feed = FakeFeed()
        self.feeds.append(feed)
        return feed
