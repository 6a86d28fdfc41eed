"""Which informer events queue a reconcile: spec changes, reconcile requests and deletions, not status writes."""

from __future__ import annotations

from typing import Any

from engine.gitops.flux.predicates import ChangeFilter


def ks(generation: int = 1, requested: str | None = None, deleting: bool = False, **status: Any) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": "apps", "namespace": "flux-system", "generation": generation}
    if requested:
        metadata["annotations"] = {"reconcile.fluxcd.io/requestedAt": requested}
    if deleting:
        metadata["deletionTimestamp"] = "2026-01-01T00:00:00Z"
        metadata["finalizers"] = ["finalizers.fluxcd.io"]
    return {"metadata": metadata, "status": status}


def test_status_writes_queue_nothing_but_spec_requests_and_deletion_do() -> None:
    seen = ChangeFilter()
    assert seen.wants("ADDED", ks())
    assert not seen.wants("MODIFIED", ks(lastAppliedRevision="main@sha1:1"))
    assert seen.wants("MODIFIED", ks(generation=2))
    assert seen.wants("MODIFIED", ks(generation=2, requested="now"))
    assert not seen.wants("MODIFIED", ks(generation=2, requested="now"))
    assert seen.wants("MODIFIED", ks(generation=2, requested="now", deleting=True))
    assert not seen.wants("DELETED", ks())
    assert seen.wants("ADDED", ks())
