"""The public course API: load_course, validate_course, load_lab, list_courses, served kinds and the JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from engine import paths
from engine.course import (
    CourseError,
    course_schema,
    find_lab,
    list_courses,
    load_course,
    load_lab,
    load_manifests,
    schema_text,
    validate_course,
)
from engine.course.kinds import KindError, ServedKinds, crd_types
from engine.errors import DriftlabError

REPO = Path(__file__).resolve().parents[2]
GOOD = REPO / "tests" / "course_corpus" / "courses" / "good"

LAB = "title: Demo lab\nnamespaces: [shop]\nseed: [seed.yaml]\n"
CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gadgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {kind: Gadget, plural: gadgets, singular: gadget, shortNames: [gd]}
  versions: [{name: v1, served: true, storage: true}]
"""
COURSE = """\
title: Demo
summary: A demo course.
duration: 20m
level: beginner
lab: demo
namespace: shop
steps:
  - id: first
    title: First
    instructions: {file: first.md}
    checks:
      - exists: {kind: gd, name: one}
  - id: second
    title: Second
    instructions: Inline.
"""


def _tree(root: Path, course: str = COURSE, lab: str = LAB) -> Path:
    """A repository layout: courses/demo/ beside labs/demo/."""
    folder = root / "courses" / "demo"
    folder.mkdir(parents=True)
    (folder / "course.yaml").write_text(course)
    (folder / "first.md").write_text("# First\n")
    lab_folder = root / "labs" / "demo"
    lab_folder.mkdir(parents=True)
    (lab_folder / "lab.yaml").write_text(lab)
    (lab_folder / "seed.yaml").write_text(CRD)
    return folder


def test_a_valid_course_loads_with_its_folder_and_lab(tmp_path: Path) -> None:
    folder = _tree(tmp_path)
    course = load_course(folder)
    assert (course.name, course.title, [step.id for step in course.steps]) == ("demo", "Demo", ["first", "second"])
    assert course.folder == folder.resolve()
    assert course.source == folder.resolve() / "course.yaml"
    assert course.lab_folder == (tmp_path / "labs" / "demo").resolve()
    assert course.instructions(course.step("first")) == "# First\n"
    assert course.instructions(course.step("second")) == "Inline."
    assert validate_course(folder / "course.yaml") == []


def test_an_unknown_step_names_the_steps_there_are(tmp_path: Path) -> None:
    course = load_course(_tree(tmp_path))
    with pytest.raises(DriftlabError, match="has no step 'third'; its steps are: first, second"):
        course.step("third")


def test_a_broken_course_raises_with_every_problem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = COURSE.replace("level: beginner", "level: expert").replace("kind: gd", "kind: gdd")
    folder = _tree(tmp_path, course=broken)
    (folder / "first.md").unlink()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CourseError) as caught:
        load_course("courses/demo")
    shown = [str(problem) for problem in caught.value.problems]
    assert shown == [
        "courses/demo/course.yaml:4:8: expected 'beginner', 'intermediate' or 'advanced', found a string ('expert')",
        "courses/demo/course.yaml:10:26: instructions file 'first.md' not found (looked for courses/demo/first.md)",
        "courses/demo/course.yaml:12:24: unknown kind 'gdd': neither a built-in kind nor declared "
        "by a CRD in the lab's seed or a step's setup",
    ]
    assert str(caught.value).startswith("course courses/demo/course.yaml has 3 problems:\n")
    assert validate_course("courses/demo") == caught.value.problems


def test_a_path_that_is_no_course_is_a_plain_error(tmp_path: Path) -> None:
    with pytest.raises(DriftlabError, match="no course at"):
        validate_course(tmp_path / "nowhere")
    with pytest.raises(DriftlabError, match=r"has no course\.yaml"):
        validate_course(tmp_path)


def test_labs_are_found_beside_the_courses_then_among_driftlabs_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _tree(tmp_path)
    source = folder / "course.yaml"
    assert find_lab("demo", source) is not None
    assert find_lab("missing", source) is None
    shipped = tmp_path / "shipped"
    (shipped / "missing").mkdir(parents=True)
    (shipped / "missing" / "lab.yaml").write_text("title: Shipped\n")
    monkeypatch.setattr(paths, "labs_dir", lambda: shipped)
    found = find_lab("missing", source)
    assert found is not None and found.folder == shipped / "missing"
    relative = find_lab("../../labs/demo", source, "courses/demo/course.yaml")
    assert relative is not None and relative.display == "labs/demo"


def test_load_lab_by_path_or_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _tree(tmp_path)
    lab = load_lab(tmp_path / "labs" / "demo")
    assert (lab.title, lab.name, lab.namespaces) == ("Demo lab", "demo", ["shop"])
    assert lab.seed_paths() == [(tmp_path / "labs" / "demo").resolve() / "seed.yaml"]
    monkeypatch.setattr(paths, "labs_dir", lambda: tmp_path / "labs")
    assert load_lab("demo").title == "Demo lab"
    with pytest.raises(DriftlabError, match="there is no lab named 'nope'"):
        load_lab("nope")


def test_a_broken_lab_raises_with_its_problems(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _tree(tmp_path, lab="title: Broken\nseed: [missing.yaml]\nbackend: docker\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CourseError) as caught:
        load_lab("labs/demo")
    assert [str(problem) for problem in caught.value.problems] == [
        "labs/demo/lab.yaml:2:8: seed manifest 'missing.yaml' not found (looked for labs/demo/missing.yaml)",
        "labs/demo/lab.yaml:3:10: expected 'embedded', 'kind' or 'any', found a string ('docker')",
    ]


def test_manifests_load_from_a_folder_in_name_order_with_lists_unpacked(tmp_path: Path) -> None:
    (tmp_path / "b.yaml").write_text(
        "apiVersion: v1\nkind: List\nitems:\n  - {apiVersion: v1, kind: Secret, metadata: {name: s}}\n"
    )
    (tmp_path / "a.yml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n---\n")
    (tmp_path / "notes.txt").write_text("not a manifest")
    assert [m["kind"] for m in load_manifests(tmp_path)] == ["ConfigMap", "Secret"]
    (tmp_path / "c.json").write_text('{"apiVersion": "v1", "kind": "Pod"}')
    with pytest.raises(CourseError, match=r"a Pod manifest needs metadata\.name"):
        load_manifests(tmp_path)


def test_kinds_resolve_as_kubectl_names_them() -> None:
    served = ServedKinds()
    for name in ("Deployment", "deployment", "deployments", "deploy", "deployments.apps", "deployment.v1.apps"):
        assert served.resolve(name).kind == "Deployment"
    assert served.resolve("cm", "v1").kind == "ConfigMap"
    with pytest.raises(KindError, match=r"Deployment is not served as apps/v1beta1 \(it is served as apps/v1\)"):
        served.resolve("Deployment", "apps/v1beta1")
    with pytest.raises(KindError, match=r"did you mean Service\?"):
        served.resolve("Servce")
    with pytest.raises(KindError, match="unknown kind 'Gadget'"):
        served.manifest_type("example.com/v1", "Gadget")


def test_kinds_declared_by_a_crd_are_served() -> None:
    served = ServedKinds().with_types(crd_types(yaml.safe_load(CRD)))
    assert served.resolve("gd").kind == "Gadget"
    assert served.resolve("gadgets.example.com").namespaced
    assert served.manifest_type("example.com/v1", "Gadget").plural == "gadgets"
    assert crd_types({"kind": "CustomResourceDefinition", "spec": {"names": {}}}) == []


def test_list_courses_shows_valid_and_invalid_courses(tmp_path: Path) -> None:
    folder = _tree(tmp_path)
    broken = tmp_path / "courses" / "broken"
    broken.mkdir()
    (broken / "course.yaml").write_text("title: [\n")
    (tmp_path / "courses" / "not-a-course").mkdir()
    entries = list_courses(tmp_path / "courses")
    assert [entry.name for entry in entries] == ["broken", "demo"]
    assert entries[0].course is None and len(entries[0].problems) == 1
    assert entries[1].course is not None and entries[1].folder == folder
    assert list_courses(tmp_path / "nowhere") == []


def test_the_committed_schema_is_the_generated_one() -> None:
    committed = (REPO / "courses" / "course.schema.json").read_text()
    assert committed == schema_text(), "regenerate it: driftlab course schema > courses/course.schema.json"


def test_the_schema_is_draft_2020_12_and_agrees_with_the_loader() -> None:
    schema = course_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    good = yaml.safe_load((GOOD / "course.yaml").read_text())
    assert list(validator.iter_errors(good)) == []
    two_kinds = json.loads(json.dumps(good))
    two_kinds["steps"][0]["checks"][0]["absent"] = {"kind": "Pod"}
    assert list(validator.iter_errors(two_kinds))
    unknown = {**good, "titel": "x"}
    assert list(validator.iter_errors(unknown))
    assert schema["$defs"]["Step"]["properties"]["instructions"]["description"]


def test_shipped_courses_validate_and_point_editors_at_the_schema() -> None:
    for course in sorted((REPO / "courses").glob("*/course.yaml")):
        assert validate_course(course) == [], course
        first = course.read_text().splitlines()[0]
        assert first == "# yaml-language-server: $schema=../course.schema.json", course


def test_paths_in_problems_are_shown_from_where_the_command_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _tree(tmp_path, lab="title: Demo lab\nseed: [seed.yaml]\nimages: images.yaml\n")
    monkeypatch.chdir(folder)
    assert [str(problem) for problem in validate_course(".")] == [
        "../../labs/demo/lab.yaml:3:9: image catalogue 'images.yaml' not found (looked for ../../labs/demo/images.yaml)"
    ]


def test_a_misspelt_lab_name_suggests_the_lab_that_exists(tmp_path: Path) -> None:
    folder = _tree(tmp_path, course=COURSE.replace("lab: demo", "lab: dmeo"))
    [problem] = validate_course(folder)
    assert problem.message.endswith("(did you mean 'demo'?)")
    assert (problem.line, problem.column) == (5, 6)


def test_a_shipped_course_loads_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _tree(tmp_path)
    monkeypatch.setattr(paths, "courses_dir", lambda: tmp_path / "courses")
    assert load_course("demo").name == "demo"
    with pytest.raises(DriftlabError, match="see: driftlab course list"):
        load_course("no-such-course")


def test_a_crd_applied_by_a_step_serves_its_kind_from_that_step_on(tmp_path: Path) -> None:
    course = COURSE.replace("kind: gd,", "kind: Sprocket,") + (
        "    setup:\n      - apply: sprockets.yaml\n    checks:\n      - exists: {kind: sprockets, name: s}\n"
    )
    folder = _tree(tmp_path, course=course)
    crd = CRD.replace("gadgets", "sprockets").replace("Gadget", "Sprocket").replace("gadget", "sprocket")
    (folder / "sprockets.yaml").write_text(crd.replace("shortNames: [gd]", "shortNames: [sp]"))
    [problem] = validate_course(folder)
    assert (problem.line, problem.message.split(":")[0]) == (12, "unknown kind 'Sprocket'")
