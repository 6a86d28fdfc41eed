"""Durations written as Go writes them (`90s`, `1m30s`, `500ms`), read in one place for courses, pipelines and
the GitOps agents' specs. Each caller says which units it accepts and words its own error."""

from __future__ import annotations

import re
from collections.abc import Collection

UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
COMMON_UNITS = ("ms", "s", "m", "h")
_PART_RE = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")


def seconds(text: str, units: Collection[str] = COMMON_UNITS) -> float | None:
    """The seconds `text` stands for, or None when it is not a sequence of number+unit parts in `units`."""
    parts = list(_PART_RE.finditer(text))
    if not parts or "".join(part.group(0) for part in parts) != text:
        return None
    if any(part.group(2) not in units for part in parts):
        return None
    return sum(float(part.group(1)) * UNIT_SECONDS[part.group(2)] for part in parts)
