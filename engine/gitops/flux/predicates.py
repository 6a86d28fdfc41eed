"""Which informer events should queue a reconcile, as Flux's predicates decide.

Flux reconciles an object when its spec changes (a new generation), when `reconcile.fluxcd.io/requestedAt`
gets a new value, and when its deletion starts; its own status writes queue nothing. Without this filter every
status update would trigger another reconcile.
"""

from __future__ import annotations

import threading
from typing import Any

from ..controller import Key, key_of
from .status import REQUESTED_AT

JSON = dict[str, Any]


def requested_at(obj: JSON) -> str | None:
    annotations = (obj.get("metadata") or {}).get("annotations")
    value = annotations.get(REQUESTED_AT) if isinstance(annotations, dict) else None
    return str(value) if value is not None else None


def _signature(obj: JSON) -> tuple[Any, str | None, bool, tuple[str, ...]]:
    metadata = obj.get("metadata") or {}
    finalizers = metadata.get("finalizers")
    return (
        metadata.get("generation"),
        requested_at(obj),
        bool(metadata.get("deletionTimestamp")),
        tuple(finalizers) if isinstance(finalizers, list) and metadata.get("deletionTimestamp") else (),
    )


class ChangeFilter:
    """Remembers what it last saw of each object; `wants(event, obj)` says whether this event needs a reconcile."""

    def __init__(self) -> None:
        self._seen: dict[Key, tuple[Any, str | None, bool, tuple[str, ...]]] = {}
        self._lock = threading.Lock()

    def wants(self, event: str, obj: JSON) -> bool:
        key = key_of(obj)
        with self._lock:
            if event == "DELETED":
                self._seen.pop(key, None)
                return False
            signature = _signature(obj)
            previous = self._seen.get(key)
            self._seen[key] = signature
        return event == "ADDED" or previous != signature
