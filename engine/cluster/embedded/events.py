"""Recording Kubernetes Events the way client-go's recorder does.

Names are `<object>.<hex nanoseconds>`, so events of the same second sort in the order things happened
(`kubectl describe` keeps the server's order within a second). A repeat of the same event (same object, type,
reason, message) bumps `count` and `lastTimestamp` instead of creating another, as the real correlator does;
like the real one, that memory does not survive a restart.
"""

from __future__ import annotations

import copy
import time
from typing import Any

from . import clock
from .rest import Api, WriteOptions
from .status import ApiError

Obj = dict[str, Any]
_Key = tuple[str, str, str, str, str]


class EventRecorder:
    def __init__(self, api: Api, component: str, host: str = "") -> None:
        self.api = api
        self.component = component
        self.host = host
        rtype = api.catalog.lookup("", "v1", "events")
        assert rtype is not None
        self._rtype = rtype
        self._names: dict[_Key, tuple[str, str]] = {}
        self._last_nanos = 0

    def record(self, involved: Obj, event_type: str, reason: str, message: str, field_path: str = "") -> None:
        """Emit (or count again) an event about `involved`; failures never break the caller's work."""
        meta = involved["metadata"]
        key = (str(meta.get("uid") or ""), event_type, reason, message, field_path)
        opts = WriteOptions(field_manager=self.component)
        try:
            if key in self._names and self._count_again(*self._names[key], opts):
                return
            namespace = meta.get("namespace") or "default"
            name = f"{meta['name']}.{self._nanos():x}"
            body = self._body(involved, name, event_type, reason, message, field_path)
            self.api.create(self._rtype, namespace, body, opts)
            self._names[key] = (namespace, name)
        except ApiError:
            # A namespace being deleted refuses new events; the real recorders drop them too.
            return

    def forget(self, uid: str) -> None:
        """Drop what is remembered about an object that is gone."""
        for key in [key for key in self._names if key[0] == uid]:
            del self._names[key]

    def _count_again(self, namespace: str, name: str, opts: WriteOptions) -> bool:
        existing = self.api.find(self._rtype, namespace, name)
        if existing is None:
            return False
        updated = copy.deepcopy(existing)
        updated["count"] = int(existing.get("count") or 1) + 1
        updated["lastTimestamp"] = clock.stamp()
        self.api.update(self._rtype, namespace, name, updated, opts)
        return True

    def _nanos(self) -> int:
        self._last_nanos = max(time.time_ns(), self._last_nanos + 1)
        return self._last_nanos

    def _body(self, involved: Obj, name: str, event_type: str, reason: str, message: str, field_path: str) -> Obj:
        meta = involved["metadata"]
        now = clock.stamp()
        ref = {
            "apiVersion": involved.get("apiVersion", ""),
            "kind": involved.get("kind", ""),
            "name": meta["name"],
            "namespace": meta.get("namespace", ""),
            "uid": meta.get("uid", ""),
            "resourceVersion": meta.get("resourceVersion", ""),
            "fieldPath": field_path,
        }
        source = {"component": self.component, **({"host": self.host} if self.host else {})}
        return {
            "metadata": {"name": name, "namespace": meta.get("namespace") or "default"},
            "involvedObject": {k: v for k, v in ref.items() if v},
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
