"""One module per check kind. Each judges what was read with a pure function, so it can be tested on its own.

Kinds that read objects expose `read(body, scope) -> Read` (most use the shared target read), `title(body)`
(the check's name when the author gave none) and `judge(body, objects, read) -> Verdict`. The command kind
runs a command instead (`run`) and judges the outcome; the gitops kind reads up to two objects (the agent's
and the one it manages) and, for `atHead`, the lab's Git head. The lab-state kinds (`git`, `pipeline`) read the lab's
Git repositories or pipeline runs (`read(body, context)`) and judge that state.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from ..reader import Read
from ..spec import Check
from . import absent, cel, command, condition, count, event, exists, field, git, gitops, pipeline
from .common import Scope, Verdict, target_read

OBJECT_KINDS: dict[str, ModuleType] = {
    "exists": exists,
    "absent": absent,
    "field": field,
    "condition": condition,
    "count": count,
    "cel": cel,
    "event": event,
}

LAB_KINDS: dict[str, ModuleType] = {"git": git, "pipeline": pipeline}
"""Kinds that read the lab's own state (its Git server and pipeline runner), which no Kubernetes watch sees."""

__all__ = ["LAB_KINDS", "OBJECT_KINDS", "Scope", "Verdict", "command", "gitops", "read_of", "title_of"]


def read_of(kind: str, body: Any, scope: Scope) -> Read:
    """The one read an object kind needs; raises ReadError when its kind cannot be resolved."""
    if kind == "event":
        return event.read(body, scope)
    return target_read(body, scope)


def title_of(check: Check) -> str:
    """A check's name: the author's, or one made from what it checks."""
    if check.name:
        return check.name
    kind = check.kind
    if kind in ("all", "any"):
        children = check.all if kind == "all" else check.any
        return f"{'all' if kind == 'all' else 'any'} of {len(children or [])} checks"
    if kind == "command":
        return command.title(check.body)
    if kind == "gitops":
        return gitops.title(check.body)
    if kind in LAB_KINDS:
        return str(LAB_KINDS[kind].title(check.body))
    return str(OBJECT_KINDS[kind].title(check.body))
