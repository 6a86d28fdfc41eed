"""A `Reader` over objects held in memory: for tests of checks and for previewing checks without a cluster.

It serves a fixed table of the common built-in kinds (plus any added with `serve`), matches label and field
selectors as the API server does, and delivers watch events to open streams when objects change.
"""

from __future__ import annotations

import copy
import queue
import threading
from collections.abc import Iterable, Iterator

from engine.cluster.embedded.selectors import (
    FieldRequirement,
    Requirement,
    fields_match,
    labels_match,
    parse_field_selector,
    parse_label_selector,
)
from engine.cluster.embedded.status import ApiError

from .reader import JSON, ApiResource, Read, ReadError, Unreachable, WatchEvent, resolve_in


def _r(group: str, kind: str, plural: str, namespaced: bool = True, *short: str) -> ApiResource:
    return ApiResource(group, "v1", kind, plural, namespaced, kind.lower(), tuple(short))


BUILTIN_RESOURCES: tuple[ApiResource, ...] = (
    _r("", "ConfigMap", "configmaps", True, "cm"),
    _r("", "Endpoints", "endpoints", True, "ep"),
    _r("", "Event", "events", True, "ev"),
    _r("", "Namespace", "namespaces", False, "ns"),
    _r("", "Node", "nodes", False, "no"),
    _r("", "PersistentVolumeClaim", "persistentvolumeclaims", True, "pvc"),
    _r("", "Pod", "pods", True, "po"),
    _r("", "Secret", "secrets", True),
    _r("", "ServiceAccount", "serviceaccounts", True, "sa"),
    _r("", "Service", "services", True, "svc"),
    _r("apps", "DaemonSet", "daemonsets", True, "ds"),
    _r("apps", "Deployment", "deployments", True, "deploy"),
    _r("apps", "ReplicaSet", "replicasets", True, "rs"),
    _r("apps", "StatefulSet", "statefulsets", True, "sts"),
    _r("batch", "CronJob", "cronjobs", True, "cj"),
    _r("batch", "Job", "jobs", True),
    _r("networking.k8s.io", "Ingress", "ingresses", True, "ing"),
    _r("events.k8s.io", "Event", "events", True, "ev"),
    _r("apiextensions.k8s.io", "CustomResourceDefinition", "customresourcedefinitions", False, "crd", "crds"),
)


class MemoryCluster:
    """Objects in memory, readable through the same `Reader` interface as a real cluster."""

    def __init__(self, objects: Iterable[JSON] = (), resources: Iterable[ApiResource] = BUILTIN_RESOURCES) -> None:
        self._resources = list(resources)
        self._objects: dict[tuple[str, str, str, str], JSON] = {}
        self._lock = threading.Lock()
        self._revision = 0
        self._streams: list[_MemoryStream] = []
        self._history: list[tuple[int, ApiResource, str, JSON]] = []
        self.down = False
        self.fetches = 0
        for obj in objects:
            self.put(obj)

    @property
    def server(self) -> str:
        return "memory"

    def serve(self, resource: ApiResource) -> None:
        self._resources.append(resource)

    # Changes ----------------------------------------------------------------------------------------------

    def put(self, obj: JSON) -> JSON:
        """Create or replace an object (its `apiVersion` and `kind` say which type); watchers see it."""
        resource = self._type_of(obj)
        stored = copy.deepcopy(obj)
        metadata = stored.setdefault("metadata", {})
        if resource.namespaced:
            metadata.setdefault("namespace", "default")
        key = self._key(resource, metadata.get("namespace", ""), metadata.get("name", ""))
        with self._lock:
            event = "MODIFIED" if key in self._objects else "ADDED"
            self._revision += 1
            metadata["resourceVersion"] = str(self._revision)
            self._objects[key] = stored
            self._notify(resource, event, stored)
        return copy.deepcopy(stored)

    def delete(self, kind: str, name: str, namespace: str | None = None, api_version: str | None = None) -> None:
        resource = self.resolve(kind, api_version)
        key = self._key(resource, (namespace or "default") if resource.namespaced else "", name)
        with self._lock:
            removed = self._objects.pop(key, None)
            if removed is not None:
                self._revision += 1
                self._notify(resource, "DELETED", removed)

    def disconnect(self) -> None:
        """Act as an API server going away: reads fail and open watches end."""
        self.down = True
        with self._lock:
            for stream in self._streams:
                stream.end(Unreachable("cannot reach the cluster API at memory (connection refused)"))
            self._streams.clear()

    def reconnect(self) -> None:
        self.down = False

    def _type_of(self, obj: JSON) -> ApiResource:
        kind, api_version = obj.get("kind"), obj.get("apiVersion")
        if not isinstance(kind, str) or not isinstance(api_version, str):
            raise ReadError("an object needs apiVersion and kind")
        resource = next((r for r in self._resources if r.kind == kind and r.api_version == api_version), None)
        if resource is None:
            raise ReadError(f"no resource type {api_version} {kind} is served")
        return resource

    @staticmethod
    def _key(resource: ApiResource, namespace: str, name: str) -> tuple[str, str, str, str]:
        return (resource.group, resource.plural, namespace, name)

    def _notify(self, resource: ApiResource, event: str, obj: JSON) -> None:
        self._history.append((self._revision, resource, event, obj))
        for stream in self._streams:
            if stream.wants(resource, obj):
                stream.push(WatchEvent(event, str(self._revision)))

    # Reader -----------------------------------------------------------------------------------------------

    def _check_up(self) -> None:
        if self.down:
            raise Unreachable("cannot reach the cluster API at memory (connection refused)")

    def resolve(self, kind: str, api_version: str | None = None) -> ApiResource:
        self._check_up()
        return resolve_in(self._resources, kind, api_version)

    def resources(self) -> list[ApiResource]:
        return list(self._resources)

    def fetch(self, read: Read) -> list[JSON]:
        self._check_up()
        self.fetches += 1
        labels, fields = _selectors(read)
        with self._lock:
            found = [
                copy.deepcopy(obj)
                for (group, plural, namespace, _), obj in sorted(self._objects.items())
                if (group, plural) == (read.resource.group, read.resource.plural)
                and (read.namespace is None or namespace == read.namespace)
                and labels_match(labels, obj)
                and fields_match(fields, obj)
            ]
        return found

    def list_version(self, read: Read) -> str:
        self._check_up()
        _selectors(read)
        return str(self._revision)

    def watch(self, read: Read, resource_version: str) -> _MemoryStream:
        self._check_up()
        labels, fields = _selectors(read)
        stream = _MemoryStream(read, labels, fields)
        since = int(resource_version) if resource_version.isdigit() else self._revision
        with self._lock:
            for revision, resource, event, obj in self._history:
                if revision > since and stream.wants(resource, obj):
                    stream.push(WatchEvent(event, str(revision)))
            self._streams.append(stream)
        return stream

    def streams(self) -> int:
        """How many watches are open (for tests that check what is watched)."""
        with self._lock:
            self._streams = [s for s in self._streams if not s.closed]
            return len(self._streams)

    def watched(self) -> list[Read]:
        with self._lock:
            return [s.read for s in self._streams if not s.closed]


def _selectors(read: Read) -> tuple[list[Requirement], list[FieldRequirement]]:
    try:
        labels = parse_label_selector(read.label_selector)
        fields = parse_field_selector(read.selector_for_list(), read.resource.kind)
    except ApiError as err:
        raise ReadError(f"the cluster API answered 400: {err}") from None
    return labels, fields


class _MemoryStream:
    def __init__(self, read: Read, labels: list[Requirement], fields: list[FieldRequirement]) -> None:
        self.read = read
        self._labels = labels
        self._fields = fields
        self._queue: queue.Queue[WatchEvent | BaseException | None] = queue.Queue()
        self.closed = False

    def wants(self, resource: ApiResource, obj: JSON) -> bool:
        if (resource.group, resource.plural) != (self.read.resource.group, self.read.resource.plural):
            return False
        namespace = (obj.get("metadata") or {}).get("namespace")
        if self.read.namespace is not None and namespace != self.read.namespace:
            return False
        return labels_match(self._labels, obj) and fields_match(self._fields, obj)

    def push(self, event: WatchEvent) -> None:
        self._queue.put(event)

    def end(self, error: BaseException | None = None) -> None:
        self._queue.put(error)

    def __iter__(self) -> Iterator[WatchEvent]:
        while not self.closed:
            item = self._queue.get()
            if item is None or self.closed:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        self.closed = True
        self._queue.put(None)
