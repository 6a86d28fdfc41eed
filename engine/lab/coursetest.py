"""`driftlab course test`: prove that every step's checks fail before its solution and pass after it.

A throwaway lab (its own cluster, pod timings at zero, its own progress) runs on a scratch copy of the course
folder, so the solution's file edits never touch the original. For every step, in order:

1. its setup runs;
2. its checks must not all pass yet: they get `SETTLE` seconds (things set up may still be moving), and if
   they all pass, the checks are broken: they cannot tell whether the learner did the work;
3. its solution runs: file edits on the scratch copy, then each command typed into a real bash (pexpect) with
   the lab's KUBECONFIG; a command that exits non-zero fails the step;
4. its checks must all pass within the step's timeout, else within the longest check timeout but at least
   `GRACE` seconds (the embedded controllers act a moment after kubectl returns).

A step without checks only has its setup and solution run. A failing setup, solution or step stops the test
(later steps build on it); broken checks are reported and the test goes on. The cluster is removed at the end,
also after Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from ..checks.results import StepResult
from ..checks.spec import Check
from ..checks.watcher import wait
from ..cluster.embedded.settings import PodTimings
from ..course import Course, Step
from .edits import EditError, apply_edit
from .lab import LabRuntime, cluster_name
from .progress import ProgressStore
from .runner import SetupError, tail, tool_environment
from .shell import learner_git_env
from .terminal import TypedShell
from .trust import require_trust, shell_code

SETTLE = 0.5
GRACE = 3.0
TEST_PREFIX = "coursetest-"
COMMAND_TIMEOUT = 300.0

# GitOps agents' intervals in a course test: a 1m interval takes 3 s, long enough for a sync to stay Ready
# between two runs (each run marks it Unknown while it works, as Flux does), short enough for drift steps.
AGENT_SCALE = 0.05

PASSED, FAILED, BROKEN, NO_CHECKS, NOT_RUN, PREPARED = "passed", "failed", "broken", "no checks", "not run", "prepared"


@dataclass
class StepReport:
    """One row of the table: what happened to a step and how long each phase took (seconds)."""

    step: Step
    tested: bool = True
    result: str = NOT_RUN
    setup: float | None = None
    before: float | None = None
    solution: float | None = None
    after: float | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.result in (PASSED, NO_CHECKS, PREPARED)

    def fail(self, message: str, result: str = FAILED) -> None:
        self.result = result
        self.problems.append(f"step {self.step.id}: {message}")


@dataclass
class CourseTestReport:
    course: Course
    cluster: str
    steps: list[StepReport] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return bool(self.steps) and all(report.ok for report in self.steps)

    @property
    def problems(self) -> list[str]:
        return [problem for report in self.steps for problem in report.problems]

    def table(self) -> list[str]:
        rows = [("STEP", "SETUP", "BEFORE", "SOLUTION", "AFTER", "RESULT")]
        for report in self.steps:
            times = [report.setup, report.before, report.solution, report.after]
            rows.append(
                (report.step.id, *("-" if value is None else f"{value:.1f}s" for value in times), report.result)
            )
        widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
        lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
        verdict = "passed" if self.passed else "FAILED"
        lines.append(f"course {self.course.name}: {verdict} in {self.seconds:.1f}s")
        return lines


def scratch_copy(folder: Path, scratch: Path, levels: int = 2) -> Path:
    """A copy of the course folder inside `scratch`, at the same place below its `levels` parent folders,
    whose other entries are linked: paths such as ../../labs/x lead where they did, edits stay in the copy."""
    folder = folder.resolve()
    base = folder.parents[min(levels, len(folder.parents)) - 1] if folder.parents else folder
    source, target = base, scratch
    for name in folder.relative_to(base).parts:
        target.mkdir(exist_ok=True)
        for entry in source.iterdir():
            if entry.name != name and not (target / entry.name).exists():
                (target / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
        source, target = source / name, target / name
    shutil.copytree(folder, target, symlinks=True)
    return target


def check_limit(checks: list[Check], step: Step) -> float:
    if step.timeout is not None:
        return step.timeout
    return max([GRACE, *(_limit(check) for check in checks)])


def _limit(check: Check) -> float:
    return max([check.timeout, *(_limit(child) for child in (check.all or []) + (check.any or []))])


def run_course_test(
    course: Course,
    *,
    step_id: str | None = None,
    trusted: bool = False,
    retry: str = "",
    on_step: Callable[[StepReport], None] | None = None,
) -> CourseTestReport:
    """Test the course (every step, or the steps up to `step_id` with only that one tested)."""
    steps = list(course.steps)
    if step_id is not None:
        steps = steps[: steps.index(course.step(step_id)) + 1]
    require_trust(course, shell_code(steps, solutions=True), trusted, retry)
    name = cluster_name(course.name, TEST_PREFIX, f"-{secrets.token_hex(3)}")
    report = CourseTestReport(course, name)
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="driftlab-course-test-") as scratch:
        workdir = scratch_copy(course.folder, Path(scratch))
        store = ProgressStore(Path(scratch) / "progress.sqlite3")
        runtime = LabRuntime(
            course,
            trusted=True,
            store=store,
            cluster=name,
            timings=PodTimings().scaled(0),
            workdir=workdir,
            agent_scale=AGENT_SCALE,
        )
        try:
            with _sigterm_as_interrupt():
                _run(runtime, steps, step_id, report, on_step)
        finally:
            daemon = runtime.daemon()
            if daemon is not None:
                with contextlib.suppress(Exception):
                    daemon.down()
            with contextlib.suppress(Exception):
                runtime.cluster.down(purge=True)
            if daemon is not None:
                shutil.rmtree(daemon.state_dir, ignore_errors=True)
            store.close()
            report.seconds = time.monotonic() - start
    return report


def _run(
    runtime: LabRuntime,
    steps: list[Step],
    step_id: str | None,
    report: CourseTestReport,
    on_step: Callable[[StepReport], None] | None,
) -> None:
    cluster = runtime.start()
    daemon = runtime.daemon()
    if daemon is not None:
        daemon.up(cluster.pid)
    try:
        runtime.seed()
        runtime.bootstrap()
    except SetupError as err:
        first = StepReport(steps[0])
        first.fail(str(err))
        report.steps.append(first)
    else:
        with TypedShell(runtime.workdir, solution_environment(runtime)) as shell:
            for step in steps:
                current = StepReport(step, tested=step_id is None or step.id == step_id)
                report.steps.append(current)
                _step(runtime, shell, current)
                if on_step is not None:
                    on_step(current)
                if current.result == FAILED:
                    break
    report.steps += [StepReport(step) for step in steps[len(report.steps) :]]


def solution_environment(runtime: LabRuntime) -> dict[str, str]:
    """What `driftlab shell` gives a learner: the lab's KUBECONFIG and kubectl, `driftlab` itself on PATH,
    the lab's name for `driftlab pipeline`, and git set up for the lab's Git server (with its address in
    DRIFTLAB_GIT_URL)."""
    env = tool_environment(runtime.kubeconfig_path())
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    # Nobody is there to page through `git log` or `git diff`; a pager would wait for a key press forever.
    env.update(PAGER="cat", GIT_PAGER="cat")
    if runtime.daemon() is None:
        return env
    env.update(learner_git_env(runtime), DRIFTLAB_LAB=runtime.state_name, GIT_TERMINAL_PROMPT="0")
    return env


def _step(runtime: LabRuntime, shell: TypedShell, report: StepReport) -> None:
    step = report.step
    with _timer(report, "setup"):
        try:
            runtime.runner().run_setup(step)
        except SetupError as err:
            report.fail(str(err).removeprefix(f"step {step.id}: "))
            return
    if step.checks and step.solution is None:
        report.fail("it has checks but no solution, so they cannot be tested")
        return
    context = runtime.context()
    if step.checks and report.tested:
        with _timer(report, "before"):
            before = wait(step.checks, context, timeout=SETTLE)
        if before.passed:
            _broken(report, before)
    if step.solution is not None:
        with _timer(report, "solution"):
            if not _solve(runtime, shell, report):
                return
    if not step.checks:
        report.result = NO_CHECKS
        return
    limit = check_limit(step.checks, step)
    with _timer(report, "after"):
        after = wait(step.checks, context, timeout=limit)
    if not after.passed:
        for result in after.results:
            if result.passed is not True:
                report.fail(f"check {result.name!r} does not pass {limit:g}s after the solution: {result.message}")
        return
    if report.result != BROKEN:
        report.result = PASSED if report.tested else PREPARED


def _broken(report: StepReport, before: StepResult) -> None:
    for result in before.results:
        report.fail(
            f"check {result.name!r} already passes before the solution ({result.message}), so it cannot tell "
            "whether the learner did the step",
            BROKEN,
        )


def _solve(runtime: LabRuntime, shell: TypedShell, report: StepReport) -> bool:
    solution = report.step.solution
    if solution is None:
        return True
    for edit in solution.files:
        try:
            apply_edit(runtime.workdir, edit)
        except EditError as err:
            report.fail(f"solution: {err}")
            return False
    for command in solution.commands:
        typed = shell.type(command, timeout=COMMAND_TIMEOUT)
        if typed.timed_out:
            report.fail(f"solution command `{command}` did not finish within {COMMAND_TIMEOUT:g}s")
            return False
        if not typed.ok:
            said = tail(typed.output, 10)
            report.fail(f"solution command `{command}` exited with {typed.exit_code}" + (f":\n{said}" if said else ""))
            return False
    return True


@contextlib.contextmanager
def _timer(report: StepReport, phase: str) -> Iterator[None]:
    start = time.monotonic()
    try:
        yield
    finally:
        setattr(report, phase, (getattr(report, phase) or 0.0) + time.monotonic() - start)


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (a CI job cancelled) interrupts like Ctrl-C, so the throwaway cluster is removed."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
