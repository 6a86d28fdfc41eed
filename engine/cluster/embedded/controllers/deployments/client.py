"""The Deployment controller's writes: ReplicaSets, Deployment status, events and timers, in one place.

A pass changes its copy of the Deployment's status and revision annotation as it goes and marks it with
`update_status`; `flush` then writes whatever differs from the stored object, once, at the end of the pass
(the real status strategy for Deployments lets metadata through; here the annotation takes a main-resource
write, then the status its own).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...events import EventRecorder
from ...resources import ResourceType
from ...rest import Api, WriteOptions
from ...status import ApiError
from ..replicasets import MANAGER, Key, key_of

Obj = dict[str, Any]


class Client:
    def __init__(
        self,
        api: Api,
        deployment_type: ResourceType,
        rs_type: ResourceType,
        recorder: EventRecorder,
        live: Callable[[str, str], Obj | None],
        requeue: Callable[[Obj, float], None],
    ) -> None:
        self.api = api
        self.deployment_type = deployment_type
        self.rs_type = rs_type
        self.recorder = recorder
        self._live = live
        self._requeue = requeue
        self._dirty: set[Key] = set()
        self._opts = WriteOptions(field_manager=MANAGER)

    def create_replica_set(self, rs: Obj) -> Obj:
        created, _ = self.api.create(self.rs_type, rs["metadata"]["namespace"], rs, self._opts)
        return created

    def find_replica_set(self, namespace: str, name: str) -> Obj | None:
        return self.api.find(self.rs_type, namespace, name)

    def update_replica_set(self, rs: Obj) -> Obj:
        namespace, name = key_of(rs)
        stored, _ = self.api.update(self.rs_type, namespace, name, rs, self._opts)
        return stored

    def delete_replica_set(self, rs: Obj) -> None:
        namespace, name = key_of(rs)
        try:
            self.api.delete(self.rs_type, namespace, name, None)
        except ApiError as err:
            if err.code != 404:
                raise

    def update_status(self, d: Obj) -> None:
        """`d`'s status (and revision annotation) changed and is to be written by `flush`."""
        self._dirty.add(key_of(d))

    def flush(self, d: Obj) -> None:
        """Write the annotations and status of `d` where they differ from the stored Deployment."""
        key = key_of(d)
        if key not in self._dirty:
            return
        self._dirty.discard(key)
        namespace, name = key
        live = self._live(namespace, name)
        if live is None or live["metadata"].get("uid") != d["metadata"].get("uid"):
            return
        annotations = d["metadata"].get("annotations") or {}
        if (live["metadata"].get("annotations") or {}) != annotations:
            body = {**live, "metadata": {**live["metadata"], "annotations": annotations}}
            live, _ = self.api.update(self.deployment_type, namespace, name, body, self._opts)
        status = d.get("status") or {}
        if (live.get("status") or {}) != status:
            body = {**live, "status": status}
            self.api.update(self.deployment_type, namespace, name, body, self._opts, subresource="status")

    def event(self, d: Obj, event_type: str, reason: str, message: str) -> None:
        self.recorder.record(d, event_type, reason, message)

    def requeue_after(self, d: Obj, seconds: float) -> None:
        self._requeue(d, seconds)
