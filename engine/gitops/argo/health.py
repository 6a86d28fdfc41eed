"""Argo CD's built-in health assessment of live objects, and how an Application's health follows from them.

Per kind, as gitops-engine assesses it: Deployments, StatefulSets, DaemonSets and ReplicaSets by their rollout
status; Pods by phase and container states; Jobs by their conditions; Services of type LoadBalancer and
Ingresses by an assigned address; PersistentVolumeClaims by phase. Any object being deleted is Progressing.
Kinds without a check have no health (None) and do not count. The app takes the worst health of its live
objects (Healthy < Suspended < Progressing < Missing < Degraded < Unknown); objects missing from the cluster do
not count (the sync status already says so) unless none of the app's objects exist, then it is Missing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

JSON = dict[str, Any]

HEALTHY = "Healthy"
SUSPENDED = "Suspended"
PROGRESSING = "Progressing"
MISSING = "Missing"
DEGRADED = "Degraded"
UNKNOWN = "Unknown"
ORDER = (HEALTHY, SUSPENDED, PROGRESSING, MISSING, DEGRADED, UNKNOWN)


@dataclass(frozen=True)
class Health:
    status: str
    message: str = ""
    aggregate_as: str | None = None  # a suspended Job counts as Healthy for its app

    def as_status(self) -> JSON:
        return {"status": self.status, "message": self.message} if self.message else {"status": self.status}


def is_worse(current: str, new: str) -> bool:
    return _rank(new) > _rank(current)


def _rank(status: str) -> int:
    return ORDER.index(status) if status in ORDER else 0


def assess(obj: JSON) -> Health | None:
    """The health of one live object; None for kinds Argo CD has no check for."""
    metadata = obj.get("metadata") or {}
    if metadata.get("deletionTimestamp"):
        return Health(PROGRESSING, "Pending deletion")
    group = str(obj.get("apiVersion") or "").rpartition("/")[0]
    check = CHECKS.get((group, str(obj.get("kind") or "")))
    if check is None:
        return None
    try:
        return check(obj)
    except (TypeError, ValueError, AttributeError) as err:
        return Health(UNKNOWN, f"failed to assess health: {err}")


def aggregate(healths: Iterable[Health | None], live: Iterable[bool]) -> str:
    """The app's health from its resources' health and whether each exists."""
    status = HEALTHY
    exists = list(live)
    for health, present in zip(healths, exists, strict=True):
        if health is None or not present:
            continue
        counted = health.aggregate_as or health.status
        if is_worse(status, counted):
            status = counted
    if exists and not any(exists) and is_worse(status, MISSING):
        return MISSING
    return status


def _spec(obj: JSON) -> JSON:
    return obj.get("spec") or {}


def _status(obj: JSON) -> JSON:
    return obj.get("status") or {}


def _int(value: Any, default: int = 0) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else default


def _generation(obj: JSON) -> int:
    return _int((obj.get("metadata") or {}).get("generation"))


def _condition(obj: JSON, type_: str) -> JSON | None:
    for condition in _status(obj).get("conditions") or []:
        if isinstance(condition, dict) and condition.get("type") == type_:
            return condition
    return None


def deployment(obj: JSON) -> Health:
    spec, status, name = _spec(obj), _status(obj), (obj.get("metadata") or {}).get("name")
    if spec.get("paused"):
        return Health(SUSPENDED, "Deployment is paused")
    if _generation(obj) > _int(status.get("observedGeneration")):
        return Health(
            PROGRESSING, "Waiting for rollout to finish: observed deployment generation less than desired generation"
        )
    progressing = _condition(obj, "Progressing")
    replicas = spec.get("replicas")
    updated, total, available = (_int(status.get(k)) for k in ("updatedReplicas", "replicas", "availableReplicas"))
    if progressing is not None and progressing.get("reason") == "ProgressDeadlineExceeded":
        return Health(DEGRADED, f'Deployment "{name}" exceeded its progress deadline')
    if isinstance(replicas, int) and updated < replicas:
        return Health(
            PROGRESSING,
            f"Waiting for rollout to finish: {updated} out of {replicas} new replicas have been updated...",
        )
    if total > updated:
        return Health(
            PROGRESSING, f"Waiting for rollout to finish: {total - updated} old replicas are pending termination..."
        )
    if available < updated:
        return Health(
            PROGRESSING, f"Waiting for rollout to finish: {available} of {updated} updated replicas are available..."
        )
    return Health(HEALTHY)


def statefulset(obj: JSON) -> Health:
    spec, status = _spec(obj), _status(obj)
    observed = _int(status.get("observedGeneration"))
    if observed == 0 or _generation(obj) > observed:
        return Health(PROGRESSING, "Waiting for statefulset spec update to be observed...")
    replicas, ready, updated = (
        spec.get("replicas"),
        _int(status.get("readyReplicas")),
        _int(status.get("updatedReplicas")),
    )
    if isinstance(replicas, int) and ready < replicas:
        return Health(PROGRESSING, f"Waiting for {replicas - ready} pods to be ready...")
    strategy = spec.get("updateStrategy") or {}
    rolling = strategy.get("rollingUpdate")
    if strategy.get("type", "RollingUpdate") == "RollingUpdate" and isinstance(rolling, dict):
        partition = rolling.get("partition")
        if isinstance(replicas, int) and isinstance(partition, int) and updated < replicas - partition:
            return Health(
                PROGRESSING,
                f"Waiting for partitioned roll out to finish: {updated} out of {replicas - partition} new pods have "
                "been updated...",
            )
        return Health(HEALTHY, f"partitioned roll out complete: {updated} new pods have been updated...")
    if strategy.get("type") == "OnDelete":
        return Health(HEALTHY, f"statefulset has {ready} ready pods")
    current, update = status.get("currentRevision"), status.get("updateRevision")
    if update != current:
        return Health(
            PROGRESSING, f"waiting for statefulset rolling update to complete {updated} pods at revision {update}..."
        )
    return Health(
        HEALTHY,
        f"statefulset rolling update complete {_int(status.get('currentReplicas'))} pods at revision {current}...",
    )


def daemonset(obj: JSON) -> Health:
    spec, status, name = _spec(obj), _status(obj), (obj.get("metadata") or {}).get("name")
    if _generation(obj) > _int(status.get("observedGeneration")):
        return Health(
            PROGRESSING, "Waiting for rollout to finish: observed daemon set generation less than desired generation"
        )
    updated, desired = _int(status.get("updatedNumberScheduled")), _int(status.get("desiredNumberScheduled"))
    available = _int(status.get("numberAvailable"))
    if (spec.get("updateStrategy") or {}).get("type") == "OnDelete":
        return Health(HEALTHY, f"daemon set {updated} out of {desired} new pods have been updated")
    waiting = f'Waiting for daemon set "{name}" rollout to finish:'
    if updated < desired:
        return Health(PROGRESSING, f"{waiting} {updated} out of {desired} new pods have been updated...")
    if available < desired:
        return Health(PROGRESSING, f"{waiting} {available} of {desired} updated pods are available...")
    return Health(HEALTHY)


def replicaset(obj: JSON) -> Health:
    spec, status = _spec(obj), _status(obj)
    if _generation(obj) > _int(status.get("observedGeneration")):
        return Health(
            PROGRESSING, "Waiting for rollout to finish: observed replica set generation less than desired generation"
        )
    failure = _condition(obj, "ReplicaFailure")
    if failure is not None and failure.get("status") == "True":
        return Health(DEGRADED, str(failure.get("message") or ""))
    replicas, available = spec.get("replicas"), _int(status.get("availableReplicas"))
    if isinstance(replicas, int) and available < replicas:
        return Health(
            PROGRESSING, f"Waiting for rollout to finish: {available} out of {replicas} new replicas are available..."
        )
    return Health(HEALTHY)


def pod(obj: JSON) -> Health:
    spec, status = _spec(obj), _status(obj)
    policy = spec.get("restartPolicy") or "Always"
    message = str(status.get("message") or "")
    containers = [c for c in status.get("containerStatuses") or [] if isinstance(c, dict)]
    if policy == "Always":
        waiting = [((c.get("state") or {}).get("waiting") or {}) for c in containers]
        failing = [w for w in waiting if _failing_reason(str(w.get("reason") or ""))]
        if failing:
            return Health(DEGRADED, ", ".join(str(w.get("message") or "") for w in failing))
    phase = status.get("phase")
    if phase == "Pending":
        return Health(PROGRESSING, message)
    if phase == "Succeeded":
        return Health(HEALTHY, message)
    if phase == "Failed":
        return Health(DEGRADED, message or _failure_message(status))
    if phase == "Running":
        if policy != "Always":
            return Health(PROGRESSING, message)
        ready = _condition(obj, "Ready")
        if ready is not None and ready.get("status") == "True":
            return Health(HEALTHY, message)
        if any(((c.get("lastState") or {}).get("terminated")) for c in containers):
            return Health(DEGRADED, message)
        return Health(PROGRESSING, message)
    return Health(UNKNOWN, message)


def _failing_reason(reason: str) -> bool:
    return reason.startswith("Err") or reason.endswith("Error") or reason.endswith("BackOff")


def _failure_message(status: JSON) -> str:
    for container in [*(status.get("initContainerStatuses") or []), *(status.get("containerStatuses") or [])]:
        terminated = ((container or {}).get("state") or {}).get("terminated") or {}
        if terminated.get("message"):
            return str(terminated["message"])
        if terminated.get("reason") == "OOMKilled":
            return "OOMKilled"
        if _int(terminated.get("exitCode")):
            return f'container "{container.get("name")}" failed with exit code {terminated["exitCode"]}'
    return ""


def job(obj: JSON) -> Health:
    failed = complete = suspended = False
    message = fail_message = ""
    for condition in _status(obj).get("conditions") or []:
        if not isinstance(condition, dict):
            continue
        if condition.get("type") == "Failed":
            failed = complete = True
            fail_message = str(condition.get("message") or "")
        elif condition.get("type") == "Complete":
            complete = True
            message = str(condition.get("message") or "")
        elif condition.get("type") == "Suspended":
            complete = True
            message = str(condition.get("message") or "")
            suspended = condition.get("status") == "True"
    if not complete:
        return Health(PROGRESSING, message)
    if failed:
        return Health(DEGRADED, fail_message)
    if suspended:
        return Health(SUSPENDED, fail_message, aggregate_as=HEALTHY)
    return Health(HEALTHY, message)


def service(obj: JSON) -> Health:
    if _spec(obj).get("type") != "LoadBalancer":
        return Health(HEALTHY)
    return _load_balanced(obj)


def ingress(obj: JSON) -> Health:
    return _load_balanced(obj)


def _load_balanced(obj: JSON) -> Health:
    ingresses = (_status(obj).get("loadBalancer") or {}).get("ingress")
    return Health(HEALTHY) if ingresses else Health(PROGRESSING)


def pvc(obj: JSON) -> Health:
    phase = _status(obj).get("phase")
    if phase == "Lost":
        return Health(DEGRADED)
    if phase == "Pending":
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        if "volume.beta.kubernetes.io/storage-provisioner" in annotations:
            return Health(PROGRESSING, "Provisioning volume")
        return Health(HEALTHY, "Waiting for consumer")
    if phase == "Bound":
        return Health(HEALTHY)
    return Health(UNKNOWN)


CHECKS: dict[tuple[str, str], Callable[[JSON], Health]] = {
    ("apps", "Deployment"): deployment,
    ("apps", "StatefulSet"): statefulset,
    ("apps", "DaemonSet"): daemonset,
    ("apps", "ReplicaSet"): replicaset,
    ("", "Pod"): pod,
    ("", "Service"): service,
    ("", "PersistentVolumeClaim"): pvc,
    ("batch", "Job"): job,
    ("networking.k8s.io", "Ingress"): ingress,
    ("extensions", "Ingress"): ingress,
}
