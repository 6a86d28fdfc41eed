"""The live state cache: informers over every kind an Application manages, like Argo CD's cluster cache.

An informer starts the first time an app needs a kind (a desired object, or a resource its status lists) and
keeps running, so comparisons read the cache instead of the API, and every change to an object an app tracks
reaches the controller (`on_change`), which queues the owning app: that is how a `kubectl edit` is seen at
once. What the controller itself just applied or deleted is written into the cache straight away, so the
comparison that follows a sync never sees the state from before it.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterable

from ...cluster.api import ApiResource
from ...cluster.client import JSON, KubeClient
from ...cluster.errors import ClusterError
from ..controller import Informer, Key
from .tracking import ResourceKey, tracked_by

log = logging.getLogger(__name__)

SYNC_TIMEOUT = 10.0


class LiveInformer(Informer):
    """An informer whose cache the controller may update with objects it wrote itself."""

    def remember(self, obj: JSON) -> None:
        """Keep `obj` unless the cache already holds a newer version of it."""
        metadata = obj.get("metadata") or {}
        key = (str(metadata.get("namespace") or ""), str(metadata.get("name") or ""))
        with self._lock:
            held = self.cache.get(key)
            if held is None or not _newer(held, obj):
                self.cache[key] = obj

    def forget(self, key: Key) -> None:
        with self._lock:
            self.cache.pop(key, None)


def _newer(held: JSON, obj: JSON) -> bool:
    """Whether `held` is a later version than `obj` (resource versions compared as numbers when they are)."""
    mine = str((held.get("metadata") or {}).get("resourceVersion") or "")
    theirs = str((obj.get("metadata") or {}).get("resourceVersion") or "")
    if mine.isdigit() and theirs.isdigit():
        return int(mine) > int(theirs)
    return False


class LiveState:
    """Informers per resource type, and the objects apps track across them."""

    def __init__(self, client: KubeClient, on_change: Callable[[JSON], None]) -> None:
        self.client = client
        self.on_change = on_change
        self._informers: dict[tuple[str, str], LiveInformer] = {}
        self._lock = threading.Lock()

    def resource(self, group: str, kind: str, version: str | None = None) -> ApiResource | None:
        """The served resource type of a group and kind (preferring `version`); None when not served."""
        candidates = [f"{group}/{version}" if group else version] if version else []
        candidates.append(group or "v1")
        for api_version in candidates:
            try:
                return self.client.resolve(kind, api_version)
            except ClusterError:
                continue
        return None

    def watch(self, resources: Iterable[ApiResource]) -> None:
        """Make sure an informer runs for each type, and has listed once."""
        started = []
        with self._lock:
            for resource in resources:
                if (resource.group, resource.kind) in self._informers:
                    continue
                informer = LiveInformer(self.client, resource, lambda _e, obj, r=resource: self._changed(r, obj))
                self._informers[(resource.group, resource.kind)] = informer
                informer.start()
                started.append(informer)
        for informer in started:
            informer.synced.wait(SYNC_TIMEOUT)

    def _changed(self, resource: ApiResource, obj: JSON) -> None:
        informer = self._informers.get((resource.group, resource.kind))
        if informer is None or not informer.synced.is_set():
            return  # the first listing is not a change
        obj.setdefault("apiVersion", resource.api_version)
        obj.setdefault("kind", resource.kind)
        with contextlib.suppress(Exception):
            self.on_change(obj)

    def informer(self, group: str, kind: str) -> LiveInformer | None:
        with self._lock:
            return self._informers.get((group, kind))

    def get(self, key: ResourceKey) -> JSON | None:
        informer = self.informer(key.group, key.kind)
        return informer.get((key.namespace, key.name)) if informer is not None else None

    def tracked(self, instance: str) -> dict[ResourceKey, JSON]:
        """Every cached object whose tracking id names the app `instance`."""
        with self._lock:
            informers = list(self._informers.values())
        found: dict[ResourceKey, JSON] = {}
        for informer in informers:
            for obj in informer.objects():
                if tracked_by(obj) == instance:
                    found[ResourceKey.of(obj)] = obj
        return found

    def remember(self, obj: JSON) -> None:
        key = ResourceKey.of(obj)
        informer = self.informer(key.group, key.kind)
        if informer is not None:
            informer.remember(obj)

    def forget(self, key: ResourceKey) -> None:
        informer = self.informer(key.group, key.kind)
        if informer is not None:
            informer.forget((key.namespace, key.name))

    def stop(self) -> None:
        with self._lock:
            informers = list(self._informers.values())
            self._informers.clear()
        for informer in informers:
            informer.stop()
