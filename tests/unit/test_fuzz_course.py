"""The course loader under fuzzed input: every shipped and test course.yaml and lab.yaml, mutated.

Whatever the bytes, `validate_course`, `load_course` and `load_lab` either accept the file or report problems as
`FILE:LINE:COL: message` (one line each) through their own CourseError; no other exception, no hang (pytest's
timeout stands guard), no expansion of an alias bomb. `DRIFTLAB_FUZZ_EXAMPLES` raises the number of examples for
long runs (`DRIFTLAB_FUZZ_EXAMPLES=2000 pytest tests/unit/test_fuzz_course.py`).
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import proc
from engine.course import CourseError, load_course, load_lab, validate_course
from engine.errors import DriftlabError

REPO = Path(__file__).resolve().parents[2]
ROOTS = [REPO, REPO / "tests" / "course_corpus", REPO / "tests" / "lab_courses"]
COURSES = sorted(path for root in ROOTS for path in (root / "courses").glob("*/course.yaml"))
LABS = sorted(path for root in ROOTS for path in (root / "labs").glob("*/lab.yaml"))
PROBLEM = re.compile(r"^[^\n]+:\d+:\d+: [^\n]+$")
EXAMPLES = int(os.environ.get("DRIFTLAB_FUZZ_EXAMPLES", "0")) or None


def fuzz_settings(examples: int) -> settings:
    """Modest example counts in `make test`; DRIFTLAB_FUZZ_EXAMPLES overrides them for long runs."""
    return settings(
        max_examples=EXAMPLES or examples,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


# ----------------------------------------------------------------------------------------------------
# Hostile snippets, each also tried on its own through the command line


def alias_bomb(levels: int = 9) -> str:
    """The "billion laughs": each level names the previous one nine times; 9**9 strings once expanded."""
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for level in range(1, levels):
        refs = ", ".join([f"*a{level - 1}"] * 9)
        lines.append(f"a{level}: &a{level} [{refs}]")
    return "\n".join(lines) + "\n"


def merge_bomb(levels: int = 12) -> str:
    """The same trick through merge keys, which PyYAML flattens by copying."""
    lines = ["m0: &m0 {k: v, j: w}"]
    for level in range(1, levels):
        refs = ", ".join([f"*m{level - 1}"] * 6)
        lines.append(f"m{level}: &m{level} {{<<: [{refs}], x{level}: 1}}")
    return "\n".join(lines) + "\n"


HOSTILE: dict[str, str | bytes] = {
    "alias-bomb": alias_bomb(),
    "merge-bomb": merge_bomb(),
    "deep-alias": "a: &a " + "[" * 90 + "]" * 90 + "\nb: &b " + "[*a, " * 90 + "]" * 90 + "\n",
    "python-object": "title: !!python/object/apply:os.system ['touch /tmp/driftlab-fuzz-pwned']\n",
    "python-name": "!!python/name:os.system\n",
    "deep-flow": "title: " + "[" * 3000 + "]" * 3000 + "\n",
    "deep-block": "".join("  " * depth + f"k{depth}:\n" for depth in range(400)),
    "not-utf8": b"title: caf\xe9\nsummary: \xff\xfe\n",
    "nul-byte": "title: a\x00b\n",
    "huge-string": "title: " + "x" * (5 * 1024 * 1024) + "\n",
    "recursive": "steps: &s [*s]\n",
    "tabs": "title: x\n\tsteps:\n\t- id: a\n",
    "not-a-mapping": "- just\n- a list\n",
    "binary-tag": "title: !!binary '@@@'\n",
}


# ----------------------------------------------------------------------------------------------------
# Mutations


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True) or [""]


def drop_line(text: str, at: int) -> str:
    lines = _lines(text)
    del lines[at % len(lines)]
    return "".join(lines)


def duplicate_line(text: str, at: int) -> str:
    lines = _lines(text)
    index = at % len(lines)
    return "".join([*lines[: index + 1], lines[index], *lines[index + 1 :]])


def reindent_line(text: str, at: int, indent: str) -> str:
    lines = _lines(text)
    index = at % len(lines)
    lines[index] = indent + lines[index].lstrip(" ")
    return "".join(lines)


def replace_line(text: str, at: int, junk: str) -> str:
    lines = _lines(text)
    lines[at % len(lines)] = junk + "\n"
    return "".join(lines)


def truncate(text: str, at: int) -> str:
    return text[: at % (len(text) + 1)]


def insert(text: str, at: int, junk: str) -> str:
    index = at % (len(text) + 1)
    return text[:index] + junk + text[index:]


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.dates(),
    st.sampled_from(["", "~", "0x1f", "1e400", ".inf", "2024-13-45", "yes", "../../../etc/passwd", "/etc/hostname"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8) | st.integers(), inner, max_size=3),
    max_leaves=8,
)


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into the data, for structural mutations."""
    found = [prefix]
    if isinstance(data, dict):
        for key, value in data.items():
            found.extend(_paths(value, (*prefix, key)))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found.extend(_paths(value, (*prefix, index)))
    return found


def structural(text: str, choice: int, action: str, value: Any) -> str:
    """Parse, then drop a key or item, or put a value of another type somewhere, and write YAML back."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    paths = _paths(data)
    path = paths[choice % len(paths)]
    if not path:
        return yaml.safe_dump(value, allow_unicode=True)
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    if action == "drop":
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


junk_text = st.text(st.characters(codec="utf-8"), max_size=40) | st.sampled_from(
    ["\t", "key: [", "'open", '"open', "? ", ": :", "- - -", "&anchor", "*missing", "!!python/object:os.system", "---"]
)
line_at = st.integers(min_value=0, max_value=10_000)
Mutation = Callable[[str], str | bytes]


@st.composite
def mutations(draw: st.DrawFn) -> Mutation:
    kind = draw(
        st.sampled_from(
            ["drop", "duplicate", "reindent", "replace", "truncate", "insert", "structural", "hostile", "bytes"]
        )
    )
    at = draw(line_at)
    if kind == "drop":
        return lambda text: drop_line(text, at)
    if kind == "duplicate":
        return lambda text: duplicate_line(text, at)
    if kind == "reindent":
        indent = draw(st.sampled_from(["", " ", "   ", "\t", "  \t", " " * 41]))
        return lambda text: reindent_line(text, at, indent)
    if kind == "replace":
        junk = draw(junk_text)
        return lambda text: replace_line(text, at, junk)
    if kind == "truncate":
        return lambda text: truncate(text, at)
    if kind == "insert":
        junk = draw(junk_text)
        return lambda text: insert(text, at, junk)
    if kind == "structural":
        action = draw(st.sampled_from(["drop", "set"]))
        value = draw(values)
        return lambda text: structural(text, at, action, value)
    if kind == "hostile":
        snippet = draw(st.sampled_from(sorted(HOSTILE)))
        return lambda text: _with_hostile(text, at, HOSTILE[snippet])
    noise = draw(st.binary(min_size=1, max_size=8))
    return lambda text: _with_bytes(text, at, noise)


def _with_hostile(text: str, at: int, snippet: str | bytes) -> str | bytes:
    if isinstance(snippet, bytes):
        return text.encode() + snippet
    return snippet if at % 2 else text + snippet


def _with_bytes(text: str, at: int, noise: bytes) -> bytes:
    raw = text.encode()
    index = at % (len(raw) + 1)
    return raw[:index] + noise + raw[index:]


# ----------------------------------------------------------------------------------------------------
# The workspace: a copy of each course repository, where mutated files are written


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The three course repositories (courses/ and labs/ side by side), copied once."""
    root = tmp_path_factory.mktemp("fuzz")
    for index, source in enumerate(ROOTS):
        for part in ("courses", "labs"):
            shutil.copytree(source / part, root / str(index) / part, symlinks=True)
    return root


def _copy_of(workspace: Path, original: Path, kind: str) -> Path:
    """The copied folder of a course or lab, under its copied repository."""
    index = next(i for i, root in enumerate(ROOTS) if original.is_relative_to(root / kind))
    return workspace / str(index) / kind / original.parent.name


def assert_problems_are_positioned(problems: list[Any]) -> None:
    for problem in problems:
        assert PROBLEM.match(str(problem)) and len(str(problem).splitlines()) == 1, repr(str(problem))


def check_course(folder: Path) -> None:
    """The three ways to read a course agree, and only ever fail with positioned problems."""
    try:
        problems = validate_course(folder)
    except CourseError as err:  # pragma: no cover - validate returns problems, it does not raise them
        pytest.fail(f"validate_course raised instead of returning problems: {err}")
    assert_problems_are_positioned(problems)
    try:
        load_course(folder)
    except CourseError as err:
        assert err.problems, "a CourseError without problems"
        assert_problems_are_positioned(err.problems)
        assert problems, "load_course refused a course that validate_course accepts"
    else:
        assert not problems, "load_course accepted a course with problems"


def write(path: Path, content: str | bytes) -> None:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")


@pytest.mark.parametrize("original", COURSES, ids=lambda path: f"{path.parent.parent.parent.name}/{path.parent.name}")
def test_every_course_as_shipped_loads_or_reports_positioned_problems(workspace: Path, original: Path) -> None:
    check_course(_copy_of(workspace, original, "courses"))


@fuzz_settings(60)
@given(original=st.sampled_from(COURSES), mutation=mutations())
def test_a_mutated_course_loads_or_reports_positioned_problems(
    workspace: Path, original: Path, mutation: Mutation
) -> None:
    folder = _copy_of(workspace, original, "courses")
    text = original.read_text()
    try:
        write(folder / "course.yaml", mutation(text))
        check_course(folder)
    finally:
        write(folder / "course.yaml", text)


@fuzz_settings(40)
@given(original=st.sampled_from(LABS), mutation=mutations())
def test_a_mutated_lab_loads_or_reports_positioned_problems(
    workspace: Path, original: Path, mutation: Mutation
) -> None:
    folder = _copy_of(workspace, original, "labs")
    text = original.read_text()
    try:
        write(folder / "lab.yaml", mutation(text))
        try:
            load_lab(folder)
        except CourseError as err:
            assert err.problems
            assert_problems_are_positioned(err.problems)
    finally:
        write(folder / "lab.yaml", text)


# ----------------------------------------------------------------------------------------------------
# Hostile files, named


def _hostile_course(tmp_path: Path, name: str) -> Path:
    folder = tmp_path / "courses" / name
    folder.mkdir(parents=True)
    write(folder / "course.yaml", HOSTILE[name])
    return folder


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_course_file_is_refused_with_positions(tmp_path: Path, name: str) -> None:
    folder = _hostile_course(tmp_path, name)
    with pytest.raises(CourseError) as caught:
        load_course(folder)
    assert_problems_are_positioned(caught.value.problems)
    assert not Path("/tmp/driftlab-fuzz-pwned").exists()


def test_an_alias_bomb_is_refused_before_it_expands(tmp_path: Path) -> None:
    problems = validate_course(_hostile_course(tmp_path, "alias-bomb"))
    assert [problem.message for problem in problems] == [
        "invalid YAML: aliases (*name) expand this document by more than 100000 values; "
        "write the values out instead of nesting aliases"
    ]
    assert (problems[0].line, problems[0].column) == (1, 1)


def test_a_merge_key_bomb_is_refused_too(tmp_path: Path) -> None:
    problems = validate_course(_hostile_course(tmp_path, "merge-bomb"))
    assert "aliases (*name) expand this document" in problems[0].message


def test_honest_aliases_still_load(tmp_path: Path) -> None:
    """Anchors reused a few times (and merge keys) are plain YAML that authors use; they stay allowed."""
    folder = tmp_path / "courses" / "aliases"
    folder.mkdir(parents=True)
    (folder / "course.yaml").write_text(
        "title: &t Aliases\nsummary: *t\nduration: 5m\nlevel: beginner\nlab: embedded-default\n"
        "steps:\n  - &step {id: one, title: One, instructions: Hello}\n  - {<<: *step, id: two}\n"
    )
    course = load_course(folder)
    assert [step.id for step in course.steps] == ["one", "two"]
    assert course.summary == "Aliases"


def test_deep_nesting_names_the_line_where_it_goes_too_deep(tmp_path: Path) -> None:
    problems = validate_course(_hostile_course(tmp_path, "deep-block"))
    assert problems[0].message == "invalid YAML: nested more than 100 levels deep"
    assert problems[0].line == 100  # the key whose value opens the 101st level


def test_a_python_tag_is_refused_not_constructed(tmp_path: Path) -> None:
    problems = validate_course(_hostile_course(tmp_path, "python-object"))
    assert any(
        str(problem).endswith(
            "course.yaml:1:8: unknown YAML tag 'tag:yaml.org,2002:python/object/apply:os.system'; course and lab "
            "files use plain YAML without tags"
        )
        for problem in problems
    ), problems


def test_bytes_that_are_not_utf8_are_named_at_their_line(tmp_path: Path) -> None:
    problems = validate_course(_hostile_course(tmp_path, "not-utf8"))
    assert [(problem.line, problem.column, problem.message) for problem in problems] == [
        (1, 11, "not UTF-8 text (byte 10)")
    ]


def test_a_file_too_large_is_refused_without_parsing(tmp_path: Path) -> None:
    problems = validate_course(_hostile_course(tmp_path, "huge-string"))
    assert [problem.message for problem in problems] == ["the file is larger than 4 MB; split it up"]


def test_a_nul_byte_is_named_at_its_column(tmp_path: Path) -> None:
    problems = validate_course(_hostile_course(tmp_path, "nul-byte"))
    assert [(problem.line, problem.column) for problem in problems] == [(1, 9)]
    assert "'\\x00' is not allowed" in problems[0].message


def test_a_manifest_bomb_in_a_lab_seed_is_refused(tmp_path: Path) -> None:
    lab = tmp_path / "labs" / "bomb"
    (lab / "seed").mkdir(parents=True)
    (lab / "lab.yaml").write_text("title: Bomb\nseed: [seed]\n")
    (lab / "seed" / "cm.yaml").write_text(alias_bomb() + "apiVersion: v1\nkind: ConfigMap\n")
    with pytest.raises(CourseError) as caught:
        load_lab(lab)
    assert [str(problem) for problem in caught.value.problems] == [
        f"{lab}/seed/cm.yaml:1:1: invalid YAML: aliases (*name) expand this document by more than 100000 values; "
        "write the values out instead of nesting aliases"
    ]


def test_an_image_catalogue_bomb_is_refused(tmp_path: Path) -> None:
    lab = tmp_path / "labs" / "bomb"
    lab.mkdir(parents=True)
    (lab / "lab.yaml").write_text("title: Bomb\n")
    (lab / "images.yaml").write_text("- " + alias_bomb().replace("\n", "\n  "))
    with pytest.raises(CourseError) as caught:
        load_lab(lab)
    assert_problems_are_positioned(caught.value.problems)
    assert "aliases (*name) expand" in caught.value.problems[0].message


def test_hostile_courses_through_the_command_line(tmp_path: Path) -> None:
    """One process validates them all: exit 1, every stderr line FILE:LINE:COL: message, no traceback."""
    folders = [_hostile_course(tmp_path, name) for name in sorted(HOSTILE)]
    result = proc.run([sys.executable, "-m", "engine.cli", "course", "validate", *map(str, folders)], timeout=120)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert lines and all(PROBLEM.match(line) for line in lines), result.stderr
    assert {line.split(":", 1)[0].rsplit("/", 2)[1] for line in lines} == set(HOSTILE)


def test_a_course_path_that_is_not_there_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(DriftlabError) as caught:
        load_course(tmp_path / "nowhere")
    assert "\n" not in str(caught.value)
