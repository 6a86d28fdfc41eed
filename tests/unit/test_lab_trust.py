"""Trust: only driftlab's own courses run shell code without --trust, and the refusal lists what would run."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine import paths
from engine.course import Course, load_course
from engine.lab.trust import UntrustedCourse, is_trusted, require_trust, shell_code

ROOT = Path(__file__).resolve().parents[2]
BASICS = ROOT / "tests" / "lab_courses"


@pytest.fixture
def repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the test course repository whose courses/ stands in for driftlab's own."""
    root = tmp_path / "repo"
    shutil.copytree(BASICS, root)
    monkeypatch.setattr(paths, "courses_dir", lambda: root / "courses")
    return root


def _course(text: str, folder: Path) -> Course:
    folder.mkdir(parents=True)
    (folder / "course.yaml").write_text(text)
    return load_course(folder)


GROUPED = """
title: Grouped
summary: Command checks inside groups.
duration: 5m
level: beginner
lab: basics
steps:
  - id: only
    title: Only step
    instructions: Do it.
    setup:
      - run: echo setting up
      - apply: {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}
    checks:
      - exists: {kind: ConfigMap, name: a}
      - any:
          - command: {run: "kubectl get cm a"}
          - all:
              - command: {run: "test -f ready"}
    solution:
      commands: [touch ready]
"""


def test_courses_inside_driftlabs_courses_folder_are_trusted(repository: Path) -> None:
    assert is_trusted(load_course(repository / "courses" / "basics"))


def test_a_course_anywhere_else_is_not(repository: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere" / "courses" / "basics"
    shutil.copytree(repository / "courses" / "basics", outside)
    shutil.copytree(repository / "labs", tmp_path / "elsewhere" / "labs")
    assert not is_trusted(load_course(outside))


def test_a_link_from_outside_to_a_shipped_course_is_trusted_and_the_reverse_is_not(
    repository: Path, tmp_path: Path
) -> None:
    link_in = tmp_path / "alias" / "courses" / "basics"
    link_in.parent.mkdir(parents=True)
    (tmp_path / "alias" / "labs").symlink_to(repository / "labs", target_is_directory=True)
    link_in.symlink_to(repository / "courses" / "basics", target_is_directory=True)
    assert is_trusted(load_course(link_in))

    outside = tmp_path / "outside" / "courses" / "sneaky"
    shutil.copytree(repository / "courses" / "basics", outside)
    shutil.copytree(repository / "labs", tmp_path / "outside" / "labs")
    link_out = repository / "courses" / "sneaky"
    link_out.symlink_to(outside, target_is_directory=True)
    assert not is_trusted(load_course(link_out))


def test_shell_code_lists_setup_runs_command_checks_in_groups_and_solutions_on_request(
    repository: Path,
) -> None:
    course = _course(GROUPED, repository / "courses" / "grouped")
    found = [(code.step, code.role, code.code) for code in shell_code(course.steps)]
    assert found == [
        ("only", "setup", "echo setting up"),
        ("only", "check", "kubectl get cm a"),
        ("only", "check", "test -f ready"),
    ]
    with_solutions = shell_code(course.steps, setup=False, checks=False, solutions=True)
    assert [(code.role, code.code) for code in with_solutions] == [("solution", "touch ready")]


def test_an_untrusted_course_is_refused_with_the_commands_and_how_to_trust_it(repository: Path, tmp_path: Path) -> None:
    outside = tmp_path / "mine" / "courses" / "grouped"
    shutil.copytree(repository / "labs", tmp_path / "mine" / "labs")
    course = _course(GROUPED, outside)
    code = shell_code(course.steps)
    with pytest.raises(UntrustedCourse) as caught:
        require_trust(course, code, trusted=False, retry="driftlab lab up ./grouped --trust")
    message = str(caught.value)
    assert "is not one of driftlab's own courses" in message
    assert "3 shell commands" in message
    assert "step only, setup: echo setting up" in message
    assert "step only, check: test -f ready" in message
    assert message.endswith("if you trust the course, run: driftlab lab up ./grouped --trust")


def test_trust_is_needed_only_when_code_would_run(repository: Path, tmp_path: Path) -> None:
    outside = tmp_path / "mine" / "courses" / "grouped"
    shutil.copytree(repository / "labs", tmp_path / "mine" / "labs")
    course = _course(GROUPED, outside)
    require_trust(course, [], trusted=False, retry="x")
    require_trust(course, shell_code(course.steps), trusted=True, retry="x")
    shipped = load_course(repository / "courses" / "basics")
    require_trust(shipped, shell_code(shipped.steps), trusted=False, retry="x")


def test_multi_line_code_is_shown_whole_and_indented(repository: Path, tmp_path: Path) -> None:
    outside = tmp_path / "mine" / "courses" / "multi"
    shutil.copytree(repository / "labs", tmp_path / "mine" / "labs")
    course = _course(
        GROUPED.replace("- run: echo setting up", "- run: |\n          echo one\n          echo two"), outside
    )
    with pytest.raises(UntrustedCourse) as caught:
        require_trust(course, shell_code(course.steps), trusted=False, retry="x")
    assert "  step only, setup: echo one\n      echo two\n" in str(caught.value)
