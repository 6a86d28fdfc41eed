"""Deployment status and conditions: Available, Progressing (with the progress deadline) and ReplicaFailure.

`Progressing` reads NewReplicaSetCreated / FoundNewReplicaSet when a rollout starts, ReplicaSetUpdated while
pods move, NewReplicaSetAvailable once complete and ProgressDeadlineExceeded when nothing moved for
progressDeadlineSeconds. The deadline is a timer armed from the condition's lastUpdateTime, never a poll.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from ... import clock
from ..replicasets import spec_replicas
from .client import Client
from .replicas import (
    actual_count,
    available_count,
    max_unavailable,
    ready_count,
    replica_count,
    status_int,
    terminating_count,
)

Obj = dict[str, Any]

AVAILABLE = "Available"
PROGRESSING = "Progressing"
REPLICA_FAILURE = "ReplicaFailure"

MINIMUM_REPLICAS_AVAILABLE = "MinimumReplicasAvailable"
MINIMUM_REPLICAS_UNAVAILABLE = "MinimumReplicasUnavailable"
REPLICA_SET_UPDATED = "ReplicaSetUpdated"
FAILED_RS_CREATE = "ReplicaSetCreateError"
NEW_REPLICA_SET = "NewReplicaSetCreated"
FOUND_NEW_RS = "FoundNewReplicaSet"
NEW_RS_AVAILABLE = "NewReplicaSetAvailable"
TIMED_OUT = "ProgressDeadlineExceeded"
PAUSED = "DeploymentPaused"
RESUMED = "DeploymentResumed"

_NO_DEADLINE = 2**31 - 1
# A deadline due within a second is looked at again this long after it passes.
_DEADLINE_GRACE = 0.05


# Conditions -------------------------------------------------------------------------------------------


def new_condition(kind: str, status: str, reason: str, message: str) -> Obj:
    now = clock.stamp()
    return {
        "type": kind,
        "status": status,
        "lastUpdateTime": now,
        "lastTransitionTime": now,
        "reason": reason,
        "message": message,
    }


def get_condition(status: Obj, kind: str) -> Obj | None:
    for cond in status.get("conditions") or []:
        if isinstance(cond, dict) and cond.get("type") == kind:
            return cond
    return None


def set_condition(status: Obj, cond: Obj) -> None:
    """Add or replace a condition; same status and reason is no change, same status keeps the transition time."""
    current = get_condition(status, cond["type"])
    if current is not None and current.get("status") == cond["status"] and current.get("reason") == cond["reason"]:
        return
    if current is not None and current.get("status") == cond["status"]:
        cond = {**cond, "lastTransitionTime": current.get("lastTransitionTime", cond["lastTransitionTime"])}
    remove_condition(status, cond["type"])
    status.setdefault("conditions", []).append(cond)


def remove_condition(status: Obj, kind: str) -> None:
    kept = [c for c in status.get("conditions") or [] if not (isinstance(c, dict) and c.get("type") == kind)]
    if kept:
        status["conditions"] = kept
    else:
        status.pop("conditions", None)


def from_replica_set_condition(cond: Obj) -> Obj:
    return {
        "type": cond.get("type"),
        "status": cond.get("status"),
        "lastUpdateTime": cond.get("lastTransitionTime"),
        "lastTransitionTime": cond.get("lastTransitionTime"),
        "reason": cond.get("reason", ""),
        "message": cond.get("message", ""),
    }


# Predicates -------------------------------------------------------------------------------------------


def has_progress_deadline(d: Obj) -> bool:
    value = (d.get("spec") or {}).get("progressDeadlineSeconds")
    return isinstance(value, int) and value != _NO_DEADLINE


def deployment_complete(d: Obj, status: Obj) -> bool:
    replicas = spec_replicas(d)
    return (
        status_of(status, "updatedReplicas") == replicas
        and status_of(status, "replicas") == replicas
        and status_of(status, "availableReplicas") == replicas
        and status_of(status, "observedGeneration") >= int(d["metadata"].get("generation") or 0)
    )


def deployment_progressing(d: Obj, status: Obj) -> bool:
    old = d.get("status") or {}
    old_pending = status_of(old, "replicas") - status_of(old, "updatedReplicas")
    new_pending = status_of(status, "replicas") - status_of(status, "updatedReplicas")
    return (
        status_of(status, "updatedReplicas") > status_of(old, "updatedReplicas")
        or new_pending < old_pending
        or status_of(status, "readyReplicas") > status_of(old, "readyReplicas")
        or status_of(status, "availableReplicas") > status_of(old, "availableReplicas")
    )


def deployment_timed_out(d: Obj, status: Obj) -> bool:
    if not has_progress_deadline(d):
        return False
    cond = get_condition(status, PROGRESSING)
    if cond is None or cond.get("reason") == NEW_RS_AVAILABLE:
        return False
    if cond.get("reason") == TIMED_OUT:
        return True
    since = _parse(cond.get("lastUpdateTime"))
    if since is None:
        return False
    return since + timedelta(seconds=d["spec"]["progressDeadlineSeconds"]) < clock.now()


def status_of(status: Obj, field: str) -> int:
    return status_int({"status": status}, field)


def _parse(value: Any) -> Any:
    try:
        return clock.parse(value) if isinstance(value, str) else None
    except ValueError:
        return None


# Status -----------------------------------------------------------------------------------------------


def calculate_status(all_rss: list[Obj | None], new_rs: Obj | None, d: Obj) -> Obj:
    """The counts from the ReplicaSets' statuses, the old conditions, and Available re-evaluated."""
    old = d.get("status") or {}
    available = available_count(all_rss)
    unavailable = max(0, replica_count(all_rss) - available)
    status: Obj = {}
    for field, value in (
        ("observedGeneration", int(d["metadata"].get("generation") or 0)),
        ("replicas", actual_count(all_rss)),
        ("updatedReplicas", actual_count([new_rs])),
        ("readyReplicas", ready_count(all_rss)),
        ("availableReplicas", available),
        ("unavailableReplicas", unavailable),
    ):
        if value:
            status[field] = value
    terminating = terminating_count(all_rss)
    if terminating is not None:
        status["terminatingReplicas"] = terminating
    conditions = [dict(c) for c in old.get("conditions") or [] if isinstance(c, dict)]
    if conditions:
        status["conditions"] = conditions
    if available >= spec_replicas(d) - max_unavailable(d):
        cond = new_condition(AVAILABLE, "True", MINIMUM_REPLICAS_AVAILABLE, "Deployment has minimum availability.")
    else:
        cond = new_condition(
            AVAILABLE, "False", MINIMUM_REPLICAS_UNAVAILABLE, "Deployment does not have minimum availability."
        )
    set_condition(status, cond)
    if old.get("collisionCount") is not None:
        status["collisionCount"] = old["collisionCount"]
    return status


def sync_deployment_status(c: Client, all_rss: list[Obj | None], new_rs: Obj | None, d: Obj) -> None:
    status = calculate_status(all_rss, new_rs, d)
    if status == (d.get("status") or {}):
        return
    d["status"] = status
    c.update_status(d)


def sync_rollout_status(c: Client, all_rss: list[Obj | None], new_rs: Obj | None, d: Obj) -> None:
    """Status plus the Progressing and ReplicaFailure conditions; arms the deadline timer when stuck."""
    status = calculate_status(all_rss, new_rs, d)
    if not has_progress_deadline(d):
        remove_condition(status, PROGRESSING)
    current = get_condition(d.get("status") or {}, PROGRESSING)
    complete_before = (
        status_of(status, "replicas") == status_of(status, "updatedReplicas")
        and current is not None
        and current.get("reason") == NEW_RS_AVAILABLE
    )
    if has_progress_deadline(d) and not complete_before:
        _update_progressing(d, status, new_rs, current)
    failures = replica_failures(all_rss, new_rs)
    if failures:
        set_condition(status, failures[0])
    else:
        remove_condition(status, REPLICA_FAILURE)
    if status == (d.get("status") or {}):
        requeue_stuck(c, d, status)
        return
    d["status"] = status
    c.update_status(d)


def _update_progressing(d: Obj, status: Obj, new_rs: Obj | None, current: Obj | None) -> None:
    name = d["metadata"]["name"]
    subject = f'ReplicaSet "{new_rs["metadata"]["name"]}"' if new_rs is not None else f'Deployment "{name}"'
    if deployment_complete(d, status):
        message = f"{subject} has successfully progressed."
        set_condition(status, new_condition(PROGRESSING, "True", NEW_RS_AVAILABLE, message))
    elif deployment_progressing(d, status):
        cond = new_condition(PROGRESSING, "True", REPLICA_SET_UPDATED, f"{subject} is progressing.")
        # Progress refreshes lastUpdateTime even when the reason stays the same.
        if current is not None:
            if current.get("status") == "True":
                cond["lastTransitionTime"] = current.get("lastTransitionTime", cond["lastTransitionTime"])
            remove_condition(status, PROGRESSING)
        set_condition(status, cond)
    elif deployment_timed_out(d, status):
        message = f"{subject} has timed out progressing."
        set_condition(status, new_condition(PROGRESSING, "False", TIMED_OUT, message))


def replica_failures(all_rss: list[Obj | None], new_rs: Obj | None) -> list[Obj]:
    """ReplicaFailure conditions of the new set, else of any set, as Deployment conditions."""
    for group in ([new_rs], all_rss):
        found = [
            from_replica_set_condition(cond)
            for rs in group
            if rs is not None
            for cond in (rs.get("status") or {}).get("conditions") or []
            if isinstance(cond, dict) and cond.get("type") == REPLICA_FAILURE
        ]
        if found:
            return found
    return []


def requeue_stuck(c: Client, d: Obj, status: Obj) -> None:
    """Look again when the progress deadline falls due, unless the rollout is complete or already failed."""
    current = get_condition(d.get("status") or {}, PROGRESSING)
    if not has_progress_deadline(d) or current is None:
        return
    if deployment_complete(d, status) or current.get("reason") in (TIMED_OUT, NEW_RS_AVAILABLE):
        return
    since = _parse(current.get("lastUpdateTime"))
    if since is None:
        return
    due = since + timedelta(seconds=d["spec"]["progressDeadlineSeconds"])
    after = (due - clock.now()).total_seconds()
    # As the real controller does: a second of slack for a distant deadline, a prompt look at a close one.
    c.requeue_after(d, after + 1 if after >= 1 else max(0.0, after) + _DEADLINE_GRACE)
