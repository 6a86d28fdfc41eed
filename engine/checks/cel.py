"""CEL expressions (the language Kubernetes validation rules use), compiled once and evaluated over JSON.

The `cel-python` library does the work; this module only caches compiled programs, converts objects to CEL
values and turns the library's errors into messages a course author can act on.
"""

from __future__ import annotations

import functools
import re
import threading
from typing import Any


class CelError(ValueError):
    """An expression that does not compile, or that failed while evaluating."""


_lock = threading.Lock()


@functools.cache
def _environment() -> Any:
    import celpy

    return celpy.Environment()


@functools.lru_cache(maxsize=256)
def compile_expression(text: str) -> Any:
    """A runnable program for `text`; raises CelError naming the line and column of a syntax error."""
    import celpy

    if not text.strip():
        raise CelError("empty CEL expression")
    with _lock:
        environment = _environment()
        try:
            return environment.program(environment.compile(text))
        except celpy.CELParseError as err:
            where = f" at line {err.line}, column {err.column}" if err.line else ""
            first = str(err.args[0]).splitlines()[0] if err.args else "syntax error"
            raise CelError(f"invalid CEL expression{where}: {first}") from None


def evaluate(text: str, variables: dict[str, Any]) -> Any:
    """Evaluate `text` with JSON values bound to names; the result is a plain Python value."""
    import celpy

    program = compile_expression(text)
    activation = {name: celpy.json_to_cel(value) for name, value in variables.items()}
    try:
        result = program.evaluate(activation)
    except celpy.CELEvalError as err:
        raise CelError(_eval_message(err)) from None
    except Exception as err:
        raise CelError(f"{type(err).__name__}: {err}") from None
    if isinstance(result, celpy.CELEvalError):
        raise CelError(_eval_message(result))
    return _plain(result)


def _eval_message(err: Exception) -> str:
    detail = err.args[0] if err.args else str(err)
    text = str(detail).split(" (in activation", 1)[0]
    text = re.sub(r"<class 'celpy\.celtypes\.(\w+?)Type'>", lambda m: m.group(1).lower(), text)
    text = re.sub(r"Token\('\w+', '(\w+)'\)", r"\1", text)
    if len(text) > 300:
        text = text[:297] + "..."
    if text.startswith("no such member"):
        return f"{text} (a field the expression reads is not set; guard it with has(...))"
    return text


def _plain(value: Any) -> Any:
    """CEL values (BoolType, IntType, MapType, ...) as ordinary Python values."""
    import celpy

    if isinstance(value, celpy.celtypes.BoolType):
        return bool(value)
    if isinstance(value, celpy.celtypes.IntType | celpy.celtypes.UintType):
        return int(value)
    if isinstance(value, celpy.celtypes.DoubleType):
        return float(value)
    if isinstance(value, celpy.celtypes.StringType):
        return str(value)
    if isinstance(value, celpy.celtypes.MapType):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, celpy.celtypes.ListType):
        return [_plain(item) for item in value]
    return value
