"""The gitops check kind: agents' objects ready (at the Git head), objects managed and pruned, as a learner reads it."""

from __future__ import annotations

from typing import Any

import pytest

from engine.checks.context import CheckContext
from engine.checks.evaluator import evaluate_check
from engine.checks.kinds import gitops
from engine.checks.kinds.git import GitState
from engine.checks.memory import MemoryCluster
from engine.checks.reader import ApiResource
from engine.checks.spec import Check, GitOpsCheck
from engine.gitops import status

HEAD = "4f1c2a" + "0" * 34
KUSTOMIZATION = ApiResource(
    "kustomize.toolkit.fluxcd.io", "v1", "Kustomization", "kustomizations", True, "kustomization"
)
APPLICATION = ApiResource("argoproj.io", "v1alpha1", "Application", "applications", True)


def _kustomization(
    ready: str = "True", revision: str = f"main@sha1:{HEAD}", generation: int = 2, **status: Any
) -> dict:
    return {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": "apps", "namespace": "flux-system", "generation": generation},
        "status": {
            "observedGeneration": 2,
            "lastAppliedRevision": revision,
            "conditions": [
                {
                    "type": "Ready",
                    "status": ready,
                    "reason": "ReconciliationSucceeded" if ready == "True" else "BuildFailed",
                    "message": f"Applied revision: {revision}" if ready == "True" else "kustomize build failed: boom",
                    "observedGeneration": 2,
                }
            ],
            "inventory": {"entries": [{"id": "shop_web_apps_Deployment", "v": "v1"}]},
            **status,
        },
    }


def _application(sync: str = "Synced", health: str = "Healthy", resources: list[dict] | None = None) -> dict:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "shop", "namespace": "argocd"},
        "status": {
            "sync": {"status": sync, "revision": HEAD},
            "health": {"status": health},
            "resources": resources or [],
        },
    }


def _deployment(labels: dict[str, str] | None = None, annotations: dict[str, str] | None = None) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop", "labels": labels or {}, "annotations": annotations or {}},
    }


def _check(body: dict[str, Any], *objects: dict) -> Any:
    cluster = MemoryCluster()
    cluster.serve(KUSTOMIZATION)
    cluster.serve(APPLICATION)
    for obj in objects:
        cluster.put(obj)
    return evaluate_check(Check.model_validate({"gitops": body}), CheckContext(reader=cluster, namespace="shop"))


def test_a_ready_kustomization_passes_with_its_own_message() -> None:
    result = _check({"kustomization": "apps"}, _kustomization())
    assert result.passed
    assert result.name == "Kustomization flux-system/apps is ready"
    assert "Applied revision: main@sha1:4f1c2a" in result.message


def test_a_failed_build_is_reported_in_the_agents_words() -> None:
    result = _check({"kustomization": "apps"}, _kustomization(ready="False"))
    assert not result.passed
    assert "kustomize build failed: boom" in result.message


def test_a_stale_generation_is_not_ready() -> None:
    result = _check({"kustomization": "apps"}, _kustomization(generation=3))
    assert not result.passed
    assert "not reconciled since its last change" in result.message


def test_a_missing_agent_object_fails() -> None:
    result = _check({"kustomization": "apps"})
    assert not result.passed
    assert "does not exist" in result.message


def test_at_head_compares_the_applied_revision_with_the_git_head() -> None:
    body = GitOpsCheck.model_validate({"kustomization": "apps", "atHead": "fleet"})
    behind = gitops.GitOpsState(_kustomization(revision="main@sha1:" + "9" * 40), (), GitState(head=HEAD))
    verdict = gitops.judge(body, behind)
    assert not verdict.passed
    assert "not the head of fleet@main (4f1c2a0)" in verdict.message
    assert gitops.judge(body, gitops.GitOpsState(_kustomization(), (), GitState(head=HEAD))).passed


def test_an_application_must_be_synced_and_healthy() -> None:
    assert _check({"application": "shop"}, _application()).passed
    result = _check({"application": "shop"}, _application(sync="OutOfSync"))
    assert not result.passed
    assert "OutOfSync and Healthy" in result.message
    assert _check({"application": "shop", "ready": False}, _application(health="Degraded")).passed


def test_managed_reads_flux_labels_and_argo_tracking() -> None:
    flux = _deployment({status.FLUX_NAME_LABEL: "apps", status.FLUX_NAMESPACE_LABEL: "flux-system"})
    result = _check({"managed": {"kind": "Deployment", "name": "web"}}, flux)
    assert result.passed
    assert result.message == "Deployment shop/web is managed by Kustomization flux-system/apps"
    argo = _deployment(annotations={status.ARGO_TRACKING: "shop:apps/Deployment:shop/web"})
    assert _check({"application": "shop", "managed": {"kind": "Deployment", "name": "web"}}, argo).passed
    wrong = _check({"kustomization": "other", "managed": {"kind": "Deployment", "name": "web"}}, flux)
    assert not wrong.passed
    assert "managed by Kustomization flux-system/apps, not Kustomization flux-system/other" in wrong.message


def test_an_object_applied_by_hand_is_not_managed() -> None:
    result = _check({"managed": {"kind": "Deployment", "name": "web"}}, _deployment())
    assert not result.passed
    assert "not applied by one" in result.message


def test_pruned_tells_a_prune_from_a_manual_delete() -> None:
    body = {"kustomization": "apps", "pruned": {"kind": "Deployment", "name": "web"}}
    by_hand = _check(body, _kustomization())
    assert not by_hand.passed
    assert "deleted by hand" in by_hand.message
    pruned = _check(body, _kustomization(inventory={"entries": []}))
    assert pruned.passed
    assert pruned.name == "Deployment web was pruned by Kustomization flux-system/apps"
    assert pruned.message == "Deployment shop/web was pruned by Kustomization flux-system/apps"
    still_there = _check(body, _kustomization(inventory={"entries": []}), _deployment())
    assert not still_there.passed


def test_pruned_by_an_application_reads_its_resources() -> None:
    body = {"application": "shop", "pruned": {"kind": "Deployment", "name": "web"}}
    listed = [{"group": "apps", "kind": "Deployment", "namespace": "shop", "name": "web"}]
    assert not _check(body, _application(resources=listed)).passed
    assert _check(body, _application()).passed


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "name the agent's object"),
        ({"kustomization": "a", "application": "b"}, "at most one"),
        ({"pruned": {"kind": "Deployment", "name": "web"}}, "pruned needs"),
        ({"gitRepository": "a", "managed": {"kind": "Deployment"}}, "manages no objects"),
    ],
)
def test_malformed_gitops_checks_are_refused_with_a_reason(body: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        GitOpsCheck.model_validate(body)
