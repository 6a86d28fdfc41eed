"""`cel`: a CEL expression is true over `object` (a target with a name) or `objects` (every match)."""

from __future__ import annotations

from ..cel import CelError, evaluate
from ..jsonpath import render_value
from ..reader import JSON, Read
from ..spec import CelCheck
from .common import Verdict, target_title


def title(body: CelCheck) -> str:
    return f"{target_title(body)}: {body.expression}"


def judge(body: CelCheck, objects: list[JSON], read: Read) -> Verdict:
    expected = f"{body.expression} is true"
    subject = read.describe()
    if body.name:
        if not objects:
            return Verdict(False, f"{subject} does not exist", expected, "no object")
        variables = {"object": objects[0]}
    else:
        variables = {"objects": objects}
    try:
        result = evaluate(body.expression, variables)
    except CelError as err:
        return Verdict(False, f"{subject}: could not evaluate {body.expression}: {err}", expected, "an error")
    if result is True:
        return Verdict(True, f"{subject}: {body.expression}", expected, "true")
    if result is False:
        return Verdict(False, f"{subject}: expected {body.expression} to be true, found false", expected, "false")
    found = render_value(result)
    return Verdict(
        False, f"{subject}: expected {body.expression} to give true or false, found {found}", expected, found
    )
