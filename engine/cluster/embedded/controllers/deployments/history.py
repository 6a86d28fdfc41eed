"""Revisions of a Deployment: the annotations its ReplicaSets carry, and the clean-up of old ones.

Each ReplicaSet records the revision it serves (`deployment.kubernetes.io/revision`); a set brought back by a
rollback gets the next revision and remembers its earlier ones in `revision-history`. The sets also carry the
Deployment's size (`desired-replicas`, `max-replicas`) so a later resize can be told apart from a rollout.
Old sets scaled to zero are deleted beyond `revisionHistoryLimit`, lowest revision first.
"""

from __future__ import annotations

import functools
from typing import Any

from ..replicasets import parse_int, spec_replicas
from .client import Client
from .replicas import DESIRED_REPLICAS, MAX_REPLICAS, max_surge, present, status_int

Obj = dict[str, Any]

REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
ROLLBACK_TO = "deprecated.deployment.rollback.to"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
MAX_HISTORY_CHARS = 2000
# Deployment annotations that are not copied onto its ReplicaSets.
NOT_COPIED = frozenset({LAST_APPLIED, REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS, ROLLBACK_TO})


def annotations(obj: Obj) -> dict[str, str]:
    meta = obj.setdefault("metadata", {})
    if not isinstance(meta.get("annotations"), dict):
        meta["annotations"] = {}
    return meta["annotations"]


def revision(rs: Obj) -> int | None:
    """The set's revision: 0 when it has none, None when the annotation is not a number."""
    value = (rs["metadata"].get("annotations") or {}).get(REVISION)
    return 0 if value is None else parse_int(value)


def max_revision(rss: list[Obj]) -> int:
    return max((r for r in (revision(rs) for rs in present(rss)) if r is not None), default=0)


def copy_annotations(d: Obj, rs: Obj) -> bool:
    """Copy the Deployment's own annotations (e.g. kubernetes.io/change-cause) onto the set."""
    target = annotations(rs)
    changed = False
    for key, value in (d["metadata"].get("annotations") or {}).items():
        if key in NOT_COPIED or target.get(key) == value:
            continue
        target[key] = value
        changed = True
    return changed


def set_replicas_annotations(rs: Obj, desired: int, most: int) -> bool:
    target = annotations(rs)
    changed = False
    for key, value in ((DESIRED_REPLICAS, str(desired)), (MAX_REPLICAS, str(most))):
        if target.get(key) != value:
            target[key] = value
            changed = True
    return changed


def replicas_annotations_need_update(rs: Obj, desired: int, most: int) -> bool:
    current = rs["metadata"].get("annotations") or {}
    return current.get(DESIRED_REPLICAS) != str(desired) or current.get(MAX_REPLICAS) != str(most)


def set_new_rs_annotations(d: Obj, rs: Obj, new_revision: str, exists: bool, limit: int = MAX_HISTORY_CHARS) -> bool:
    """Bring the new set's annotations up to date; a rollback target keeps its earlier revisions."""
    changed = copy_annotations(d, rs)
    target = annotations(rs)
    had_revision = REVISION in target
    old_revision = target.get(REVISION, "")
    old_number = parse_int(old_revision) if old_revision else 0
    new_number = parse_int(new_revision)
    if old_number is None or new_number is None:
        return False
    if old_number < new_number:
        target[REVISION] = new_revision
        changed = True
        if had_revision:
            _append_history(target, old_revision, limit)
    if not exists:
        replicas = spec_replicas(d)
        changed = set_replicas_annotations(rs, replicas, replicas + max_surge(d)) or changed
    return changed


def _append_history(target: dict[str, str], old_revision: str, limit: int) -> None:
    history = target.get(REVISION_HISTORY, "")
    if not history:
        target[REVISION_HISTORY] = old_revision
        return
    earlier = history.split(",")
    total = len(history) + len(old_revision) + 1
    start = 0
    while total > limit and start < len(earlier):
        total -= len(earlier[start]) + 1
        start += 1
    if total <= limit:
        target[REVISION_HISTORY] = ",".join([*earlier[start:], old_revision])


def set_deployment_revision(d: Obj, value: str) -> bool:
    target = annotations(d)
    if target.get(REVISION) == value:
        return False
    target[REVISION] = value
    return True


def by_revision(rss: list[Obj]) -> list[Obj]:
    """Lowest revision first; unknown or equal revisions by creation time, then name."""

    def created(rs: Obj) -> tuple[str, str]:
        return str(rs["metadata"].get("creationTimestamp") or ""), rs["metadata"]["name"]

    def compare(a: Obj, b: Obj) -> int:
        first, second = revision(a), revision(b)
        if first is None or second is None or first == second:
            return (created(a) > created(b)) - (created(a) < created(b))
        return (first > second) - (first < second)

    return sorted(rss, key=functools.cmp_to_key(compare))


def has_history_limit(d: Obj) -> bool:
    return isinstance((d.get("spec") or {}).get("revisionHistoryLimit"), int)


def cleanup(c: Client, old_rss: list[Obj], d: Obj) -> None:
    """Delete the oldest revisions beyond revisionHistoryLimit, only sets that are fully scaled down."""
    if not has_history_limit(d):
        return
    candidates = [rs for rs in present(old_rss) if not rs["metadata"].get("deletionTimestamp")]
    excess = len(candidates) - int(d["spec"]["revisionHistoryLimit"])
    if excess <= 0:
        return
    for rs in by_revision(candidates)[:excess]:
        generation = rs["metadata"].get("generation") or 0
        if status_int(rs, "replicas") != 0 or spec_replicas(rs) != 0:
            continue
        if generation > status_int(rs, "observedGeneration"):
            continue
        c.delete_replica_set(rs)
