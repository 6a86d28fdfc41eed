"""JSONPath as kubectl writes it (`kubectl get -o jsonpath=...`), for reading one value out of an object.

Accepts one expression, with or without the braces: `{.status.readyReplicas}`, `.status.readyReplicas`,
`{.status.conditions[?(@.type=="Available")].status}`, `{.spec.containers[*].image}`,
`{.metadata.labels['app\\.kubernetes\\.io/name']}`. A missing key selects nothing, as kubectl prints nothing
for it. Unlike kubectl's evaluator, a number in a filter compares equal to an integer field (`@.port==80`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any


class JSONPathError(ValueError):
    """An expression that does not parse; the message names the column."""


@dataclass(frozen=True)
class _Child:
    name: str


@dataclass(frozen=True)
class _Wildcard:
    pass


@dataclass(frozen=True)
class _Descend:
    pass


@dataclass(frozen=True)
class _Index:
    index: int


@dataclass(frozen=True)
class _Slice:
    start: int | None
    end: int | None
    step: int | None


@dataclass(frozen=True)
class _Union:
    parts: tuple[_Step, ...]


@dataclass(frozen=True)
class _Operand:
    """Either a relative path from `@` (steps) or a literal value."""

    steps: tuple[_Step, ...] | None = None
    literal: Any = None


@dataclass(frozen=True)
class _Filter:
    left: _Operand
    operator: str | None
    right: _Operand | None


_Step = _Child | _Wildcard | _Descend | _Index | _Slice | _Union | _Filter

_OPERATORS = ("==", "!=", "<=", ">=", "<", ">")
_NAME_STOP = frozenset(".[]()=!<>,@$ \t\r\n'\"")


@dataclass(frozen=True)
class JSONPath:
    """A parsed expression; `values(obj)` returns everything it selects."""

    text: str
    steps: tuple[_Step, ...]

    def values(self, data: Any) -> list[Any]:
        return _walk([data], self.steps)


def parse(text: str) -> JSONPath:
    """Parse one kubectl JSONPath expression; raises JSONPathError with a column on bad input."""
    if not isinstance(text, str) or not text.strip():
        raise JSONPathError("empty JSONPath: write one such as {.status.phase}")
    inner, offset = _unwrap(text)
    parser = _Parser(inner, offset, text)
    return JSONPath(text, parser.path())


def values(text: str, data: Any) -> list[Any]:
    """Every value `text` selects in `data`."""
    return parse(text).values(data)


def render(found: list[Any]) -> str:
    """Selected values as kubectl prints them: scalars bare, maps and lists as JSON, several joined by spaces."""
    return " ".join(render_value(value) for value in found)


def render_value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and math.isfinite(value):
        return str(int(value))
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return str(value)


def _unwrap(text: str) -> tuple[str, int]:
    """The expression inside `{...}` (or the bare text) and the column where it starts."""
    stripped = text.strip()
    lead = len(text) - len(text.lstrip())
    if not stripped.startswith("{"):
        if "{" in stripped or "}" in stripped:
            raise JSONPathError(f"unbalanced braces in JSONPath {text!r}")
        return stripped, lead
    if not stripped.endswith("}"):
        raise JSONPathError(f"JSONPath {text!r} opens '{{' without closing it")
    inner = stripped[1:-1]
    if "{" in inner or "}" in inner:
        raise JSONPathError(f"give one JSONPath expression, such as {{.status.phase}}, not a template: {text!r}")
    if inner.strip().startswith(("range", "end")):
        raise JSONPathError(f"range ... end templates are not supported in a check; select values directly: {text!r}")
    return inner.rstrip(), lead + 1


class _Parser:
    def __init__(self, text: str, offset: int, whole: str) -> None:
        self.text = text
        self.pos = 0
        self.offset = offset
        self.whole = whole

    def _fail(self, message: str) -> JSONPathError:
        column = self.offset + self.pos + 1
        return JSONPathError(f"{message} at column {column} of JSONPath {self.whole!r}")

    def _peek(self, length: int = 1) -> str:
        return self.text[self.pos : self.pos + length]

    def _skip_spaces(self) -> None:
        while self._peek() in (" ", "\t"):
            self.pos += 1

    def path(self) -> tuple[_Step, ...]:
        self._skip_spaces()
        if self._peek() == "$":
            self.pos += 1
        elif self._peek() and self._peek() not in ".[":
            self.text = "." + self.text  # kubectl's relaxed form: `status.phase` means `.status.phase`
            self.offset -= 1
        steps = self._steps(top=True)
        self._skip_spaces()
        if self.pos < len(self.text):
            raise self._fail(f"unexpected {self._peek()!r}")
        return steps

    def _steps(self, top: bool) -> tuple[_Step, ...]:
        steps: list[_Step] = []
        while self.pos < len(self.text):
            char = self._peek()
            if self._peek(2) == "..":
                self.pos += 2
                steps.append(_Descend())
                if self._peek() != "[":
                    steps.append(self._name())
            elif char == ".":
                self.pos += 1
                steps.append(self._name())
            elif char == "[":
                steps.append(self._bracket())
            elif top:
                self._skip_spaces()
                raise self._fail(f"unexpected {self._peek()!r}")
            else:
                break
        return tuple(steps)

    def _name(self) -> _Step:
        if self._peek() == "*":
            self.pos += 1
            return _Wildcard()
        chars: list[str] = []
        while self.pos < len(self.text):
            char = self._peek()
            if char == "\\" and self.pos + 1 < len(self.text):
                chars.append(self.text[self.pos + 1])
                self.pos += 2
                continue
            if char in _NAME_STOP:
                break
            chars.append(char)
            self.pos += 1
        if not chars:
            raise self._fail("expected a field name after '.'")
        return _Child("".join(chars))

    def _bracket(self) -> _Step:
        self.pos += 1
        self._skip_spaces()
        if self._peek(2) == "?(":
            self.pos += 2
            step: _Step = self._filter()
        else:
            step = self._union()
        self._skip_spaces()
        if self._peek() != "]":
            raise self._fail("expected ']'")
        self.pos += 1
        return step

    def _union(self) -> _Step:
        parts = [self._subscript()]
        self._skip_spaces()
        while self._peek() == ",":
            self.pos += 1
            parts.append(self._subscript())
            self._skip_spaces()
        return parts[0] if len(parts) == 1 else _Union(tuple(parts))

    def _subscript(self) -> _Step:
        self._skip_spaces()
        char = self._peek()
        if char == "*":
            self.pos += 1
            return _Wildcard()
        if char and char in "'\"":
            return _Child(self._string())
        numbers: list[int | None] = [self._integer()]
        while self._peek() == ":":
            self.pos += 1
            numbers.append(self._integer())
        if len(numbers) > 3:
            raise self._fail("a slice has at most start:end:step")
        if len(numbers) == 1:
            if numbers[0] is None:
                raise self._fail("expected an index, a slice, '*' or a quoted key")
            return _Index(numbers[0])
        start, end, step = [*numbers, None][:3]
        if step is not None and step <= 0:
            raise self._fail("a slice step must be greater than 0")
        return _Slice(start, end, step)

    def _integer(self) -> int | None:
        self._skip_spaces()
        start = self.pos
        if self._peek() and self._peek() in "+-":
            self.pos += 1
        while self._peek().isdigit():
            self.pos += 1
        text = self.text[start : self.pos]
        if text in ("", "+", "-"):
            if text:
                raise self._fail("expected a number")
            return None
        return int(text)

    def _string(self) -> str:
        quote = self._peek()
        self.pos += 1
        chars: list[str] = []
        while True:
            char = self._peek()
            if char == "":
                raise self._fail("unterminated quoted string")
            self.pos += 1
            if char == "\\" and self._peek():
                chars.append(self._peek())
                self.pos += 1
            elif char == quote:
                return "".join(chars)
            else:
                chars.append(char)

    def _filter(self) -> _Filter:
        left = self._operand()
        self._skip_spaces()
        operator = next((op for op in _OPERATORS if self._peek(len(op)) == op), None)
        right = None
        if operator is not None:
            self.pos += len(operator)
            right = self._operand()
            self._skip_spaces()
        elif left.steps is None:
            raise self._fail("a filter needs a path such as @.type")
        if self._peek() != ")":
            raise self._fail("expected ')' to close the filter")
        self.pos += 1
        return _Filter(left, operator, right)

    def _operand(self) -> _Operand:
        self._skip_spaces()
        char = self._peek()
        if char == "@":
            self.pos += 1
            return _Operand(steps=self._steps(top=False))
        if char and char in "'\"":
            return _Operand(literal=self._string())
        start = self.pos
        while self._peek() and self._peek() not in " \t)=!<>":
            self.pos += 1
        word = self.text[start : self.pos]
        if word in ("true", "false"):
            return _Operand(literal=word == "true")
        if word == "null":
            return _Operand(literal=None)
        try:
            return _Operand(literal=float(word) if any(c in word for c in ".eE") else int(word))
        except ValueError:
            self.pos = start
            raise self._fail(f"expected @.field, a quoted string, a number or true/false, found {word!r}") from None


def _walk(current: list[Any], steps: tuple[_Step, ...]) -> list[Any]:
    for step in steps:
        current = [found for value in current for found in _apply(step, value)]
    return current


def _apply(step: _Step, value: Any) -> list[Any]:
    match step:
        case _Child(name):
            return [value[name]] if isinstance(value, dict) and name in value else []
        case _Wildcard():
            return _children(value)
        case _Descend():
            return _descendants(value)
        case _Index(index):
            if isinstance(value, list) and -len(value) <= index < len(value):
                return [value[index]]
            return []
        case _Slice(start, end, stride):
            return value[start:end:stride] if isinstance(value, list) else []
        case _Union(parts):
            return [found for part in parts for found in _apply(part, value)]
        case _Filter():
            return [item for item in _children(value) if _keep(step, item)]
    return []


def _children(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [value[key] for key in sorted(value)]
    return list(value) if isinstance(value, list) else []


def _descendants(value: Any) -> list[Any]:
    found = [value]
    for child in _children(value):
        found.extend(_descendants(child))
    return found


def _operand_values(operand: _Operand, item: Any) -> list[Any]:
    if operand.steps is None:
        return [operand.literal]
    return _walk([item], operand.steps)


def _keep(node: _Filter, item: Any) -> bool:
    lefts = _operand_values(node.left, item)
    if node.operator is None or node.right is None:
        return bool(lefts)
    rights = _operand_values(node.right, item)
    return any(_compare(node.operator, left, right) for left in lefts for right in rights)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _compare(operator: str, left: Any, right: Any) -> bool:
    left_number, right_number = _number(left), _number(right)
    if left_number is not None and right_number is not None:
        left, right = left_number, right_number
    elif type(left) is not type(right):
        return operator == "!="
    if operator == "==":
        return bool(left == right)
    if operator == "!=":
        return bool(left != right)
    if not isinstance(left, str | float):
        return False
    return {"<": left < right, ">": left > right, "<=": left <= right, ">=": left >= right}[operator]
