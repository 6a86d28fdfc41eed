"""The driftlab command line: a thin layer that calls engine services and reports their results."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from . import __version__
from .errors import DriftlabError

F = TypeVar("F", bound=Callable[..., Any])

BACKENDS = ("embedded",)


class DriftlabGroup(click.Group):
    """Turns DriftlabError (and bad names) into a clear message and exit code 1, with no traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (DriftlabError, ValueError) as err:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.echo(f"error: {err}", err=True)
            sys.exit(1)


def name_option(func: F) -> F:
    return click.option("--name", default="default", show_default=True, help="Name of the cluster.")(func)


def backend_option(func: F) -> F:
    return click.option(
        "--backend",
        type=click.Choice(BACKENDS),
        default="embedded",
        show_default=True,
        envvar="DRIFTLAB_BACKEND",
        help="Where the cluster runs.",
    )(func)


@click.group(cls=DriftlabGroup, invoke_without_command=True)
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.version_option(__version__, prog_name="driftlab")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """driftlab: learn how software reaches Kubernetes, hands on, in your terminal."""
    ctx.ensure_object(dict)["debug"] = debug
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


@cli.group(cls=DriftlabGroup)
def cluster() -> None:
    """Start, stop and inspect a local cluster."""


def _embedded(name: str) -> Any:
    from .cluster.embedded.backend import EmbeddedCluster

    return EmbeddedCluster(name)


@cluster.command("up")
@name_option
@backend_option
def cluster_up(name: str, backend: str) -> None:
    """Start the cluster (idempotent); returns once its API answers."""
    target = _embedded(name)
    before = target.status()
    status = target.up()
    verb = "is already running" if before.running else "is up"
    click.echo(f"cluster {name!r} {verb} at {status.server}")
    click.echo(f"use it with: eval $(driftlab cluster kubeconfig --name {name} --export)", err=True)


@cluster.command("down")
@name_option
@backend_option
@click.option("--purge", is_flag=True, help="Also delete every object and the cluster's state folder.")
def cluster_down(name: str, backend: str, purge: bool) -> None:
    """Stop the cluster; its objects stay for the next `up` unless --purge."""
    target = _embedded(name)
    if not target.exists():
        raise DriftlabError(f"there is no cluster named {name!r}")
    was_running = target.down(purge=purge)
    state = "stopped" if was_running else "was not running"
    click.echo(f"cluster {name!r} {state}" + ("; its state was deleted" if purge else ""))


@cluster.command("status")
@name_option
@backend_option
def cluster_status(name: str, backend: str) -> None:
    """Say whether the cluster runs, and where. Exit code 0 only when it runs."""
    target = _embedded(name)
    if not target.exists():
        click.echo(f"cluster {name!r}: not created")
        sys.exit(1)
    status = target.status()
    if status.running:
        click.echo(f"cluster {name!r}: running (pid {status.pid}) at {status.server}")
        click.echo(f"state: {status.state_dir}")
    else:
        click.echo(f"cluster {name!r}: stopped; start it with: driftlab cluster up --name {name}")
        sys.exit(1)


@cluster.command("kubeconfig")
@name_option
@backend_option
@click.option("--export", is_flag=True, help="Write the kubeconfig to the state folder and print an export line.")
def cluster_kubeconfig(name: str, backend: str, export: bool) -> None:
    """Print a kubeconfig for the cluster (context driftlab-NAME) on stdout."""
    target = _embedded(name)
    text = target.kubeconfig()
    if export:
        path = target.state_dir / "kubeconfig"
        path.write_text(text)
        path.chmod(0o600)
        click.echo(f"export KUBECONFIG={path}")
    else:
        click.echo(text, nl=False)


@cli.group(cls=DriftlabGroup)
def course() -> None:
    """Write, check and list courses."""


@course.command("validate")
@click.argument("path", nargs=-1, required=True, type=click.Path())
def course_validate(path: tuple[str, ...]) -> None:
    """Check courses (each a folder or a course.yaml) and their labs; print every problem as FILE:LINE:COL: message."""
    from .course import CourseError, load_course

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


def main() -> None:
    cli(obj={})


if __name__ == "__main__":
    main()
