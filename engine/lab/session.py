"""The lab as an interactive front end needs it: a headless façade over LabRuntime, ProgressStore and the watches.

The TUI draws what this module (and catalogue.py, the course list) hands it and calls back into it; it does
nothing else. Everything here is plain Python (no UI toolkit): starting a lab with a progress event per phase
and cancellation, a live watch of the current step's checks, hints, the solution, reset, moving between steps,
the learner's shell, demo mode's shell and typist, and the feeds of the lab panel (resources, Git, pipelines,
GitOps agents). Calls that take time (start, reset, moving to a step whose setup must run, recording a pass,
starting the demo's shell) block, so a UI runs them off its drawing thread; watches, feeds and the demo call
back on threads of their own.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .. import paths
from ..checks.results import StepResult
from ..cluster.embedded.settings import PodTimings
from ..course import Course, Step, load_course
from ..errors import DriftlabError
from .lab import CheckOutcome, LabRuntime, LabStatus, step_after
from .progress import CourseProgress, ProgressStore
from .resources_view import RepoHistory, ResourceRow
from .shell import SHELL_FOLDER, ShellLaunch, prepare_shell
from .trust import require_trust, shell_code

if TYPE_CHECKING:
    from ..checks.watcher import CheckWatcher
    from ..pipeline import LogLine, Run
    from .demo import Clock, DemoAction, DemoEvent, DemoPlayer, Rhythm, ScreenShot
    from .feeds import GitFeed, GitOpsFeed, PipelineFeed, ResourceFeed
    from .resources_view import AgentRow

CLUSTER, SEED, GIT, AGENT, SETUP = "cluster", "seed", "git", "agent", "setup"
PHASES = (CLUSTER, SEED, GIT, AGENT, SETUP)
PHASE_TITLES = {
    CLUSTER: "Cluster",
    SEED: "Seed",
    GIT: "Git server",
    AGENT: "GitOps agent",
    SETUP: "Step setup",
}
RUNNING, DONE, SKIPPED, FAILED = "running", "done", "skipped", "failed"
PASSED_STEP, OPEN_STEP = "passed", "open"


class LabCancelled(DriftlabError):
    """Starting the lab was cancelled; what had started was stopped again."""


@dataclass(frozen=True)
class PhaseEvent:
    """One phase of starting a lab changed state; `detail` is a line for the learner (may be empty)."""

    phase: str
    state: str
    detail: str = ""

    @property
    def title(self) -> str:
        return PHASE_TITLES.get(self.phase, self.phase)


@dataclass(frozen=True)
class StepState:
    """One row of the step list: whether the step passed, and whether it is the one on screen."""

    id: str
    title: str
    state: str  # PASSED_STEP or OPEN_STEP
    number: int
    shown: bool = False


# ----------------------------------------------------------------------------------------------------
# Pure helpers


def solution_markdown(step: Step) -> str:
    """The step's solution as Markdown: file edits first (as the runner applies them), then the commands."""
    solution = step.solution
    if solution is None or (not solution.commands and not solution.files):
        return "This step has no written solution."
    parts: list[str] = []
    for edit in solution.files:
        if edit.content is not None:
            parts.append(f"Write `{edit.path}`:\n\n```\n{edit.content.rstrip()}\n```")
        else:
            parts.append(f"Change `{edit.path}`:\n\n```diff\n{(edit.patch or '').rstrip()}\n```")
    if solution.commands:
        parts.append("Run:\n\n```bash\n" + "\n".join(solution.commands) + "\n```")
    return "\n\n".join(parts)


def block_commands(code: str) -> list[str]:
    """The commands of a code block: its lines without blanks and comments, `\\` continuations joined."""
    commands: list[str] = []
    pending = ""
    for line in code.splitlines():
        text = line.strip()
        if not pending and (not text or text.startswith("#")):
            continue
        if text.endswith("\\"):
            pending += text[:-1].rstrip() + " "
            continue
        commands.append(pending + text)
        pending = ""
    if pending.strip():
        commands.append(pending.strip())
    return commands


def with_history(launch: ShellLaunch, commands: Sequence[str], folder: Path) -> ShellLaunch:
    """The same shell with `commands` put in its history, so ↑ recalls them and nothing runs by itself (bash and
    zsh; other shells start as they are). Its start-up file is written into `folder`."""
    kind = Path(launch.program).name
    folder.mkdir(parents=True, exist_ok=True)
    if kind == "bash" and "--rcfile" in launch.args:
        rcfile = launch.args[launch.args.index("--rcfile") + 1]
        lines = [f". {shlex.quote(rcfile)}", *(f"history -s {shlex.quote(command)}" for command in commands)]
        (folder / "bashrc").write_text("\n".join(lines) + "\n")
        return ShellLaunch(
            launch.program, [launch.program, "--rcfile", str(folder / "bashrc"), "-i"], launch.env, launch.marker
        )
    if kind == "zsh" and "ZDOTDIR" in launch.env:
        home = shlex.quote(launch.env["ZDOTDIR"])
        lines = [f"ZDOTDIR={home} . {home}/.zshrc", *(f"print -s -- {shlex.quote(command)}" for command in commands)]
        (folder / ".zshrc").write_text("\n".join(lines) + "\n")
        return ShellLaunch(launch.program, launch.args, {**launch.env, "ZDOTDIR": str(folder)}, launch.marker)
    return launch


# ----------------------------------------------------------------------------------------------------
# The watch of a step


class StepWatch:
    """The live results of one step's checks; `trigger()` re-evaluates now, `stop()` ends the watch."""

    def __init__(self, watcher: CheckWatcher) -> None:
        self._watcher = watcher

    @property
    def latest(self) -> StepResult | None:
        return self._watcher.latest

    def trigger(self) -> None:
        self._watcher.trigger()

    def stop(self) -> None:
        self._watcher.stop()


# ----------------------------------------------------------------------------------------------------
# The session


class LabSession:
    """One course's lab for an interactive front end. Blocking calls are marked; callbacks come on other threads."""

    def __init__(
        self,
        course: Course,
        *,
        trusted: bool = False,
        store: ProgressStore | None = None,
        timings: PodTimings | None = None,
    ) -> None:
        self.course = course
        retry = f"driftlab start {shlex.quote(str(course.folder))} --trust"
        self.runtime = LabRuntime(course, trusted=trusted, retry=retry, store=store, timings=timings)

    @classmethod
    def load(
        cls,
        course_arg: str | Path,
        *,
        trusted: bool = False,
        store: ProgressStore | None = None,
        timings: PodTimings | None = None,
    ) -> LabSession:
        """A session for the course at a folder, a course.yaml, or a shipped course's name."""
        return cls(load_course(str(course_arg)), trusted=trusted, store=store, timings=timings)

    @property
    def name(self) -> str:
        return self.course.name

    @property
    def course_arg(self) -> str:
        """How the learner names this course on the command line: its name when it is one of driftlab's own,
        else its folder (relative to the current one when inside it)."""
        from .trust import is_trusted

        if is_trusted(self.course):
            return self.name
        folder = self.course.folder.resolve()
        return str(folder.relative_to(Path.cwd())) if folder.is_relative_to(Path.cwd()) else str(folder)

    @property
    def trusted(self) -> bool:
        return self.runtime.trusted

    def trust(self) -> None:
        """Let the course run its shell code for the rest of this session (the learner said so)."""
        self.runtime.trusted = True

    @property
    def has_repos(self) -> bool:
        return bool(self.runtime.lab.repos)

    @property
    def agents(self) -> list[str]:
        """The GitOps agents the lab runs (`flux`, `argocd`); empty for a lab without any."""
        return list(self.runtime.lab.agents)

    # Progress -------------------------------------------------------------------------------------------------

    def progress(self) -> CourseProgress:
        return self.runtime.progress()

    def current(self) -> Step | None:
        """The step to show: the recorded current step, or None once the course is finished."""
        return self.runtime.current()

    def step_states(self, shown: Step | None) -> list[StepState]:
        """Every step with whether it passed; `shown` is the step on screen."""
        progress = self.progress()
        return [
            StepState(
                step.id,
                step.title,
                PASSED_STEP if progress.passed(step.id) else OPEN_STEP,
                number,
                shown is not None and step.id == shown.id,
            )
            for number, step in enumerate(self.course.steps, start=1)
        ]

    def position(self, step: Step) -> int:
        return self.course.steps.index(step) + 1

    def passed(self, step: Step) -> bool:
        return self.progress().passed(step.id)

    def instructions(self, step: Step) -> str:
        """The step's Markdown; a file that cannot be read is said in the text rather than raised."""
        try:
            return self.course.instructions(step)
        except OSError as err:
            return f"# {step.title}\n\nThe instructions of this step cannot be read: {err.strerror or err}"

    # Starting --------------------------------------------------------------------------------------------------

    def start(self, on_phase: Callable[[PhaseEvent], None], cancel: threading.Event | None = None) -> LabStatus:
        """Start (or resume) the lab, telling each phase as it goes. Blocking.

        When `cancel` is set, starting stops at the next phase boundary; a lab that was not running before is
        stopped again (its objects stay, so the next start resumes) and LabCancelled is raised."""
        cancel = cancel or threading.Event()
        cluster = self.runtime.cluster
        was_running = cluster.exists() and cluster.status().running
        told: dict[str, str] = {}

        def tell(phase: str, state: str, detail: str) -> None:
            if cancel.is_set():
                raise LabCancelled(f"starting the lab of {self.course.title!r} was cancelled")
            told[phase] = state
            on_phase(PhaseEvent(phase, state, self._describe(phase, state, detail)))

        try:
            status = self.runtime.up(on_phase=tell)
            if cancel.is_set():
                raise LabCancelled(f"starting the lab of {self.course.title!r} was cancelled")
        except LabCancelled:
            if not was_running:
                self._stop_quietly()
            raise
        except DriftlabError as err:
            running = [phase for phase, state in told.items() if state == RUNNING]
            if running:
                on_phase(PhaseEvent(running[-1], FAILED, (str(err).splitlines() or [""])[0]))
            raise
        for phase in PHASES:
            if phase not in told:
                on_phase(PhaseEvent(phase, SKIPPED, self._skipped_because(phase)))
        return status

    def _describe(self, phase: str, state: str, detail: str) -> str:
        """A line for the learner about a phase (addresses and ports are left out: they change every time)."""
        if state == RUNNING:
            if phase == SETUP:
                step = self.course.step(detail) if detail else None
                return f"setting up step {self.position(step)}: {step.title}" if step else "setting up"
            return {
                CLUSTER: f"starting cluster {detail}",
                GIT: "starting the Git server and pipelines",
                SEED: "creating the namespaces and applying the seed",
                AGENT: f"bootstrapping {detail}" if detail else "bootstrapping",
            }.get(phase, "")
        if state == DONE:
            repos = len(self.runtime.lab.repos)
            return {
                CLUSTER: "running",
                GIT: f"serving {repos} repositor{'y' if repos == 1 else 'ies'}",
                SEED: "seeded",
                AGENT: "syncing from Git",
                SETUP: "the step is ready",
            }.get(phase, "")
        if state == SKIPPED:
            return {SEED: "seeded before", SETUP: "nothing to set up"}.get(phase) or self._skipped_because(phase)
        return detail

    def _skipped_because(self, phase: str) -> str:
        if phase == AGENT:
            if self.runtime.lab.agents:
                return "nothing to bootstrap"
            return "this lab has no GitOps agent"
        if phase == GIT:
            return "this lab has no Git repositories"
        return ""

    def _stop_quietly(self) -> None:
        with contextlib.suppress(DriftlabError):
            self.runtime.down()

    # The step --------------------------------------------------------------------------------------------------

    def watch(self, step: Step, on_result: Callable[[StepResult], None]) -> StepWatch:
        """Watch the step's checks; `on_result` gets every new result, on the watcher's thread."""
        from ..checks.watcher import CheckWatcher

        require_trust(self.course, shell_code([step], setup=False), self.runtime.trusted, self.runtime.retry)
        watcher = CheckWatcher(step.checks, self.runtime.context(), on_result)
        return StepWatch(watcher.start())

    def complete(self, step: Step) -> CheckOutcome:
        """Confirm the step passes and record it; the next step becomes current and is set up. Blocking."""
        return self.runtime.check(step.id, wait=False)

    def go_to(self, step: Step) -> Step:
        """Make `step` current and run the setups it needs (those not run since the lab was seeded). Blocking."""
        through = self.course.steps[: self.course.steps.index(step) + 1]
        require_trust(self.course, shell_code(through, checks=False), self.runtime.trusted, self.runtime.retry)
        self.runtime.store.set_current(self.name, step.id)
        for item in through:
            self.runtime.prepare(item)
        return step

    def following(self, step: Step) -> Step | None:
        return step_after(self.course, step)

    def preceding(self, step: Step) -> Step | None:
        index = self.course.steps.index(step)
        return self.course.steps[index - 1] if index > 0 else None

    def reset(self) -> LabStatus:
        """Return the current step to its start (see LabRuntime.reset). Blocking."""
        return self.runtime.reset()

    # Help -------------------------------------------------------------------------------------------------------

    def hints(self, step: Step) -> list[str]:
        """The hints revealed so far."""
        used = self.progress().step(step.id).hints_used
        return list(step.hints[: min(used, len(step.hints))])

    def reveal_hint(self, step: Step) -> list[str]:
        """Reveal one more hint (when there is one left); returns every hint revealed."""
        if len(self.hints(step)) < len(step.hints):
            self.runtime.store.reveal_hint(self.name, step.id)
        return self.hints(step)

    def solution(self, step: Step) -> str:
        """The solution as Markdown; noted in the progress as shown."""
        self.runtime.store.show_solution(self.name, step.id)
        return solution_markdown(step)

    def solution_shown(self, step: Step) -> bool:
        return self.progress().step(step.id).solution_shown_at is not None

    # The learner's terminal ------------------------------------------------------------------------------------

    def shell(self) -> ShellLaunch:
        """How to start the learner's shell with the lab's environment (as `driftlab shell` does)."""
        return prepare_shell(self.runtime)

    def demo(
        self,
        on_screen: Callable[[ScreenShot], None],
        on_event: Callable[[DemoEvent], None],
        *,
        rows: int,
        columns: int,
        rhythm: Rhythm | None = None,
        clock: Clock | None = None,
    ) -> DemoPlayer:
        """A started demo player: bash with the lab's environment (as `driftlab shell` sets it, plus driftlab on
        PATH and no pager), in the course's folder, on a `rows` × `columns` screen. Blocking (bash starts)."""
        import shutil

        from .demo import DemoError, start_demo

        bash = shutil.which("bash")
        if bash is None:
            raise DemoError("demo mode types into bash, which was not found on PATH")
        launch = prepare_shell(self.runtime, shell=bash)
        driftlab_bin = str(Path(sys.executable).parent)
        env = {**launch.env, "PATH": f"{launch.env.get('PATH', '')}{os.pathsep}{driftlab_bin}"}
        launch = ShellLaunch(launch.program, launch.args, env, launch.marker)
        folder = self.runtime.kubeconfig_path().parent / SHELL_FOLDER / "demo"
        return start_demo(
            launch,
            folder,
            self.runtime.workdir,
            on_screen,
            on_event,
            rows=rows,
            columns=columns,
            rhythm=rhythm,
            clock=clock,
        )

    def demo_actions(self, step: Step) -> list[DemoAction]:
        """What the demo types for `step`: its solution's file edits, then its commands."""
        from .demo import demo_actions

        require_trust(
            self.course,
            shell_code([step], setup=False, checks=False, solutions=True),
            self.runtime.trusted,
            self.runtime.retry,
        )
        return demo_actions(step, self.runtime.workdir)

    def block_launch(self, code: str) -> ShellLaunch:
        """The learner's shell with a code block's commands in its history, to run (or change) one by one."""
        folder = self.runtime.kubeconfig_path().parent / SHELL_FOLDER / "block"
        return with_history(self.shell(), block_commands(code), folder)

    # The lab panel ---------------------------------------------------------------------------------------------

    def resources(
        self, on_rows: Callable[[list[ResourceRow]], None], on_connection: Callable[[bool, str], None]
    ) -> ResourceFeed:
        """A started feed of the cluster's namespaces, workloads and pods."""
        from ..checks.kube import KubeReader
        from .feeds import ResourceFeed

        reader = KubeReader(self.runtime.kubeconfig_path())
        return ResourceFeed(reader, on_rows, on_connection).start()

    def git_history(self, on_history: Callable[[list[RepoHistory]], None]) -> GitFeed:
        """A started feed of the recent commits of each of the lab's repos."""
        from .feeds import GitFeed

        repos = [(repo.name, repo.branch) for repo in self.runtime.lab.repos]
        feed = GitFeed(paths.git_repos_dir(self.runtime.state_name), repos, on_history)
        feed.start()
        return feed

    def gitops(
        self, on_rows: Callable[[list[AgentRow]], None], on_connection: Callable[[bool, str], None]
    ) -> GitOpsFeed:
        """A started feed of the GitOps agents' sources and syncs (GitRepositories, Kustomizations,
        Applications)."""
        from ..checks.kube import KubeReader
        from .feeds import GitOpsFeed

        reader = KubeReader(self.runtime.kubeconfig_path())
        return GitOpsFeed(reader, on_rows, on_connection).start()

    def pipelines(
        self, on_runs: Callable[[list[Run]], None], on_log: Callable[[int, list[LogLine], bool], None]
    ) -> PipelineFeed:
        """A started feed of the lab's pipeline runs and the log of the selected one."""
        from .feeds import PipelineFeed

        feed = PipelineFeed(paths.pipeline_store(self.runtime.state_name), on_runs, on_log)
        feed.start()
        return feed
