"""Garbage collection of a Kustomization's stale objects (and of everything it applied, when it is deleted).

Objects are deleted in reverse apply order with background propagation. One is skipped when it lost the
ownership labels or carries `prune: disabled`, `reconcile: disabled` or `ssa: Ignore`; one already gone counts as
deleted. A failed delete does not stop the others: the failures are reported together and the objects that
survived go back into the inventory.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ...cluster.client import KubeClient
from ...cluster.errors import ClusterError, UnknownKind
from ..objects import ObjectRef
from . import controls
from .apply import DELETED, SKIPPED, Change, sort_key


@dataclass
class PruneResult:
    changes: list[Change] = field(default_factory=list)
    survivors: list[ObjectRef] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def error(self) -> str | None:
        """Flux's message for failed deletes: `delete failed, errors: <each>;`."""
        return f"delete failed, errors: {''.join(e + ';' for e in self.errors)}" if self.errors else None

    def message(self) -> str:
        """The event listing what happened to each object: `Service/ns/web deleted`, one per line."""
        return "\n".join(str(change) for change in self.changes)


def delete_all(client: KubeClient, refs: list[ObjectRef], name: str, namespace: str) -> PruneResult:
    """Delete the objects of Kustomization `namespace/name` named by `refs`, honouring the skip rules."""
    result = PruneResult()
    for ref in sorted(refs, key=sort_key, reverse=True):
        try:
            action = _delete(client, ref, name, namespace)
        except ClusterError as err:
            result.errors.append(f"{ref} delete failed: {err}")
            result.survivors.append(ref)
            continue
        result.changes.append(Change(ref, action))
    return result


def _delete(client: KubeClient, ref: ObjectRef, name: str, namespace: str) -> str:
    try:
        resource = client.resolve(ref.kind, ref.api_version)
    except UnknownKind:
        return DELETED  # its kind is no longer served, so no such object can exist
    object_namespace = ref.namespace if resource.namespaced else None
    live = client.get(resource, ref.name, object_namespace)
    if live is None:
        return DELETED
    if controls.prune_skip_reason(live, name, namespace) is not None:
        return SKIPPED
    client.delete(resource, ref.name, object_namespace, propagation="Background")
    return DELETED


def still_present(client: KubeClient, refs: list[ObjectRef]) -> list[ObjectRef]:
    """Those of `refs` that still exist (deletionPolicy WaitForTermination waits for none to be left)."""
    left = []
    for ref in refs:
        try:
            resource = client.resolve(ref.kind, ref.api_version)
        except UnknownKind:
            continue
        if client.get(resource, ref.name, ref.namespace if resource.namespaced else None) is not None:
            left.append(ref)
    return left
