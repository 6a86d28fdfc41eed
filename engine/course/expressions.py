"""Syntax checks for the selectors inside checks and setup actions, with the API server's own messages.

JSONPath, CEL and regular expressions are checked by the check models themselves (engine.checks.spec), with
the parsers the evaluator uses; selectors depend on the kind (field selectors differ per kind), which only
the course validator knows once it has resolved the kind against the lab.
"""

from __future__ import annotations

from ..cluster.embedded.resources import ResourceType
from ..cluster.embedded.selectors import parse_field_selector, parse_label_selector
from ..cluster.embedded.status import ApiError


def label_selector_problem(selector: str) -> str | None:
    """Why `selector` is not a label selector (as in kubectl -l), or None."""
    try:
        parse_label_selector(selector)
    except ApiError as err:
        return f"bad label selector {selector!r}: {err.message}"
    return None


def field_selector_problem(selector: str, rtype: ResourceType) -> str | None:
    """Why `selector` is not a field selector the server supports for this kind, or None."""
    try:
        parse_field_selector(selector, rtype.kind, rtype.is_custom)
    except ApiError as err:
        return f"bad field selector {selector!r} for {rtype.kind}: {err.message}"
    return None
