"""An in-process cluster for controller tests: the real Api, the ReplicaSet and Deployment controllers and the
garbage collector, driven synchronously, with a clock and timers the test moves by hand."""

from __future__ import annotations

import copy
from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from engine.cluster.embedded import clock
from engine.cluster.embedded.bootstrap import ensure_system_objects
from engine.cluster.embedded.controllers.base import Controller
from engine.cluster.embedded.controllers.deployments import DeploymentController
from engine.cluster.embedded.controllers.garbage import GarbageCollector
from engine.cluster.embedded.controllers.replicasets import ReplicaSetController
from engine.cluster.embedded.daemon import build_api
from engine.cluster.embedded.rest import Api, WriteOptions
from engine.cluster.embedded.selectors import parse_label_selector

Obj = dict[str, Any]
TEST = WriteOptions(field_manager="test")


@dataclass(order=True)
class Timer:
    due: datetime
    seq: int
    controller: Controller = field(compare=False)
    key: Hashable = field(compare=False)


class Harness:
    """Writes go through the Api as kubectl's would; `settle` runs every queued reconcile to quiescence."""

    def __init__(self, state: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)
        monkeypatch.setattr(clock, "now", lambda: self.now)
        self.api: Api = build_api(state)
        self.replica_sets = ReplicaSetController(self.api)
        self.deployments = DeploymentController(self.api)
        self.controllers: list[Controller] = [self.replica_sets, self.deployments, GarbageCollector(self.api)]
        ensure_system_objects(self.api)
        self.timers: list[Timer] = []
        self._seq = 0
        self.recorded: list[tuple[str, str, str]] = []
        self.api.hub.listen(self._record_event)
        self._leaving: set[tuple[str, str]] = set()
        self.api.hub.listen(self._watch_deletions)
        for controller in self.controllers:
            monkeypatch.setattr(controller, "enqueue_after", self._scheduler(controller))
            controller.start()
        self.types = {
            "deployments": self._type("apps", "deployments"),
            "replicasets": self._type("apps", "replicasets"),
            "pods": self._type("", "pods"),
            "events": self._type("", "events"),
            "namespaces": self._type("", "namespaces"),
        }
        self.settle()

    def _type(self, group: str, plural: str) -> Any:
        rtype = self.api.catalog.lookup(group, "v1", plural)
        assert rtype is not None
        return rtype

    def _scheduler(self, controller: Controller) -> Any:
        def enqueue_after(key: Hashable, seconds: float) -> None:
            if seconds <= 0:
                controller.enqueue(key)
                return
            due = self.now + timedelta(seconds=seconds)
            same = [t for t in self.timers if t.controller is controller and t.key == key]
            if same and same[0].due <= due:
                return
            for timer in same:
                self.timers.remove(timer)
            self._seq += 1
            self.timers.append(Timer(due, self._seq, controller, key))

        return enqueue_after

    # Driving ----------------------------------------------------------------------------------------

    def _watch_deletions(self, resource: str, event_type: str, obj: Obj, old: Obj | None) -> None:
        meta = obj["metadata"]
        if resource == "/pods" and event_type != "DELETED" and meta.get("deletionTimestamp"):
            self._leaving.add((meta["namespace"], meta["name"]))

    def _finish_deletions(self) -> None:
        """What the kubelet does for a pod being deleted: stop it, then remove it once no finalizer holds it."""
        while self._leaving:
            namespace, name = self._leaving.pop()
            pod = self.find("pods", name, namespace)
            if pod is not None and pod["metadata"].get("deletionTimestamp") and not pod["metadata"].get("finalizers"):
                self.api.delete(self.types["pods"], namespace, name, {"gracePeriodSeconds": 0})

    def settle(self, limit: int = 20_000) -> int:
        """Run queued reconciles (and finish pod deletions) until nothing is queued; returns how many ran."""
        ran = 0
        while True:
            self._finish_deletions()
            busy = [c for c in self.controllers if c._pending]
            if not busy:
                return ran
            for controller in busy:
                while controller._pending:
                    key = next(iter(controller._pending))
                    del controller._pending[key]
                    controller.reconcile(key)
                    ran += 1
                    if ran > limit:
                        raise AssertionError("controllers never settle")

    def advance(self, seconds: float) -> None:
        """Move the clock, fire the timers that fell due, and settle."""
        self.now += timedelta(seconds=seconds)
        self.settle()
        while True:
            due = sorted(t for t in self.timers if t.due <= self.now)
            if not due:
                return
            for timer in due:
                self.timers.remove(timer)
                timer.controller.enqueue(timer.key)
            self.settle()

    def pending_timers(self, controller: Controller) -> list[Timer]:
        return [t for t in self.timers if t.controller is controller]

    # Objects ----------------------------------------------------------------------------------------

    def create(self, kind: str, body: Obj, namespace: str = "default") -> Obj:
        created, _ = self.api.create(self.types[kind], namespace, body, TEST)
        self.settle()
        return created

    def get(self, kind: str, name: str, namespace: str = "default") -> Obj:
        return self.api.get(self.types[kind], namespace, name)

    def find(self, kind: str, name: str, namespace: str = "default") -> Obj | None:
        return self.api.find(self.types[kind], namespace, name)

    def list(self, kind: str, namespace: str = "default", selector: str = "") -> list[Obj]:
        items = self.api.list(self.types[kind], namespace, parse_label_selector(selector)).items
        return sorted(items, key=lambda o: (o["metadata"].get("creationTimestamp", ""), o["metadata"]["name"]))

    def patch_spec(self, kind: str, name: str, change: Any, namespace: str = "default") -> Obj:
        live = copy.deepcopy(self.get(kind, name, namespace))
        change(live)
        updated, _ = self.api.update(self.types[kind], namespace, name, live, TEST)
        self.settle()
        return updated

    def delete(self, kind: str, name: str, namespace: str = "default") -> None:
        self.api.delete(self.types[kind], namespace, name, {"propagationPolicy": "Background"})
        self.settle()

    def pods(self, namespace: str = "default", selector: str = "") -> list[Obj]:
        return [p for p in self.list("pods", namespace, selector) if not p["metadata"].get("deletionTimestamp")]

    def set_pod_status(self, pod: Obj, ready: bool = True, phase: str = "Running", node: str = "") -> None:
        """What the kubelet would report: phase, the Ready condition (since now) and container statuses."""
        live = copy.deepcopy(self.get("pods", pod["metadata"]["name"], pod["metadata"]["namespace"]))
        stamp = clock.stamp()
        live["status"] = {
            "phase": phase,
            "conditions": [{"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": stamp}],
            "containerStatuses": [
                {"name": c["name"], "ready": ready, "restartCount": 0, "image": c.get("image", "")}
                for c in live["spec"].get("containers", [])
            ],
        }
        self.api.update(
            self.types["pods"],
            live["metadata"]["namespace"],
            live["metadata"]["name"],
            live,
            TEST,
            subresource="status",
        )
        if node:
            self.bind(pod, node)

    def bind(self, pod: Obj, node: str) -> None:
        """What the scheduler's binding does: set spec.nodeName (an update may not change it)."""
        live = copy.deepcopy(self.get("pods", pod["metadata"]["name"], pod["metadata"]["namespace"]))
        before = copy.deepcopy(live)
        live["spec"]["nodeName"] = node
        stored = self.api.store.put("/pods", live, "MODIFIED")
        self.api.hub.publish("/pods", "MODIFIED", stored, before)

    def ready_pending(self, namespace: str = "default", skip: Any = None) -> int:
        """Mark every pod that is not ready yet as Running and Ready; returns how many."""
        count = 0
        for pod in self.pods(namespace):
            if skip is not None and skip(pod):
                continue
            conditions = (pod.get("status") or {}).get("conditions") or []
            if not any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions):
                self.set_pod_status(pod)
                count += 1
        self.settle()
        return count

    def roll_out(self, namespace: str = "default", skip: Any = None) -> None:
        """Keep marking new pods ready until the controllers have nothing more to do."""
        for _ in range(100):
            if not self.ready_pending(namespace, skip):
                return
        raise AssertionError("rollout never finished")

    def _record_event(self, resource: str, event_type: str, obj: Obj, old: Obj | None) -> None:
        if resource == "/events" and event_type != "DELETED":
            self.recorded.append((obj["involvedObject"].get("name", ""), obj.get("reason", ""), obj.get("message", "")))

    def events(self, reason: str = "", about: str = "") -> list[str]:
        """Messages of the events recorded so far, in the order they happened (repeats included)."""
        return [m for name, r, m in self.recorded if (not reason or r == reason) and (not about or name == about)]


def deployment(name: str = "web", replicas: int = 3, image: str = "nginx:1.25", **spec: Any) -> Obj:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": name, "image": image}]}},
            **spec,
        },
    }


def replica_set(name: str = "rs", replicas: int = 3, labels: Obj | None = None, **spec: Any) -> Obj:
    labels = labels or {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "app", "image": "nginx"}]}},
            **spec,
        },
    }


@pytest.fixture
def cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Harness:
    return Harness(tmp_path, monkeypatch)
