"""From a file on disk to a validated model, turning YAML and pydantic errors into positioned problems.

Pydantic reports where a value failed as a location such as `("steps", 0, "checks", 1, "field", "path")`; the
document's marks turn that into a line and column, and each error type gets a message written for course
authors (what was expected, what was found, which fields are allowed).
"""

from __future__ import annotations

import datetime
import difflib
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from .positions import Document, Mark, YAMLSyntaxError, load_documents
from .problems import Report

M = TypeVar("M", bound=BaseModel)

MAX_FILE_BYTES = 4 * 1024 * 1024
"""Largest course, lab or manifest file read: far above any real one, and small enough to parse in a moment."""

_MAPPING_ERRORS = {"model_type", "model_attributes_type", "dict_type"}
_NUMBER_ERRORS = {"float_type", "float_parsing", "int_type", "int_parsing", "int_from_float", "finite_number"}
_EXPECTED = {
    **dict.fromkeys(_MAPPING_ERRORS, "expected a mapping"),
    **dict.fromkeys(_NUMBER_ERRORS, "expected a number"),
    "list_type": "expected a list",
    "string_type": "expected a string",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
}


def read_text(path: Path, display: str, report: Report) -> str | None:
    """The file's text, or None after reporting why it cannot be read (missing, a folder, not a regular file,
    too large, not UTF-8)."""
    try:
        if path.is_dir():
            report.add(display, 1, 1, "expected a file, found a folder")
            return None
        if path.exists() and not path.is_file():
            report.add(display, 1, 1, "not a regular file (a device, socket or pipe cannot be read as YAML)")
            return None
        with path.open("rb") as file:
            data = file.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            report.add(display, 1, 1, f"the file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB; split it up")
            return None
        return data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    except FileNotFoundError:
        report.add(display, 1, 1, "file not found")
    except UnicodeDecodeError as err:
        report.add(display, *_line_column(err.object, err.start), f"not UTF-8 text (byte {err.start})")
    except OSError as err:
        report.add(display, 1, 1, f"cannot read the file: {err.strerror or err}")
    return None


def _line_column(data: bytes, offset: int) -> tuple[int, int]:
    """The 1-based line and column of a byte offset, so an encoding error points at its line."""
    before = data[:offset]
    return before.count(b"\n") + 1, offset - (before.rfind(b"\n") + 1) + 1


def read_documents(path: Path, display: str, report: Report) -> list[Document] | None:
    """Every YAML document in the file (None when it cannot be read or parsed), with duplicate keys reported."""
    text = read_text(path, display, report)
    if text is None:
        return None
    try:
        documents = load_documents(text)
    except YAMLSyntaxError as err:
        report.add(display, err.mark.line, err.mark.column, err.message)
        return None
    for document in documents:
        for mark, message in document.problems:
            report.add(display, mark.line, mark.column, message)
    return documents


def read_document(path: Path, display: str, report: Report, what: str) -> Document | None:
    """The one YAML document of a course or lab file; an empty file or several documents are problems."""
    documents = read_documents(path, display, report)
    if documents is None:
        return None
    if not documents:
        report.add(display, 1, 1, f"the file is empty; expected {what}")
        return None
    if len(documents) > 1:
        start = documents[1].start
        report.add(display, start.line, start.column, "expected a single YAML document, found a second one here")
    return documents[0]


def parse_model(model: type[M], document: Document, display: str, report: Report) -> M | None:
    """The validated model, or None after reporting every validation error at its position."""
    try:
        return model.model_validate(document.data)
    except ValidationError as err:
        for error in err.errors(include_url=False):
            mark, message = explain(model, document, error)
            report.add(display, mark.line, mark.column, message)
        return None


def explain(model: type[BaseModel], document: Document, error: ErrorDetails) -> tuple[Mark, str]:
    """Where a pydantic error points in the YAML, and what to tell the author about it."""
    loc = tuple(error["loc"])
    path = document.locate(loc)
    kind = error["type"]
    if kind == "missing":
        return document.value_mark(path), f"missing required field '{loc[-1]}'"
    if kind == "extra_forbidden":
        return document.key_mark(path), _unknown_field(model, loc)
    return document.value_mark(path), _message(error)


def _message(error: ErrorDetails) -> str:
    kind, value, ctx = error["type"], error.get("input"), error.get("ctx") or {}
    if kind in _EXPECTED:
        return _expected(_EXPECTED[kind], value)
    if kind == "literal_error":
        return _expected(f"expected {ctx.get('expected', 'one of the allowed values')}", value)
    if kind == "shape":
        return _expected(error["msg"], value)
    if kind == "too_short":
        least = ctx.get("min_length", 1)
        return f"expected at least {least} item{'s' if least != 1 else ''}, found {len(value) if value else 'none'}"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        return _expected(error["msg"].replace("Input should be", "expected a number"), value)
    return error["msg"].removeprefix("Value error, ")


def _expected(expected: str, value: Any) -> str:
    message = f"{expected}, found {describe(value)}"
    wants_text = "string" in expected or "'" in expected
    if wants_text and isinstance(value, bool | int | float | datetime.date):
        message += "; put it in quotes to make it text"
    return message


def describe(value: Any) -> str:
    """A YAML value as an author would name it: `a number (3)`, `a mapping`, `null`."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, datetime.date):
        return f"a date ({value.isoformat()})"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"a string ({shown!r})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _unknown_field(model: type[BaseModel], loc: tuple[Any, ...]) -> str:
    key = loc[-1]
    message = f"unknown field '{key}'"
    owner = _model_at(model, loc[:-1])
    if owner is None:
        return message
    allowed = [info.alias or name for name, info in owner.model_fields.items()]
    close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
    if close:
        message += f" (did you mean '{close[0]}'?)"
    return f"{message}; allowed: {', '.join(allowed)}"


def _model_at(root: Any, loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model class that validates the mapping at `loc`, found by walking the type annotations."""
    current: Any = root
    for part in loc:
        current = _child(current, part)
        if current is None:
            return None
    current = _strip(current)
    if typing.get_origin(current) in (typing.Union, types.UnionType):
        concrete = [_strip(member) for member in typing.get_args(current) if member is not type(None)]
        current = concrete[0] if len(concrete) == 1 else None
    if isinstance(current, type) and issubclass(current, BaseModel):
        return current
    return None


def _strip(annotation: Any) -> Any:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _tag(annotation: Any) -> str | None:
    if typing.get_origin(annotation) is typing.Annotated:
        for extra in annotation.__metadata__:
            tag = getattr(extra, "tag", None)
            if isinstance(tag, str):
                return tag
    return None


def _child(annotation: Any, part: Any) -> Any:
    bare = _strip(annotation)
    if isinstance(bare, type) and issubclass(bare, BaseModel):
        for name, info in bare.model_fields.items():
            if part in (name, info.alias):
                return info.annotation
        return None
    origin = typing.get_origin(bare)
    if origin is list:
        return typing.get_args(bare)[0] if isinstance(part, int) else None
    if origin is dict:
        return typing.get_args(bare)[1]
    if origin in (typing.Union, types.UnionType):
        members = typing.get_args(bare)
        for member in members:
            if _tag(member) == part:
                return member
        concrete = [member for member in members if member is not type(None)]
        if len(concrete) == 1:
            return _child(concrete[0], part)
    return None
