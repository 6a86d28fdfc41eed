"""The simulated kubelet of `driftlab-control-plane`: runs the pods bound to the node.

Each pod is synced when it changes, when one of its timers fires (a pull or a start finishing, a probe run,
an exit, a back-off ending) or, while it waits for one, when a ConfigMap or Secret of its namespace changes.
A sync advances the pod's `PodRuntime`, records the events it produced, writes the status if it changed, and
sets the next timer. Deleted pods are stopped and then removed, as the kubelet does with a grace-0 delete.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable
from datetime import datetime
from typing import Any

from .. import clock
from ..controllers.base import Controller
from ..controllers.nodes import KUBELET, NODE_NAME
from ..events import EventRecorder
from ..rest import Api, WriteOptions
from ..settings import ClusterSettings
from ..status import ApiError
from ..workloads import Catalogue, CatalogueError, load_catalogue
from .context import SyncContext
from .environment import ApiLookup
from .pods import PodRuntime
from .restore import restore_pod
from .runtime import node_runtime

log = logging.getLogger(__name__)
Obj = dict[str, Any]
Key = tuple[str, str]
_OPTS = WriteOptions(field_manager=KUBELET)


def on_node(pod: Obj) -> bool:
    return (pod.get("spec") or {}).get("nodeName") == NODE_NAME


def load_lab_catalogue(settings: ClusterSettings) -> Catalogue:
    """The lab's image catalogue; the built-in one if the lab's cannot be read (the reason is logged)."""
    try:
        return load_catalogue(settings.image_catalogue)
    except CatalogueError as err:
        log.error("%s; using the built-in image catalogue", err)
        return load_catalogue(None)


class Kubelet(Controller):
    name = "kubelet"

    def __init__(self, api: Api, settings: ClusterSettings | None = None) -> None:
        super().__init__(api, settings)
        pods = api.catalog.lookup("", "v1", "pods")
        assert pods is not None
        self.pods_type = pods
        self.node = node_runtime(api)
        self.catalogue = load_lab_catalogue(self.settings)
        self.lookup = ApiLookup(api)
        self.events = EventRecorder(api, KUBELET, NODE_NAME)
        self.now: Callable[[], datetime] = clock.now
        self._pods: dict[Key, PodRuntime] = {}
        self._waiting_for_config: dict[str, set[Key]] = {}
        self._config_changed: set[Key] = set()

    def keys_for(self, resource: str, event_type: str, obj: Obj, old: Obj | None) -> list[Hashable]:
        meta = obj["metadata"]
        if resource == "/pods":
            key = (meta.get("namespace", ""), meta["name"])
            if on_node(obj) or key in self._pods:
                return [key]
            return []
        if resource in ("/configmaps", "/secrets"):
            waiting = self._waiting_for_config.get(meta.get("namespace", ""))
            if waiting:
                self._config_changed.update(waiting)
                return list(waiting)
        return []

    def start(self) -> None:
        """Pick up the node's pods (after a restart): their IPs are taken before any new pod gets one."""
        for pod in self.api.list(self.pods_type, None).items:
            if not on_node(pod):
                continue
            ip = (pod.get("status") or {}).get("podIP")
            if isinstance(ip, str) and ip:
                self.node.network.adopt(str(pod["metadata"].get("uid", "")), ip)
            self.enqueue((pod["metadata"].get("namespace", ""), pod["metadata"]["name"]))

    def reconcile(self, key: Hashable) -> None:
        namespace, name = key if isinstance(key, tuple) else ("", str(key))
        pod = self.api.find(self.pods_type, namespace, name)
        runtime = self._pods.get((namespace, name))
        if runtime is not None and (pod is None or runtime.uid != pod["metadata"].get("uid") or not on_node(pod)):
            self._forget((namespace, name), runtime)
            runtime = None
        if pod is None or not on_node(pod):
            return
        self.sync((namespace, name), pod, runtime)

    def sync(self, key: Key, pod: Obj, runtime: PodRuntime | None) -> None:
        ctx = SyncContext(
            api=self.api,
            node=self.node,
            catalogue=self.catalogue,
            lookup=self.lookup,
            timings=self.settings.timings,
            pod=pod,
            now=self.now(),
            config_changed=key in self._config_changed,
        )
        self._config_changed.discard(key)
        if runtime is None:
            started = (pod.get("status") or {}).get("startTime")
            runtime = restore_pod(pod, ctx) if started else PodRuntime(pod)
            self._pods[key] = runtime
        wake = runtime.sync(ctx)
        for event_type, reason, message, field_path in ctx.events:
            self.events.record(pod, event_type, reason, message, field_path)
        if runtime.start_time:
            self._report(pod, runtime, ctx.now)
        if runtime.finished:
            self._remove(key, pod, runtime)
            return
        self._track_config_wait(key, runtime)
        if wake is not None:
            self.enqueue_after(key, max((wake - self.now()).total_seconds(), 0.0))

    def _report(self, pod: Obj, runtime: PodRuntime, now: datetime) -> None:
        status = runtime.status(pod, now)
        if status == pod.get("status"):
            return
        meta = pod["metadata"]
        body = {**pod, "status": status}
        self.api.update(self.pods_type, meta.get("namespace", ""), meta["name"], body, _OPTS, subresource="status")

    def _remove(self, key: Key, pod: Obj, runtime: PodRuntime) -> None:
        """The containers are gone: delete the pod for good (finalizers may still hold it)."""
        meta = pod["metadata"]
        options = {"gracePeriodSeconds": 0, "preconditions": {"uid": meta.get("uid")}}
        try:
            self.api.delete(self.pods_type, key[0], key[1], options)
        except ApiError as err:
            if err.code not in (404, 409):
                raise

    def _forget(self, key: Key, runtime: PodRuntime) -> None:
        self._pods.pop(key, None)
        self.node.forget_pod(runtime.uid)
        self.events.forget(runtime.uid)
        self._config_changed.discard(key)
        waiting = self._waiting_for_config.get(key[0])
        if waiting is not None:
            waiting.discard(key)
            if not waiting:
                del self._waiting_for_config[key[0]]

    def _track_config_wait(self, key: Key, runtime: PodRuntime) -> None:
        if runtime.waits_for_config:
            self._waiting_for_config.setdefault(key[0], set()).add(key)
            return
        waiting = self._waiting_for_config.get(key[0])
        if waiting is not None:
            waiting.discard(key)
            if not waiting:
                del self._waiting_for_config[key[0]]
