"""The lab runtime's decisions that need no cluster: names, the current step, namespaces, refusals, reports."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine import paths
from engine.checks.results import CheckResult, StepResult
from engine.checks.spec import Check
from engine.course import Course, load_course
from engine.errors import DriftlabError
from engine.lab.coursetest import GRACE, CourseTestReport, StepReport, check_limit, scratch_copy
from engine.lab.lab import CheckOutcome, LabRuntime, LabStatus, cluster_name, current_step, needs_wait
from engine.lab.progress import CourseProgress, ProgressStore
from engine.lab.report import check_lines, status_lines
from engine.lab.trust import UntrustedCourse

ROOT = Path(__file__).resolve().parents[2]
BASICS = ROOT / "tests" / "lab_courses" / "courses" / "basics"


@pytest.fixture
def course() -> Course:
    return load_course(BASICS)


@pytest.fixture
def store(tmp_path: Path) -> ProgressStore:
    return ProgressStore(tmp_path / "progress.sqlite3")


def test_cluster_names_are_dns_labels_made_from_the_course_folder() -> None:
    assert cluster_name("antipatterns") == "lab-antipatterns"
    assert cluster_name("My_Course.v2") == "lab-my-course-v2"
    long = cluster_name("x" * 80, "coursetest-", "-abcdef")
    assert len(long) == 63 and long.startswith("coursetest-xxx") and long.endswith("-abcdef")
    assert paths.check_name(cluster_name("--weird--")) == "lab-weird"


def test_the_current_step_is_the_recorded_one_else_the_first_not_passed(course: Course) -> None:
    ids = [step.id for step in course.steps]
    assert current_step(course, CourseProgress("basics")).id == ids[0]
    assert current_step(course, CourseProgress("basics", current_step=ids[1])).id == ids[1]
    # A step id the course no longer has (the course was edited): the first step not passed.
    moved = CourseProgress("basics", current_step="renamed", steps={})
    assert current_step(course, moved).id == ids[0]
    from datetime import UTC, datetime

    done = CourseProgress("basics", finished_at=datetime.now(UTC))
    assert current_step(course, done) is None


def test_a_check_needs_waiting_when_it_or_a_check_in_its_group_has_a_timeout() -> None:
    plain = Check.model_validate({"exists": {"kind": "cm", "name": "a"}})
    slow = Check.model_validate({"exists": {"kind": "cm", "name": "a"}, "timeout": 5})
    grouped = Check.model_validate({"any": [{"all": [{"exists": {"kind": "cm", "name": "a"}, "timeout": 2}]}]})
    assert not needs_wait([plain])
    assert needs_wait([plain, slow])
    assert needs_wait([grouped])


def test_course_test_gives_checks_at_least_the_grace_time_unless_the_step_says(course: Course) -> None:
    scale = course.step("scale")
    assert check_limit(scale.checks, scale) == max(GRACE, 20)
    greeting = course.step("greeting")
    assert check_limit(greeting.checks, greeting) == GRACE
    timed = greeting.model_copy(update={"timeout": 1.5})
    assert check_limit(timed.checks, timed) == 1.5


def test_the_lab_creates_its_namespaces_and_the_courses_but_not_system_ones(course: Course) -> None:
    runtime = LabRuntime(course)
    assert runtime.namespaces() == ["work"]
    defaulted = course.model_copy(update={"namespace": "default"})
    defaulted.bind(course.source, course.lab_folder)
    assert LabRuntime(defaulted).namespaces() == ["work"]


def test_nothing_is_started_for_an_untrusted_course(course: Course, store: ProgressStore, driftlab_home: Path) -> None:
    runtime = LabRuntime(course, store=store, retry="driftlab lab up basics --trust")
    with pytest.raises(UntrustedCourse, match="run: driftlab lab up basics --trust"):
        runtime.up()
    assert not (driftlab_home / "clusters" / "lab-basics").exists()


def test_commands_on_a_lab_never_started_say_how_to_start_it(
    course: Course, store: ProgressStore, driftlab_home: Path
) -> None:
    runtime = LabRuntime(course, store=store, trusted=True)
    with pytest.raises(DriftlabError, match="has not been started; start it with: driftlab lab up basics"):
        runtime.check()
    with pytest.raises(DriftlabError, match="has no lab"):
        runtime.down()
    with pytest.raises(DriftlabError, match="has no lab yet"):
        runtime.kubeconfig_text()
    status = runtime.status()
    assert (status.created, status.running, status.step.id) == (False, False, "greeting")
    assert not (driftlab_home / "clusters" / "lab-basics").exists()


def test_status_lines_name_the_cluster_the_course_and_the_step(course: Course) -> None:
    checks = StepResult((CheckResult("the greeting says hello", "field", False, "greeting does not exist"),))
    status = LabStatus(
        course, "lab-basics", True, True, "http://127.0.0.1:1234", CourseProgress("basics"), course.steps[0], checks
    )
    assert status_lines(status) == [
        "lab 'basics' (cluster lab-basics): running at http://127.0.0.1:1234",
        f"course: Lab basics ({course.folder}), 0 of 3 steps passed",
        "step 1 of 3 current: greeting (Create the greeting)",
        "checks: 0 of 1 checks pass",
        "  ✗ the greeting says hello: greeting does not exist",
    ]


def test_check_lines_say_what_was_recorded(course: Course) -> None:
    greeting, scale = course.steps[0], course.steps[1]
    passed = StepResult((CheckResult("the greeting says hello", "field", True, "it is hello"),))
    failed = StepResult((CheckResult("the greeting says hello", "field", False, "it is hi"),))
    assert check_lines(CheckOutcome(greeting, failed), "basics")[-1] == (
        "step greeting: 0 of 1 checks pass; not passed yet"
    )
    assert check_lines(CheckOutcome(greeting, passed, True, scale), "basics") == [
        "step greeting (Create the greeting):",
        "  ✓ the greeting says hello: it is hello",
        "step greeting passed; now on step scale (Scale the web app)",
    ]
    last = check_lines(CheckOutcome(course.steps[-1], passed, True, None, True), "basics")[-1]
    assert last == "step settings passed; that was the last step: the course is complete"
    assert check_lines(CheckOutcome(None, StepResult(), finished=True), "basics") == [
        "every step of 'basics' has passed; check one again with --step ID"
    ]


def test_the_course_test_table_shows_times_and_results(course: Course) -> None:
    report = CourseTestReport(course, "coursetest-basics-000000", seconds=4.25)
    report.steps = [
        StepReport(course.steps[0], result="passed", setup=0.21, before=0.5, solution=0.1, after=0.04),
        StepReport(course.steps[1], result="failed", setup=0.1, before=0.5, solution=0.2, after=3.0),
        StepReport(course.steps[2]),
    ]
    assert report.table() == [
        "STEP      SETUP  BEFORE  SOLUTION  AFTER  RESULT",
        "greeting  0.2s   0.5s    0.1s      0.0s   passed",
        "scale     0.1s   0.5s    0.2s      3.0s   failed",
        "settings  -      -       -         -      not run",
        "course basics: FAILED in 4.2s",
    ]
    assert not report.passed


def test_the_scratch_copy_keeps_paths_that_leave_the_course_folder_working(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "tests" / "lab_courses", repo)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    work = scratch_copy(repo / "courses" / "basics", scratch)
    assert work == scratch / "courses" / "basics"
    assert not work.is_symlink() and (work / "course.yaml").is_file()
    assert (work / "../../labs/basics/lab.yaml").resolve() == (repo / "labs" / "basics" / "lab.yaml").resolve()
    (work / "settings.yaml").write_text("changed")
    assert "mode: draft" in (repo / "courses" / "basics" / "settings.yaml").read_text()


def test_the_quick_look_finds_the_name_lab_and_image_catalogue_as_loading_does(tmp_path: Path) -> None:
    from engine.lab.quickstart import peek_course

    shipped = load_course(BASICS)
    for given in (str(BASICS), str(BASICS / "course.yaml")):
        peek = peek_course(given)
        assert peek is not None
        assert (peek.name, peek.lab_folder) == (shipped.name, shipped.lab_folder.resolve())
        assert peek.images is None
    corpus = ROOT / "tests" / "course_corpus" / "courses" / "good"
    peek = peek_course(str(corpus))
    assert peek is not None and peek.images == (ROOT / "tests" / "course_corpus" / "labs" / "shop" / "images.yaml")
    assert peek_course(str(tmp_path / "nothing-here")) is None
    (tmp_path / "course.yaml").write_text("title: [unclosed\n")
    assert peek_course(str(tmp_path)) is None


def test_a_lab_for_kind_only_is_refused_before_anything_starts(tmp_path: Path, driftlab_home: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "tests" / "lab_courses", repo)
    lab_file = repo / "labs" / "basics" / "lab.yaml"
    lab_file.write_text(lab_file.read_text().replace("backend: embedded", "backend: kind"))
    runtime = LabRuntime(load_course(repo / "courses" / "basics"), store=ProgressStore(tmp_path / "p.db"))
    with pytest.raises(DriftlabError, match="runs only on the kind backend"):
        runtime.start()
    assert not (driftlab_home / "clusters" / "lab-basics" / "daemon.json").exists()
