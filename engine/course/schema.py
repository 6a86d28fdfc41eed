"""The JSON Schema of course.yaml, generated from the models so editors and the loader never disagree.

A committed copy lives in courses/course.schema.json; course files point editors at it with a first line
`# yaml-language-server: $schema=../course.schema.json`.
"""

from __future__ import annotations

import json
from typing import Any

from ..checks.spec import CHECK_KINDS, Comparison
from .model import Course

DRAFT = "https://json-schema.org/draft/2020-12/schema"


def course_schema() -> dict[str, Any]:
    """The schema as a dict (draft 2020-12), with the 'exactly one of' rules the models enforce in code."""
    generated = Course.model_json_schema(by_alias=True, mode="validation")
    generated["title"] = "driftlab course (course.yaml)"
    definitions = generated.get("$defs", {})
    _one_of(definitions.get("Check"), list(CHECK_KINDS))
    operators = [info.alias or name for name, info in Comparison.model_fields.items()]
    _one_of(definitions.get("Comparison"), operators)
    return {"$schema": DRAFT, **generated}


def schema_text() -> str:
    """The schema as committed: indented JSON ending with a newline."""
    return json.dumps(course_schema(), indent=2, ensure_ascii=False) + "\n"


def _one_of(definition: dict[str, Any] | None, keys: list[str]) -> None:
    if definition is not None:
        definition["oneOf"] = [{"required": [key]} for key in keys]
