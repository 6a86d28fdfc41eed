"""Finding and creating a Deployment's new ReplicaSet, resizing, pausing, and the status-only sync.

`new_replica_set` gives the set whose template matches the Deployment's (ignoring the hash label), brings its
revision to one above every old set (so a rollback target gets the newest revision), or creates it as
`<deployment>-<hash>`. `scale` spreads a resize over the active sets in proportion to their size.
"""

from __future__ import annotations

from typing import Any

from ...status import ApiError
from .. import podutil
from ..replicasets import is_namespace_terminating, spec_replicas
from .client import Client
from .hashing import canonical_template, compute_hash, equal_ignore_hash, selector_with_hash, template_with_hash
from .history import (
    REVISION,
    cleanup,
    max_revision,
    replicas_annotations_need_update,
    set_deployment_revision,
    set_new_rs_annotations,
    set_replicas_annotations,
)
from .progress import (
    FAILED_RS_CREATE,
    FOUND_NEW_RS,
    NEW_REPLICA_SET,
    PAUSED,
    PROGRESSING,
    RESUMED,
    TIMED_OUT,
    get_condition,
    has_progress_deadline,
    new_condition,
    set_condition,
    sync_deployment_status,
)
from .replicas import (
    DESIRED_REPLICAS,
    active,
    annotation_int,
    by_creation,
    by_size_newer,
    by_size_older,
    find_active_or_latest,
    is_rolling_update,
    is_saturated,
    max_surge,
    new_rs_new_replicas,
    proportion,
    replica_count,
)

Obj = dict[str, Any]


def find_new_replica_set(d: Obj, rs_list: list[Obj]) -> Obj | None:
    """The oldest set whose template is the Deployment's template."""
    template = canonical_template((d.get("spec") or {}).get("template"))
    for rs in by_creation(rs_list):
        if canonical_template((rs.get("spec") or {}).get("template")) == template:
            return rs
    return None


def all_replica_sets(c: Client, d: Obj, rs_list: list[Obj], create: bool) -> tuple[Obj | None, list[Obj]]:
    """(new set or None, old sets), with the new set's and the Deployment's revision brought up to date."""
    existing = find_new_replica_set(d, rs_list)
    uid = existing["metadata"]["uid"] if existing is not None else None
    old = [rs for rs in rs_list if rs["metadata"]["uid"] != uid]
    return new_replica_set(c, d, existing, old, create), old


def new_replica_set(c: Client, d: Obj, existing: Obj | None, old: list[Obj], create: bool) -> Obj | None:
    """The new set (revision bumped past the old ones when needed), created when asked and missing."""
    new_revision = str(max_revision(old) + 1)
    if existing is not None:
        return _sync_existing(c, d, existing, new_revision)
    if not create:
        return None
    return _create(c, d, old, new_revision)


def _sync_existing(c: Client, d: Obj, existing: Obj, new_revision: str) -> Obj:
    rs = editable(existing)
    changed = set_new_rs_annotations(d, rs, new_revision, exists=True)
    min_ready = (d.get("spec") or {}).get("minReadySeconds") or 0
    if changed or (rs["spec"].get("minReadySeconds") or 0) != min_ready:
        if min_ready:
            rs["spec"]["minReadySeconds"] = min_ready
        else:
            rs["spec"].pop("minReadySeconds", None)
        return c.update_replica_set(rs)
    needs_update = set_deployment_revision(d, (rs["metadata"].get("annotations") or {}).get(REVISION, ""))
    status = d.setdefault("status", {})
    if has_progress_deadline(d) and get_condition(status, PROGRESSING) is None:
        message = f'Found new replica set "{rs["metadata"]["name"]}"'
        set_condition(status, new_condition(PROGRESSING, "True", FOUND_NEW_RS, message))
        needs_update = True
    if needs_update:
        c.update_status(d)
    return rs


def _create(c: Client, d: Obj, old: list[Obj], new_revision: str) -> Obj:
    spec = d["spec"]
    status = d.setdefault("status", {})
    collisions = status.get("collisionCount")
    digest = compute_hash(spec.get("template") or {}, collisions if isinstance(collisions, int) else None)
    template = template_with_hash(spec.get("template"), digest)
    namespace, name = d["metadata"]["namespace"], d["metadata"]["name"]
    rs: Obj = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"{name}-{digest}",
            "namespace": namespace,
            "labels": dict(template["metadata"]["labels"]),
            "ownerReferences": [podutil.controller_ref(d)],
        },
        "spec": {
            "replicas": 0,
            "selector": selector_with_hash(spec.get("selector"), digest),
            "template": template,
        },
    }
    if spec.get("minReadySeconds"):
        rs["spec"]["minReadySeconds"] = spec["minReadySeconds"]
    replicas = new_rs_new_replicas(d, [*old, rs], rs)
    rs["spec"]["replicas"] = replicas
    set_new_rs_annotations(d, rs, new_revision, exists=False)
    already_exists = False
    try:
        created = c.create_replica_set(rs)
    except ApiError as err:
        if err.code == 409 and err.reason == "AlreadyExists":
            created = _existing_or_collision(c, d, rs, err)
            already_exists = True
        elif is_namespace_terminating(err):
            raise
        else:
            _report_create_failure(c, d, rs, err)
            raise
    if not already_exists and replicas > 0:
        message = f"Scaled up replica set {created['metadata']['name']} from 0 to {replicas}"
        c.event(d, "Normal", "ScalingReplicaSet", message)
    needs_update = set_deployment_revision(d, new_revision)
    if not already_exists and has_progress_deadline(d):
        message = f'Created new replica set "{created["metadata"]["name"]}"'
        set_condition(status, new_condition(PROGRESSING, "True", NEW_REPLICA_SET, message))
        needs_update = True
    if needs_update:
        c.update_status(d)
    return created


def _existing_or_collision(c: Client, d: Obj, rs: Obj, err: ApiError) -> Obj:
    """The set of that name is ours when we control it and its template matches; else count a hash collision."""
    found = c.find_replica_set(rs["metadata"]["namespace"], rs["metadata"]["name"])
    if found is None:
        raise err
    ref = podutil.controller_of(found)
    same_template = equal_ignore_hash(d["spec"].get("template"), (found.get("spec") or {}).get("template"))
    if ref is not None and ref.get("uid") == d["metadata"]["uid"] and same_template:
        return found
    status = d.setdefault("status", {})
    status["collisionCount"] = int(status.get("collisionCount") or 0) + 1
    c.update_status(d)
    raise err


def _report_create_failure(c: Client, d: Obj, rs: Obj, err: ApiError) -> None:
    message = f'Failed to create new replica set "{rs["metadata"]["name"]}": {err.message}'
    if has_progress_deadline(d):
        set_condition(d.setdefault("status", {}), new_condition(PROGRESSING, "False", FAILED_RS_CREATE, message))
        c.update_status(d)
    c.event(d, "Warning", FAILED_RS_CREATE, message)


def editable(rs: Obj) -> Obj:
    """A copy of a cached set whose annotations and top-level spec fields may be changed."""
    meta = rs["metadata"]
    return {
        **rs,
        "metadata": {**meta, "annotations": dict(meta.get("annotations") or {})},
        "spec": dict(rs.get("spec") or {}),
    }


# Scaling ----------------------------------------------------------------------------------------------


def scale_replica_set(c: Client, rs: Obj, new_scale: int, d: Obj) -> tuple[bool, Obj]:
    """Set the size and the desired/max annotations; a size change is reported as ScalingReplicaSet."""
    replicas = spec_replicas(d)
    most = replicas + max_surge(d)
    old_scale = spec_replicas(rs)
    size_changed = old_scale != new_scale
    if not size_changed and not replicas_annotations_need_update(rs, replicas, most):
        return False, rs
    updated = editable(rs)
    updated["spec"]["replicas"] = new_scale
    set_replicas_annotations(updated, replicas, most)
    stored = c.update_replica_set(updated)
    if size_changed:
        direction = "up" if old_scale < new_scale else "down"
        message = f"Scaled {direction} replica set {stored['metadata']['name']} from {old_scale} to {new_scale}"
        c.event(d, "Normal", "ScalingReplicaSet", message)
    return size_changed, stored


def scale_and_record(c: Client, rs: Obj, new_scale: int, d: Obj) -> tuple[bool, Obj]:
    if spec_replicas(rs) == new_scale:
        return False, rs
    return scale_replica_set(c, rs, new_scale, d)


def is_scaling_event(c: Client, d: Obj, rs_list: list[Obj]) -> bool:
    """An active set that was sized for a different replica count means the Deployment was resized."""
    new_rs, old = all_replica_sets(c, d, rs_list, create=False)
    for rs in active([*old, new_rs]):
        desired = annotation_int(rs, DESIRED_REPLICAS)
        if desired is not None and desired != spec_replicas(d):
            return True
    return False


def scale(c: Client, d: Obj, new_rs: Obj | None, old: list[Obj]) -> None:
    replicas = spec_replicas(d)
    only = find_active_or_latest(new_rs, old)
    if only is not None:
        if spec_replicas(only) != replicas:
            scale_and_record(c, only, replicas, d)
        return
    if is_saturated(d, new_rs):
        for rs in active(old):
            scale_and_record(c, rs, 0, d)
        return
    if not is_rolling_update(d):
        return
    sets = active([*old, new_rs])
    allowed = replicas + max_surge(d) if replicas > 0 else 0
    to_add = allowed - replica_count(sets)
    if to_add > 0:
        sets = by_size_newer(sets)
    elif to_add < 0:
        sets = by_size_older(sets)
    sizes: dict[str, int] = {}
    added = 0
    for rs in sets:
        share = proportion(rs, d, to_add, added) if to_add else 0
        sizes[rs["metadata"]["name"]] = spec_replicas(rs) + share
        added += share
    for index, rs in enumerate(sets):
        size = sizes[rs["metadata"]["name"]]
        if index == 0 and to_add:
            # Whatever the proportions left over goes to the largest set.
            size = max(0, size + to_add - added)
        scale_replica_set(c, rs, size, d)


def sync(c: Client, d: Obj, rs_list: list[Obj]) -> None:
    """A resize, or any change to a paused Deployment: scale the existing sets, no rollout."""
    new_rs, old = all_replica_sets(c, d, rs_list, create=False)
    scale(c, d, new_rs, old)
    if (d.get("spec") or {}).get("paused"):
        cleanup(c, old, d)
    sync_deployment_status(c, [*old, new_rs], new_rs, d)


def sync_status_only(c: Client, d: Obj, rs_list: list[Obj]) -> None:
    new_rs, old = all_replica_sets(c, d, rs_list, create=False)
    sync_deployment_status(c, [*old, new_rs], new_rs, d)


def check_paused_conditions(c: Client, d: Obj) -> None:
    """Mark pausing and resuming on Progressing, so time spent paused never counts against the deadline."""
    if not has_progress_deadline(d):
        return
    status = d.setdefault("status", {})
    cond = get_condition(status, PROGRESSING)
    if cond is not None and cond.get("reason") == TIMED_OUT:
        return
    paused_marked = cond is not None and cond.get("reason") == PAUSED
    paused = bool((d.get("spec") or {}).get("paused"))
    if paused and not paused_marked:
        set_condition(status, new_condition(PROGRESSING, "Unknown", PAUSED, "Deployment is paused"))
    elif not paused and paused_marked:
        set_condition(status, new_condition(PROGRESSING, "Unknown", RESUMED, "Deployment is resumed"))
    else:
        return
    c.update_status(d)
