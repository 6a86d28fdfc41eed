"""Recording Kubernetes Events the way the real components do: one object per (object, reason, message),
with `count` and `lastTimestamp` bumped when the same thing happens again."""

from __future__ import annotations

import copy
import hashlib
from typing import Any

from . import clock
from .rest import Api, WriteOptions
from .status import ApiError

Obj = dict[str, Any]


class EventRecorder:
    def __init__(self, api: Api, component: str, host: str = "") -> None:
        self.api = api
        self.component = component
        self.host = host
        rtype = api.catalog.lookup("", "v1", "events")
        assert rtype is not None
        self._rtype = rtype

    def record(self, involved: Obj, event_type: str, reason: str, message: str, field_path: str = "") -> None:
        """Emit (or count again) an event about `involved`; failures never break the caller's work."""
        meta = involved["metadata"]
        namespace = meta.get("namespace") or "default"
        digest = hashlib.sha1(f"{meta.get('uid')}|{reason}|{message}|{field_path}".encode()).hexdigest()[:16]
        name = f"{meta['name']}.{digest}"
        now = clock.stamp()
        opts = WriteOptions(field_manager=self.component)
        try:
            existing = self.api.find(self._rtype, namespace, name)
            if existing is not None:
                updated = copy.deepcopy(existing)
                updated["count"] = int(existing.get("count") or 1) + 1
                updated["lastTimestamp"] = now
                self.api.update(self._rtype, namespace, name, updated, opts)
                return
            involved_ref: Obj = {
                "apiVersion": involved.get("apiVersion", ""),
                "kind": involved.get("kind", ""),
                "name": meta["name"],
                "namespace": meta.get("namespace", ""),
                "uid": meta.get("uid", ""),
                "resourceVersion": meta.get("resourceVersion", ""),
            }
            if field_path:
                involved_ref["fieldPath"] = field_path
            source: Obj = {"component": self.component}
            if self.host:
                source["host"] = self.host
            body = {
                "metadata": {"name": name, "namespace": namespace},
                "involvedObject": {k: v for k, v in involved_ref.items() if v},
                "reason": reason,
                "message": message,
                "type": event_type,
                "source": source,
                "count": 1,
                "firstTimestamp": now,
                "lastTimestamp": now,
                "reportingComponent": self.component,
                "reportingInstance": self.host,
            }
            self.api.create(self._rtype, namespace, body, opts)
        except ApiError:
            # A namespace being deleted refuses new events; the real recorders drop them too.
            return
