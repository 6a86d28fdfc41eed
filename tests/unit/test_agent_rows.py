"""The GitOps tab's rows: each source and sync with its revision, its agent's word for its state, its message,
and what that means (the colour): ready, still working, failing, suspended."""

from __future__ import annotations

from typing import Any

from engine.lab.resources_view import AgentRow, Meaning, agent_meaning, agent_rows

SHA = "450796ddb2ab6724ee1cc32a4be56da032d1cca0"


def ready(status: str, reason: str, message: str, observed: int = 1) -> dict[str, Any]:
    return {"type": "Ready", "status": status, "reason": reason, "message": message, "observedGeneration": observed}


def flux(kind: str, name: str, *conditions: dict[str, Any], suspend: bool = False, **status: Any) -> dict[str, Any]:
    api = "source.toolkit.fluxcd.io/v1" if kind == "GitRepository" else "kustomize.toolkit.fluxcd.io/v1"
    return {
        "apiVersion": api,
        "kind": kind,
        "metadata": {"name": name, "namespace": "flux-system", "generation": 1},
        "spec": {"suspend": suspend},
        "status": {"conditions": list(conditions), **status},
    }


def application(name: str, sync: str, health: str, **status: Any) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": "argocd"},
        "spec": {},
        "status": {"sync": {"status": sync, "revision": SHA}, "health": {"status": health}, **status},
    }


def test_sources_come_before_syncs_with_short_revisions_and_the_agents_words() -> None:
    source = flux(
        "GitRepository",
        "fleet",
        ready("True", "Succeeded", f"stored artifact for revision 'main@sha1:{SHA}'"),
        artifact={"revision": f"main@sha1:{SHA}"},
    )
    sync = flux(
        "Kustomization",
        "shop",
        ready("True", "ReconciliationSucceeded", f"Applied revision: main@sha1:{SHA}"),
        lastAppliedRevision=f"main@sha1:{SHA}",
    )
    rows = agent_rows([application("shop", "Synced", "Healthy"), sync, source])
    assert rows == [
        AgentRow("GitRepository", "flux-system", "fleet", "main@sha1:450796dd", "True", Meaning.OK,
                 f"stored artifact for revision 'main@sha1:{SHA}'"),
        AgentRow("Kustomization", "flux-system", "shop", "main@sha1:450796dd", "True", Meaning.OK,
                 f"Applied revision: main@sha1:{SHA}"),
        AgentRow("Application", "argocd", "shop", "450796dd", "Synced/Healthy", Meaning.OK, "Synced and Healthy"),
    ]  # fmt: skip
    assert [row.short_kind for row in rows] == ["gitrepo", "ks", "app"]
    assert [row.source for row in rows] == [True, False, False]
    assert rows[1].key == "Kustomization/flux-system/shop"


def test_flux_states_mean_working_failing_or_suspended() -> None:
    working = flux("Kustomization", "a", ready("Unknown", "Progressing", "Reconciliation in progress"))
    waiting = flux("Kustomization", "b", ready("False", "DependencyNotReady", "dependency 'x' is not ready"))
    failing = flux("Kustomization", "c", ready("False", "BuildFailed", "kustomize build failed:\n  accumulating"))
    stale = flux("Kustomization", "d", ready("True", "ReconciliationSucceeded", "Applied", observed=0))
    new = flux("GitRepository", "e")
    paused = flux("Kustomization", "f", ready("True", "ReconciliationSucceeded", "Applied"), suspend=True)
    assert [agent_meaning(obj) for obj in (working, waiting, failing, stale, new)] == [
        Meaning.PENDING,
        Meaning.PENDING,
        Meaning.ERROR,
        Meaning.PENDING,
        Meaning.PENDING,
    ]
    rows = {row.name: row for row in agent_rows([failing, paused, new])}
    assert rows["c"].message == "kustomize build failed: accumulating", "one line"
    assert (rows["f"].ready, rows["f"].meaning, rows["f"].suspended) == ("True, suspended", Meaning.KILLED, True)
    assert (rows["e"].revision, rows["e"].ready) == ("-", "Unknown")


def test_argo_cd_states_mean_working_failing_or_ok() -> None:
    assert agent_meaning(application("a", "OutOfSync", "Healthy")) == Meaning.PENDING
    assert agent_meaning(application("b", "Synced", "Progressing")) == Meaning.PENDING
    assert agent_meaning(application("c", "Synced", "Degraded")) == Meaning.ERROR
    assert agent_meaning(application("d", "OutOfSync", "Missing")) == Meaning.ERROR
    assert agent_meaning(application("e", "OutOfSync", "Healthy", operationState={"phase": "Failed"})) == (
        Meaning.ERROR
    )
    broken = application("f", "Unknown", "Healthy", conditions=[{"type": "ComparisonError", "message": "no repo"}])
    assert agent_meaning(broken) == Meaning.ERROR
    assert agent_rows([broken])[0].message == "no repo"


def test_other_kinds_are_ignored_and_an_unreadable_status_is_said_not_raised() -> None:
    odd = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": "x"}, "status": "?"}
    other = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "y"}}
    assert agent_rows([odd, other, {"kind": "Kustomization"}]) == [
        AgentRow("Application", "", "x", "-", "Unknown", Meaning.ERROR, "unreadable status")
    ]
