"""What the lab commands print, as lines, so the CLI stays a thin layer and the wording lives in one place."""

from __future__ import annotations

from ..gitops.status import AgentObject
from .lab import CheckOutcome, LabStatus, RepoStatus


def step_line(status: LabStatus, verb: str = "current") -> str:
    course = status.course
    if status.step is None:
        return f"every step of {course.name!r} has passed ({len(course.steps)} of {len(course.steps)})"
    return f"step {status.position} of {len(course.steps)} {verb}: {status.step.id} ({status.step.title})"


def up_lines(status: LabStatus) -> list[str]:
    return [
        f"lab {status.course.name!r} is up: cluster {status.cluster} at {status.server}",
        step_line(status, "ready"),
    ]


def status_lines(status: LabStatus) -> list[str]:
    course = status.course
    if not status.created:
        state = f"not created; start it with: driftlab lab up {course.name}"
    elif status.running:
        state = f"running at {status.server}"
    else:
        state = f"stopped; start it with: driftlab lab up {course.name}"
    passed = sum(1 for step in course.steps if status.progress.passed(step.id))
    lines = [
        f"lab {course.name!r} (cluster {status.cluster}): {state}",
        f"course: {course.title} ({course.folder}), {passed} of {len(course.steps)} steps passed",
        step_line(status),
    ]
    if status.checks is not None:
        lines.append(f"checks: {status.checks.summary}")
        lines += ["  " + line for line in status.checks.lines()]
    elif status.checks_note:
        lines.append(f"checks: {status.checks_note}")
    if status.repos:
        lines.append("repos (clone them in `driftlab shell`, which sets up git's credentials):")
        lines += ["  " + repo_line(repo) for repo in status.repos]
    if status.agents:
        lines.append("GitOps (driftlab gitops status shows the same):")
        lines += ["  " + agent_line(agent) for agent in status.agents]
    return lines


def agent_line(agent: AgentObject) -> str:
    """`Kustomization flux-system/shop: ready, main@sha1:450796dd (Applied revision: ...)`."""
    state = "suspended" if agent.suspended else "ready" if agent.ready else f"not ready ({agent.state})"
    revision = f", {agent.short_revision}" if agent.revision else ""
    return f"{agent.kind} {agent.namespace}/{agent.name}: {state}{revision}" + (
        f" ({agent.message})" if agent.message else ""
    )


def repo_line(repo: RepoStatus) -> str:
    """`<name>: <clone URL>; pipeline <latest run>`, saying so when the Git server is not running."""
    if repo.clone_url is None:
        where = "not served yet (driftlab lab up starts the Git server)"
    else:
        where = repo.clone_url + ("" if repo.serving else " (not running: driftlab lab up starts it)")
    run = repo.latest_run
    if run is None:
        pipeline = "no pipeline runs yet"
    else:
        pipeline = f"latest pipeline run {run.id} {run.status} ({run.branch} {run.short_commit} {run.summary})"
    return f"{repo.name}: {where}; {pipeline}"


def check_lines(outcome: CheckOutcome, course_name: str) -> list[str]:
    """Each check with ✓/✗ and its message, then what was recorded."""
    if outcome.step is None:
        return [f"every step of {course_name!r} has passed; check one again with --step ID"]
    step = outcome.step
    lines = [f"step {step.id} ({step.title}):", *("  " + line for line in outcome.result.lines())]
    if not outcome.step.checks:
        lines.append("  (this step has no checks)")
    if not outcome.passed:
        lines.append(f"step {step.id}: {outcome.result.summary}; not passed yet")
    elif outcome.finished:
        lines.append(f"step {step.id} passed; that was the last step: the course is complete")
    elif outcome.advanced and outcome.next_step is not None:
        lines.append(f"step {step.id} passed; now on step {outcome.next_step.id} ({outcome.next_step.title})")
    else:
        lines.append(f"step {step.id} passed (recorded; the current step did not change)")
    return lines
