"""An in-process cluster for the kubelet's unit tests: the real API, node controller, scheduler and kubelet,
driven by a fake clock. `advance(seconds)` moves the clock and wakes every pod, as the timers would."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from engine.cluster.embedded.bootstrap import ensure_system_objects
from engine.cluster.embedded.controllers.base import Controller
from engine.cluster.embedded.controllers.nodes import NodeController
from engine.cluster.embedded.daemon import build_api
from engine.cluster.embedded.kubelet import Kubelet, Scheduler, node_runtime
from engine.cluster.embedded.rest import WriteOptions
from engine.cluster.embedded.settings import ClusterSettings, PodTimings

START = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
# Distinct, whole-second steps so that every stage of a pod can be observed.
TIMINGS = PodTimings(schedule=1, pull=2, create=1, start=1, terminate=3, backoff_base=10, backoff_max=40)
OPTS = WriteOptions(field_manager="test")


def container(name: str = "app", image: str = "nginx:1.25", **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": image, **extra}


def pod_manifest(name: str, *containers: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"containers": list(containers) or [container()], **spec}}


class Cluster:
    def __init__(self, state: Path, timings: PodTimings = TIMINGS) -> None:
        self.state_dir = state
        self.time = START
        self.loop = asyncio.new_event_loop()
        self.api = build_api(state)
        settings = ClusterSettings(timings=timings)
        self.scheduler = Scheduler(self.api, settings)
        self.kubelet = Kubelet(self.api, settings)
        self.scheduler.now = self.kubelet.now = self.now
        self.controllers: list[Controller] = [NodeController(self.api, settings), self.scheduler, self.kubelet]
        ensure_system_objects(self.api)
        self._run(lambda: [controller.start() for controller in self.controllers])
        self.settle()
        self.pods = self.api.catalog.lookup("", "v1", "pods")
        self.configmaps = self.api.catalog.lookup("", "v1", "configmaps")
        self.event_type = self.api.catalog.lookup("", "v1", "events")
        self.node = node_runtime(self.api)

    def now(self) -> datetime:
        return self.time

    def close(self) -> None:
        self.loop.close()
        self.api.store.close()

    # -- driving -------------------------------------------------------------------------------------------

    def _run(self, work: Callable[[], Any]) -> Any:
        async def inside() -> Any:
            return work()

        return self.loop.run_until_complete(inside())

    def settle(self) -> None:
        """Reconcile until no controller has work left."""

        def drain() -> None:
            for _ in range(100_000):
                busy = [c for c in self.controllers if c._pending]
                if not busy:
                    return
                for controller in busy:
                    key = next(iter(controller._pending))
                    del controller._pending[key]
                    controller.reconcile(key)
            raise AssertionError("the controllers never settled")

        self._run(drain)

    def advance(self, seconds: float, step: float = 0.5) -> None:
        """Move the clock in small steps, waking every pod at each, so that timers fire close to on time."""
        end = self.time + timedelta(seconds=seconds)
        while self.time < end:
            self.time = min(self.time + timedelta(seconds=step), end)
            for pod in self.api.list(self.pods, None).items:
                key = (pod["metadata"]["namespace"], pod["metadata"]["name"])
                self.scheduler.enqueue(key)
                self.kubelet.enqueue(key)
            self.settle()

    # -- API -----------------------------------------------------------------------------------------------

    def create(self, manifest: dict[str, Any], namespace: str = "default") -> dict[str, Any]:
        kind = manifest.get("kind", "Pod")
        rtype = self.pods if kind == "Pod" else self.api.catalog.by_kind("", kind)
        assert rtype is not None
        obj = self._run(lambda: self.api.create(rtype, namespace, copy.deepcopy(manifest), OPTS)[0])
        self.settle()
        return obj

    def create_pod(self, name: str, *containers: dict[str, Any], **spec: Any) -> dict[str, Any]:
        return self.create(pod_manifest(name, *containers, **spec))

    def configmap(self, name: str, namespace: str = "default", **data: str) -> None:
        self.create({"kind": "ConfigMap", "metadata": {"name": name}, "data": data}, namespace)

    def delete(self, name: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
        result = self._run(lambda: self.api.delete(self.pods, "default", name, options or {}))
        self.settle()
        return result

    def pod(self, name: str) -> dict[str, Any] | None:
        return self.api.find(self.pods, "default", name)

    def status(self, name: str) -> dict[str, Any]:
        pod = self.pod(name)
        assert pod is not None, f"pod {name} is gone"
        return pod.get("status") or {}

    def container_status(self, name: str, index: int = 0, key: str = "containerStatuses") -> dict[str, Any]:
        return self.status(name)[key][index]

    def state(self, name: str, index: int = 0) -> tuple[str, str]:
        """(state, reason) of a container: ("running", ""), ("waiting", "CrashLoopBackOff"), ..."""
        state = self.container_status(name, index)["state"]
        kind = next(iter(state))
        return kind, state[kind].get("reason", "")

    def condition(self, name: str, kind: str) -> dict[str, Any]:
        return next(c for c in self.status(name)["conditions"] if c["type"] == kind)

    def events(self, name: str) -> list[tuple[str, str, str]]:
        """(type, reason, message) of the pod's events, in the order they were first recorded."""
        items = self.api.list(self.event_type, "default").items
        return [(e["type"], e["reason"], e["message"]) for e in items if e["involvedObject"]["name"] == name]

    def count(self, name: str, reason: str) -> int:
        items = self.api.list(self.event_type, "default").items
        return sum(e["count"] for e in items if e["involvedObject"]["name"] == name and e["reason"] == reason)

    def reasons(self, name: str) -> list[str]:
        return [reason for _, reason, _ in self.events(name)]
