"""Small facts about pods and ownership that several controllers need, defined once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from .. import clock

Obj = dict[str, Any]


def condition(obj: Obj, kind: str) -> Obj | None:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return dict(cond)
    return None


def is_ready(pod: Obj) -> bool:
    cond = condition(pod, "Ready")
    return bool(cond and cond.get("status") == "True")


def is_available(pod: Obj, min_ready_seconds: int) -> bool:
    """Ready for at least minReadySeconds, the way the ReplicaSet and Deployment controllers count it."""
    cond = condition(pod, "Ready")
    if not cond or cond.get("status") != "True":
        return False
    if min_ready_seconds <= 0:
        return True
    since = cond.get("lastTransitionTime")
    if not since:
        return False
    return clock.parse(since) + timedelta(seconds=min_ready_seconds) <= clock.now()


def is_terminating(obj: Obj) -> bool:
    return bool(obj["metadata"].get("deletionTimestamp"))


def is_active(pod: Obj) -> bool:
    """Counted by controllers: not finished and not being deleted."""
    phase = (pod.get("status") or {}).get("phase")
    return phase not in ("Succeeded", "Failed") and not is_terminating(pod)


def controller_ref(owner: Obj) -> Obj:
    """The ownerReference a controller puts on what it creates (kubectl and the GC rely on `controller: true`)."""
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def controller_of(obj: Obj) -> Obj | None:
    for ref in obj["metadata"].get("ownerReferences") or []:
        if ref.get("controller"):
            return dict(ref)
    return None


def is_controlled_by(obj: Obj, owner: Obj) -> bool:
    ref = controller_of(obj)
    return bool(ref and ref.get("uid") == owner["metadata"].get("uid"))
