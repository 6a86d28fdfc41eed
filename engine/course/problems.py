"""Problems found in course and lab files, reported as `FILE:LINE:COL: message` like a compiler does."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import DriftlabError

_BREAKS = "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"
_ONE_LINE = str.maketrans({char: repr(char)[1:-1] for char in _BREAKS + "".join(map(chr, range(32))) if char != " "})


def one_line(message: str) -> str:
    """The message with line breaks and control characters escaped (`\\n`), as authors' text may hold them:
    each problem stays one `FILE:LINE:COL: message` line."""
    return message.translate(_ONE_LINE)


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong in one file, at a 1-based line and column (1:1 when the file as a whole is wrong)."""

    file: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


class CourseError(DriftlabError):
    """A course or lab that cannot be used; the message lists every problem so the author can fix them all."""

    def __init__(self, problems: list[Problem], what: str = "the course") -> None:
        self.problems = list(problems)
        count = len(self.problems)
        lines = "\n".join(str(problem) for problem in self.problems)
        super().__init__(f"{what} has {count} problem{'s' if count != 1 else ''}:\n{lines}")


@dataclass
class Report:
    """Collects problems from every stage of loading, then hands them back in reading order."""

    problems: list[Problem] = field(default_factory=list)
    _files: list[str] = field(default_factory=list)

    def register(self, file: str) -> None:
        """Remember `file`; the first one registered (the course) is reported before all others."""
        if file not in self._files:
            self._files.append(file)

    def add(self, file: str, line: int, column: int, message: str) -> None:
        self.register(file)
        problem = Problem(one_line(file), line, column, one_line(message))
        if problem not in self.problems:
            self.problems.append(problem)

    def sorted(self) -> list[Problem]:
        """The first registered file (the course) first, then the others by name; by position within each."""
        first = self._files[0] if self._files else ""
        return sorted(self.problems, key=lambda p: (p.file != first, p.file, p.line, p.column))

    def __bool__(self) -> bool:
        return bool(self.problems)
