"""`driftlab course validate` over a corpus of broken courses, through the real command line.

Each folder of tests/course_corpus/courses/ holds a course.yaml with mistakes in it and an expected.txt with
the exact FILE:LINE:COL lines the command must print on stderr. The corpus has its own labs/ folder beside
courses/, as a course repository would. `good/` uses every part of the format and must validate clean.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine import paths, proc
from engine.cli import cli

CORPUS = Path(__file__).resolve().parents[1] / "course_corpus"
CASES = sorted(folder.name for folder in (CORPUS / "courses").iterdir() if (folder / "expected.txt").is_file())
REPO = Path(__file__).resolve().parents[2]


def _driftlab(*args: str) -> proc.Result:
    """The real command line, in its own process, as a course author runs it."""
    return proc.run([sys.executable, "-m", "engine.cli", *args], cwd=CORPUS, timeout=120)


def _expected(case: str) -> list[str]:
    return (CORPUS / "courses" / case / "expected.txt").read_text().splitlines()


def test_the_corpus_covers_at_least_thirty_broken_courses() -> None:
    assert len(CASES) >= 30


def test_the_whole_corpus_through_the_real_command_line() -> None:
    """One process validates every case in turn: exit 1, nothing on stdout, exactly the expected lines."""
    result = _driftlab("course", "validate", *(f"courses/{case}" for case in CASES))
    assert "Traceback" not in result.stderr
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.splitlines() == [line for case in CASES for line in _expected(case)]


@pytest.mark.parametrize("case", CASES)
def test_a_broken_course_reports_every_problem_at_its_position(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same command, one case at a time and in-process, so a failure names its case."""
    monkeypatch.chdir(CORPUS)
    result = CliRunner().invoke(cli, ["course", "validate", f"courses/{case}"], obj={})
    assert isinstance(result.exception, SystemExit), result.exception
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr.splitlines() == _expected(case)


def test_the_good_course_validates_clean() -> None:
    result = _driftlab("course", "validate", "courses/good/course.yaml")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == "courses/good/course.yaml: OK (2 steps, lab shop)\n"


def test_a_path_without_a_course_is_an_error_and_the_others_are_still_checked() -> None:
    result = _driftlab("course", "validate", "courses/nothing-here", "courses/good")
    assert result.returncode == 1
    assert result.stderr.startswith("error: no course at courses/nothing-here: give a course folder")
    assert "Traceback" not in result.stderr
    assert result.stdout == "courses/good: OK (2 steps, lab shop)\n"


def test_course_schema_prints_the_committed_schema() -> None:
    result = _driftlab("course", "schema")
    assert result.returncode == 0
    assert result.stdout == (REPO / "courses" / "course.schema.json").read_text()


def test_course_list_shows_title_duration_level_and_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(paths, "courses_dir", lambda: CORPUS / "courses")
    monkeypatch.chdir(CORPUS)
    result = CliRunner().invoke(cli, ["course", "list"], obj={})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["COURSE", "TITLE", "DURATION", "LEVEL", "STEPS"]
    good = next(line for line in lines if line.startswith("good "))
    assert good.split()[-3:] == ["1h30m", "intermediate", "2"]
    assert "Every feature, used correctly" in good
    broken = next(line for line in lines if line.startswith("17-duplicate-step-ids "))
    assert "invalid, 1 problems: driftlab course validate" in broken
    assert len(lines) == 1 + len(CASES) + 1


def test_course_list_says_when_there_are_no_courses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(paths, "courses_dir", lambda: tmp_path)
    result = CliRunner().invoke(cli, ["course", "list"], obj={})
    assert (result.exit_code, result.output) == (0, f"no courses in {tmp_path}\n")
