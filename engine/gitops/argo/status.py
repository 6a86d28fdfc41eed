"""The Application status as the real controller writes it, and the merge patch that writes it.

Shapes follow Argo CD's v1alpha1 types: `sync {status, revision, comparedTo {source, destination}}`,
`health {status, lastTransitionTime}`, `resources[] {group, version, kind, namespace, name, status, health,
requiresPruning}` sorted by group/kind/namespace/name, `summary {images}`, `conditions[] {type, message,
lastTransitionTime}`, `history[] {id, revision, deployStartedAt, deployedAt, source, initiatedBy}` (the newest
last, at most `revisionHistoryLimit`, 10 by default), `reconciledAt`, `sourceType`, `controllerNamespace`. The
CRD has no status subresource, so everything goes into one JSON merge patch of the object.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..events import now
from .compare import Resource
from .fields import dig, integer, mapping
from .health import Health
from .tracking import CONTROLLER_NAMESPACE

JSON = dict[str, Any]

HISTORY_LIMIT = 10
COMPARISON_ERROR = "ComparisonError"
SYNC_ERROR = "SyncError"
INVALID_SPEC = "InvalidSpecError"
REPEATED_RESOURCE = "RepeatedResourceWarning"
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "Pod", "CronJob")


def sync_status(code: str, revision: str | None, spec: JSON) -> JSON:
    compared = {"source": spec.get("source") or {}, "destination": spec.get("destination") or {}}
    result: JSON = {"status": code, "comparedTo": compared}
    if revision:
        result["revision"] = revision
    return result


def health_status(code: str, previous: Any) -> JSON:
    """`{status, lastTransitionTime}`; the time moves only when the status does."""
    old = mapping(previous)
    if old.get("status") == code and old.get("lastTransitionTime"):
        return {"status": code, "lastTransitionTime": old["lastTransitionTime"]}
    return {"status": code, "lastTransitionTime": now()}


def resource_entries(resources: Iterable[Resource], healths: Mapping[Any, Health | None]) -> list[JSON]:
    entries = []
    for resource in resources:
        entry: JSON = {"version": resource.version, "kind": resource.key.kind, "name": resource.key.name}
        if resource.key.group:
            entry["group"] = resource.key.group
        if resource.key.namespace:
            entry["namespace"] = resource.key.namespace
        entry["status"] = resource.status
        health = healths.get(resource.key)
        if health is not None:
            entry["health"] = health.as_status()
        if resource.requires_pruning:
            entry["requiresPruning"] = True
        entries.append(entry)
    return sorted(entries, key=lambda e: (e.get("group", ""), e["kind"], e.get("namespace", ""), e["name"]))


def summary(lives: Iterable[JSON]) -> JSON:
    """The images the app's workloads run, as `argocd app get` shows them."""
    images: set[str] = set()
    for obj in lives:
        if obj.get("kind") not in WORKLOAD_KINDS:
            continue
        images.update(_images(obj))
    return {"images": sorted(images)} if images else {}


def _images(obj: JSON) -> Iterable[str]:
    spec = obj.get("spec") or {}
    if obj.get("kind") == "CronJob":
        spec = ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template", {}).get("spec") or {}
    elif obj.get("kind") != "Pod":
        spec = (spec.get("template") or {}).get("spec") or {}
    for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        if isinstance(container, dict) and isinstance(container.get("image"), str):
            yield container["image"]


def set_conditions(existing: Any, found: Iterable[tuple[str, str]], types: Iterable[str]) -> list[JSON]:
    """Replace the conditions of `types` with `found` (type, message), keeping the time of unchanged ones."""
    managed = set(types)
    old = [c for c in existing or [] if isinstance(c, dict)]
    kept = [c for c in old if c.get("type") not in managed]
    times = {(c.get("type"), c.get("message")): c.get("lastTransitionTime") for c in old}
    for type_, message in found:
        stamp = times.get((type_, message)) or now()
        kept.append({"type": type_, "message": message, "lastTransitionTime": stamp})
    return kept


def history_entry(history: Any, state: JSON, source: JSON) -> JSON:
    entries = [h for h in history or [] if isinstance(h, dict)]
    next_id = max((integer(h.get("id")) for h in entries), default=-1) + 1
    result = dig(state, "syncResult")
    entry: JSON = {
        "id": next_id,
        "revision": result.get("revision") or "",
        "deployStartedAt": state.get("startedAt"),
        "deployedAt": state.get("finishedAt") or now(),
        "source": result.get("source") or source,
    }
    initiated = dig(state, "operation").get("initiatedBy")
    if initiated:
        entry["initiatedBy"] = initiated
    return entry


def with_history(history: Any, entry: JSON, limit: Any) -> list[JSON]:
    entries = [h for h in history or [] if isinstance(h, dict)] + [entry]
    keep = int(limit) if isinstance(limit, int) and not isinstance(limit, bool) and limit >= 0 else HISTORY_LIMIT
    return entries[-keep:] if keep else []


def base_fields(source_type: str | None) -> JSON:
    fields: JSON = {"reconciledAt": now(), "controllerNamespace": CONTROLLER_NAMESPACE}
    if source_type:
        fields["sourceType"] = source_type
    return fields


def merge_patch(old: Any, new: Any) -> Any:
    """The RFC 7386 merge patch that turns `old` into `new` (None when they are equal)."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        return None if old == new else new
    patch: JSON = {}
    for key in old.keys() - new.keys():
        patch[key] = None
    for key, value in new.items():
        if key not in old:
            patch[key] = value
        elif old[key] != value:
            child = merge_patch(old[key], value)
            patch[key] = child if child is not None else value
    return patch or None
