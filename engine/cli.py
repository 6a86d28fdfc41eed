"""The driftlab command line: a thin layer that calls engine services and reports their results."""

from __future__ import annotations

import errno
import os
import sqlite3
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from . import __version__
from .errors import DriftlabError

if TYPE_CHECKING:
    from .lab.demo import DemoSettings

F = TypeVar("F", bound=Callable[..., Any])

BACKENDS = ("embedded", "kind", "existing")
WEB_DRIVER = "web_driver"


class DriftlabGroup(click.Group):
    """Turns DriftlabError (and bad names) into a clear message and exit code 1, with no traceback; so are a
    state folder that cannot be written (read-only, full) and any other OSError or SQLite error."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (DriftlabError, ValueError, OSError, sqlite3.Error) as err:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.echo(f"error: {_explain(err)}", err=True)
            sys.exit(1)


def _state_home() -> Path:
    """The state folder as configured, without creating it (it may be what cannot be written)."""
    override = os.environ.get("DRIFTLAB_HOME")
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("driftlab"))


def _storage_problem(code: int | None, home: Path) -> str | None:
    if code == errno.EROFS:
        return f"the state folder {home} is read-only; remount it read-write, or set DRIFTLAB_HOME to another folder"
    if code in (errno.ENOSPC, errno.EDQUOT):
        return f"no space left on the device holding {home}; free some space there, or set DRIFTLAB_HOME elsewhere"
    return None


def _probe(home: Path) -> int | None:
    """Write a little into the state folder (or its nearest existing parent): the errno that stops it, if any."""
    folder = next((path for path in (home, *home.parents) if path.is_dir()), home)
    try:
        with tempfile.TemporaryFile(dir=folder) as handle:
            handle.write(b"\0" * 65536)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as err:
        return err.errno
    return None


_SQLITE_CODES = {"database or disk is full": errno.ENOSPC, "attempt to write a readonly database": errno.EROFS}


def _explain(err: Exception) -> str:
    """One line for the learner. A failure to write the state folder says so (whatever part of driftlab hit
    it); other OS errors are told without a traceback."""
    home = _state_home()
    code = err.errno if isinstance(err, OSError) else None
    if isinstance(err, sqlite3.Error):
        code = next((value for text, value in _SQLITE_CODES.items() if text in str(err)), None)
    said = _storage_problem(code, home)
    if said is None and not isinstance(err, ValueError):
        said = _storage_problem(_probe(home), home)
    if said is not None:
        return said
    if isinstance(err, OSError) and not isinstance(err, DriftlabError):
        where = f": {err.filename}" if err.filename else ""
        return f"{err.strerror or err}{where}"
    if isinstance(err, sqlite3.Error):
        return f"a database in the state folder {home} cannot be used: {err}"
    return str(err)


def name_option(func: F) -> F:
    return click.option("--name", default="default", show_default=True, help="Name of the cluster.")(func)


def backend_option(func: F) -> F:
    return click.option(
        "--backend",
        type=click.Choice(BACKENDS),
        default=None,
        help="Where the cluster runs: embedded (no Docker), kind (needs Docker or podman) or existing (a context of "
        "your kubeconfig). [default: the one it was made with, else $DRIFTLAB_BACKEND, else embedded]",
    )(func)


def existing_options(func: F) -> F:
    """--context and --learner, for the existing backend."""
    func = click.option(
        "--learner",
        default=None,
        help="With --backend existing: your name, the prefix of your namespaces. [default: $DRIFTLAB_LEARNER, "
        "else your login name]",
    )(func)
    return click.option(
        "--context",
        default=None,
        help="With --backend existing: the kubeconfig context to use. [default: the current context]",
    )(func)


def _backend_options(context: str | None, learner: str | None) -> Any:
    from .cluster.backend import BackendOptions

    return BackendOptions(context=context, learner=learner)


@click.group(cls=DriftlabGroup, invoke_without_command=True)
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.version_option(__version__, prog_name="driftlab")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """driftlab: learn how software reaches Kubernetes, hands on, in your terminal."""
    ctx.ensure_object(dict)["debug"] = debug
    if ctx.invoked_subcommand is None:
        if not _in_terminal():
            click.echo(ctx.get_help())
            return
        _tui(None, trusted=False)


@cli.command("start")
@click.argument("course_arg", metavar="COURSE", required=False)
@click.option("--trust", is_flag=True, help="Run the course's shell commands although it is not one of driftlab's.")
@click.option(
    "--workshop",
    is_flag=True,
    help="Ask the learner's name first and keep their labs and progress in a folder of their own (what each "
    "browser tab of `serve --workshop` runs); without COURSE, the course picker follows.",
)
@click.option(
    "--own-network",
    is_flag=True,
    hidden=True,
    help="With --workshop (Linux): run in a network of one's own, so 127.0.0.1 and its ports are this learner's "
    "alone (what `serve --workshop` asks for where the machine allows it).",
)
@click.option("--demo", is_flag=True, help="Demo mode: type each step's solution into a shell, as a presenter would.")
@click.option(
    "--auto-next", is_flag=True, help="With --demo, go on to the next step by itself once a step's checks pass."
)
@click.option(
    "--demo-speed",
    type=click.FloatRange(min=0.1, max=20),
    default=1.0,
    show_default=True,
    help="With --demo, how much faster than the human rhythm to type (0.5 is slower).",
)
def start(
    course_arg: str | None,
    trust: bool,
    workshop: bool,
    own_network: bool,
    demo: bool,
    auto_next: bool,
    demo_speed: float,
) -> None:
    """Open the TUI on a course (a shipped course's name, a folder or a course.yaml) and start its lab.

    Keys can be remapped in keys.toml in driftlab's config folder; `?` in the TUI lists every key and its id.
    With --demo, each step's solution is typed into a terminal pane once the lab is ready and the checks turn
    green as the audience watches; n (or --auto-next) moves on, esc stops the demo.
    """
    if course_arg is None and not workshop:
        raise click.UsageError("Missing argument 'COURSE'.")
    if (auto_next or demo_speed != 1.0) and not demo:
        raise click.UsageError("--auto-next and --demo-speed go with --demo")
    if own_network and not workshop:
        raise click.UsageError("--own-network goes with --workshop")
    if own_network:
        from .tui.workshop import enter_own_network

        enter_own_network()  # first: no thread may run yet
    settings = None
    if demo:
        from .lab.demo import DemoSettings, Rhythm

        settings = DemoSettings(autostart=True, auto_next=auto_next, rhythm=Rhythm().scaled(demo_speed))
    if workshop:
        _tui(course_arg, trusted=trust, demo=settings, workshop=True)
    else:
        _tui(course_arg, trusted=trust, demo=settings)


@cli.command("serve")
@click.argument("course_arg", metavar="[COURSE]", required=False)
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True, help="The port to listen on.")
@click.option("--public-url", help="The address browsers reach this machine at. [default: http://HOST:PORT]")
@click.option("--trust", is_flag=True, help="Run the course's shell commands although it is not one of driftlab's.")
@click.option(
    "--workshop",
    is_flag=True,
    help="One lab and progress record per learner: each browser tab asks the learner's name first, and the same "
    "name again resumes.",
)
def serve(course_arg: str | None, host: str, port: int, public_url: str | None, trust: bool, workshop: bool) -> None:
    """Serve the TUI to web browsers (the picker, or COURSE at once): each browser tab runs its own driftlab.

    It listens on 127.0.0.1 only unless --host says otherwise; whoever reaches it can run the labs, so bind
    to another address only on a workshop network you trust. With --workshop every learner gets their own
    labs and progress, kept under their name in driftlab's home (learners/<name>/). Ctrl+C stops it.
    """
    from .tui.web import serve as serve_web

    options: dict[str, Any] = {"host": host, "port": port, "public_url": public_url, "trusted": trust}
    serve_web(course_arg, **options, **({"workshop": True} if workshop else {}))


def _in_terminal() -> bool:
    """A terminal, or the browser's terminal that `driftlab serve` gives the app."""
    if WEB_DRIVER in os.environ.get("TEXTUAL_DRIVER", ""):
        return True
    return sys.stdin.isatty() and sys.stdout.isatty()


def _tui(course_arg: str | None, trusted: bool, demo: DemoSettings | None = None, workshop: bool = False) -> None:
    if not _in_terminal():
        raise DriftlabError("the TUI needs a terminal; in scripts use driftlab lab up, check and shell")
    from .tui import run

    for opened in run(course_arg, trusted=trusted, demo=demo, workshop=workshop):
        click.echo(f"the lab of {opened} keeps running; stop it with: driftlab lab down {opened}", err=True)


@cli.group(cls=DriftlabGroup)
def cluster() -> None:
    """Start, stop and inspect a local cluster."""


def _cluster(name: str, backend: str | None, context: str | None = None, learner: str | None = None) -> Any:
    """Cluster `name` on the backend it was made with (`backend` must agree), else on `backend`."""
    from .cluster.backend import open_cluster

    return open_cluster(name, backend, _backend_options(context, learner))


def _stderr(line: str) -> None:
    click.echo(line, err=True)


@cluster.command("up")
@name_option
@backend_option
@existing_options
def cluster_up(name: str, backend: str | None, context: str | None, learner: str | None) -> None:
    """Start the cluster (idempotent); returns once its API answers.

    A new cluster is embedded unless --backend or DRIFTLAB_BACKEND says otherwise; kind without a working
    container runtime fails at once, with what to do.
    """
    from .cluster.backend import BACKEND_ENV, choose_backend, recorded_backend

    if recorded_backend(name) is None or backend is not None:
        wanted = backend or os.environ.get(BACKEND_ENV, "").strip() or "embedded"
        backend = choose_backend("any", wanted).name
    target = _cluster(name, backend, context, learner)
    before = target.status()
    status = target.up(progress=_stderr)
    verb = "is already running" if before.running else "is up"
    click.echo(f"cluster {name!r} {verb} at {status.server}")
    click.echo(f"use it with: eval $(driftlab cluster kubeconfig --name {name} --export)", err=True)


@cluster.command("down")
@name_option
@backend_option
@click.option("--purge", is_flag=True, help="Also delete every object and the cluster's state folder.")
def cluster_down(name: str, backend: str | None, purge: bool) -> None:
    """Stop the cluster; its objects stay for the next `up` unless --purge.

    On the existing backend the shared cluster keeps running; --purge deletes your namespaces of it.
    """
    target = _cluster(name, backend)
    if not target.exists():
        raise DriftlabError(f"there is no cluster named {name!r}")
    was_running = target.down(purge=purge)
    if target.backend == "existing":
        state = "is shared and keeps running" + ("; your namespaces and its local state were deleted" if purge else "")
        click.echo(f"cluster {name!r} {state}")
        return
    state = "stopped" if was_running else "was not running"
    click.echo(f"cluster {name!r} {state}" + ("; its state was deleted" if purge else ""))


@cluster.command("status")
@name_option
@backend_option
def cluster_status(name: str, backend: str | None) -> None:
    """Say whether the cluster runs, and where. Exit code 0 only when it runs."""
    target = _cluster(name, backend)
    if not target.exists():
        click.echo(f"cluster {name!r}: not created")
        sys.exit(1)
    status = target.status()
    if status.running:
        how = f"pid {status.pid}" if status.pid else _cluster_detail(target)
        click.echo(f"cluster {name!r}: running ({how}) at {status.server}")
        click.echo(f"state: {status.state_dir}")
    else:
        click.echo(f"cluster {name!r}: stopped; start it with: driftlab cluster up --name {name}")
        sys.exit(1)


def _cluster_detail(target: Any) -> str:
    """How status names a cluster that has no daemon of driftlab's."""
    if target.backend == "kind":
        return f"kind cluster {target.kind_name}"
    if target.backend == "existing":
        return f"context {target.context}, learner {target.learner}"
    return target.backend


@cluster.command("kubeconfig")
@name_option
@backend_option
@click.option("--export", is_flag=True, help="Write the kubeconfig to the state folder and print an export line.")
def cluster_kubeconfig(name: str, backend: str | None, export: bool) -> None:
    """Print a kubeconfig for the cluster on stdout (context driftlab-NAME; kind's own kind-driftlab-NAME)."""
    target = _cluster(name, backend)
    text = target.kubeconfig()
    if export:
        from .paths import write_private

        path = target.state_dir / "kubeconfig"
        write_private(path, text)
        click.echo(f"export KUBECONFIG={path}")
    else:
        click.echo(text, nl=False)


@cli.group(cls=DriftlabGroup)
def course() -> None:
    """Write, check and list courses."""


@course.command("validate")
@click.argument("path", nargs=-1, required=True, type=click.Path())
@click.option(
    "--backend",
    type=click.Choice(BACKENDS),
    default=None,
    help="Also check that the course can run there (existing: on a shared cluster, in per-learner namespaces).",
)
def course_validate(path: tuple[str, ...], backend: str | None) -> None:
    """Check courses (each a folder or a course.yaml) and their labs; print every problem as FILE:LINE:COL: message."""
    from .course import CourseError, load_course
    from .lab.backends import backend_problems

    failed = False
    for one in path:
        try:
            loaded = load_course(one)
        except CourseError as err:
            failed = True
            for problem in err.problems:
                click.echo(str(problem), err=True)
            continue
        except DriftlabError as err:
            failed = True
            click.echo(f"error: {err}", err=True)
            continue
        problems = backend_problems(loaded, backend) if backend else []
        for problem in problems:
            click.echo(f"{loaded.source}: cannot run on the {backend} backend: {problem}", err=True)
        if problems:
            failed = True
            continue
        steps = len(loaded.steps)
        click.echo(f"{one}: OK ({steps} step{'s' if steps != 1 else ''}, lab {loaded.lab})")
    if failed:
        sys.exit(1)


@course.command("schema")
def course_schema() -> None:
    """Print the JSON Schema of course.yaml (the same as courses/course.schema.json)."""
    from .course import schema_text

    click.echo(schema_text(), nl=False)


@course.command("list")
def course_list() -> None:
    """List driftlab's courses with their duration, level and number of steps."""
    from . import paths
    from .course import list_courses

    entries = list_courses()
    if not entries:
        click.echo(f"no courses in {paths.courses_dir()}")
        return
    rows = [("COURSE", "TITLE", "DURATION", "LEVEL", "STEPS")]
    for entry in entries:
        found = entry.course
        if found is None:
            problems = f"invalid, {len(entry.problems)} problems: driftlab course validate {entry.folder}"
            rows.append((entry.name, problems, "-", "-", "-"))
        else:
            rows.append((entry.name, found.title, found.duration, found.level, str(len(found.steps))))
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


@course.command("import-killercoda")
@click.argument("directory", type=click.Path(file_okay=True, dir_okay=True))
@click.argument("out", type=click.Path(file_okay=False))
@click.option(
    "--lab",
    default=None,
    help="Lab the course runs on: a lab name or a lab folder. [default: embedded-default, an empty cluster]",
)
@click.option("--force", is_flag=True, help="Write into OUT even if it is not empty, replacing an earlier import.")
def course_import_killercoda(directory: str, out: str, lab: str | None, force: bool) -> None:
    """Convert the Killercoda scenario in DIRECTORY into a driftlab course in the folder OUT.

    Verify scripts become command checks, background scripts the steps' setup, {{exec}} code the steps'
    solutions, assets files of the course. The intro opens the first step; the finish page becomes a last
    step without checks. What has no equivalent is listed as warnings.
    """
    from .course.killercoda import KillercodaError, import_scenario

    try:
        result = import_scenario(directory, out, lab=lab, force=force)
    except KillercodaError as err:
        for problem in err.problems:
            click.echo(f"error: {problem}", err=True)
        sys.exit(1)
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    steps = f"{result.steps} step{'s' if result.steps != 1 else ''}"
    click.echo(f"imported {result.title!r} into {result.course_file} ({steps}, lab {result.lab})")
    click.echo(f"next: driftlab course test {out}", err=True)


@course.command("test")
@click.argument("path", type=click.Path())
@click.option("--step", "step_id", default=None, help="Test only this step (the steps before it are prepared).")
@click.option("--trust", is_flag=True, help="Run the course's shell commands although it is not one of driftlab's.")
def course_test(path: str, step_id: str | None, trust: bool) -> None:
    """Prove every step's checks fail before its solution and pass after it, on a throwaway lab."""
    from .course import load_course
    from .lab.coursetest import run_course_test

    loaded = load_course(path)
    retry = _retry("course test", path, step_id)

    def progress(report: Any) -> None:
        click.echo(f"step {report.step.id}: {report.result}", err=True)

    try:
        report = run_course_test(loaded, step_id=step_id, trusted=trust, retry=retry, on_step=progress)
    except KeyboardInterrupt:
        click.echo("interrupted; the throwaway lab was removed", err=True)
        sys.exit(130)
    for line in report.table():
        click.echo(line)
    for problem in report.problems:
        click.echo(f"error: {problem}", err=True)
    if not report.passed:
        sys.exit(1)


def _retry(command: str, course_arg: str, step_id: str | None = None) -> str:
    """The command line that runs the same command with --trust, shown by the trust message."""
    import shlex

    step = f" --step {shlex.quote(step_id)}" if step_id else ""
    return f"driftlab {command} {shlex.quote(course_arg)}{step} --trust"


def _runtime(course_arg: str, trust: bool = False, retry: str = "") -> Any:
    from .course import load_course
    from .lab.lab import LabRuntime

    return LabRuntime(load_course(course_arg), trusted=trust, retry=retry)


def trust_option(func: F) -> F:
    return click.option(
        "--trust", is_flag=True, help="Run the course's shell commands although it is not one of driftlab's."
    )(func)


@cli.group(cls=DriftlabGroup)
def lab() -> None:
    """Bring a course's lab up and down, return a step to its start, and inspect it."""


@lab.command("up")
@click.argument("course_arg", metavar="COURSE")
@trust_option
@click.option(
    "--backend",
    type=click.Choice(BACKENDS),
    default=None,
    help="Where the lab runs. [default: the one it was made with, else $DRIFTLAB_BACKEND when the lab allows it, "
    "else kind where a container runtime answers and embedded elsewhere]",
)
@existing_options
def lab_up(course_arg: str, trust: bool, backend: str | None, context: str | None, learner: str | None) -> None:
    """Start the course's lab (idempotent); returns once the current step is ready.

    The backend chosen is said first. On the existing backend your namespaces are prefixed with your learner
    name (shop becomes NAME-shop), and your kubeconfig defaults to your course namespace.
    """
    from .lab.quickstart import up_course
    from .lab.report import up_lines

    status = up_course(
        course_arg,
        trusted=trust,
        retry=_retry("lab up", course_arg),
        backend=backend,
        options=_backend_options(context, learner),
        say=_stderr,
    )
    for line in up_lines(status):
        click.echo(line)
    click.echo(f"work in it with: driftlab shell {course_arg}", err=True)


@lab.command("down")
@click.argument("course_arg", metavar="COURSE", required=False)
@click.option("--all", "every", is_flag=True, help="Stop every lab.")
@click.option("--purge", is_flag=True, help="Also delete the lab's objects (progress is kept).")
def lab_down(course_arg: str | None, every: bool, purge: bool) -> None:
    """Stop the course's lab (or every lab with --all); its objects stay for the next `up` unless --purge."""
    from .lab.coursetest import TEST_PREFIX
    from .lab.lab import LAB_PREFIX, down_all

    if every == (course_arg is not None):
        raise DriftlabError("name one course, or give --all")
    if every:
        stopped = down_all(purge=purge, prefixes=(LAB_PREFIX, TEST_PREFIX))
        for name, was_running in stopped:
            click.echo(f"cluster {name!r} {'stopped' if was_running else 'was not running'}")
        if not stopped:
            click.echo("no labs")
        return
    runtime = _runtime(course_arg or "")
    was_running = runtime.down(purge=purge)
    if runtime.shared:
        deleted = "; your namespaces of it were deleted" if purge else ""
        click.echo(f"lab {runtime.name!r} stopped; the shared cluster keeps running{deleted}")
        return
    state = "stopped" if was_running else "was not running"
    click.echo(f"lab {runtime.name!r} {state}" + ("; its objects were deleted" if purge else ""))


@lab.command("status")
@click.argument("course_arg", metavar="COURSE")
@trust_option
def lab_status(course_arg: str, trust: bool) -> None:
    """Show the lab's cluster, the course, the current step and its checks. Exit code 0 only when it runs."""
    from .lab.report import status_lines

    status = _runtime(course_arg, trust).status()
    for line in status_lines(status):
        click.echo(line)
    if not status.running:
        sys.exit(1)


@lab.command("reset")
@click.argument("course_arg", metavar="COURSE")
@trust_option
def lab_reset(course_arg: str, trust: bool) -> None:
    """Return the current step to its start: recreate the lab's namespaces and run the setups again."""
    from .lab.report import step_line

    status = _runtime(course_arg, trust, _retry("lab reset", course_arg)).reset()
    click.echo(f"lab {status.course.name!r} reset; {step_line(status, 'ready')}")


@lab.command("kubeconfig")
@click.argument("course_arg", metavar="COURSE")
@click.option("--export", is_flag=True, help="Write the kubeconfig to the lab's state folder and print an export line.")
def lab_kubeconfig(course_arg: str, export: bool) -> None:
    """Print a kubeconfig for the lab whose namespace is the course's."""
    runtime = _runtime(course_arg)
    if export:
        click.echo(f"export KUBECONFIG={runtime.write_kubeconfig()}")
    else:
        click.echo(runtime.kubeconfig_text(), nl=False)


@cli.command("check")
@click.argument("course_arg", metavar="COURSE")
@click.option("--step", "step_id", default=None, help="Check this step instead of the current one.")
@click.option(
    "--wait/--no-wait",
    default=True,
    show_default=True,
    help="Give checks that have a timeout that long to pass (a rollout may still be going on).",
)
@trust_option
def check(course_arg: str, step_id: str | None, wait: bool, trust: bool) -> None:
    """Check a step of the course against its lab; exit code 0 only when every check passes."""
    from .lab.report import check_lines

    runtime = _runtime(course_arg, trust, _retry("check", course_arg, step_id))
    target = runtime.course.step(step_id) if step_id else runtime.current()
    longest = max((check.timeout for check in target.checks), default=0) if wait and target is not None else 0
    if longest:
        click.echo(f"checking; checks that do not pass yet get up to {longest:g}s (--no-wait checks once)", err=True)
    outcome = runtime.check(step_id, wait=wait)
    for line in check_lines(outcome, runtime.name):
        click.echo(line)
    if outcome.setup_error:
        click.echo(f"error: {outcome.setup_error}", err=True)
    if (outcome.step is not None and not outcome.passed) or outcome.setup_error:
        sys.exit(1)


@cli.command("shell")
@click.argument("course_arg", metavar="COURSE", required=False)
def shell(course_arg: str | None) -> None:
    """Open your shell ($SHELL) with KUBECONFIG set for the lab; `exit` comes back here."""
    from .lab.lab import LabRuntime
    from .lab.shell import exec_shell, prepare_shell, running_course

    runtime = _runtime(course_arg) if course_arg else LabRuntime(running_course())
    launch = prepare_shell(runtime)
    click.echo(f"{launch.marker} kubectl now talks to lab {runtime.name!r}; type `exit` to leave", err=True)
    exec_shell(launch)


@cli.group(cls=DriftlabGroup)
def pipeline() -> None:
    """Show and control the push-pipeline runs of a lab."""


def lab_name_option(func: F) -> F:
    return click.option(
        "--lab",
        "lab_name",
        envvar="DRIFTLAB_LAB",
        default=None,
        help="The lab whose runs to use. [default: the lab of `driftlab shell`, else the only lab with runs]",
    )(func)


def _pipeline_store(lab_name: str | None) -> Any:
    from .pipeline import PipelineStore, find_store

    return PipelineStore(find_store(lab_name), create=False)


@pipeline.command("runs")
@lab_name_option
@click.option("--repo", default=None, help="Only the runs of this repository.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(min=1), help="Show at most N runs.")
def pipeline_runs(lab_name: str | None, repo: str | None, limit: int) -> None:
    """List pipeline runs, newest first."""
    from .pipeline.report import runs_table

    runs = _pipeline_store(lab_name).runs(repo=repo, limit=limit)
    if not runs:
        click.echo("no pipeline runs" + (f" for repo {repo!r}" if repo else ""))
        return
    for line in runs_table(runs):
        click.echo(line)


@pipeline.command("logs")
@lab_name_option
@click.argument("run_id", metavar="RUN", type=int)
@click.option("-f", "--follow", is_flag=True, help="Keep printing lines as they are written, until the run ends.")
def pipeline_logs(lab_name: str | None, run_id: int, follow: bool) -> None:
    """Print a run's log: its steps' output and the runner's notes, each line with its time."""
    from .pipeline import report

    store = _pipeline_store(lab_name)
    lines = report.follow(store, run_id) if follow else iter(store.lines(store.run(run_id).id))
    try:
        for line in lines:
            click.echo(report.log_text(line))
    except KeyboardInterrupt:
        sys.exit(130)


@pipeline.command("cancel")
@lab_name_option
@click.argument("run_id", metavar="RUN", type=int)
def pipeline_cancel(lab_name: str | None, run_id: int) -> None:
    """Cancel a run: a queued run will not start, a running one has its step killed."""
    from .pipeline import cancel_run
    from .pipeline.report import wait_finished

    store = _pipeline_store(lab_name)
    run = cancel_run(store, run_id)
    if run.started_at is None:
        click.echo(f"run {run_id} was queued; it is cancelled and will not run")
        return
    run = wait_finished(store, run_id, timeout=10)
    if not run.finished:
        raise DriftlabError(f"run {run_id} is still marked running; is the lab running? (driftlab lab status)")
    click.echo(f"run {run_id} {run.status}" + (f": {run.error}" if run.error else ""))


@cli.group(cls=DriftlabGroup)
def gitops() -> None:
    """What the lab's GitOps agents (Flux, Argo CD) see, reconcile now, and diff Git against the cluster."""


def cluster_options(func: F) -> F:
    func = click.option(
        "--kubeconfig",
        envvar="KUBECONFIG",
        default=None,
        help="The kubeconfig to use. [default: $KUBECONFIG, else ~/.kube/config]",
    )(func)
    return click.option("--lab", "course_arg", default=None, help="Use this course's lab instead of a kubeconfig.")(
        func
    )


def _client(course_arg: str | None, kubeconfig: str | None) -> Any:
    from pathlib import Path

    from .cluster.client import KubeClient

    if course_arg:
        return KubeClient(_runtime(course_arg).kubeconfig_path())
    path = Path(kubeconfig.split(":")[0]) if kubeconfig else Path.home() / ".kube" / "config"
    if not path.is_file():
        raise DriftlabError(f"no kubeconfig at {path}: run this in `driftlab shell`, or pass --lab COURSE")
    return KubeClient(path)


@gitops.command("status")
@cluster_options
@click.option("-n", "--namespace", default=None, help="Only this namespace. [default: every namespace]")
def gitops_status(course_arg: str | None, kubeconfig: str | None, namespace: str | None) -> None:
    """Each source and sync with its revision, readiness and message; exit 1 when one has failed."""
    from .gitops.status import read_all, table

    rows = read_all(_client(course_arg, kubeconfig), namespace)
    if not rows:
        click.echo("no GitRepositories, Kustomizations or Applications" + (f" in {namespace}" if namespace else ""))
        return
    for line in table(rows):
        click.echo(line)
    if any(row.failed and not row.suspended for row in rows):
        sys.exit(1)


@gitops.command("reconcile")
@click.argument("target", metavar="[KIND/]NAME")
@cluster_options
@click.option("-n", "--namespace", default=None, help="[default: flux-system, or argocd for applications]")
@click.option("--with-source", is_flag=True, help="Fetch the Kustomization's GitRepository first.")
@click.option("--timeout", default=60.0, show_default=True, type=click.FloatRange(min=1), help="Seconds to wait.")
def gitops_reconcile(
    target: str,
    course_arg: str | None,
    kubeconfig: str | None,
    namespace: str | None,
    with_source: bool,
    timeout: float,
) -> None:
    """Reconcile a Kustomization (ks/NAME), GitRepository (gitrepo/NAME) or Application (app/NAME) now."""
    from .gitops.reconcile import parse_target, reconcile

    kind, name = parse_target(target)
    namespace = namespace or ("argocd" if kind == "Application" else "flux-system")

    def progress(line: str) -> None:
        click.echo(f"► {line}", err=True)

    result = reconcile(
        _client(course_arg, kubeconfig),
        kind,
        name,
        namespace,
        with_source=with_source,
        timeout=timeout,
        progress=progress,
    )
    revision = f" revision {result.revision}" if result.revision else ""
    click.echo(f"✔ {kind} {namespace}/{name} reconciled:{revision} ({result.message})", err=True)


@gitops.command("diff")
@click.argument("target", metavar="[KIND/]NAME")
@cluster_options
@click.option("-n", "--namespace", default=None, help="[default: flux-system, or argocd for applications]")
@click.option(
    "--path",
    "local",
    default=None,
    type=click.Path(file_okay=False, exists=True),
    help="Diff this local folder instead of the Git head (the folder the Kustomization's path names).",
)
def gitops_diff(
    target: str, course_arg: str | None, kubeconfig: str | None, namespace: str | None, local: str | None
) -> None:
    """What the agent would create, change (drifted) and delete; exit 1 when something would be deleted.

    Errors exit 2, so a pipeline can tell "this change deletes objects" from "the diff could not run".
    """
    from pathlib import Path

    from .gitops.diff import deletes, diff, lines
    from .gitops.reconcile import parse_target

    kind, name = parse_target(target)
    namespace = namespace or ("argocd" if kind == "Application" else "flux-system")
    try:
        changes = diff(_client(course_arg, kubeconfig), kind, name, namespace, Path(local) if local else None)
    except DriftlabError as err:
        click.echo(f"✗ {err}", err=True)
        sys.exit(2)
    for line in lines(changes):
        click.echo(line)
    if not changes:
        click.echo(f"✔ {kind} {namespace}/{name}: no changes", err=True)
    if deletes(changes):
        click.echo(f"✗ {kind} {namespace}/{name} would delete objects: look before you merge", err=True)
        sys.exit(1)


@cli.command("doctor")
def doctor() -> None:
    """Check what driftlab needs here (Python, git, kubectl, kind, a container runtime, disk, memory, the state
    folder, ports, daemons left by a crash) and say how to fix each. Exit code 0 when the embedded backend can
    run; kind and a container runtime are only needed for --backend kind."""
    from .doctor import diagnose, healthy, report

    findings = diagnose()
    for line in report(findings):
        click.echo(line)
    if not healthy(findings):
        sys.exit(1)


def main() -> None:
    cli(obj={})


if __name__ == "__main__":
    main()
