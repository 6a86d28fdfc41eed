"""Reading an Application's loosely typed parts safely.

The CRD keeps `status` and `operation` schemaless (as Argo CD's does), and the object has no status
subresource, so anyone may write anything there. Every read of those parts goes through these helpers: a
value of the wrong type reads as absent instead of raising.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

JSON = dict[str, Any]


def mapping(value: Any) -> JSON:
    return value if isinstance(value, dict) else {}


def sequence(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def dig(value: Any, *keys: str) -> JSON:
    """The map at `keys` below `value` (empty when any step is missing or not a map)."""
    for key in keys:
        value = mapping(value).get(key)
    return mapping(value)


def text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def integer(value: Any) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def timestamp(value: Any) -> datetime | None:
    """An RFC 3339 time the API server wrote (`2026-01-01T00:00:00Z`), or None."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
