"""`count`: how many objects match the target, compared with the expectation."""

from __future__ import annotations

from ..reader import JSON, Read
from ..spec import CountCheck
from .common import Verdict, compare, count_expectation, names_of, target_title


def title(body: CountCheck) -> str:
    return f"{count_expectation(body.expect)} {target_title(body)}"


def judge(body: CountCheck, objects: list[JSON], read: Read) -> Verdict:
    subject = read.describe()
    count = len(objects)
    expected = count_expectation(body.expect)
    passed = compare(body.expect, [count])
    listed = f": {names_of(objects)}" if objects else ""
    if passed:
        named = f" ({names_of(objects)})" if objects else ""
        return Verdict(True, f"{subject}: found {count}{named}", expected, str(count))
    return Verdict(False, f"expected {expected} {subject}, found {count}{listed}", expected, str(count))
