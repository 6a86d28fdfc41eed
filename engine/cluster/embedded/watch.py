"""Fan-out of store events to watchers, with label/field filtering and selector transitions."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .selectors import FieldRequirement, Requirement, fields_match, labels_match


@dataclass(eq=False)
class Watcher:
    resource: str
    namespace: str | None
    labels: list[Requirement] = field(default_factory=list)
    fields: list[FieldRequirement] = field(default_factory=list)
    queue: asyncio.Queue[tuple[str, dict[str, Any]]] = field(default_factory=asyncio.Queue)
    last_rv: int = 0

    def matches(self, obj: dict[str, Any]) -> bool:
        return labels_match(self.labels, obj) and fields_match(self.fields, obj)

    def translate(self, event_type: str, obj: dict[str, Any], old: dict[str, Any] | None) -> str | None:
        """The event this watcher sees: an object leaving its selector is DELETED for it, entering is ADDED."""
        now = self.matches(obj)
        if event_type != "MODIFIED" or old is None:
            return event_type if now else None
        before = self.matches(old)
        if now and before:
            return "MODIFIED"
        if now:
            return "ADDED"
        if before:
            return "DELETED"
        return None

    def offer(self, rv: int, event_type: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        if rv <= self.last_rv:
            return
        seen = self.translate(event_type, obj, old)
        if seen is not None:
            self.last_rv = rv
            self.queue.put_nowait((seen, obj))


CLOSE = "CLOSE"  # not a Kubernetes event type: tells a watch stream to end

Listener = Callable[[str, str, dict[str, Any], dict[str, Any] | None], None]


class Hub:
    """Delivers every committed change to the matching watchers and to in-process listeners (controllers)."""

    def __init__(self) -> None:
        self._watchers: dict[str, set[Watcher]] = {}
        self._listeners: list[Listener] = []

    def subscribe(self, watcher: Watcher) -> None:
        self._watchers.setdefault(watcher.resource, set()).add(watcher)

    def unsubscribe(self, watcher: Watcher) -> None:
        self._watchers.get(watcher.resource, set()).discard(watcher)

    def listen(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def close_all(self) -> None:
        """End every watch stream (the daemon is stopping); clients reconnect and resume from their last RV."""
        for group in self._watchers.values():
            for watcher in group:
                watcher.queue.put_nowait((CLOSE, {}))

    @property
    def watcher_count(self) -> int:
        return sum(len(group) for group in self._watchers.values())

    def publish(self, resource: str, event_type: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        rv = int(obj["metadata"]["resourceVersion"])
        namespace = obj["metadata"].get("namespace", "")
        for watcher in list(self._watchers.get(resource, ())):
            if watcher.namespace is None or watcher.namespace == namespace:
                watcher.offer(rv, event_type, obj, old)
        for listener in self._listeners:
            listener(resource, event_type, obj, old)
