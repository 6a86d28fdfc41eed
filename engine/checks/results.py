"""What an evaluation reports: one result per check, and a step's results together.

Results are plain frozen values so a watcher can tell whether anything changed by comparing them, and so the
CLI and the TUI print the same thing from them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

PASS_MARK = "✓"
FAIL_MARK = "✗"
PENDING_MARK = "…"


@dataclass(frozen=True)
class CheckResult:
    """One check's outcome. `passed` is None while the check has not been evaluated yet."""

    name: str
    kind: str
    passed: bool | None
    message: str
    expected: str = ""
    found: str = ""
    children: tuple[CheckResult, ...] = field(default=())

    @property
    def mark(self) -> str:
        if self.passed is None:
            return PENDING_MARK
        return PASS_MARK if self.passed else FAIL_MARK

    def lines(self, indent: str = "  ") -> list[str]:
        """`✓ name: message`, then the children of a group indented below it."""
        head = f"{self.mark} {self.name}"
        if self.message and self.message != self.name:
            head += f": {self.message}"
        out = [head]
        for child in self.children:
            out.extend(indent + line for line in child.lines(indent))
        return out

    def walk(self) -> Iterator[CheckResult]:
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass(frozen=True)
class StepResult:
    """The results of a step's checks, in the order the step lists them."""

    results: tuple[CheckResult, ...] = ()

    @property
    def passed(self) -> bool:
        """True only when every check passed (a step with no checks passes)."""
        return all(result.passed is True for result in self.results)

    @property
    def pending(self) -> bool:
        return any(result.passed is None for result in self.results)

    @property
    def failed(self) -> tuple[CheckResult, ...]:
        return tuple(result for result in self.results if result.passed is False)

    @property
    def summary(self) -> str:
        total = len(self.results)
        good = sum(1 for result in self.results if result.passed is True)
        if total == 0:
            return "no checks"
        if good == total:
            return f"all {total} checks pass" if total > 1 else "the check passes"
        return f"{good} of {total} checks pass"

    def lines(self) -> list[str]:
        return [line for result in self.results for line in result.lines()]

    def __str__(self) -> str:
        return "\n".join(self.lines())


def group(name: str, kind: str, children: Iterable[CheckResult]) -> CheckResult:
    """An `all` or `any` group: its verdict and a summary that names what fails."""
    items = tuple(children)
    total = len(items)
    good = [child for child in items if child.passed is True]
    bad = [child for child in items if child.passed is False]
    waiting = [child for child in items if child.passed is None]
    if kind == "all":
        passed: bool | None = False if bad else (None if waiting else True)
        expected = f"all of {total} checks to pass"
        if passed:
            message = f"all {total} checks pass"
        else:
            names = ", ".join(child.name for child in bad or waiting)
            message = f"{len(good)} of {total} checks pass; {'failing' if bad else 'not checked yet'}: {names}"
    else:
        passed = True if good else (None if waiting else False)
        expected = f"at least one of {total} checks to pass"
        if passed:
            message = f"{len(good)} of {total} checks pass (one is enough): {', '.join(c.name for c in good)}"
        elif passed is None:
            message = f"none of {total} checks pass yet"
        else:
            message = f"none of {total} checks pass (at least one must)"
    found = f"{len(good)} of {total} pass"
    return CheckResult(name, kind, passed, message, expected, found, items)
