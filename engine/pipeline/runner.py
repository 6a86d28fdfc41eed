"""The push-pipeline runner: a queue of runs per repo, each run's steps in a fresh checkout, all recorded.

Hosting it in the lab's daemon, on its event loop:

    runner = PipelineRunner(paths.pipeline_store(lab), paths.git_repos_dir(lab),
                            env={"KUBECONFIG": str(lab_kubeconfig)}, secrets=lab_secrets)
    server = GitServer(paths.git_repos_dir(lab), credentials, on_push=runner.on_push, ...)
    await runner.start(); await server.start()
    ...
    await server.stop(); await runner.stop()   # the server hands over the pushes it has taken, then stop

`on_push` returns at once and may be called from any thread; `run_forever()` is start() until stop().

A push is looked at in push order: a deleted branch, a tag, a commit without `.driftlab/pipeline.yaml` or a
branch the triggers do not name makes no run; anything else is queued (a pipeline file that does not load
makes a run that fails at once and logs why). Each repo has one worker that runs its queued runs one at a
time, oldest first; different repos run side by side. Runs, steps and logs live in the store, so a restart
resumes the queue and marks the run that was going as interrupted.

The store also keeps where each branch was when its last push was taken. A push that reached the repository
but not the runner (the daemon died between the two) is found at the next start, by comparing the branches
with what was recorded, and taken then like any other push (its pusher unknown). A repository the runner has
never seen is only recorded: its branches were seeded, not pushed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .. import proc
from ..gitserver.events import ZERO, PushEvent
from .errors import PipelineError, PipelineFileError
from .execute import StepOutcome, run_step
from .report import format_seconds
from .store import (
    CANCELLED,
    FAILED,
    INTERRUPTED,
    OUTPUT,
    QUEUED,
    RUNNER,
    RUNNING,
    SUCCEEDED,
    TIMED_OUT,
    LogLine,
    PipelineStore,
    Run,
    StepRecord,
)
from .workspace import Workspace, bare_repo, read_commit, sweep

if TYPE_CHECKING:  # the model (pydantic) loads when a push is looked at, not while the lab's daemon starts
    from .model import Pipeline, Step

log = logging.getLogger(__name__)

MASK = "***"
STOP_INTAKE_TIMEOUT = 5.0  # seconds stop() gives the pushes already taken to be looked at and queued
INTERRUPTED_NOTE = (
    "the runner stopped while this run was going (driftlab's daemon was stopped or crashed); "
    "the run is marked interrupted"
)


@dataclass(frozen=True)
class PipelineEvent:
    """A change to a run (queued, started, a step started or ended, finished), for the lab to react to."""

    run: Run
    step: StepRecord | None = None


Listener = Callable[[PipelineEvent], None]


def cancel_run(store: PipelineStore, run_id: int) -> Run:
    """Cancel a run from any process: a queued run never starts, a running one has its step killed.

    The flag is set before the step's process group is looked up and killed, and the runner checks the flag
    after recording each step's process, so a step starting at the same moment cannot slip through.
    """
    run = store.run(run_id)
    if run.finished:
        raise PipelineError(f"run {run_id} has already finished ({run.status})")
    if store.cancel_queued(run_id):
        store.append(run_id, [(time.time(), None, RUNNER, "cancelled before it started")])
        return store.run(run_id)
    if store.request_cancel(run_id):
        for step in store.steps(run_id):
            if step.status == RUNNING and step.pid:
                proc.kill_group(step.pid)
    return store.run(run_id)


def _orphan_groups(marker: bytes) -> set[int]:
    """Process groups whose processes carry `marker` in their environment (Linux /proc; elsewhere none)."""
    groups: set[int] = set()
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                groups.add(os.getpgid(int(entry.name)))
        except (OSError, ValueError):
            continue
    return groups - {os.getpgrp()}


class _RunLog:
    """Writes one run's log lines with secret values hidden, and wakes whoever follows the run."""

    def __init__(self, runner: PipelineRunner, run_id: int) -> None:
        self.runner = runner
        self.run_id = run_id
        self.masks: list[str] = []

    def note(self, text: str, step: int | None = None) -> None:
        self._write([(time.time(), step, RUNNER, self._masked(line)) for line in text.splitlines() or [""]])

    def output(self, step: int, texts: list[str]) -> None:
        now = time.time()
        self._write([(now, step, OUTPUT, self._masked(text)) for text in texts])

    def _masked(self, text: str) -> str:
        for secret in self.masks:
            text = text.replace(secret, MASK)
        return text

    def _write(self, lines: list[tuple[float, int | None, str, str]]) -> None:
        self.runner.store.append(self.run_id, lines)
        self.runner._notify(self.run_id)


@dataclass
class _Result:
    status: str
    error: str = ""


@dataclass
class _Context:
    """One run as it goes: what every step gets (`env`, then the step's own, then `ci` which nothing overrides)."""

    run: Run
    workspace: Workspace
    runlog: _RunLog
    env: dict[str, str] = field(default_factory=dict)
    ci: dict[str, str] = field(default_factory=dict)
    steps: int = 0


class PipelineRunner:
    """Runs repos' pipelines on push; see the module docstring for how to host it.

    `env` is what the lab gives every step; a KUBECONFIG in it names the lab's kubeconfig, of which each run
    gets its own copy (as a CI system writes its cluster credential to a file for the job). `kubeconfig` is
    the kubeconfig text itself, used instead when given. With neither, $KUBECONFIG names an empty file, so
    kubectl in a step never reaches the clusters of the user's own ~/.kube/config. `secrets` are the lab's
    secrets; a pipeline exposes those it names. Run folders go under `workdir` (default: `pipeline-work`
    beside the store).
    """

    def __init__(
        self,
        store: Path,
        repos_root: Path,
        env: Mapping[str, str] | None = None,
        secrets: Mapping[str, str] | None = None,
        *,
        kubeconfig: str | None = None,
        workdir: Path | None = None,
    ) -> None:
        self.store = PipelineStore(store)
        self.repos_root = repos_root
        self.env = dict(env or {})
        self.secrets = dict(secrets or {})
        self.kubeconfig = kubeconfig
        self.workdir = workdir or store.parent / "pipeline-work"
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()
        self._early: list[PushEvent] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self._queue: asyncio.Queue[PushEvent] = asyncio.Queue()
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._wake: dict[str, asyncio.Event] = {}
        self._changed: dict[int, asyncio.Event] = {}
        self._stopped = asyncio.Event()

    # hosting ------------------------------------------------------------------------------------------------

    def add_listener(self, listener: Listener) -> None:
        """Call `listener` (in the event loop) whenever a run or one of its steps changes."""
        self._listeners.append(listener)

    def on_push(self, event: PushEvent) -> None:
        """Take a push from the Git server; returns at once and may be called from any thread."""
        with self._lock:
            loop = self._loop
            if loop is None:
                self._early.append(event)
                return
        if threading.get_ident() == self._loop_thread:
            self._queue.put_nowait(event)
        else:
            loop.call_soon_threadsafe(self._queue.put_nowait, event)

    async def start(self) -> None:
        """Mark runs a crash left running as interrupted, then take pushes and resume the queue."""
        if self._loop is not None:
            return
        self._recover()
        missed = await asyncio.to_thread(self._missed_pushes)
        sweep(self.workdir)
        self._queue = asyncio.Queue()
        self._stopped = asyncio.Event()
        with self._lock:
            self._loop = asyncio.get_running_loop()
            self._loop_thread = threading.get_ident()
            early, self._early = self._early, []
        for event in [*missed, *early]:
            self._queue.put_nowait(event)
        self._tasks[""] = asyncio.create_task(self._intake(), name="pipeline-intake")
        for repo in self.store.queued_repos():
            self._worker_for(repo).set()

    async def stop(self) -> None:
        """Stop; a run that is going is killed and marked interrupted, queued runs and pushes wait for start()."""
        with self._lock:
            self._loop = None
        intake = self._tasks.pop("", None)
        workers = list(self._tasks.values())
        self._tasks.clear()
        await _cancel(workers)
        if intake is not None:
            with contextlib.suppress(TimeoutError):  # queue the pushes already taken, so the next start runs them
                await asyncio.wait_for(self.received(), STOP_INTAKE_TIMEOUT)
            await _cancel([intake])
        with self._lock:
            while not self._queue.empty():
                self._early.append(self._queue.get_nowait())
        self._wake.clear()
        self._stopped.set()

    async def run_forever(self) -> None:
        """Start, run until stop() is called or this task is cancelled, then stop."""
        await self.start()
        try:
            await self._stopped.wait()
        finally:
            await self.stop()

    # reading ------------------------------------------------------------------------------------------------

    async def follow(self, run_id: int) -> AsyncIterator[LogLine]:
        """A run's log lines, those written so far and then each as it is written, until the run ends.

        Lines are written by this runner, so it must be the one running (or about to run) the run.
        """
        self.store.run(run_id)
        last = 0
        while True:
            changed = self._changed.setdefault(run_id, asyncio.Event())
            for line in self.store.lines(run_id, after=last):
                last = line.id
                yield line
            if self.store.run(run_id).finished:
                for line in self.store.lines(run_id, after=last):
                    yield line
                return
            await changed.wait()

    async def wait(self, run_id: int) -> Run:
        """Wait until a run has ended and return it."""
        async for _ in self.follow(run_id):
            pass
        return self.store.run(run_id)

    async def received(self) -> None:
        """Wait until every push taken so far has been looked at (and its run, if it makes one, queued)."""
        await self._queue.join()

    async def drain(self) -> None:
        """Wait until every push taken so far has been looked at and every queued run has ended."""
        await self.received()
        while active := self.store.runs(status=RUNNING) + self.store.runs(status=QUEUED):
            await self.wait(min(run.id for run in active))

    async def cancel(self, run_id: int) -> Run:
        """Cancel a queued or running run (see cancel_run); returns the run as it is now."""
        run = cancel_run(self.store, run_id)
        if run.finished:
            self._notify(run_id)
            self._emit(run_id)
        return run

    # intake -------------------------------------------------------------------------------------------------

    async def _intake(self) -> None:
        while True:
            event = await self._queue.get()
            try:
                await self._receive(event)
            except asyncio.CancelledError:
                with self._lock:
                    self._early.insert(0, event)  # stopped while looking at it: the next start takes it again
                raise
            except Exception:
                log.exception("pipeline: could not take the push %s", event)
            finally:
                self._queue.task_done()

    async def _receive(self, event: PushEvent) -> None:
        branch = event.branch
        if branch is None:
            return
        try:
            await self._take(event, branch)
        finally:
            self.store.set_heads(event.repo, {event.ref: None if event.deleted else event.new})

    async def _take(self, event: PushEvent, branch: str) -> None:
        if event.deleted:
            return
        try:
            commit = await asyncio.to_thread(read_commit, bare_repo(self.repos_root, event.repo), event.new)
        except PipelineError as err:
            log.warning("pipeline: ignoring a push to %s: %s", event.repo, err)
            return
        if commit.pipeline is None or not _triggered(commit.pipeline, branch):
            return
        run = self.store.add_run(
            event.repo, event.ref, commit.sha, event.old, commit.message, commit.author, event.pusher
        )
        self._emit(run.id)
        self._worker_for(event.repo).set()

    def _worker_for(self, repo: str) -> asyncio.Event:
        """The wake-up event of the repo's worker, starting the worker when there is none (unless stopping)."""
        wake = self._wake.setdefault(repo, asyncio.Event())
        task = self._tasks.get(repo)
        if (task is None or task.done()) and self._loop is not None:
            self._tasks[repo] = asyncio.create_task(self._work(repo, wake), name=f"pipeline-{repo}")
        return wake

    async def _work(self, repo: str, wake: asyncio.Event) -> None:
        while True:
            wake.clear()
            run = self.store.claim_next(repo)
            if run is None:
                await wake.wait()
                continue
            await self._execute(run)

    # one run ------------------------------------------------------------------------------------------------

    async def _execute(self, run: Run) -> None:
        self._emit(run.id)
        runlog = _RunLog(self, run.id)
        workspace = Workspace.for_run(self.workdir, run.id)
        started = time.monotonic()
        try:
            result = await self._perform(run, workspace, runlog, started)
        except asyncio.CancelledError:
            self._finish(run.id, _Result(INTERRUPTED, "the runner stopped during the run"), runlog, started)
            raise
        except Exception as err:  # a bug must not take the queue down with it
            log.exception("pipeline: run %s failed in the runner", run.id)
            result = _Result(FAILED, f"the runner failed: {err}")
        finally:
            workspace.remove()
        self._finish(run.id, result, runlog, started)

    async def _perform(self, run: Run, workspace: Workspace, runlog: _RunLog, started: float) -> _Result:
        from .model import PIPELINE_FILE, load_pipeline

        pusher = f" by {run.pusher}" if run.pusher else ""
        runlog.note(f"run {run.id} of {run.repo}: {run.branch} at {run.short_commit}, pushed{pusher}")
        runlog.note(f"commit {run.commit} by {run.author}: {run.summary}")
        runlog.note(f"checking out {run.short_commit} in a fresh folder")
        context = _Context(run, workspace, runlog)
        try:
            bare = bare_repo(self.repos_root, run.repo)
            await asyncio.to_thread(workspace.checkout, bare, run.commit, run.branch)
            pipeline = load_pipeline((workspace.source / PIPELINE_FILE).read_text(errors="replace"))
            self._prepare(context, pipeline)
        except PipelineFileError as err:
            runlog.note(f"{PIPELINE_FILE} cannot be used:\n{err}")
            return _Result(FAILED, f"{PIPELINE_FILE} is not valid: {err.problems[0]}")
        except (PipelineError, OSError) as err:
            runlog.note(str(err))
            return _Result(FAILED, str(err))
        steps = list(pipeline.steps())
        context.steps = len(steps)
        self.store.add_steps(run.id, [(job.name, step.name, step.run) for job, step in steps])
        deadline = started + pipeline.timeout
        for index, (job, step) in enumerate(steps):
            if self.store.run(run.id).cancel_requested:
                return _Result(CANCELLED, "cancelled")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return _Result(FAILED, f"the run timed out after {format_seconds(pipeline.timeout)}")
            result = await self._step(context, index, job.name, step, remaining)
            if result is not None:
                return result
        return _Result(SUCCEEDED)

    def _prepare(self, context: _Context, pipeline: Pipeline) -> None:
        """What a CI system gives a job: its variables, the cluster credential as a file, the secrets named."""
        missing = [name for name in pipeline.secrets if name not in self.secrets]
        if missing:
            have = ", ".join(sorted(self.secrets)) or "none"
            asked = ", ".join(missing)
            raise PipelineError(f"the pipeline asks for secrets this lab does not have: {asked} (it has: {have})")
        run, workspace = context.run, context.workspace
        env = dict(self.env)
        kubectl = Path(proc.tool("kubectl"))
        if kubectl.is_absolute():
            env["PATH"] = f"{kubectl.parent}{os.pathsep}{env.get('PATH', os.environ.get('PATH', ''))}"
        kubeconfig = self._kubeconfig_text()
        # Always the run's own file, empty without credentials: a step never falls back to the user's clusters.
        env["KUBECONFIG"] = str(workspace.write_kubeconfig(kubeconfig or ""))
        exposed = {name: self.secrets[name] for name in pipeline.secrets}
        context.env = {**env, **pipeline.env, **exposed}
        context.ci = {
            "CI": "true",
            "DRIFTLAB_PIPELINE_RUN": str(run.id),
            "DRIFTLAB_PIPELINE_REPO": run.repo,
            "DRIFTLAB_PIPELINE_REF": run.ref,
            "DRIFTLAB_PIPELINE_BRANCH": run.branch,
            "DRIFTLAB_PIPELINE_COMMIT": run.commit,
            "DRIFTLAB_PIPELINE_PUSHER": run.pusher,
            "DRIFTLAB_PIPELINE_WORKSPACE": str(workspace.source),  # also how a restart finds orphaned steps
        }
        pieces = {line for value in exposed.values() for line in value.splitlines() if line.strip()}
        context.runlog.masks = sorted(pieces, key=len, reverse=True)
        if exposed:
            context.runlog.note(f"secrets given to the steps (hidden in this log): {', '.join(exposed)}")
        if kubeconfig:
            context.runlog.note("cluster credentials given to the steps: the kubeconfig file in $KUBECONFIG")
        else:
            context.runlog.note("no cluster credentials were given to this lab's pipelines ($KUBECONFIG is empty)")

    def _kubeconfig_text(self) -> str | None:
        if self.kubeconfig is not None:
            return self.kubeconfig
        source = self.env.get("KUBECONFIG")
        if not source:
            return None
        try:
            return Path(source).read_text()
        except OSError as err:
            raise PipelineError(f"cannot read the lab's kubeconfig {source}: {err.strerror}") from None

    async def _step(self, context: _Context, index: int, job: str, step: Step, remaining: float) -> _Result | None:
        """Run one step; None when it succeeded, else how the run ends."""
        run_id, runlog = context.run.id, context.runlog
        runlog.note(f"==> step {index + 1}/{context.steps}: {job} / {step.name}", index)
        runlog.note("\n".join(f"$ {line}" for line in step.run.rstrip("\n").splitlines()), index)
        limit = min(step.timeout, remaining) if step.timeout is not None else remaining
        begun = time.monotonic()

        def started(pid: int) -> None:
            self.store.step_started(run_id, index, pid)
            self._emit(run_id, index)
            if self.store.run(run_id).cancel_requested:
                proc.kill_group(pid)

        outcome = await run_step(
            step.run,
            cwd=context.workspace.source,
            env={**context.env, **step.env, **context.ci},
            timeout=limit,
            on_start=started,
            on_lines=lambda texts: runlog.output(index, texts),
        )
        took = format_seconds(time.monotonic() - begun)
        status, result = self._judge(run_id, step, outcome, limit)
        self.store.step_finished(run_id, index, status, outcome.exit_code)
        self._emit(run_id, index)
        runlog.note(f"<== {step.name}: {status.replace('_', ' ')} in {took} (exit code {outcome.exit_code})", index)
        return result

    def _judge(self, run_id: int, step: Step, outcome: StepOutcome, limit: float) -> tuple[str, _Result | None]:
        if self.store.run(run_id).cancel_requested:
            return CANCELLED, _Result(CANCELLED, f"cancelled during step {step.name!r}")
        if outcome.timed_out:
            own = step.timeout is not None and step.timeout <= limit
            what = f"step {step.name!r} timed out" if own else "the run timed out during step " + repr(step.name)
            return TIMED_OUT, _Result(FAILED, f"{what} after {format_seconds(limit)}")
        if outcome.exit_code != 0:
            return FAILED, _Result(FAILED, f"step {step.name!r} failed with exit code {outcome.exit_code}")
        return SUCCEEDED, None

    def _finish(self, run_id: int, result: _Result, runlog: _RunLog, started: float) -> None:
        took = format_seconds(time.monotonic() - started)
        if result.status == INTERRUPTED:
            runlog.note(INTERRUPTED_NOTE)
        ending = f"run {run_id} {result.status} after {took}" + (f": {result.error}" if result.error else "")
        runlog.note(ending)
        self.store.finish_run(run_id, result.status, result.error)
        self._notify(run_id)
        self._emit(run_id)

    # recovery and notifications -----------------------------------------------------------------------------

    def _missed_pushes(self) -> list[PushEvent]:
        """Pushes to the branches that reached the repositories but not the runner (see the module docstring)."""
        missed = []
        for bare in sorted(self.repos_root.glob("*.git")) if self.repos_root.is_dir() else []:
            repo = bare.name.removesuffix(".git")
            current = _branch_heads(bare)
            if current is None:
                continue
            recorded = self.store.heads(repo)
            if recorded is None:
                self.store.set_heads(repo, dict(current))
                continue
            for ref, sha in current.items():
                if recorded.get(ref) != sha and not self.store.has_run(repo, ref, sha):
                    log.info("pipeline: %s %s moved to %s while the runner was away", repo, ref, sha[:7])
                    missed.append(PushEvent(repo, ref, recorded.get(ref, ZERO), sha, ""))
        return missed

    def _recover(self) -> None:
        """Runs still marked running were cut off by a crash: end their leftover processes, mark them."""
        for run in self.store.runs(status=RUNNING):
            source = Workspace.for_run(self.workdir, run.id).source
            for group in _orphan_groups(f"DRIFTLAB_PIPELINE_WORKSPACE={source}".encode()):
                proc.kill_group(group)
            self.store.append(run.id, [(time.time(), None, RUNNER, INTERRUPTED_NOTE)])
            self.store.finish_run(run.id, INTERRUPTED, "the runner stopped during the run")

    def _notify(self, run_id: int) -> None:
        changed = self._changed.pop(run_id, None)
        if changed is not None:
            changed.set()

    def _emit(self, run_id: int, step: int | None = None) -> None:
        if not self._listeners:
            return
        record = next((s for s in self.store.steps(run_id) if s.index == step), None) if step is not None else None
        event = PipelineEvent(self.store.run(run_id), record)
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:
                log.exception("pipeline: a listener failed")


async def _cancel(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def _branch_heads(bare: Path) -> dict[str, str] | None:
    """The branches of a bare repository and their commits; None when git cannot read it."""
    result = proc.run(["git", "for-each-ref", "--format=%(refname) %(objectname)", "refs/heads/"], cwd=bare)
    if not result.ok:
        return None
    return dict(line.split(" ", 1) for line in result.stdout.splitlines() if " " in line)


def _triggered(text: str, branch: str) -> bool:
    """Whether a push to `branch` starts a run; a pipeline that does not load does, so its run shows why."""
    from .model import load_pipeline

    try:
        return load_pipeline(text).triggers.matches(branch)
    except PipelineFileError:
        return True
