"""Readiness of applied objects, as Flux's health checks judge it (kstatus): Current, InProgress, Failed, NotFound.

- Deployments are Current once rolled out: the controller saw the latest generation, every replica is updated,
  available and ready, and no old replica is left; a Progressing condition with `ProgressDeadlineExceeded` is
  Failed.
- StatefulSets, DaemonSets and ReplicaSets: all replicas updated and ready. Pods: Ready, or Succeeded.
  Jobs: Complete (Failed when the Failed condition is True). PVCs: Bound. Namespaces: Active.
  CRDs: Established.
- Anything else with a Ready condition (Flux's own objects, most custom resources) follows it; objects without a
  status (ConfigMaps, Services, ...) are Current as soon as they exist.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..conditions import find
from ..objects import ObjectRef

JSON = dict[str, Any]

CURRENT = "Current"
IN_PROGRESS = "InProgress"
FAILED = "Failed"
NOT_FOUND = "NotFound"


def object_status(obj: JSON | None) -> str:
    """The kstatus of one live object (None: it does not exist)."""
    if obj is None:
        return NOT_FOUND
    if (obj.get("metadata") or {}).get("deletionTimestamp"):
        return IN_PROGRESS
    status = obj.get("status") if isinstance(obj.get("status"), dict) else {}
    if _generation_pending(obj, status):
        return IN_PROGRESS
    judge = _JUDGES.get(str(obj.get("kind") or ""), _generic)
    return judge(obj, status)


def _generation_pending(obj: JSON, status: JSON) -> bool:
    generation = (obj.get("metadata") or {}).get("generation")
    observed = status.get("observedGeneration")
    return isinstance(generation, int) and isinstance(observed, int) and observed < generation


def _condition(status: JSON, type_: str) -> JSON | None:
    conditions = status.get("conditions")
    return find(conditions if isinstance(conditions, list) else [], type_)


def _number(status: JSON, key: str) -> int:
    value = status.get(key)
    return value if isinstance(value, int) else 0


def _desired(obj: JSON) -> int:
    replicas = (obj.get("spec") or {}).get("replicas")
    return replicas if isinstance(replicas, int) else 1


def _deployment(obj: JSON, status: JSON) -> str:
    progressing = _condition(status, "Progressing")
    if progressing and progressing.get("reason") == "ProgressDeadlineExceeded":
        return FAILED
    if "observedGeneration" not in status:
        return IN_PROGRESS
    desired = _desired(obj)
    updated = _number(status, "updatedReplicas")
    if updated < desired or _number(status, "replicas") > updated:
        return IN_PROGRESS
    if _number(status, "availableReplicas") < updated or _number(status, "readyReplicas") < desired:
        return IN_PROGRESS
    available = _condition(status, "Available")
    return IN_PROGRESS if available and available.get("status") == "False" else CURRENT


def _replica_set(obj: JSON, status: JSON) -> str:
    desired = _desired(obj)
    ready = _number(status, "readyReplicas") >= desired and _number(status, "availableReplicas") >= desired
    return CURRENT if ready else IN_PROGRESS


def _stateful_set(obj: JSON, status: JSON) -> str:
    if _replica_set(obj, status) != CURRENT or _number(status, "updatedReplicas") < _desired(obj):
        return IN_PROGRESS
    update, current = status.get("updateRevision"), status.get("currentRevision")
    return IN_PROGRESS if update and current and update != current else CURRENT


def _daemon_set(obj: JSON, status: JSON) -> str:
    desired = _number(status, "desiredNumberScheduled")
    numbers = ("numberAvailable", "numberReady", "updatedNumberScheduled")
    return CURRENT if all(_number(status, key) >= desired for key in numbers) else IN_PROGRESS


def _pod(obj: JSON, status: JSON) -> str:
    phase = status.get("phase")
    if phase == "Succeeded":
        return CURRENT
    if phase == "Failed":
        return FAILED
    ready = _condition(status, "Ready")
    return CURRENT if phase == "Running" and ready and ready.get("status") == "True" else IN_PROGRESS


def _job(obj: JSON, status: JSON) -> str:
    for type_, verdict in (("Failed", FAILED), ("Complete", CURRENT)):
        condition = _condition(status, type_)
        if condition and condition.get("status") == "True":
            return verdict
    return IN_PROGRESS


def _phase(expected: str) -> Any:
    def judge(obj: JSON, status: JSON) -> str:
        return CURRENT if status.get("phase") == expected else IN_PROGRESS

    return judge


def _crd(obj: JSON, status: JSON) -> str:
    established = _condition(status, "Established")
    return CURRENT if established and established.get("status") == "True" else IN_PROGRESS


def _generic(obj: JSON, status: JSON) -> str:
    stalled = _condition(status, "Stalled")
    if stalled and stalled.get("status") == "True":
        return FAILED
    reconciling = _condition(status, "Reconciling")
    if reconciling and reconciling.get("status") == "True":
        return IN_PROGRESS
    ready = _condition(status, "Ready")
    if ready is None:
        return CURRENT
    return CURRENT if ready.get("status") == "True" else IN_PROGRESS


_JUDGES = {
    "Deployment": _deployment,
    "ReplicaSet": _replica_set,
    "StatefulSet": _stateful_set,
    "DaemonSet": _daemon_set,
    "Pod": _pod,
    "Job": _job,
    "PersistentVolumeClaim": _phase("Bound"),
    "Namespace": _phase("Active"),
    "CustomResourceDefinition": _crd,
}


def all_current(results: dict[ObjectRef, str]) -> bool:
    return all(value == CURRENT for value in results.values())


def not_ready(results: dict[ObjectRef, str]) -> str:
    """What a timed-out wait reports: `timeout waiting for: [Deployment/ns/web status: 'InProgress']`."""
    pending = [f"{ref} status: '{value}'" for ref, value in results.items() if value != CURRENT]
    return f"timeout waiting for: [{', '.join(pending)}]"


def without_self(refs: Iterable[ObjectRef], name: str, namespace: str) -> list[ObjectRef]:
    """The objects to check, less the Kustomization itself (it cannot wait on its own readiness)."""
    return [ref for ref in refs if (ref.kind, ref.namespace, ref.name) != ("Kustomization", namespace, name)]
