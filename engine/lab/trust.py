"""Trust: a course runs shell code (command checks, `run:` setup actions, solutions) only when trusted.

The courses shipped in driftlab's own `courses/` folder are trusted. A course from anywhere else runs its
commands only when the learner says `--trust`; without it, the learner is told exactly which commands would
run, and how to trust the course. Trust is given per command, not remembered.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .. import paths
from ..checks.spec import Check
from ..course import Course, Step
from ..errors import DriftlabError


@dataclass(frozen=True)
class ShellCode:
    """One piece of shell code a course would run, and where it comes from."""

    step: str
    role: str  # "setup", "check" or "solution"
    code: str

    def describe(self) -> str:
        lines = self.code.strip().splitlines() or [""]
        head = f"step {self.step}, {self.role}: {lines[0]}"
        return "\n".join([head, *(f"    {line}" for line in lines[1:])])


class UntrustedCourse(DriftlabError):
    """A course outside driftlab's courses/ would run shell code, and the learner has not trusted it."""

    def __init__(self, course: Course, code: Sequence[ShellCode], retry: str) -> None:
        self.code = tuple(code)
        listing = "\n".join("  " + item.describe().replace("\n", "\n  ") for item in self.code)
        super().__init__(
            f"course {_shown(course.folder)} is not one of driftlab's own courses, and it would run "
            f"{len(self.code)} shell command{'s' if len(self.code) != 1 else ''} on this machine:\n{listing}\n"
            f"Read them first; if you trust the course, run: {retry}"
        )


def _shown(folder: Path) -> str:
    try:
        return os.path.relpath(folder) if folder.is_relative_to(Path.cwd()) else str(folder)
    except ValueError:
        return str(folder)


def is_trusted(course: Course) -> bool:
    """True for courses inside driftlab's own courses/ folder (symbolic links resolved)."""
    shipped = paths.courses_dir().resolve()
    return course.folder.resolve().is_relative_to(shipped)


def _check_code(checks: Iterable[Check]) -> Iterable[str]:
    for check in checks:
        if check.command is not None:
            yield check.command.run
        for child in (check.all or []) + (check.any or []):
            yield from _check_code([child])


def shell_code(
    steps: Iterable[Step], *, setup: bool = True, checks: bool = True, solutions: bool = False
) -> list[ShellCode]:
    """The shell code of `steps`: their `run:` setup actions, command checks and (optionally) solutions."""
    found: list[ShellCode] = []
    for step in steps:
        if setup:
            found.extend(ShellCode(step.id, "setup", action.run) for action in step.setup if action.run is not None)
        if checks:
            found.extend(ShellCode(step.id, "check", code) for code in _check_code(step.checks))
        if solutions and step.solution is not None:
            found.extend(ShellCode(step.id, "solution", command) for command in step.solution.commands)
    return found


def require_trust(course: Course, code: Sequence[ShellCode], trusted: bool, retry: str) -> None:
    """Raise UntrustedCourse when `code` would run from a course that is neither shipped nor trusted.

    `retry` is the command line that trusts it, shown to the learner (e.g. `driftlab lab up PATH --trust`).
    """
    if code and not trusted and not is_trusted(course):
        raise UntrustedCourse(course, code, retry)
