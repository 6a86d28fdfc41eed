"""`condition`: `status.conditions` has an entry of the given type with the given status (and reason)."""

from __future__ import annotations

from typing import Any

from ..reader import JSON, Read
from ..spec import ConditionCheck
from .common import Verdict, object_label, target_title


def title(body: ConditionCheck) -> str:
    return f"{target_title(body)}: condition {_wanted(body)}"


def _wanted(body: ConditionCheck) -> str:
    text = f"{body.type}={body.status}"
    return f"{text} (reason {body.reason})" if body.reason else text


def judge(body: ConditionCheck, objects: list[JSON], read: Read) -> Verdict:
    expected = f"condition {_wanted(body)}"
    if not objects:
        what = "does not exist" if read.name else "matches nothing"
        return Verdict(False, f"{read.describe()} {what}", expected, "no object")
    verdicts = [_one(body, obj, read, expected) for obj in objects]
    failing = [v for v in verdicts if not v.passed]
    if not failing:
        if len(verdicts) == 1:
            return verdicts[0]
        found = f"{body.type}={body.status}"
        return Verdict(True, f"all {len(objects)} {read.describe()}: {expected}", expected, found)
    more = f" (and {len(failing) - 1} more)" if len(failing) > 1 else ""
    first = failing[0]
    return Verdict(False, first.message + more, expected, first.found)


def _one(body: ConditionCheck, obj: JSON, read: Read, expected: str) -> Verdict:
    label = object_label(obj, read)
    conditions = _conditions(obj)
    match = next((c for c in conditions if c.get("type") == body.type), None)
    if match is None:
        present = ", ".join(f"{c.get('type')}={c.get('status')}" for c in conditions) or "none"
        found = f"no {body.type} condition"
        return Verdict(False, f"{label}: expected {expected}, found {found} (conditions: {present})", expected, found)
    status = str(match.get("status", ""))
    found = f"{body.type}={status}"
    detail = _detail(match)
    ok = status == body.status and (body.reason is None or match.get("reason") == body.reason)
    if ok:
        return Verdict(True, f"{label}: condition {found}" + (f" ({detail})" if detail else ""), expected, found)
    return Verdict(
        False,
        f"{label}: expected {expected}, found {found}" + (f" ({detail})" if detail else ""),
        expected,
        found,
    )


def _conditions(obj: JSON) -> list[dict[str, Any]]:
    status = obj.get("status")
    conditions = status.get("conditions") if isinstance(status, dict) else None
    return [c for c in conditions if isinstance(c, dict)] if isinstance(conditions, list) else []


def _detail(condition: dict[str, Any]) -> str:
    reason, message = condition.get("reason"), condition.get("message")
    if reason and message:
        return f"{reason}: {message}"
    return str(reason or message or "")
