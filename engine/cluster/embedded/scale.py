"""The `scale` subresource: an autoscaling/v1 Scale view of a workload's replica count."""

from __future__ import annotations

import copy
from typing import Any

from .resources import ResourceType
from .selectors import format_selector
from .status import bad_request

Obj = dict[str, Any]


def _get_path(obj: Obj, path: str) -> Any:
    value: Any = obj
    for key in path.lstrip(".").split("."):
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _set_path(obj: Obj, path: str, value: Any) -> None:
    keys = path.lstrip(".").split(".")
    target = obj
    for key in keys[:-1]:
        target = target.setdefault(key, {})
    target[keys[-1]] = value


def _paths(rtype: ResourceType) -> tuple[str, str, str | None]:
    if rtype.scale_paths:
        return (
            rtype.scale_paths.get("specReplicasPath", ".spec.replicas"),
            rtype.scale_paths.get("statusReplicasPath", ".status.replicas"),
            rtype.scale_paths.get("labelSelectorPath"),
        )
    return ".spec.replicas", ".status.replicas", None


def to_scale(rtype: ResourceType, obj: Obj) -> Obj:
    spec_path, status_path, selector_path = _paths(rtype)
    meta = obj["metadata"]
    if selector_path:
        selector = _get_path(obj, selector_path) or ""
    else:
        selector = format_selector(obj.get("spec", {}).get("selector"))
    status: Obj = {"replicas": int(_get_path(obj, status_path) or 0)}
    if selector:
        status["selector"] = selector
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp") if k in meta
        },
        "spec": {"replicas": int(_get_path(obj, spec_path) or 0)},
        "status": status,
    }


def apply_scale(rtype: ResourceType, obj: Obj, scale: Any) -> Obj:
    """The parent object with the replica count the Scale asks for."""
    if not isinstance(scale, dict):
        raise bad_request("the body must be a Scale object")
    replicas = (scale.get("spec") or {}).get("replicas", 0)
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        raise bad_request(f"spec.replicas: Invalid value: {replicas!r}: must be a non-negative integer")
    updated = copy.deepcopy(obj)
    rv = (scale.get("metadata") or {}).get("resourceVersion")
    if rv:
        updated["metadata"]["resourceVersion"] = rv
    _set_path(updated, _paths(rtype)[0], replicas)
    return updated
