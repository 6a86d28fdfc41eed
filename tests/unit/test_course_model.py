"""The course and lab models, and how their validation errors read once placed in the YAML."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from engine.course.loader import describe, parse_model
from engine.course.model import Course, FileEdit, Lab, SetupAction, Step, parse_duration
from engine.course.positions import load_document
from engine.course.problems import CourseError, Problem, Report
from engine.errors import DriftlabError

MINIMAL = {
    "title": "Demo",
    "summary": "A demo.",
    "duration": "45m",
    "level": "beginner",
    "lab": "demo",
    "steps": [{"id": "one", "title": "One", "instructions": "Do it."}],
}


def _problems(model: type[Any], text: str) -> list[str]:
    document = load_document(text)
    assert document is not None
    report = Report()
    parse_model(model, document, "f.yaml", report)
    return [str(problem) for problem in report.sorted()]


def test_a_minimal_course_gets_its_defaults() -> None:
    course = Course.model_validate(MINIMAL)
    assert course.namespace == "default"
    assert course.tags == []
    step = course.steps[0]
    assert (step.setup, step.checks, step.hints, step.solution, step.timeout) == ([], [], [], None, None)
    assert course.duration_seconds == 45 * 60


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("45m", 2700), ("1h30m", 5400), ("500ms", 0.5)])
def test_durations_read_like_go_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["45", "45 minutes", "1d", "m", ""])
def test_other_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="bad duration"):
        parse_duration(text)


def test_a_step_timeout_is_seconds_or_a_duration() -> None:
    base = {"id": "a", "title": "A", "instructions": "x"}
    assert Step.model_validate({**base, "timeout": "2m"}).timeout == 120
    assert Step.model_validate({**base, "timeout": 15}).timeout == 15
    with pytest.raises(ValidationError):
        Step.model_validate({**base, "timeout": True})


def test_values_are_not_coerced() -> None:
    text = "title: 3\nsummary: S\nduration: 5m\nlevel: beginner\nlab: demo\ntags: x\n"
    text += "steps: [{id: a, title: A, instructions: x}]\n"
    assert _problems(Course, text) == [
        "f.yaml:1:8: expected a string, found a number (3); put it in quotes to make it text",
        "f.yaml:6:7: expected a list, found a string ('x')",
    ]


def test_unknown_fields_name_the_allowed_ones_and_the_likely_one() -> None:
    text = "title: T\nsummary: S\nduration: 5m\nlevel: beginner\nlab: demo\nsteps: []\nsumary: typo\n"
    assert _problems(Course, text) == [
        "f.yaml:6:8: expected at least 1 item, found none",
        "f.yaml:7:1: unknown field 'sumary' (did you mean 'summary'?); allowed: title, summary, duration, level, "
        "tags, order, lab, namespace, steps",
    ]


def test_unknown_fields_inside_a_check_list_the_check_kinds_fields() -> None:
    text = (
        "id: a\ntitle: A\ninstructions: x\nchecks:\n"
        "  - field: {kind: Pod, name: web, path: '{.x}', expect: {equals: 1}, nmae: b}\n"
    )
    [message] = _problems(Step, text)
    assert message.startswith("f.yaml:5:70: unknown field 'nmae' (did you mean 'name'?); allowed: kind, apiVersion,")


def test_missing_fields_point_at_the_mapping_that_lacks_them() -> None:
    assert _problems(Step, "id: a\ninstructions: {}\n") == [
        "f.yaml:1:1: missing required field 'title'",
        "f.yaml:2:15: missing required field 'file'",
    ]


def test_instructions_are_text_or_a_file_reference() -> None:
    base = {"id": "a", "title": "A"}
    assert Step.model_validate({**base, "instructions": "# Hi"}).instructions == "# Hi"
    assert Step.model_validate({**base, "instructions": {"file": "a.md"}}).instructions.file == "a.md"
    assert _problems(Step, "id: a\ntitle: A\ninstructions: [x]\n") == [
        "f.yaml:3:15: expected Markdown text or a mapping such as {file: step1.md}, found a list"
    ]


def test_a_setup_action_does_exactly_one_thing() -> None:
    assert SetupAction.model_validate({"run": "true"}).kind == "run"
    assert SetupAction.model_validate({"apply": {"kind": "ConfigMap"}}).kind == "apply"
    assert SetupAction.model_validate({"delete": {"kind": "Pod", "name": "x"}}).delete.name == "x"
    assert _problems(SetupAction, "run: a\ndelete: b\n") == [
        "f.yaml:1:1: a setup action needs exactly one of run, apply, delete (found: run, delete)"
    ]


def test_a_file_edit_has_content_or_a_patch() -> None:
    assert FileEdit.model_validate({"path": "a", "patch": "--- a"}).patch == "--- a"
    with pytest.raises(ValidationError, match="exactly one of content, patch"):
        FileEdit.model_validate({"path": "a"})


def test_lab_defaults_and_placeholders() -> None:
    lab = Lab.model_validate({"title": "L", "repos": [{"name": "app"}], "agents": ["flux"]})
    assert (lab.backend, lab.namespaces, lab.seed, lab.images) == ("any", [], [], None)
    assert lab.repos[0].branch == "main"
    assert _problems(Lab, "title: L\nnamespaces: [Shop]\n") == [
        "f.yaml:2:14: 'Shop' is not a valid name: use at most 63 lowercase letters, digits and '-', starting and "
        "ending with a letter or digit"
    ]


def test_a_model_used_before_it_was_loaded_from_a_file_says_so() -> None:
    course = Course.model_validate(MINIMAL)
    with pytest.raises(DriftlabError, match="load_course"):
        _ = course.folder


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "null"),
        (True, "a boolean (true)"),
        (3.5, "a number (3.5)"),
        ("x" * 50, f"a string ('{'x' * 37}...')"),
        ([1], "a list"),
        ({"a": 1}, "a mapping"),
    ],
)
def test_values_are_described_as_yaml_authors_name_them(value: Any, text: str) -> None:
    assert describe(value) == text


def test_problems_print_like_compiler_errors_and_errors_list_them_all() -> None:
    problems = [Problem("a.yaml", 3, 7, "first"), Problem("a.yaml", 9, 1, "second")]
    assert str(problems[0]) == "a.yaml:3:7: first"
    message = str(CourseError(problems, what="course a.yaml"))
    assert message == "course a.yaml has 2 problems:\na.yaml:3:7: first\na.yaml:9:1: second"


def test_a_report_puts_the_course_file_first_then_other_files_by_name(tmp_path: Path) -> None:
    report = Report()
    report.register("courses/x/course.yaml")
    report.add("labs/l/lab.yaml", 1, 1, "lab")
    report.add("courses/x/course.yaml", 9, 1, "late")
    report.add("courses/x/course.yaml", 2, 5, "early")
    report.add("courses/x/a.yaml", 4, 1, "manifest")
    report.add("courses/x/course.yaml", 2, 5, "early")
    assert [problem.message for problem in report.sorted()] == ["early", "late", "manifest", "lab"]
