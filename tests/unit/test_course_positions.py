"""The YAML loader behind `course validate`: every node keeps its line and column, and YAML mistakes are named."""

from __future__ import annotations

import pytest

from engine.course.positions import Mark, YAMLSyntaxError, load_document, load_documents

COURSE = """\
title: Demo
steps:
  - id: one
    checks:
      - exists: {kind: Pod, name: web}
  - id: two
"""


def test_values_and_keys_keep_their_line_and_column() -> None:
    document = load_document(COURSE)
    assert document is not None
    assert document.data["steps"][0]["checks"][0]["exists"]["name"] == "web"
    assert document.value_mark(("title",)) == Mark(1, 8)
    assert document.key_mark(("title",)) == Mark(1, 1)
    assert document.value_mark(("steps", 0)) == Mark(3, 5)
    assert document.value_mark(("steps", 1, "id")) == Mark(6, 9)
    assert document.value_mark(("steps", 0, "checks", 0, "exists", "name")) == Mark(5, 35)
    assert document.key_mark(("steps", 0, "checks", 0, "exists", "name")) == Mark(5, 29)


def test_a_missing_path_points_at_its_deepest_existing_parent() -> None:
    document = load_document(COURSE)
    assert document is not None
    assert document.value_mark(("steps", 1, "title")) == Mark(6, 5)
    assert document.value_mark(("nothing", "here")) == Mark(1, 1)


def test_locate_skips_location_parts_that_name_nothing_in_the_data() -> None:
    document = load_document(COURSE)
    assert document is not None
    assert document.locate(("steps", 0, "(mapping)", "checks", 0, "exists", "kind")) == (
        "steps",
        0,
        "checks",
        0,
        "exists",
        "kind",
    )
    assert document.locate(("steps", 7, "id")) == ("steps",)


def test_duplicate_keys_are_reported_where_the_second_one_is_written() -> None:
    document = load_document("a: 1\nb:\n  x: 1\n  x: 2\na: 3\n")
    assert document is not None
    assert sorted(document.problems) == [
        (Mark(4, 3), "duplicate key 'x' (first at line 3, column 3)"),
        (Mark(5, 1), "duplicate key 'a' (first at line 1, column 1)"),
    ]
    assert document.data == {"a": 3, "b": {"x": 2}}


def test_a_merged_key_may_be_overridden_without_a_duplicate() -> None:
    document = load_document("base: &base {kind: Pod, name: a}\nother:\n  <<: *base\n  name: b\n")
    assert document is not None
    assert document.problems == []
    assert document.data["other"] == {"kind": "Pod", "name": "b"}
    assert document.value_mark(("other", "name")) == Mark(4, 9)


def test_the_same_text_quoted_or_not_is_one_key_only_when_it_is_the_same_type() -> None:
    document = load_document("'1': a\n1: b\n")
    assert document is not None
    assert document.problems == []
    assert document.data == {"1": "a", 1: "b"}


@pytest.mark.parametrize(
    ("text", "mark", "message"),
    [
        (
            "a:\n  b: 1\n c: 2\n",
            Mark(3, 2),
            "invalid YAML: bad indentation; this line does not line up with the block at line 1, column 1",
        ),
        (
            "a: b: c\n",
            Mark(1, 5),
            "invalid YAML: unexpected ':' (quote a value that contains ': ', or check the indentation)",
        ),
        ("a:\n\tb: 1\n", Mark(2, 1), "invalid YAML: a tab character; indent with spaces"),
        ('x: 1\na: "open\nb: 2\n', Mark(2, 4), "invalid YAML: this quoted string is never closed"),
        ("a: [1, 2\n", Mark(1, 4), "invalid YAML: this bracket is never closed"),
        (
            "a: *nowhere\n",
            Mark(1, 4),
            "invalid YAML: found undefined alias 'nowhere' (no anchor '&' of that name comes before it)",
        ),
        ("a: 1\n---\nb: 2\n", Mark(3, 1), "expected a single YAML document, found more than one"),
    ],
)
def test_syntax_errors_name_the_mistake_and_where_it_is(text: str, mark: Mark, message: str) -> None:
    with pytest.raises(YAMLSyntaxError) as caught:
        load_document(text)
    assert (caught.value.mark, caught.value.message) == (mark, message)


def test_unknown_tags_and_impossible_values_are_problems_not_crashes() -> None:
    document = load_document("a: !include x.md\nb: !!int twelve\nc: 2024-13-45\nd: !!timestamp\ne: !thing {x: 1}\n")
    assert document is not None
    marks = [mark for mark, _ in document.problems]
    assert marks == [Mark(1, 4), Mark(2, 4), Mark(3, 4), Mark(4, 4), Mark(5, 4)]
    assert document.problems[0][1] == "unknown YAML tag '!include'; course and lab files use plain YAML without tags"
    assert document.problems[1][1].startswith("invalid int 'twelve': ")
    assert document.data["a"] == "x.md"
    assert document.data["e"] == {"x": 1}


def test_a_recursive_alias_is_reported_instead_of_looping() -> None:
    document = load_document("a: &loop\n  - *loop\n")
    assert document is not None
    assert document.problems == [
        (Mark(1, 4), "an alias refers to a node that contains it; such recursive data is not allowed")
    ]


def test_a_non_scalar_key_is_reported_and_skipped() -> None:
    document = load_document("? [a, b]\n: value\nc: 1\n")
    assert document is not None
    assert document.data == {"c": 1}
    assert document.problems == [
        (Mark(1, 3), "a mapping key must be a plain value such as a name, not a list or a mapping")
    ]


def test_empty_text_has_no_document_and_several_documents_keep_their_own_marks() -> None:
    assert load_document("# nothing but a comment\n") is None
    first, second = load_documents("kind: A\n---\nkind: B\nname: b\n")
    assert first.data == {"kind": "A"}
    assert second.start == Mark(3, 1)
    assert second.value_mark(("name",)) == Mark(4, 7)
