"""The ReplicaSet controller: keeps `spec.replicas` pods of the template alive, as kube-controller-manager does.

It adopts orphan pods that match the selector and releases pods that stopped matching, creates pods in
slow-start batches named `<rs>-<5 random chars>`, deletes the least valuable pods first when scaling down
(unscheduled, pending, not ready, cheap to delete, young), and reports replicas / fullyLabeledReplicas /
readyReplicas / availableReplicas / terminatingReplicas, the ReplicaFailure condition and observedGeneration.
A pod that is ready but not yet available (minReadySeconds) arms a timer for the moment it becomes available.

`ObjectCache` and `Backoff` are what a real controller gets from its informers and its rate-limited work queue;
the Deployment controller uses them too.
"""

from __future__ import annotations

import copy
import functools
import logging
import math
import random
import re
from collections.abc import Hashable, Iterable, Iterator
from datetime import datetime
from typing import Any

from .. import clock
from ..catalog import storage_key
from ..events import EventRecorder
from ..resources import ResourceType
from ..rest import Api, WriteOptions
from ..selectors import Requirement, labels_match, selector_from_match
from ..settings import ClusterSettings
from ..status import ApiError
from . import podutil
from .base import Controller

log = logging.getLogger(__name__)

Obj = dict[str, Any]
Key = tuple[str, str]  # namespace, name

PODS = "/pods"
REPLICASETS = "apps/replicasets"
MANAGER = "kube-controller-manager"
BURST_REPLICAS = 500
SLOW_START_INITIAL_BATCH = 1
NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
MAX_GENERATED_NAME_BASE = 63 - 5
POD_DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"
REPLICA_FAILURE = "ReplicaFailure"
_PHASE_ORDINAL = {"Pending": 0, "Unknown": 1, "Running": 2}
_INT = re.compile(r"[+-]?[0-9]+")


def lookup(api: Api, group: str, version: str, plural: str) -> ResourceType:
    rtype = api.catalog.lookup(group, version, plural)
    if rtype is None:
        raise RuntimeError(f"the API serves no {plural}.{group or 'core'}/{version}")
    return rtype


def key_of(obj: Obj) -> Key:
    meta = obj["metadata"]
    return meta.get("namespace", ""), meta["name"]


def parse_int(value: Any) -> int | None:
    """An integer written the way Go's strconv accepts it, or None."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _INT.fullmatch(value):
        return int(value)
    return None


class ObjectCache:
    """The current objects of one resource, seeded from the store and kept current from the hub.

    Objects are shared with the hub and must never be modified; copy before changing anything. With
    `index_owners`, objects are also indexed by the uid of their controller, plus a per-namespace list of
    orphans, so a controller looks only at what it owns or may adopt.
    """

    def __init__(self, api: Api, rtype: ResourceType, index_owners: bool = False) -> None:
        self._objects: dict[str, dict[str, Obj]] = {}
        self._index_owners = index_owners
        self._owned: dict[str, dict[Key, Obj]] = {}
        self._orphans: dict[str, dict[str, Obj]] = {}
        for obj in api.store.list(storage_key(rtype)):
            self._put(obj)

    def observe(self, event_type: str, obj: Obj) -> None:
        if event_type == "DELETED":
            self._remove(obj)
        else:
            self._put(obj)

    def get(self, namespace: str, name: str) -> Obj | None:
        return self._objects.get(namespace, {}).get(name)

    def in_namespace(self, namespace: str) -> list[Obj]:
        return list(self._objects.get(namespace, {}).values())

    def all(self) -> Iterator[Obj]:
        for objects in list(self._objects.values()):
            yield from list(objects.values())

    def owned_by(self, uid: str) -> list[Obj]:
        return list(self._owned.get(uid, {}).values())

    def orphans(self, namespace: str) -> list[Obj]:
        return list(self._orphans.get(namespace, {}).values())

    def _put(self, obj: Obj) -> None:
        namespace, name = key_of(obj)
        self._remove(obj)
        self._objects.setdefault(namespace, {})[name] = obj
        if not self._index_owners:
            return
        ref = podutil.controller_of(obj)
        if ref is None or not ref.get("uid"):
            self._orphans.setdefault(namespace, {})[name] = obj
        else:
            self._owned.setdefault(str(ref["uid"]), {})[(namespace, name)] = obj

    def _remove(self, obj: Obj) -> None:
        namespace, name = key_of(obj)
        previous = self._objects.get(namespace, {}).pop(name, None)
        if previous is None or not self._index_owners:
            return
        ref = podutil.controller_of(previous)
        if ref is None or not ref.get("uid"):
            self._orphans.get(namespace, {}).pop(name, None)
        else:
            owned = self._owned.get(str(ref["uid"]), {})
            owned.pop((namespace, name), None)
            if not owned:
                self._owned.pop(str(ref["uid"]), None)


class Backoff:
    """Growing retry delays for a key whose sync failed, reset once it succeeds (a rate-limited queue)."""

    def __init__(self, base: float = 0.005, cap: float = 1000.0) -> None:
        self.base = base
        self.cap = cap
        self._failures: dict[Hashable, int] = {}

    def next_delay(self, key: Hashable) -> float:
        failures = self._failures.get(key, 0)
        self._failures[key] = failures + 1
        return min(self.cap, self.base * 2 ** min(failures, 40))

    def forget(self, key: Hashable) -> None:
        self._failures.pop(key, None)


def is_namespace_terminating(err: ApiError) -> bool:
    """Creation refused because the namespace is being deleted: controllers quietly give up on those."""
    causes = (err.details or {}).get("causes") or []
    if any(isinstance(c, dict) and c.get("type") == "NamespaceTerminating" for c in causes):
        return True
    return err.code == 403 and "because it is being terminated" in err.message


def selector_of(obj: Obj) -> list[Requirement]:
    return selector_from_match((obj.get("spec") or {}).get("selector"))


def spec_replicas(obj: Obj) -> int:
    value = (obj.get("spec") or {}).get("replicas", 1)
    return value if isinstance(value, int) and not isinstance(value, bool) else 1


def min_ready_seconds(obj: Obj) -> int:
    value = (obj.get("spec") or {}).get("minReadySeconds") or 0
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def generated_name(base: str) -> str:
    """What the API server makes of `generateName`: the base, cut to leave room, plus 5 random characters."""
    return base[:MAX_GENERATED_NAME_BASE] + "".join(random.choices(NAME_ALPHABET, k=5))


def pod_from_template(owner: Obj, template: Obj, name: str) -> Obj:
    """A pod as the real pod control builds it: template labels, annotations, finalizers and spec."""
    template_meta = template.get("metadata") or {}
    meta: Obj = {
        "name": name,
        "generateName": f"{owner['metadata']['name']}-",
        "namespace": owner["metadata"].get("namespace", ""),
    }
    for field in ("labels", "annotations"):
        if template_meta.get(field):
            meta[field] = dict(template_meta[field])
    if template_meta.get("finalizers"):
        meta["finalizers"] = list(template_meta["finalizers"])
    meta["ownerReferences"] = [podutil.controller_ref(owner)]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": copy.deepcopy(template.get("spec") or {})}


# Which pods to delete first ----------------------------------------------------------------------------


def _ready_since(pod: Obj) -> datetime | None:
    cond = podutil.condition(pod, "Ready")
    if not cond or cond.get("status") != "True" or not cond.get("lastTransitionTime"):
        return None
    return _parse_time(cond["lastTransitionTime"])


def _created(pod: Obj) -> datetime | None:
    return _parse_time(pod["metadata"].get("creationTimestamp"))


def _parse_time(value: Any) -> datetime | None:
    try:
        return clock.parse(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _deletion_cost(pod: Obj) -> int:
    value = parse_int((pod["metadata"].get("annotations") or {}).get(POD_DELETION_COST))
    return value if value is not None and -(2**31) <= value < 2**31 else 0


def _max_restarts(pod: Obj) -> int:
    counts = [s.get("restartCount") or 0 for s in (pod.get("status") or {}).get("containerStatuses") or []]
    return max([c for c in counts if isinstance(c, int)], default=0)


def _after_or_zero(first: datetime | None, second: datetime | None) -> bool:
    if first is None or second is None:
        return first is None
    return first > second


def _log_rank(moment: datetime, now: datetime) -> int:
    nanos = (now - moment).total_seconds() * 1e9
    return int(math.log2(nanos)) if nanos > 0 else -1


def _younger_first(first: datetime | None, second: datetime | None, uids: tuple[str, str], now: datetime) -> bool:
    """Go's logarithmic comparison: times within the same power-of-two age bucket tie, broken by uid."""
    if first is None or second is None:
        return _after_or_zero(first, second)
    diff = _log_rank(first, now) - _log_rank(second, now)
    if diff == 0:
        return uids[0] < uids[1]
    return diff < 0


def _delete_first(a: tuple[Obj, int], b: tuple[Obj, int], now: datetime) -> bool:
    """Whether pod `a` should be deleted before pod `b` (each with its co-location rank)."""
    pod_a, rank_a = a
    pod_b, rank_b = b
    node_a = (pod_a.get("spec") or {}).get("nodeName") or ""
    node_b = (pod_b.get("spec") or {}).get("nodeName") or ""
    if node_a != node_b and (not node_a or not node_b):
        return not node_a
    phase_a = _PHASE_ORDINAL.get((pod_a.get("status") or {}).get("phase") or "", 0)
    phase_b = _PHASE_ORDINAL.get((pod_b.get("status") or {}).get("phase") or "", 0)
    if phase_a != phase_b:
        return phase_a < phase_b
    ready_a, ready_b = podutil.is_ready(pod_a), podutil.is_ready(pod_b)
    if ready_a != ready_b:
        return not ready_a
    cost_a, cost_b = _deletion_cost(pod_a), _deletion_cost(pod_b)
    if cost_a != cost_b:
        return cost_a < cost_b
    if rank_a != rank_b:
        return rank_a > rank_b
    uids = (str(pod_a["metadata"].get("uid", "")), str(pod_b["metadata"].get("uid", "")))
    if ready_a and ready_b:
        since_a, since_b = _ready_since(pod_a), _ready_since(pod_b)
        if since_a != since_b:
            return _younger_first(since_a, since_b, uids, now)
    restarts_a, restarts_b = _max_restarts(pod_a), _max_restarts(pod_b)
    if restarts_a != restarts_b:
        return restarts_a > restarts_b
    created_a, created_b = _created(pod_a), _created(pod_b)
    if created_a != created_b:
        return _younger_first(created_a, created_b, uids, now)
    return False


def pods_to_delete(pods: list[Obj], related: Iterable[Obj], count: int, now: datetime | None = None) -> list[Obj]:
    """The `count` pods the real controller would delete: ranked by the criteria of `_delete_first`.

    A pod's rank is how many active related pods (of the same owner's replica sets) share its node, so
    doubled-up pods go first.
    """
    if count >= len(pods):
        return list(pods)
    on_node: dict[str, int] = {}
    for pod in related:
        if podutil.is_active(pod):
            node = (pod.get("spec") or {}).get("nodeName") or ""
            on_node[node] = on_node.get(node, 0) + 1
    ranked = [(pod, on_node.get((pod.get("spec") or {}).get("nodeName") or "", 0)) for pod in pods]
    moment = now or clock.now()

    def compare(a: tuple[Obj, int], b: tuple[Obj, int]) -> int:
        if _delete_first(a, b, moment):
            return -1
        return 1 if _delete_first(b, a, moment) else 0

    ranked.sort(key=functools.cmp_to_key(compare))
    return [pod for pod, _ in ranked[:count]]


# Status -------------------------------------------------------------------------------------------------


def new_rs_condition(kind: str, status: str, reason: str, message: str) -> Obj:
    return {"type": kind, "status": status, "lastTransitionTime": clock.stamp(), "reason": reason, "message": message}


def calculate_status(rs: Obj, active: list[Obj], terminating: list[Obj], failure: ApiError | None) -> Obj:
    """The status the controller reports for `rs` after a sync that saw these pods (fields as Go omits them)."""
    old = rs.get("status") or {}
    template_labels = ((rs.get("spec") or {}).get("template") or {}).get("metadata", {}).get("labels") or {}
    minimum = min_ready_seconds(rs)
    fully_labeled = ready = available = 0
    for pod in active:
        labels = pod["metadata"].get("labels") or {}
        if all(labels.get(k) == v for k, v in template_labels.items()):
            fully_labeled += 1
        if podutil.is_ready(pod):
            ready += 1
            if podutil.is_available(pod, minimum):
                available += 1
    conditions = [c for c in old.get("conditions") or [] if isinstance(c, dict)]
    existing = next((c for c in conditions if c.get("type") == REPLICA_FAILURE), None)
    if failure is not None and existing is None:
        diff = len(active) - spec_replicas(rs)
        reason = "FailedCreate" if diff < 0 else "FailedDelete" if diff > 0 else ""
        conditions.append(new_rs_condition(REPLICA_FAILURE, "True", reason, failure.message))
    elif failure is None and existing is not None:
        conditions = [c for c in conditions if c.get("type") != REPLICA_FAILURE]
    status: Obj = {"replicas": len(active)}
    for field, value in (
        ("fullyLabeledReplicas", fully_labeled),
        ("readyReplicas", ready),
        ("availableReplicas", available),
    ):
        if value:
            status[field] = value
    status["terminatingReplicas"] = len(terminating)
    generation = rs["metadata"].get("generation")
    if generation:
        status["observedGeneration"] = generation
    if conditions:
        status["conditions"] = conditions
    return status


# The controller -----------------------------------------------------------------------------------------


class ReplicaSetController(Controller):
    name = "replicaset-controller"

    def __init__(self, api: Api, settings: ClusterSettings | None = None) -> None:
        super().__init__(api, settings)
        self.pod_type = lookup(api, "", "v1", "pods")
        self.rs_type = lookup(api, "apps", "v1", "replicasets")
        self.pods = ObjectCache(api, self.pod_type, index_owners=True)
        self.replica_sets = ObjectCache(api, self.rs_type, index_owners=True)
        self.recorder = EventRecorder(api, self.name)
        self.backoff = Backoff()
        self._opts = WriteOptions(field_manager=MANAGER)

    # Events -----------------------------------------------------------------------------------------

    def keys_for(self, resource: str, event_type: str, obj: Obj, old: Obj | None) -> list[Hashable]:
        if resource == REPLICASETS:
            self.replica_sets.observe(event_type, obj)
            return [key_of(obj)]
        if resource == PODS:
            self.pods.observe(event_type, obj)
            return self._keys_for_pod(event_type, obj, old)
        return []

    def _keys_for_pod(self, event_type: str, pod: Obj, old: Obj | None) -> list[Hashable]:
        keys: list[Hashable] = []
        for version in (pod, old):
            ref = podutil.controller_of(version) if version is not None else None
            owner = self._resolve(pod["metadata"].get("namespace", ""), ref)
            if owner is not None and key_of(owner) not in keys:
                keys.append(key_of(owner))
        if event_type != "DELETED" and podutil.controller_of(pod) is None and not podutil.is_terminating(pod):
            changed = old is None or _labels(old) != _labels(pod) or podutil.controller_of(old) is not None
            if changed:
                keys.extend(k for k in (key_of(rs) for rs in self._matching(pod)) if k not in keys)
        return keys

    def _resolve(self, namespace: str, ref: Obj | None) -> Obj | None:
        if ref is None or ref.get("kind") != "ReplicaSet" or not str(ref.get("apiVersion", "")).startswith("apps/"):
            return None
        rs = self.replica_sets.get(namespace, str(ref.get("name", "")))
        return rs if rs is not None and rs["metadata"].get("uid") == ref.get("uid") else None

    def _matching(self, pod: Obj) -> list[Obj]:
        found = []
        for rs in self.replica_sets.in_namespace(pod["metadata"].get("namespace", "")):
            try:
                selector = selector_of(rs)
            except ApiError:
                continue
            if selector and labels_match(selector, pod):
                found.append(rs)
        return found

    def start(self) -> None:
        for rs in self.replica_sets.all():
            self.enqueue(key_of(rs))

    # Reconcile --------------------------------------------------------------------------------------

    def reconcile(self, key: Hashable) -> None:
        assert isinstance(key, tuple)
        namespace, name = key
        rs = self.replica_sets.get(namespace, name)
        if rs is None:
            self.backoff.forget(key)
            return
        try:
            self.sync(rs)
        except ApiError as err:
            if err.code == 404:
                return
            log.info("%s: syncing %s/%s: %s", self.name, namespace, name, err.message)
            self.enqueue_after(key, self.backoff.next_delay(key))
            return
        self.backoff.forget(key)

    def sync(self, rs: Obj) -> None:
        """One pass of the real syncReplicaSet; raises the creation or deletion error so the key is retried."""
        selector = selector_of(rs)
        namespace, _ = key_of(rs)
        candidates = self.pods.owned_by(rs["metadata"]["uid"]) + self.pods.orphans(namespace)
        active = self._claim(rs, selector, [p for p in candidates if podutil.is_active(p)])
        terminating = [
            p
            for p in self.pods.owned_by(rs["metadata"]["uid"])
            if podutil.is_terminating(p)
            and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
            and labels_match(selector, p)
        ]
        failure: ApiError | None = None
        if not podutil.is_terminating(rs):
            failure = self._manage_replicas(rs, active)
        updated = self._update_status(rs, calculate_status(rs, active, terminating, failure))
        if failure is not None:
            raise failure
        self._arm_availability_timer(updated, active)

    def _claim(self, rs: Obj, selector: list[Requirement], pods: list[Obj]) -> list[Obj]:
        """Adopt matching orphans and release owned pods that no longer match, as ControllerRefManager does."""
        claimed = []
        uid = rs["metadata"]["uid"]
        deleting = podutil.is_terminating(rs)
        for pod in pods:
            ref = podutil.controller_of(pod)
            matches = bool(selector) and labels_match(selector, pod)
            if ref is not None:
                if ref.get("uid") != uid:
                    continue
                if matches:
                    claimed.append(pod)
                elif not deleting:
                    self._set_owner(pod, rs, adopt=False)
                continue
            if not matches or deleting or podutil.is_terminating(pod):
                continue
            adopted = self._set_owner(pod, rs, adopt=True)
            if adopted is not None:
                claimed.append(adopted)
        return claimed

    def _set_owner(self, pod: Obj, rs: Obj, adopt: bool) -> Obj | None:
        namespace, name = key_of(pod)
        live = self.api.find(self.pod_type, namespace, name)
        if live is None or live["metadata"].get("uid") != pod["metadata"].get("uid"):
            return None
        updated = copy.deepcopy(live)
        refs = [r for r in updated["metadata"].get("ownerReferences") or [] if r.get("uid") != rs["metadata"]["uid"]]
        if adopt:
            refs.append(podutil.controller_ref(rs))
        updated["metadata"]["ownerReferences"] = refs
        stored, _ = self.api.update(self.pod_type, namespace, name, updated, self._opts)
        return stored

    def _manage_replicas(self, rs: Obj, active: list[Obj]) -> ApiError | None:
        diff = len(active) - spec_replicas(rs)
        if diff < 0:
            return self._create_pods(rs, min(-diff, BURST_REPLICAS))
        if diff > 0:
            return self._delete_pods(rs, active, min(diff, BURST_REPLICAS))
        return None

    def _create_pods(self, rs: Obj, count: int) -> ApiError | None:
        """Create in batches of 1, 2, 4, ...; a batch with a failure stops the rest, as slowStartBatch does."""
        remaining, batch = count, min(count, SLOW_START_INITIAL_BATCH)
        while batch > 0:
            first_error: ApiError | None = None
            for _ in range(batch):
                error = self._create_pod(rs)
                first_error = first_error or error
            if first_error is not None:
                return first_error
            remaining -= batch
            batch = min(2 * batch, remaining)
        return None

    def _create_pod(self, rs: Obj) -> ApiError | None:
        namespace, name = key_of(rs)
        template = (rs.get("spec") or {}).get("template") or {}
        if not (template.get("metadata") or {}).get("labels"):
            return ApiError(422, "Invalid", "unable to create pods, no labels")
        for _ in range(5):
            pod = pod_from_template(rs, template, generated_name(f"{name}-"))
            try:
                created, _ = self.api.create(self.pod_type, namespace, pod, self._opts)
            except ApiError as err:
                if err.code == 409 and err.reason == "AlreadyExists":
                    continue
                if is_namespace_terminating(err):
                    return None
                self.recorder.record(rs, "Warning", "FailedCreate", f"Error creating: {err.message}")
                return err
            self.recorder.record(rs, "Normal", "SuccessfulCreate", f"Created pod: {created['metadata']['name']}")
            return None
        return ApiError(409, "AlreadyExists", f"could not find a free name for a pod of {name}")

    def _delete_pods(self, rs: Obj, active: list[Obj], count: int) -> ApiError | None:
        first_error: ApiError | None = None
        for pod in pods_to_delete(active, self._related_pods(rs), count):
            namespace, name = key_of(pod)
            try:
                self.api.delete(self.pod_type, namespace, name, None)
            except ApiError as err:
                if err.code == 404:
                    continue
                self.recorder.record(rs, "Warning", "FailedDelete", f"Error deleting: {err.message}")
                first_error = first_error or ApiError(err.code, err.reason, f"unable to delete pods: {err.message}")
                continue
            self.recorder.record(rs, "Normal", "SuccessfulDelete", f"Deleted pod: {name}")
        return first_error

    def _related_pods(self, rs: Obj) -> list[Obj]:
        """Pods of every replica set with the same controller (a Deployment's old and new sets) as `rs`."""
        owner = podutil.controller_of(rs)
        if owner is None:
            return self.pods.owned_by(rs["metadata"]["uid"])
        siblings = [
            other
            for other in self.replica_sets.in_namespace(key_of(rs)[0])
            if (podutil.controller_of(other) or {}).get("uid") == owner.get("uid")
        ]
        return [pod for sibling in siblings for pod in self.pods.owned_by(sibling["metadata"]["uid"])]

    def _update_status(self, rs: Obj, status: Obj) -> Obj:
        if status == (rs.get("status") or {}):
            return rs
        updated = {**rs, "status": status}
        namespace, name = key_of(rs)
        stored, _ = self.api.update(self.rs_type, namespace, name, updated, self._opts, subresource="status")
        return stored

    def _arm_availability_timer(self, rs: Obj, active: list[Obj]) -> None:
        """Look again when the next ready pod has been ready for minReadySeconds."""
        minimum = min_ready_seconds(rs)
        if minimum <= 0:
            return
        now = clock.now()
        waits = []
        for pod in active:
            since = _ready_since(pod)
            if since is not None and not podutil.is_available(pod, minimum):
                waits.append((since - now).total_seconds() + minimum)
        if waits:
            self.enqueue_after(key_of(rs), max(0.0, min(waits)) + 0.01)


def _labels(obj: Obj) -> Obj:
    return obj["metadata"].get("labels") or {}
