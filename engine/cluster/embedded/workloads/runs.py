"""How one run of a container goes. An app image follows its catalogue entry (requirements, crash, OOM kill,
logs); a command (`runs: command` images, or `sh -c ...`, `sleep 3600` on any image) runs through the shell
simulation."""

from __future__ import annotations

import heapq
import math
import posixpath
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from .access import as_list, as_map, as_text
from .context import Context, render
from .environment import expand_references
from .errors import WorkloadError
from .events import Event
from .model import Behaviour, Condition, PeriodicLogs
from .plan import ExitPlan, RunPlan
from .probes import Server, timeline
from .shell import SHELL_PROGRAMS, Shell, traps_sigterm
from .units import parse_quantity
from .volumes import under

# Seconds after start at which a container whose limit is below its image's `memory` is OOM-killed.
OOM_AFTER_SECONDS = 1.0
# (seconds after start, text) of a log line.
Line = tuple[float, str]


def run_plan(behaviour: Behaviour, container: Mapping[str, Any], context: Context, image: Server) -> RunPlan:
    """The plan of one run of `container` in `context` (whose env is the process environment)."""
    argv = _argv(behaviour, container, context.env)
    if argv is not None:
        return _command_plan(behaviour, argv, context, image)
    return _app_plan(behaviour, container, context, image)


def _argv(behaviour: Behaviour, container: Mapping[str, Any], env: Mapping[str, str]) -> list[str] | None:
    """The command line, if the container runs a command rather than the image's app."""
    command = [as_text(item) for item in as_list(container.get("command"))]
    args = [as_text(item) for item in as_list(container.get("args"))]
    if behaviour.runs == "command":
        argv = command + args if command else (args or list(behaviour.cmd))
    elif command and posixpath.basename(command[0]) in SHELL_PROGRAMS:
        argv = command + args
    else:
        return None
    return [expand_references(item, env) for item in argv]


def _plan(
    behaviour: Behaviour,
    context: Context,
    image: Server,
    *,
    exit: ExitPlan | None,
    events: Callable[[], Iterator[Event]],
    stops_on_sigterm: bool,
) -> RunPlan:
    return RunPlan(
        exit=exit,
        readiness=timeline(behaviour.readiness, context),
        liveness=timeline(behaviour.liveness, context),
        stops_on_sigterm=stops_on_sigterm,
        events=events,
        image=image,
        context=context,
    )


# -- apps ----------------------------------------------------------------------------------------------------


def _app_plan(behaviour: Behaviour, container: Mapping[str, Any], context: Context, image: Server) -> RunPlan:
    """The first of the exits that apply (unmet requirements, crash, OOM kill) ends the run; log lines
    planned after it are not written."""
    candidates: list[tuple[float, int, ExitPlan, list[Line]]] = []
    missing = _unmet_requirements(behaviour, context)
    if missing:
        at = behaviour.requires.after
        lines = [(at, text) for text in missing]
        candidates.append((at, 0, ExitPlan(behaviour.requires.exit_code, at, "Error"), lines))
    crash = behaviour.crash
    if crash is not None and (crash.when is None or _holds(crash.when, context)):
        reason = "Completed" if crash.exit_code == 0 else "Error"
        extra = {"exit_code": str(crash.exit_code)}
        lines = [(crash.after, render(text, context, at=crash.after, extra=extra)) for text in behaviour.logs.crash]
        candidates.append((crash.after, 1, ExitPlan(crash.exit_code, crash.after, reason), lines))
    if _over_memory(behaviour, container):
        candidates.append((OOM_AFTER_SECONDS, 2, ExitPlan(137, OOM_AFTER_SECONDS, "OOMKilled"), []))
    exit_plan: ExitPlan | None = None
    final_lines: list[Line] = []
    if candidates:
        _, _, exit_plan, final_lines = min(candidates, key=lambda item: (item[0], item[1]))
    end = exit_plan.after if exit_plan is not None else math.inf
    static = [
        (entry.after, render(entry.line, context, at=entry.after))
        for entry in behaviour.logs.start
        if entry.after <= end
    ]
    static.sort(key=lambda item: item[0])
    static.extend(final_lines)
    periodic = behaviour.logs.periodic

    def events() -> Iterator[Event]:
        stream: Iterator[Line] = iter(static)
        if periodic is not None:
            stream = heapq.merge(static, _periodic(periodic, context, end), key=lambda item: item[0])
        for at, text in stream:
            yield Event(at, "line", text)
        if exit_plan is not None:
            yield Event(exit_plan.after, "exit", code=exit_plan.code)

    return _plan(behaviour, context, image, exit=exit_plan, events=events, stops_on_sigterm=behaviour.sigterm == "exit")


def _periodic(periodic: PeriodicLogs, context: Context, end: float) -> Iterator[Line]:
    first = periodic.every if periodic.after is None else periodic.after
    count = 0
    while True:
        at = first + count * periodic.every
        if at >= end:
            return
        text = periodic.lines[count % len(periodic.lines)]
        count += 1
        yield at, render(text, context, at=at, extra={"n": str(count)})


def _over_memory(behaviour: Behaviour, container: Mapping[str, Any]) -> bool:
    if behaviour.memory is None:
        return False
    limit = as_text(as_map(as_map(container.get("resources")).get("limits")).get("memory"))
    if not limit:
        return False
    try:
        return parse_quantity(limit) < parse_quantity(behaviour.memory)
    except WorkloadError:
        return False


def _unmet_requirements(behaviour: Behaviour, context: Context) -> list[str]:
    """One log line per requirement the container's env, config and files do not meet."""
    requires = behaviour.requires
    lines: list[str] = []
    for env in requires.env:
        actual = context.env.get(env.name, "")
        if actual and (env.value is None or actual == env.value):
            continue
        if env.message:
            lines.append(render(env.message, context, at=requires.after))
        elif not actual:
            lines.append(f"error: required environment variable {env.name} is not set")
        else:
            lines.append(f'error: environment variable {env.name} must be "{env.value}", got "{actual}"')
    for item in requires.config:
        if context.config.get(item.key):
            continue
        default = f'error: configuration key "{item.key}" not found in the environment or mounted files'
        lines.append(render(item.message, context, at=requires.after) if item.message else default)
    for item in requires.files:
        if any(under(path, item.path) for path in context.files):
            continue
        default = f"error: open {item.path}: no such file or directory"
        lines.append(render(item.message, context, at=requires.after) if item.message else default)
    return lines


def _holds(condition: Condition, context: Context) -> bool:
    env, config = context.env, context.config
    return (
        all(not env.get(name) for name in condition.env_missing)
        and all(env.get(name) for name in condition.env_set)
        and all(env.get(name) == value for name, value in condition.env_equals.items())
        and all(not config.get(key) for key in condition.config_missing)
        and all(config.get(key) for key in condition.config_set)
        and all(not any(under(path, missing) for path in context.files) for missing in condition.files_missing)
    )


# -- commands ------------------------------------------------------------------------------------------------


def _command_plan(behaviour: Behaviour, argv: list[str], context: Context, image: Server) -> RunPlan:
    """A program the image does not have is a StartError; otherwise the shell simulation decides whether and
    when the command exits."""
    program = argv[0] if argv else ""
    if posixpath.basename(program) not in SHELL_PROGRAMS and program not in context.files:
        message = (
            "failed to create containerd task: failed to create shim task: OCI runtime create failed: "
            "runc create failed: unable to start container process: error during container init: exec: "
            f'"{program}": executable file not found in $PATH: unknown'
        )

        def failed() -> Iterator[Event]:
            yield Event(0.0, "exit", code=128)

        exit_plan = ExitPlan(128, 0.0, "StartError", message)
        return _plan(behaviour, context, image, exit=exit_plan, events=failed, stops_on_sigterm=True)

    def events() -> Iterator[Event]:
        return Shell(context.env, context.files, context.pod).run(argv)

    exit_plan = None
    for event in Shell(context.env, context.files, context.pod, detect_only=True).run(argv):
        if event.kind == "exit":
            exit_plan = ExitPlan(event.code, event.at, "Completed" if event.code == 0 else "Error")
    return _plan(behaviour, context, image, exit=exit_plan, events=events, stops_on_sigterm=traps_sigterm(argv))
