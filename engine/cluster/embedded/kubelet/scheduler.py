"""The default scheduler: binds each new pod to a node that fits it, `timings.schedule` after it appears.

A node fits when it is schedulable, matches the pod's nodeSelector and required node affinity, has no taint
the pod does not tolerate, and has room for the pod's requests (CPU, memory, pod count). A pod that fits
nowhere gets PodScheduled=False (Unschedulable) and a FailedScheduling event with the scheduler's message,
and is tried again when pods or nodes change. Binding writes what the real `pods/binding` subresource does:
spec.nodeName and the PodScheduled condition. Pods left Terminating on a node that no longer exists are
removed, as the pod garbage collector does.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Hashable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from .. import clock
from ..catalog import storage_key
from ..controllers.base import Controller
from ..events import EventRecorder
from ..rest import Api, WriteOptions
from ..settings import ClusterSettings
from ..status import ApiError
from ..workloads import WorkloadError, parse_quantity

Obj = dict[str, Any]
Key = tuple[str, str]
SCHEDULER = "default-scheduler"
_OPTS = WriteOptions(field_manager="kube-scheduler")


class Scheduler(Controller):
    name = SCHEDULER

    def __init__(self, api: Api, settings: ClusterSettings | None = None) -> None:
        super().__init__(api, settings)
        pods, nodes = api.catalog.lookup("", "v1", "pods"), api.catalog.lookup("", "v1", "nodes")
        assert pods is not None and nodes is not None
        self.pods_type, self.nodes_type = pods, nodes
        self.events = EventRecorder(api, SCHEDULER)
        self.now: Callable[[], datetime] = clock.now
        self._first_seen: dict[str, datetime] = {}
        self._unscheduled: set[Key] = set()
        self._placed: dict[str, tuple[str, tuple[Decimal, Decimal]]] = {}  # uid -> (node, requests)

    def keys_for(self, resource: str, event_type: str, obj: Obj, old: Obj | None) -> list[Hashable]:
        if resource == "/nodes":
            return list(self._unscheduled)
        if resource != "/pods":
            return []
        meta = obj["metadata"]
        key = (meta.get("namespace", ""), meta["name"])
        freed = self._account(obj, event_type)
        if event_type == "DELETED":
            self._unscheduled.discard(key)
            self._first_seen.pop(str(meta.get("uid")), None)
            return list(self._unscheduled) if freed else []
        node = (obj.get("spec") or {}).get("nodeName")
        if not node and not meta.get("deletionTimestamp"):
            self._unscheduled.add(key)
            return [key]
        self._unscheduled.discard(key)
        keys: list[Hashable] = list(self._unscheduled) if freed else []
        if node and meta.get("deletionTimestamp"):
            keys.append(key)
        return keys

    def start(self) -> None:
        for pod in self.api.list(self.pods_type, None).items:
            self._account(pod, "ADDED")
            if not (pod.get("spec") or {}).get("nodeName") or pod["metadata"].get("deletionTimestamp"):
                self._unscheduled.add((pod["metadata"].get("namespace", ""), pod["metadata"]["name"]))
                self.enqueue((pod["metadata"].get("namespace", ""), pod["metadata"]["name"]))

    def reconcile(self, key: Hashable) -> None:
        namespace, name = key if isinstance(key, tuple) else ("", str(key))
        pod = self.api.find(self.pods_type, namespace, name)
        if pod is None:
            return
        node_name = (pod.get("spec") or {}).get("nodeName")
        if pod["metadata"].get("deletionTimestamp"):
            if node_name and self.api.find(self.nodes_type, "", node_name) is None:
                self._collect_orphan(pod)
            return
        if node_name or (pod.get("spec") or {}).get("schedulerName", SCHEDULER) != SCHEDULER:
            return
        due = self._first_seen.setdefault(str(pod["metadata"].get("uid")), self.now())
        due += timedelta(seconds=self.settings.timings.schedule)
        if self.now() < due:
            self.enqueue_after(key, (due - self.now()).total_seconds())
            return
        nodes = self.api.list(self.nodes_type, None).items
        reasons: dict[str, int] = {}
        for node in nodes:
            reason = self._misfit(pod, node)
            if reason is None:
                self._bind(pod, node)
                return
            reasons[reason] = reasons.get(reason, 0) + 1
        self._unschedulable(pod, _message(len(nodes), reasons))

    # -- fitting -------------------------------------------------------------------------------------------

    def _misfit(self, pod: Obj, node: Obj) -> str | None:
        """Why the pod cannot go on the node (the scheduler's wording), or None."""
        spec, node_spec = pod.get("spec") or {}, node.get("spec") or {}
        labels = node["metadata"].get("labels") or {}
        if node_spec.get("unschedulable") and not _tolerates(spec, {"key": "node.kubernetes.io/unschedulable"}):
            return "node(s) were unschedulable"
        selector = spec.get("nodeSelector") or {}
        if any(labels.get(k) != v for k, v in selector.items()) or not _affinity_matches(spec, node):
            return "node(s) didn't match Pod's node affinity/selector"
        for taint in node_spec.get("taints") or []:
            blocking = isinstance(taint, dict) and taint.get("effect") in ("NoSchedule", "NoExecute")
            if blocking and not _tolerates(spec, taint):
                value = f": {taint['value']}" if taint.get("value") else ""
                return f"node(s) had untolerated taint {{{taint.get('key')}{value}}}"
        return self._no_room(pod, node)

    def _no_room(self, pod: Obj, node: Obj) -> str | None:
        allocatable = (node.get("status") or {}).get("allocatable") or {}
        placed = [requests for where, requests in self._placed.values() if where == node["metadata"]["name"]]
        pods_allowed = _quantity(allocatable.get("pods"))
        if pods_allowed is not None and len(placed) + 1 > pods_allowed:
            return "Too many pods"
        wanted = pod_requests(pod)
        for index, resource in enumerate(("cpu", "memory")):
            limit = _quantity(allocatable.get(resource))
            if limit is not None and wanted[index] and sum(p[index] for p in placed) + wanted[index] > limit:
                return f"Insufficient {resource}"
        return None

    def _account(self, pod: Obj, event_type: str) -> bool:
        """Keep track of what bound pods request; True when a pod stopped taking room."""
        uid = str(pod["metadata"].get("uid"))
        node = (pod.get("spec") or {}).get("nodeName")
        finished = (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")
        if event_type == "DELETED" or finished or not node:
            return self._placed.pop(uid, None) is not None
        if uid not in self._placed:
            self._placed[uid] = (str(node), pod_requests(pod))
        return False

    # -- writing -------------------------------------------------------------------------------------------

    def _bind(self, pod: Obj, node: Obj) -> None:
        """What `pods/binding` does: set spec.nodeName and PodScheduled=True, straight in storage."""
        node_name = node["metadata"]["name"]
        bound = copy.deepcopy(pod)
        bound["spec"]["nodeName"] = node_name
        status = bound.setdefault("status", {})
        condition: Obj = {"type": "PodScheduled", "status": "True"}
        if isinstance(pod["metadata"].get("generation"), int):
            condition["observedGeneration"] = pod["metadata"]["generation"]
        condition["lastTransitionTime"] = clock.stamp()
        others = [c for c in status.get("conditions") or [] if isinstance(c, dict) and c.get("type") != "PodScheduled"]
        status["conditions"] = [*others, condition]
        key = storage_key(self.pods_type)
        stored = self.api.store.put(key, bound, "MODIFIED")
        self.api.hub.publish(key, "MODIFIED", stored, pod)
        self.api.admission.after_write(self.pods_type, stored, pod)
        meta = pod["metadata"]
        message = f"Successfully assigned {meta.get('namespace', 'default')}/{meta['name']} to {node_name}"
        self.events.record(stored, "Normal", "Scheduled", message)

    def _unschedulable(self, pod: Obj, message: str) -> None:
        status = pod.get("status") or {}
        current = next((c for c in status.get("conditions") or [] if c.get("type") == "PodScheduled"), None)
        if current is not None and current.get("message") == message:
            return
        condition: Obj = {"type": "PodScheduled", "status": "False"}
        if isinstance(pod["metadata"].get("generation"), int):
            condition["observedGeneration"] = pod["metadata"]["generation"]
        condition.update({"lastTransitionTime": clock.stamp(), "reason": "Unschedulable", "message": message})
        others = [c for c in status.get("conditions") or [] if isinstance(c, dict) and c.get("type") != "PodScheduled"]
        body = {**pod, "status": {**status, "conditions": [*others, condition]}}
        meta = pod["metadata"]
        stored, _ = self.api.update(
            self.pods_type, meta.get("namespace", ""), meta["name"], body, _OPTS, subresource="status"
        )
        self.events.record(stored, "Warning", "FailedScheduling", message)

    def _collect_orphan(self, pod: Obj) -> None:
        meta = pod["metadata"]
        options = {"gracePeriodSeconds": 0, "preconditions": {"uid": meta.get("uid")}}
        try:
            self.api.delete(self.pods_type, meta.get("namespace", ""), meta["name"], options)
        except ApiError as err:
            if err.code not in (404, 409):
                raise


def pod_requests(pod: Obj) -> tuple[Decimal, Decimal]:
    """CPU and memory a pod asks for: its containers together, or its largest init container if more."""
    spec = pod.get("spec") or {}

    def of(container: Any) -> tuple[Decimal, Decimal]:
        requests = ((container or {}).get("resources") or {}).get("requests") or {}
        return (_quantity(requests.get("cpu")) or Decimal(0), _quantity(requests.get("memory")) or Decimal(0))

    main = [of(c) for c in spec.get("containers") or [] if isinstance(c, dict)]
    init = [of(c) for c in spec.get("initContainers") or [] if isinstance(c, dict)]
    total = (sum((c[0] for c in main), Decimal(0)), sum((c[1] for c in main), Decimal(0)))
    largest = (max((c[0] for c in init), default=Decimal(0)), max((c[1] for c in init), default=Decimal(0)))
    return (max(total[0], largest[0]), max(total[1], largest[1]))


def _quantity(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        return parse_quantity(str(value))
    except (WorkloadError, ValueError, ArithmeticError):
        return None


def _tolerates(spec: Obj, taint: Obj) -> bool:
    for toleration in spec.get("tolerations") or []:
        if not isinstance(toleration, dict):
            continue
        effect_ok = not toleration.get("effect") or toleration.get("effect") == taint.get("effect")
        if toleration.get("operator") == "Exists":
            key_ok = not toleration.get("key") or toleration.get("key") == taint.get("key")
        else:
            key_ok = toleration.get("key") == taint.get("key") and (toleration.get("value") or "") == (
                taint.get("value") or ""
            )
        if effect_ok and key_ok:
            return True
    return False


def _affinity_matches(spec: Obj, node: Obj) -> bool:
    required = (
        ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution")
        or {}
    ).get("nodeSelectorTerms")
    if not required:
        return True
    labels = node["metadata"].get("labels") or {}
    fields = {"metadata.name": node["metadata"]["name"]}
    return any(
        isinstance(term, dict)
        and (term.get("matchExpressions") or term.get("matchFields"))
        and all(_expression(e, labels) for e in term.get("matchExpressions") or [])
        and all(_expression(e, fields) for e in term.get("matchFields") or [])
        for term in required
    )


def _expression(expression: Any, values: dict[str, str]) -> bool:
    if not isinstance(expression, dict):
        return False
    key, operator = expression.get("key"), expression.get("operator")
    wanted = [str(v) for v in expression.get("values") or []]
    present = key in values
    if operator == "In":
        return present and values[key] in wanted
    if operator == "NotIn":
        return not present or values[key] not in wanted
    if operator == "Exists":
        return present
    if operator == "DoesNotExist":
        return not present
    if operator in ("Gt", "Lt") and present and len(wanted) == 1:
        try:
            actual, bound = int(values[key]), int(wanted[0])
        except ValueError:
            return False
        return actual > bound if operator == "Gt" else actual < bound
    return False


def _message(nodes: int, reasons: dict[str, int]) -> str:
    """The scheduler's FailedScheduling message."""
    if not nodes:
        return "no nodes available to schedule pods"
    parts = ", ".join(f"{count} {reason}" for reason, count in sorted(reasons.items()))
    resources = any(reason.startswith(("Insufficient", "Too many")) for reason in reasons)
    preemption = (
        "No preemption victims found for incoming pod" if resources else "Preemption is not helpful for scheduling"
    )
    return f"0/{nodes} nodes are available: {parts}. preemption: 0/{nodes} nodes are available: {nodes} {preemption}."
