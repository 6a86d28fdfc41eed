"""The RollingUpdate strategy: grow the new ReplicaSet within maxSurge, shrink old ones within maxUnavailable.

Each pass does one of: scale the new set up, scale old sets down (unhealthy replicas first, so a broken old
version never blocks a rollout), or, once the rollout is complete, clean up old revisions.
"""

from __future__ import annotations

from typing import Any

from ..replicasets import spec_replicas
from .client import Client
from .history import cleanup
from .progress import deployment_complete, sync_rollout_status
from .replicas import (
    active,
    available_count,
    by_creation,
    max_unavailable,
    new_rs_new_replicas,
    replica_count,
    status_int,
)
from .sync import all_replica_sets, scale_and_record

Obj = dict[str, Any]


def rollout_rolling(c: Client, d: Obj, rs_list: list[Obj]) -> None:
    new_rs, old = all_replica_sets(c, d, rs_list, create=True)
    assert new_rs is not None
    all_rss: list[Obj] = [*old, new_rs]
    if reconcile_new_replica_set(c, all_rss, new_rs, d):
        sync_rollout_status(c, all_rss, new_rs, d)
        return
    if reconcile_old_replica_sets(c, all_rss, active(old), new_rs, d):
        sync_rollout_status(c, all_rss, new_rs, d)
        return
    if deployment_complete(d, d.get("status") or {}):
        cleanup(c, old, d)
    sync_rollout_status(c, all_rss, new_rs, d)


def reconcile_new_replica_set(c: Client, all_rss: list[Obj], new_rs: Obj, d: Obj) -> bool:
    replicas = spec_replicas(d)
    if spec_replicas(new_rs) == replicas:
        return False
    if spec_replicas(new_rs) > replicas:
        return scale_and_record(c, new_rs, replicas, d)[0]
    return scale_and_record(c, new_rs, new_rs_new_replicas(d, all_rss, new_rs), d)[0]


def reconcile_old_replica_sets(c: Client, all_rss: list[Obj], old: list[Obj], new_rs: Obj, d: Obj) -> bool:
    """Scale old sets down as far as availability allows; returns whether anything was scaled."""
    if replica_count(old) == 0:
        return False
    min_available = spec_replicas(d) - max_unavailable(d)
    new_unavailable = spec_replicas(new_rs) - status_int(new_rs, "availableReplicas")
    max_scaled_down = replica_count(all_rss) - min_available - new_unavailable
    if max_scaled_down <= 0:
        return False
    old, cleaned = cleanup_unhealthy_replicas(c, old, d, max_scaled_down)
    scaled = scale_down_old_replica_sets(c, [*old, new_rs], old, d)
    return cleaned + scaled > 0


def cleanup_unhealthy_replicas(c: Client, old: list[Obj], d: Obj, most: int) -> tuple[list[Obj], int]:
    """Remove old replicas that are not available anyway, oldest set first, at most `most` of them."""
    result = by_creation(old)
    total = 0
    for index, rs in enumerate(result):
        if total >= most:
            break
        unhealthy = spec_replicas(rs) - status_int(rs, "availableReplicas")
        if spec_replicas(rs) == 0 or unhealthy <= 0:
            continue
        count = min(most - total, unhealthy)
        _, result[index] = scale_and_record(c, rs, spec_replicas(rs) - count, d)
        total += count
    return result, total


def scale_down_old_replica_sets(c: Client, all_rss: list[Obj], old: list[Obj], d: Obj) -> int:
    """Scale old sets down by however many available pods exceed the minimum, oldest set first."""
    min_available = spec_replicas(d) - max_unavailable(d)
    available = available_count(all_rss)
    if available <= min_available:
        return 0
    budget = available - min_available
    total = 0
    for rs in by_creation(old):
        if total >= budget:
            break
        if spec_replicas(rs) == 0:
            continue
        count = min(spec_replicas(rs), budget - total)
        scale_and_record(c, rs, spec_replicas(rs) - count, d)
        total += count
    return total
