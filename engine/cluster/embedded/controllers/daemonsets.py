"""DaemonSets: one pod on every node the pod may run on, replaced node by node on a template change.

As the real controller does, a daemon pod is not bound to its node directly: it gets a required node affinity
on `metadata.name` and the tolerations every daemon pod carries (not-ready, unreachable, pressure,
unschedulable), and the scheduler places it. A node qualifies when its labels satisfy the template's
nodeSelector and required node affinity and every NoSchedule/NoExecute taint is tolerated. Nodes come from
the API: a DaemonSet created before its node exists gets its pod when the node appears.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

from .. import clock
from ..events import EventRecorder
from ..rest import Api, WriteOptions
from ..settings import ClusterSettings
from ..status import ApiError
from . import podutil
from .base import Controller
from .statefulsets import REVISION_LABEL, available_in, int_field, owner_key, pod_from_template, template_hash

Obj = dict[str, Any]
Key = tuple[str, str]

MANAGER = "kube-controller-manager"
GENERATION_LABEL = "pod-template-generation"
GENERATION_ANNOTATION = "deprecated.daemonset.template.generation"
DAEMONSETS = "apps/daemonsets"
PODS = "/pods"
NODES = "/nodes"
DAEMON_TOLERATIONS: tuple[tuple[str, str], ...] = (
    ("node.kubernetes.io/not-ready", "NoExecute"),
    ("node.kubernetes.io/unreachable", "NoExecute"),
    ("node.kubernetes.io/disk-pressure", "NoSchedule"),
    ("node.kubernetes.io/memory-pressure", "NoSchedule"),
    ("node.kubernetes.io/pid-pressure", "NoSchedule"),
    ("node.kubernetes.io/unschedulable", "NoSchedule"),
)
NETWORK_UNAVAILABLE = ("node.kubernetes.io/network-unavailable", "NoSchedule")


# ---------------------------------------------------------------------------------------------------------
# Which nodes a daemon pod may run on
# ---------------------------------------------------------------------------------------------------------


def daemon_tolerations(pod_spec: Obj) -> list[Obj]:
    """The pod's own tolerations plus those the DaemonSet controller adds to every daemon pod."""
    tolerations = [dict(t) for t in pod_spec.get("tolerations") or [] if isinstance(t, dict)]
    wanted = list(DAEMON_TOLERATIONS)
    if pod_spec.get("hostNetwork") is True:
        wanted.append(NETWORK_UNAVAILABLE)
    for key, effect in wanted:
        if not any(t.get("key") == key and t.get("effect") == effect for t in tolerations):
            tolerations.append({"key": key, "operator": "Exists", "effect": effect})
    return tolerations


def tolerates(tolerations: list[Obj], taint: Obj) -> bool:
    for toleration in tolerations:
        if toleration.get("effect") and toleration.get("effect") != taint.get("effect"):
            continue
        operator = toleration.get("operator") or "Equal"
        if not toleration.get("key") and operator == "Exists":
            return True
        if toleration.get("key") != taint.get("key"):
            continue
        if operator == "Exists" or (toleration.get("value") or "") == (taint.get("value") or ""):
            return True
    return False


def _expression_matches(expression: Obj, values_of: dict[str, str]) -> bool:
    key, operator = str(expression.get("key", "")), expression.get("operator")
    values = [str(v) for v in expression.get("values") or []]
    present = key in values_of
    value = values_of.get(key, "")
    if operator == "In":
        return present and value in values
    if operator == "NotIn":
        return not present or value not in values
    if operator == "Exists":
        return present
    if operator == "DoesNotExist":
        return not present
    if operator in ("Gt", "Lt") and present and len(values) == 1:
        try:
            number, bound = int(value), int(values[0])
        except ValueError:
            return False
        return number > bound if operator == "Gt" else number < bound
    return False


def _term_matches(term: Obj, node: Obj) -> bool:
    expressions = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not expressions and not fields:
        return False
    labels = {str(k): str(v) for k, v in (node["metadata"].get("labels") or {}).items()}
    node_fields = {"metadata.name": node["metadata"]["name"]}
    return all(_expression_matches(e, labels) for e in expressions) and all(
        _expression_matches(f, node_fields) for f in fields
    )


def node_selected(pod_spec: Obj, node: Obj) -> bool:
    """The template's nodeSelector and required node affinity allow this node."""
    labels = node["metadata"].get("labels") or {}
    for key, value in (pod_spec.get("nodeSelector") or {}).items():
        if labels.get(key) != value:
            return False
    required = ((pod_spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    )
    if not required:
        return True
    return any(_term_matches(term, node) for term in required.get("nodeSelectorTerms") or [])


def should_run(pod_spec: Obj, node: Obj) -> bool:
    """Whether a daemon pod belongs on the node: it is selected and every hard taint is tolerated."""
    if not node_selected(pod_spec, node):
        return False
    tolerations = daemon_tolerations(pod_spec)
    for taint in (node.get("spec") or {}).get("taints") or []:
        if taint.get("effect") in ("NoSchedule", "NoExecute") and not tolerates(tolerations, taint):
            return False
    return True


def target_node(pod: Obj) -> str:
    """The node a daemon pod is for: where it is bound, else the node its required affinity names."""
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return str(spec["nodeName"])
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    for term in required.get("nodeSelectorTerms") or []:
        for expression in term.get("matchFields") or []:
            values = expression.get("values") or []
            if expression.get("key") == "metadata.name" and expression.get("operator") == "In" and len(values) == 1:
                return str(values[0])
    return ""


def _placement(node: Obj) -> tuple[Any, ...]:
    """What decides whether daemon pods belong on a node; other node changes (status, images) wake nothing."""
    spec = node.get("spec") or {}
    return node["metadata"].get("labels"), spec.get("taints"), spec.get("unschedulable")


def _node_affinity(affinity: Obj | None, node: str) -> Obj:
    affinity = copy.deepcopy(affinity) if isinstance(affinity, dict) else {}
    node_affinity = affinity.setdefault("nodeAffinity", {})
    node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {
        "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}]
    }
    return affinity


def scaled(value: Any, total: int, round_up: bool) -> int:
    """An int-or-percent (maxUnavailable, maxSurge) as a number of nodes."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.endswith("%") and value[:-1].isdigit():
        exact = int(value[:-1]) * total / 100
        return math.ceil(exact) if round_up else math.floor(exact)
    return 0


# ---------------------------------------------------------------------------------------------------------
# The controller
# ---------------------------------------------------------------------------------------------------------


@dataclass
class _Plan:
    create_on: list[str] = field(default_factory=list)
    delete: list[Obj] = field(default_factory=list)


class DaemonSetController(Controller):
    name = "daemonset-controller"

    def __init__(self, api: Api, settings: ClusterSettings | None = None) -> None:
        super().__init__(api, settings)
        sets = api.catalog.lookup("apps", "v1", "daemonsets")
        pods = api.catalog.lookup("", "v1", "pods")
        nodes = api.catalog.lookup("", "v1", "nodes")
        assert sets is not None and pods is not None and nodes is not None
        self._sets, self._pods, self._nodes = sets, pods, nodes
        self._events = EventRecorder(api, "daemonset-controller")
        self._opts = WriteOptions(field_manager=MANAGER)

    def start(self) -> None:
        for item in self.api.list(self._sets, None).items:
            self.enqueue((item["metadata"]["namespace"], item["metadata"]["name"]))

    def keys_for(self, resource: str, event_type: str, obj: Obj, old: Obj | None) -> list[Hashable]:
        if resource == DAEMONSETS:
            return [(obj["metadata"]["namespace"], obj["metadata"]["name"])]
        if resource == PODS:
            return list({key for key in (owner_key(obj, "DaemonSet"), owner_key(old, "DaemonSet")) if key})
        if resource == NODES:
            if old is not None and event_type == "MODIFIED" and _placement(obj) == _placement(old):
                return []
            return [
                (item["metadata"]["namespace"], item["metadata"]["name"])
                for item in self.api.list(self._sets, None).items
            ]
        return []

    def reconcile(self, key: Hashable) -> None:
        assert isinstance(key, tuple)
        ds = self.api.find(self._sets, *key)
        if ds is None:
            return
        nodes = self.api.list(self._nodes, None).items
        revision = template_hash((ds.get("spec") or {}).get("template"), self._collisions(ds))
        if not ds["metadata"].get("deletionTimestamp"):
            plan = self._plan(ds, nodes, revision)
            self._carry_out(ds, plan, revision)
        self._update_status(ds, nodes, revision)

    @staticmethod
    def _collisions(ds: Obj) -> int:
        return int_field(ds.get("status") or {}, "collisionCount", 0)

    def _pods_by_node(self, ds: Obj) -> dict[str, list[Obj]]:
        by_node: dict[str, list[Obj]] = {}
        for pod in self.api.list(self._pods, ds["metadata"]["namespace"]).items:
            if podutil.is_controlled_by(pod, ds):
                by_node.setdefault(target_node(pod), []).append(pod)
        for pods in by_node.values():
            pods.sort(key=lambda p: (p["metadata"].get("creationTimestamp", ""), p["metadata"]["name"]))
        return by_node

    def _template_spec(self, ds: Obj) -> Obj:
        return ((ds.get("spec") or {}).get("template") or {}).get("spec") or {}

    # What to create and delete --------------------------------------------------------------------------

    def _plan(self, ds: Obj, nodes: list[Obj], revision: str) -> _Plan:
        plan = _Plan()
        pod_spec = self._template_spec(ds)
        by_node = self._pods_by_node(ds)
        node_names = {node["metadata"]["name"] for node in nodes}
        surge = self._max_surge(ds, nodes) > 0
        for node in nodes:
            name = node["metadata"]["name"]
            pods = by_node.get(name, [])
            if should_run(pod_spec, node):
                if not pods:
                    plan.create_on.append(name)
                    continue
                running = []
                for pod in pods:
                    if podutil.is_terminating(pod):
                        continue
                    phase = (pod.get("status") or {}).get("phase")
                    if phase in ("Failed", "Succeeded"):
                        word = "failed" if phase == "Failed" else "succeeded"
                        self._events.record(
                            ds,
                            "Warning",
                            "FailedDaemonPod",
                            f"Found {word} daemon pod {pod['metadata']['namespace']}/{pod['metadata']['name']} "
                            f"on node {name}, will try to kill it",
                        )
                        plan.delete.append(pod)
                    else:
                        running.append(pod)
                if not surge:
                    plan.delete.extend(running[1:])
            else:
                plan.delete.extend(pod for pod in pods if not podutil.is_terminating(pod))
        for name, pods in by_node.items():
            if name not in node_names:
                plan.delete.extend(pod for pod in pods if not podutil.is_terminating(pod))
        if not plan.create_on and not plan.delete:
            self._roll(ds, nodes, by_node, revision, plan)
        return plan

    def _max_surge(self, ds: Obj, nodes: list[Obj]) -> int:
        strategy = (ds.get("spec") or {}).get("updateStrategy") or {}
        if strategy.get("type", "RollingUpdate") != "RollingUpdate":
            return 0
        desired = sum(should_run(self._template_spec(ds), node) for node in nodes)
        return scaled((strategy.get("rollingUpdate") or {}).get("maxSurge", 0), desired, True)

    def _roll(self, ds: Obj, nodes: list[Obj], by_node: dict[str, list[Obj]], revision: str, plan: _Plan) -> None:
        spec = ds.get("spec") or {}
        strategy = spec.get("updateStrategy") or {}
        if strategy.get("type", "RollingUpdate") != "RollingUpdate":
            return
        rolling = strategy.get("rollingUpdate") or {}
        desired = [node["metadata"]["name"] for node in nodes if should_run(self._template_spec(ds), node)]
        max_surge = scaled(rolling.get("maxSurge", 0), len(desired), True)
        max_unavailable = scaled(rolling.get("maxUnavailable", 1), len(desired), True)
        if max_surge == 0 and max_unavailable == 0:
            max_unavailable = 1
        min_ready = int_field(spec, "minReadySeconds", 0)
        now = clock.now()

        def available(pod: Obj) -> bool:
            return available_in(pod, min_ready, now) == 0

        unavailable, surged = 0, 0
        candidates: list[Obj] = []
        for name in desired:
            pods = [pod for pod in by_node.get(name, []) if not podutil.is_terminating(pod)]
            new = [pod for pod in pods if self._is_updated(ds, pod, revision)]
            old = [pod for pod in pods if not self._is_updated(ds, pod, revision)]
            if len(new) > 1 or len(old) > 1 or (not new and not old):
                unavailable += 1
                continue
            if max_surge:
                if not old:
                    continue
                if not new:
                    if not available(old[0]) or surged < max_surge:
                        surged += available(old[0])
                        plan.create_on.append(name)
                elif available(new[0]):
                    plan.delete.append(old[0])
                else:
                    surged += 1
                continue
            if new and old:
                unavailable += 1
            elif new:
                unavailable += not available(new[0])
            elif not available(old[0]):
                plan.delete.append(old[0])
            elif unavailable < max_unavailable:
                candidates.append(old[0])
        if not max_surge:
            plan.delete.extend(candidates[: max(0, max_unavailable - unavailable)])

    def _is_updated(self, ds: Obj, pod: Obj, revision: str) -> bool:
        labels = pod["metadata"].get("labels") or {}
        if REVISION_LABEL in labels:
            return labels[REVISION_LABEL] == revision
        return labels.get(GENERATION_LABEL) == self._generation(ds)

    @staticmethod
    def _generation(ds: Obj) -> str:
        annotations = ds["metadata"].get("annotations") or {}
        return str(annotations.get(GENERATION_ANNOTATION) or ds["metadata"].get("generation", 1))

    def _carry_out(self, ds: Obj, plan: _Plan, revision: str) -> None:
        for pod in plan.delete:
            name = pod["metadata"]["name"]
            try:
                self.api.delete(self._pods, pod["metadata"]["namespace"], name, None)
            except ApiError as err:
                if err.code == 404:
                    continue
                self._events.record(ds, "Warning", "FailedDelete", f"Error deleting: {err.message}")
                raise
            self._events.record(ds, "Normal", "SuccessfulDelete", f"Deleted pod: {name}")
        for node in plan.create_on:
            self._create(ds, node, revision)

    def _create(self, ds: Obj, node: str, revision: str) -> None:
        spec = ds.get("spec") or {}
        pod = pod_from_template(spec.get("template") or {}, ds)
        pod["metadata"]["generateName"] = f"{ds['metadata']['name']}-"
        labels = pod["metadata"].setdefault("labels", {})
        labels[REVISION_LABEL] = revision
        labels[GENERATION_LABEL] = self._generation(ds)
        pod["spec"]["affinity"] = _node_affinity(pod["spec"].get("affinity"), node)
        pod["spec"]["tolerations"] = daemon_tolerations(pod["spec"])
        try:
            created, _ = self.api.create(self._pods, ds["metadata"]["namespace"], pod, self._opts)
        except ApiError as err:
            self._events.record(ds, "Warning", "FailedCreate", f"Error creating: {err.message}")
            raise
        self._events.record(ds, "Normal", "SuccessfulCreate", f"Created pod: {created['metadata']['name']}")

    # Status ---------------------------------------------------------------------------------------------

    def _update_status(self, ds: Obj, nodes: list[Obj], revision: str) -> None:
        spec = ds.get("spec") or {}
        pod_spec = self._template_spec(ds)
        min_ready = int_field(spec, "minReadySeconds", 0)
        now = clock.now()
        by_node = self._pods_by_node(ds)
        counts = dict.fromkeys(
            (
                "currentNumberScheduled",
                "numberMisscheduled",
                "desiredNumberScheduled",
                "numberReady",
                "updatedNumberScheduled",
                "numberAvailable",
            ),
            0,
        )
        wake: list[float] = []
        for node in nodes:
            pods = [pod for pod in by_node.get(node["metadata"]["name"], []) if not podutil.is_terminating(pod)]
            if not should_run(pod_spec, node):
                counts["numberMisscheduled"] += bool(pods)
                continue
            counts["desiredNumberScheduled"] += 1
            if not pods:
                continue
            counts["currentNumberScheduled"] += 1
            pod = pods[0]
            if podutil.is_ready(pod):
                counts["numberReady"] += 1
                remaining = available_in(pod, min_ready, now)
                if remaining == 0:
                    counts["numberAvailable"] += 1
                elif remaining is not None:
                    wake.append(remaining)
            counts["updatedNumberScheduled"] += self._is_updated(ds, pod, revision)
        status: Obj = {
            "currentNumberScheduled": counts["currentNumberScheduled"],
            "numberMisscheduled": counts["numberMisscheduled"],
            "desiredNumberScheduled": counts["desiredNumberScheduled"],
            "numberReady": counts["numberReady"],
            "observedGeneration": ds["metadata"].get("generation", 1),
            "updatedNumberScheduled": counts["updatedNumberScheduled"],
            "numberAvailable": counts["numberAvailable"],
            "numberUnavailable": counts["desiredNumberScheduled"] - counts["numberAvailable"],
        }
        for omitted_when_zero in ("updatedNumberScheduled", "numberAvailable", "numberUnavailable"):
            if not status[omitted_when_zero]:
                del status[omitted_when_zero]
        old = ds.get("status") or {}
        for kept in ("collisionCount", "conditions"):
            if kept in old:
                status[kept] = old[kept]
        if status != old:
            body = copy.deepcopy(ds)
            body["status"] = status
            meta = ds["metadata"]
            self.api.update(self._sets, meta["namespace"], meta["name"], body, self._opts, subresource="status")
        if wake:
            self.enqueue_after((ds["metadata"]["namespace"], ds["metadata"]["name"]), min(wake))
