"""`field`: a value read with kubectl JSONPath compares as expected, on every object the target matches."""

from __future__ import annotations

from ..jsonpath import parse, render
from ..reader import JSON, Read
from ..spec import FieldCheck
from .common import Verdict, compare, expectation, object_label, target_title


def title(body: FieldCheck) -> str:
    return f"{target_title(body)}: {body.path} {expectation(body.expect)}"


def judge(body: FieldCheck, objects: list[JSON], read: Read) -> Verdict:
    expected = f"{body.path} {expectation(body.expect)}"
    if not objects:
        what = "does not exist" if read.name else "matches nothing"
        return Verdict(False, f"{read.describe()} {what}", expected, "no object")
    path = parse(body.path)
    failures: list[str] = []
    found_texts: list[str] = []
    for obj in objects:
        values = path.values(obj)
        found = render(values) if values else "no value (the field is not set)"
        found_texts.append(found)
        if not compare(body.expect, values):
            failures.append(f"{object_label(obj, read)}: expected {expected}, found {found}")
    if not failures:
        if len(objects) == 1:
            message = f"{object_label(objects[0], read)}: {body.path} is {found_texts[0]}"
        else:
            message = f"all {len(objects)} {read.describe()}: {expected}"
        return Verdict(True, message, expected, "; ".join(found_texts))
    more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
    return Verdict(False, failures[0] + more, expected, "; ".join(found_texts))
