"""The Recreate strategy: every old pod is gone before the first new one is created."""

from __future__ import annotations

from typing import Any

from ..replicasets import spec_replicas
from .client import Client
from .history import cleanup
from .progress import deployment_complete, sync_rollout_status
from .replicas import active, actual_count
from .sync import all_replica_sets, scale_and_record

Obj = dict[str, Any]


def rollout_recreate(c: Client, d: Obj, rs_list: list[Obj], pod_map: dict[str, list[Obj]]) -> None:
    # The new set is created only after the old pods are gone, so there is never a moment with both.
    new_rs, old = all_replica_sets(c, d, rs_list, create=False)
    all_rss: list[Obj | None] = [*old, new_rs]
    if scale_down_old(c, active(old), d):
        sync_rollout_status(c, all_rss, new_rs, d)
        return
    if old_pods_running(new_rs, old, pod_map):
        sync_rollout_status(c, all_rss, new_rs, d)
        return
    if new_rs is None:
        new_rs, old = all_replica_sets(c, d, rs_list, create=True)
        all_rss = [*old, new_rs]
    assert new_rs is not None
    scale_and_record(c, new_rs, spec_replicas(d), d)
    if deployment_complete(d, d.get("status") or {}):
        cleanup(c, old, d)
    sync_rollout_status(c, all_rss, new_rs, d)


def scale_down_old(c: Client, old: list[Obj], d: Obj) -> bool:
    scaled = False
    for rs in old:
        if spec_replicas(rs) != 0:
            scaled = scale_and_record(c, rs, 0, d)[0] or scaled
    return scaled


def old_pods_running(new_rs: Obj | None, old: list[Obj], pod_map: dict[str, list[Obj]]) -> bool:
    """Any old set still counts pods, or any pod of an old set is not finished (terminating ones included)."""
    if actual_count(old) > 0:
        return True
    new_uid = new_rs["metadata"]["uid"] if new_rs is not None else None
    for uid, pods in pod_map.items():
        if uid == new_uid:
            continue
        if any((pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed") for pod in pods):
            return True
    return False
