"""Errors of the pipeline runner; each carries a message the learner can act on."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import DriftlabError


class PipelineError(DriftlabError):
    """A pipeline run, store or command that cannot do what was asked."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a pipeline file, at a 1-based line and column, printed like a compiler does."""

    file: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


class PipelineFileError(PipelineError):
    """A pipeline file that cannot be used; lists every problem so the author can fix them all at once."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))
