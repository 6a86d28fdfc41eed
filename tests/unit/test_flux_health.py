"""Readiness as Flux's health checks judge it, kind by kind, and the timeout message."""

from __future__ import annotations

from typing import Any

import pytest

from engine.gitops.flux import health
from engine.gitops.objects import ObjectRef


def deployment(replicas: int = 2, generation: int = 2, **status: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop", "generation": generation},
        "spec": {"replicas": replicas},
        "status": status,
    }


ROLLED_OUT = {"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "readyReplicas": 2, "availableReplicas": 2}


def test_a_deployment_is_current_once_rolled_out() -> None:
    assert health.object_status(deployment(**ROLLED_OUT)) == health.CURRENT


@pytest.mark.parametrize(
    "change",
    [
        {"observedGeneration": 1},
        {"updatedReplicas": 1},
        {"replicas": 3},
        {"availableReplicas": 1},
        {"readyReplicas": 1},
    ],
)
def test_a_deployment_mid_rollout_is_in_progress(change: dict[str, Any]) -> None:
    assert health.object_status(deployment(**(ROLLED_OUT | change))) == health.IN_PROGRESS


def test_a_deployment_past_its_progress_deadline_failed() -> None:
    stuck = {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}
    assert health.object_status(deployment(**(ROLLED_OUT | {"conditions": [stuck]}))) == health.FAILED


def _with(kind: str, status: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": kind, "metadata": {"name": "x", "generation": 1}, "status": status}


@pytest.mark.parametrize(
    ("kind", "status", "expected"),
    [
        ("Pod", {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}, health.CURRENT),
        ("Pod", {"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}]}, health.IN_PROGRESS),
        ("Pod", {"phase": "Succeeded"}, health.CURRENT),
        ("Pod", {"phase": "Failed"}, health.FAILED),
        ("Job", {"conditions": [{"type": "Complete", "status": "True"}]}, health.CURRENT),
        ("Job", {"conditions": [{"type": "Failed", "status": "True"}]}, health.FAILED),
        ("Job", {"active": 1}, health.IN_PROGRESS),
        ("PersistentVolumeClaim", {"phase": "Pending"}, health.IN_PROGRESS),
        ("Namespace", {"phase": "Active"}, health.CURRENT),
        ("Kustomization", {"observedGeneration": 1, "conditions": [{"type": "Ready", "status": "True"}]}, "Current"),
        ("Kustomization", {"observedGeneration": 0, "conditions": [{"type": "Ready", "status": "True"}]}, "InProgress"),
        ("Kustomization", {"conditions": [{"type": "Ready", "status": "False"}]}, health.IN_PROGRESS),
        ("Widget", {"conditions": [{"type": "Stalled", "status": "True"}]}, health.FAILED),
        ("ConfigMap", {}, health.CURRENT),
    ],
)
def test_other_kinds(kind: str, status: dict[str, Any], expected: str) -> None:
    assert health.object_status(_with(kind, status)) == expected


def test_missing_and_terminating_objects_are_not_current() -> None:
    assert health.object_status(None) == health.NOT_FOUND
    terminating = _with("ConfigMap", {})
    terminating["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    assert health.object_status(terminating) == health.IN_PROGRESS


def test_the_timeout_message_lists_what_is_not_ready() -> None:
    web, db = ObjectRef("shop", "web", "apps", "Deployment"), ObjectRef("shop", "db", "apps", "StatefulSet")
    results = {web: health.IN_PROGRESS, db: health.CURRENT, ObjectRef("shop", "x", "", "Service"): health.NOT_FOUND}
    assert not health.all_current(results)
    assert health.not_ready(results) == (
        "timeout waiting for: [Deployment/shop/web status: 'InProgress', Service/shop/x status: 'NotFound']"
    )


def test_a_kustomization_never_waits_on_itself() -> None:
    own = ObjectRef("flux-system", "apps", "kustomize.toolkit.fluxcd.io", "Kustomization")
    other = ObjectRef("flux-system", "infra", "kustomize.toolkit.fluxcd.io", "Kustomization")
    assert health.without_self([own, other], "apps", "flux-system") == [other]
