"""What the simulated node holds besides API objects: images, pod IPs, running containers and their logs.

One `NodeRuntime` per API (`node_runtime(api)`): the kubelet fills it; the API server reads logs from it and
the NodePort server finds the running containers behind a pod IP in it (`instances_of`, `instance_at`).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..controllers.nodes import node_images, record_image
from ..rest import Api
from ..workloads import ImageBehaviour, RunPlan
from .logs import LogStore
from .network import PodNetwork

Obj = dict[str, Any]


@dataclass
class Instance:
    """One running container: what it is, what it sees, and its plan. `container_id` has the runtime prefix
    (`containerd://...`); append log lines with `NodeRuntime.logs.append(instance.container_id, text)`."""

    container_id: str
    pod_uid: str
    pod_name: str
    namespace: str
    container: str
    behaviour: ImageBehaviour
    plan: RunPlan
    started: datetime
    pod_ip: str
    env: dict[str, str] = field(default_factory=dict)
    config: dict[str, str] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    ports: list[Obj] = field(default_factory=list)


class ImageCache:
    """Images present on the node: those the Node's status lists (so they survive restarts), plus pulls."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self._names: set[str] | None = None

    def has(self, name: str) -> bool:
        if self._names is None:
            self._names = node_images(self.api)
        return name in self._names

    def add(self, behaviour: ImageBehaviour) -> None:
        names = [behaviour.image, behaviour.image_id]
        if self._names is None:
            self._names = node_images(self.api)
        if all(name in self._names for name in names):
            return
        self._names.update(names)
        record_image(self.api, names, behaviour.size)


class NodeRuntime:
    def __init__(self, api: Api) -> None:
        self.logs = LogStore()
        self.network = PodNetwork()
        self.images = ImageCache(api)
        self._running: dict[tuple[str, str], Instance] = {}

    def started(self, instance: Instance) -> None:
        self._running[(instance.pod_uid, instance.container)] = instance

    def stopped(self, pod_uid: str, container: str) -> None:
        self._running.pop((pod_uid, container), None)

    def instances_of(self, pod_uid: str) -> list[Instance]:
        """The running containers of a pod."""
        return [instance for (uid, _), instance in self._running.items() if uid == pod_uid]

    def instance_at(self, pod_ip: str, port: int | None = None) -> Instance | None:
        """The running container behind a pod IP that listens on `port` (any, if None)."""
        for instance in self._running.values():
            if instance.pod_ip == pod_ip and instance.behaviour.listens_on(port):
                return instance
        return None

    def forget_pod(self, pod_uid: str) -> None:
        for key in [key for key in self._running if key[0] == pod_uid]:
            del self._running[key]
        self.logs.forget_pod(pod_uid)
        self.network.release(pod_uid)


_RUNTIMES: weakref.WeakKeyDictionary[Api, NodeRuntime] = weakref.WeakKeyDictionary()


def node_runtime(api: Api) -> NodeRuntime:
    """The node of this API (created on first use)."""
    runtime = _RUNTIMES.get(api)
    if runtime is None:
        runtime = _RUNTIMES[api] = NodeRuntime(api)
    return runtime
