"""`driftlab course test`: passes on a good course, fails naming the step and check when a check is broken, and
proves every course shipped in courses/ (this is how CI runs it over them)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.course import COURSE_FILE

from ..nodeports import node_ports
from .test_lab import BASICS, ROOT, Driftlab, copy_repository

COURSES = sorted(folder.name for folder in (ROOT / "courses").iterdir() if (folder / COURSE_FILE).is_file())


@pytest.fixture
def driftlab(tmp_path: Path) -> Iterator[Driftlab]:
    lab = Driftlab(tmp_path / "state")
    yield lab
    lab.run("lab", "down", "--all", "--purge")


def _rows(stdout: str) -> dict[str, str]:
    """STEP -> RESULT from the table."""
    rows = {}
    for line in stdout.splitlines()[1:]:
        cells = re.split(r"\s{2,}", line.strip())
        if len(cells) == 6:
            rows[cells[0]] = cells[5]
    return rows


def _break(course: Path, old: str, new: str) -> None:
    path = course / COURSE_FILE
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_a_good_course_passes_and_its_throwaway_lab_is_removed(driftlab: Driftlab) -> None:
    result = driftlab.run("course", "test", str(BASICS), "--trust")
    assert result.returncode == 0, result.stdout + result.stderr
    assert _rows(result.stdout) == {"greeting": "passed", "scale": "passed", "settings": "passed"}
    assert re.search(r"^course basics: passed in \d+\.\ds$", result.stdout, re.MULTILINE)
    assert driftlab.clusters() == []
    assert "mode: draft" in (BASICS / "settings.yaml").read_text()  # the solution edited a scratch copy


def test_a_check_that_passes_before_the_solution_is_broken(driftlab: Driftlab, tmp_path: Path) -> None:
    course = copy_repository(tmp_path / "repo")
    _break(
        course,
        'field: {kind: ConfigMap, name: greeting, path: "{.data.message}", expect: {equals: hello}}',
        "exists: {kind: ConfigMap, name: leftover}",
    )
    result = driftlab.run("course", "test", str(course), "--trust")
    assert result.returncode == 1
    assert _rows(result.stdout)["greeting"] == "broken"
    assert (
        "error: step greeting: check 'the greeting says hello' already passes before the solution "
        "(ConfigMap work/leftover exists), so it cannot tell whether the learner did the step"
    ) in result.stderr
    assert _rows(result.stdout)["settings"] == "passed"  # broken checks do not stop the test


def test_a_solution_that_does_not_satisfy_a_check_fails_naming_step_and_check(
    driftlab: Driftlab, tmp_path: Path
) -> None:
    course = copy_repository(tmp_path / "repo")
    _break(course, "expect: {equals: hello}", "expect: {equals: bonjour}")
    result = driftlab.run("course", "test", str(course), "--trust")
    assert result.returncode == 1
    assert _rows(result.stdout) == {"greeting": "failed", "scale": "not run", "settings": "not run"}
    assert (
        "error: step greeting: check 'the greeting says hello' does not pass 3s after the solution: "
        "ConfigMap work/greeting: expected {.data.message} = bonjour, found hello"
    ) in result.stderr
    assert driftlab.clusters() == []


def test_a_failing_solution_command_fails_with_its_exit_code_and_output(driftlab: Driftlab, tmp_path: Path) -> None:
    course = copy_repository(tmp_path / "repo")
    _break(course, "- kubectl scale deployment web --replicas=3", "- kubectl scale deployment webb --replicas=3")
    result = driftlab.run("course", "test", str(course), "--trust")
    assert result.returncode == 1
    assert _rows(result.stdout)["scale"] == "failed"
    assert (
        "error: step scale: solution command `kubectl scale deployment webb --replicas=3` exited with 1:\n"
        'Error from server (NotFound): deployments.apps "webb" not found'
    ) in result.stderr


def test_one_step_is_tested_after_the_steps_before_it_are_prepared(driftlab: Driftlab) -> None:
    result = driftlab.run("course", "test", str(BASICS), "--step", "scale", "--trust")
    assert result.returncode == 0, result.stderr
    assert _rows(result.stdout) == {"greeting": "prepared", "scale": "passed"}


def test_ctrl_c_removes_the_throwaway_lab(driftlab: Driftlab) -> None:
    child = subprocess.Popen(
        [sys.executable, "-m", "engine.cli", "course", "test", str(BASICS), "--trust"],
        cwd=ROOT,
        env={**os.environ, **driftlab.env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stderr is not None
    for line in child.stderr:
        if line.startswith("step greeting:"):
            break
    child.send_signal(signal.SIGINT)
    _, rest = child.communicate(timeout=60)
    assert child.returncode == 130
    assert "interrupted; the throwaway lab was removed" in rest
    assert driftlab.clusters() == []


@pytest.mark.timeout(900)
@pytest.mark.parametrize("course", COURSES or [pytest.param("none", marks=pytest.mark.skip("no courses yet"))])
def test_every_shipped_course_passes_its_course_test(driftlab: Driftlab, course: str) -> None:
    with node_ports():
        result = driftlab.run("course", "test", str(ROOT / "courses" / course), timeout=800)
    assert result.returncode == 0, result.stdout + result.stderr
    assert driftlab.clusters() == []
