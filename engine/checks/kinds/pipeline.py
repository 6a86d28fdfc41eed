"""`pipeline`: the latest pipeline run of a lab's repository (on a branch), one of its steps, its log.

`read` takes what the check needs from the lab's pipeline store into a `PipelineState`; `judge` is a pure
function of that state. The runner lives in the lab's daemon, so no Kubernetes watch sees a run change: the
watcher re-evaluates these checks on its slow timer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from engine import paths

from ..context import CheckContext
from ..spec import PipelineCheck
from .common import Verdict

if TYPE_CHECKING:
    from engine.pipeline.store import StepRecord

EXCERPT_LIMIT = 80


@dataclass(frozen=True)
class RunInfo:
    """The latest run, as a check sees it."""

    id: int
    commit: str
    status: str

    @property
    def label(self) -> str:
        return f"run #{self.id} (commit {self.commit[:7]})"

    def describe(self) -> str:
        return f"{self.label} {self.status}"


@dataclass(frozen=True)
class StepInfo:
    job: str
    name: str
    status: str
    exit_code: int | None = None


@dataclass(frozen=True)
class PipelineState:
    """How many runs there are, the latest one, its steps and the log lines the check asked for."""

    error: str = ""
    runs: int = 0
    latest: RunInfo | None = None
    steps: tuple[StepInfo, ...] = ()
    log: tuple[str, ...] = field(default=())


def title(body: PipelineCheck) -> str:
    subject = f"the latest run of {_where(body)}"
    if body.step is not None:
        subject = f"step {body.step!r} of {subject}"
    parts = [f"is {body.status}"] if body.status else []
    if body.log is not None:
        parts.append(f"logs a line matching {body.log}")
    if not parts:
        return f"{_where(body)} has a pipeline run" if body.step is None else f"{subject} exists"
    return f"{subject} {' and '.join(parts)}"


def _where(body: PipelineCheck) -> str:
    return f"{body.repo}@{body.branch}" if body.branch else body.repo


def find_step(steps: tuple[StepInfo, ...], name: str) -> StepInfo | None:
    """A step by its name, or by `job/name` when several jobs have a step of that name."""
    for step in steps:
        if name in (step.name, f"{step.job}/{step.name}"):
            return step
    return None


# Reading --------------------------------------------------------------------------------------------------


def read(body: PipelineCheck, context: CheckContext) -> PipelineState:
    """The runs of the check's repo (and branch) from the lab's pipeline store; no store means no runs."""
    if context.lab is None:
        return PipelineState(error=f"no lab to read: pipeline runs of {body.repo!r} exist only in a lab")
    from engine.pipeline.store import PipelineStore

    path = paths.pipeline_store(context.lab)
    if not path.exists():
        return PipelineState()
    store = PipelineStore(path, create=False)
    try:
        runs = [run for run in store.runs(body.repo) if body.branch is None or run.branch == body.branch]
        if not runs:
            return PipelineState()
        run = runs[0]
        records = store.steps(run.id)
        steps = tuple(StepInfo(s.job, s.name, s.status, s.exit_code) for s in records)
        log: tuple[str, ...] = ()
        if body.log is not None:
            index = _step_index(records, body.step)
            if body.step is None or index is not None:
                log = tuple(line.text for line in store.lines(run.id, step=index))
        return PipelineState("", len(runs), RunInfo(run.id, run.commit, run.status), steps, log)
    finally:
        store.close()


def _step_index(records: list[StepRecord], name: str | None) -> int | None:
    for record in records:
        if name in (record.name, f"{record.job}/{record.name}"):
            return record.index
    return None


# Judging --------------------------------------------------------------------------------------------------


def judge(body: PipelineCheck, state: PipelineState) -> Verdict:
    where = _where(body)
    if state.error:
        return Verdict(False, state.error, "a lab", "no lab")
    if state.runs < body.min_runs:
        wanted = f"at least {body.min_runs} run{'s' if body.min_runs != 1 else ''}"
        found = f"{state.runs} run{'s' if state.runs != 1 else ''}"
        return Verdict(False, f"expected {wanted} of {where}, found {found}", wanted, found)
    run = state.latest
    if run is None:
        if body.status is None and body.step is None and body.log is None:
            return Verdict(True, f"{where}: no runs, as none are required", "no run required", "no runs")
        return Verdict(False, f"expected a pipeline run of {where}, found none", "a run", "no runs")
    if body.step is not None:
        return _judge_step(body, body.step, state, run)
    if body.status is not None and run.status != body.status:
        wanted = f"status {body.status}"
        message = f"expected the latest run of {where} {_to_be(body.status)}, found {run.describe()}"
        return Verdict(False, message, wanted, run.status)
    failed = _judge_log(body, state, f"the log of {run.describe()}")
    if failed is not None:
        return failed
    return Verdict(True, f"{where}: {run.describe()}{_logged(body, state)}", body.status or "a run", run.status)


def _judge_step(body: PipelineCheck, name: str, state: PipelineState, run: RunInfo) -> Verdict:
    step = find_step(state.steps, name)
    if step is None:
        names = ", ".join(s.name for s in state.steps) or "none"
        message = f"expected {run.label} of {_where(body)} to have a step {name!r}, found steps: {names}"
        return Verdict(False, message, f"step {name!r}", "no such step")
    subject = f"step {name!r} of {run.label}"
    if body.status is not None and step.status != body.status:
        code = f" (exit code {step.exit_code})" if step.exit_code not in (None, 0) else ""
        message = f"expected {subject} {_to_be(body.status)}, found it {step.status}{code}"
        return Verdict(False, message, f"status {body.status}", step.status)
    failed = _judge_log(body, state, f"the log of {subject}")
    if failed is not None:
        return failed
    message = f"{_where(body)}: step {name!r} {step.status} in {run.describe()}{_logged(body, state)}"
    return Verdict(True, message, f"status {body.status}" if body.status else "the step", step.status)


def _to_be(status: str) -> str:
    """`to have succeeded` for an ended run or step, `to be running` for one that has not ended."""
    return f"to be {status}" if status in ("running", "queued") else f"to have {status}"


def _matching(body: PipelineCheck, state: PipelineState) -> str | None:
    pattern = re.compile(body.log or "", re.MULTILINE)
    return next((line for line in state.log if pattern.search(line)), None)


def _logged(body: PipelineCheck, state: PipelineState) -> str:
    """`; logged "deployed web"` after a pass whose check looked at the log."""
    line = _matching(body, state) if body.log is not None else None
    return "" if line is None else f'; logged "{_excerpt(line.strip())}"'


def _judge_log(body: PipelineCheck, state: PipelineState, subject: str) -> Verdict | None:
    """None when the check has no log pattern or the log matches it; else the failing verdict."""
    if body.log is None or _matching(body, state) is not None:
        return None
    last = next((line.strip() for line in reversed(state.log) if line.strip()), "")
    found = f'last line: "{_excerpt(last)}"' if last else "no output"
    message = f"expected {subject} to match {body.log}, found no matching line ({found})"
    return Verdict(False, message, f"a line matching {body.log}", "no matching line")


def _excerpt(text: str) -> str:
    return text if len(text) <= EXCERPT_LIMIT else text[: EXCERPT_LIMIT - 1] + "…"
