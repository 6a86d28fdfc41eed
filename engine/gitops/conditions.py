"""Status conditions as Kubernetes API conventions want them: one per type, transition time kept when unchanged."""

from __future__ import annotations

from typing import Any

from .events import now

JSON = dict[str, Any]


def set_condition(
    conditions: list[JSON], type_: str, status: str, reason: str, message: str, generation: int | None = None
) -> list[JSON]:
    """`conditions` with the `type_` condition set (replaced in place of the old one, or appended)."""
    old = find(conditions, type_)
    changed = old is None or old.get("status") != status
    condition: JSON = {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": now() if changed or old is None else old.get("lastTransitionTime", now()),
    }
    if generation is not None:
        condition["observedGeneration"] = generation
    result = [c for c in conditions if c.get("type") != type_]
    index = next((i for i, c in enumerate(conditions) if c.get("type") == type_), len(result))
    result.insert(index, condition)
    return result


def remove_condition(conditions: list[JSON], type_: str) -> list[JSON]:
    return [c for c in conditions if c.get("type") != type_]


def find(conditions: list[JSON] | None, type_: str) -> JSON | None:
    return next((c for c in conditions or [] if isinstance(c, dict) and c.get("type") == type_), None)


def is_true(obj: JSON, type_: str = "Ready") -> bool:
    condition = find((obj.get("status") or {}).get("conditions"), type_)
    return condition is not None and condition.get("status") == "True"
