"""What every check kind shares: the verdict it returns, how a target becomes a read, how values compare."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..jsonpath import render, render_value
from ..reader import JSON, ApiResource, Read
from ..spec import Comparison, Target

Resolve = Callable[[str, str | None], ApiResource]


@dataclass(frozen=True)
class Verdict:
    """A kind's judgement of what it read: pass or fail, and what was expected and found, in words."""

    passed: bool
    message: str
    expected: str = ""
    found: str = ""


@dataclass(frozen=True)
class Scope:
    """How kinds turn targets into reads: the default namespace and kind resolution (which may raise)."""

    namespace: str
    resolve: Resolve


def target_read(target: Target, scope: Scope) -> Read:
    """The read a target asks for; namespaced kinds default to the scope's namespace, `*` means all."""
    resource = scope.resolve(target.kind, target.api_version)
    namespace: str | None = None
    if resource.namespaced:
        namespace = target.namespace or scope.namespace
        if namespace == "*":
            namespace = None
    return Read(resource, namespace, target.name, target.selector, target.field_selector)


def target_title(target: Target) -> str:
    """How a target reads before it is resolved: `Deployment web`, `pods matching app=web`."""
    if target.name:
        where = f"{target.namespace}/" if target.namespace and target.namespace != "*" else ""
        return f"{target.kind} {where}{target.name}"
    text = target.kind
    selectors = [s for s in (target.selector, target.field_selector) if s]
    return f"{text} matching {','.join(selectors)}" if selectors else text


def object_label(obj: JSON, read: Read) -> str:
    """`Deployment shop/web` for one fetched object."""
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    name = metadata.get("name", "?")
    namespace = metadata.get("namespace")
    return f"{read.resource.kind} {namespace}/{name}" if namespace else f"{read.resource.kind} {name}"


def names_of(objects: list[JSON], limit: int = 5) -> str:
    names = [str((obj.get("metadata") or {}).get("name", "?")) for obj in objects]
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def deleting(obj: JSON) -> bool:
    return bool((obj.get("metadata") or {}).get("deletionTimestamp"))


# Comparisons --------------------------------------------------------------------------------------------

_OPERATORS = ("equals", "not_equals", "matches", "gt", "ge", "lt", "le")
_SYMBOLS = {"equals": "=", "not_equals": "≠", "gt": ">", "ge": "≥", "lt": "<", "le": "≤"}
_COUNT_WORDS = {
    "equals": "exactly {}",
    "not_equals": "a number other than {}",
    "gt": "more than {}",
    "ge": "at least {}",
    "lt": "fewer than {}",
    "le": "at most {}",
}


def operator(expect: Comparison) -> str:
    return next(name for name in _OPERATORS if name in expect.model_fields_set)


def wanted(expect: Comparison) -> Any:
    return getattr(expect, operator(expect))


def shown(value: Any) -> str:
    if isinstance(value, str):
        return value if value and value.strip() == value else f'"{value}"'
    return render_value(value)


def expectation(expect: Comparison) -> str:
    """`= 3`, `≠ Running`, `to match ^web-`, `≥ 2`."""
    op = operator(expect)
    if op == "matches":
        return f"to match {expect.matches}"
    return f"{_SYMBOLS[op]} {shown(wanted(expect))}"


def count_expectation(expect: Comparison) -> str:
    """`exactly 3`, `at least 2`, `a number matching ^[0-9]$`."""
    op = operator(expect)
    if op == "matches":
        return f"a number matching {expect.matches}"
    return _COUNT_WORDS[op].format(shown(wanted(expect)))


def compare(expect: Comparison, found: list[Any]) -> bool:
    """Judge the values a JSONPath selected; numbers compare as numbers, everything else as kubectl's text."""
    op = operator(expect)
    if op == "equals":
        return _equals(expect.equals, found)
    if op == "not_equals":
        return not _equals(expect.not_equals, found)
    if op == "matches":
        return bool(found) and re.search(expect.matches or "", render(found)) is not None
    number = as_number(found[0]) if len(found) == 1 else None
    bound = float(wanted(expect))
    if number is None:
        return False
    return {"gt": number > bound, "ge": number >= bound, "lt": number < bound, "le": number <= bound}[op]


def _equals(want: Any, found: list[Any]) -> bool:
    if want is None:
        return found in ([], [None])
    if isinstance(want, bool):
        return len(found) == 1 and render_value(found[0]) == render_value(want)
    if isinstance(want, int | float):
        number = as_number(found[0]) if len(found) == 1 else None
        return number is not None and number == float(want)
    if isinstance(want, dict | list):
        return len(found) == 1 and found[0] == want
    return bool(found) and render(found) == str(want)


_QUANTITY_RE = re.compile(r"^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d+)?$")
_SUFFIXES = {
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
    "n": 1e-9,
    "u": 1e-6,
    "m": 1e-3,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "P": 1e15,
    "E": 1e18,
}


def as_number(value: Any) -> float | None:
    """A number, or a numeric string, or a Kubernetes quantity such as `500m` or `128Mi`; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str):
        return None
    match = _QUANTITY_RE.match(value.strip())
    if match is None:
        return None
    number, suffix = float(match.group(1)), match.group(2)
    if not suffix:
        return number
    if suffix[0] in "eE" and len(suffix) > 1:
        return number * 10 ** int(suffix[1:])
    return number * _SUFFIXES[suffix]
