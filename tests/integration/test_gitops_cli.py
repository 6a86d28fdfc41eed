"""`driftlab gitops status` and `reconcile`: the agents' view of their objects, and a reconcile on demand."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from engine import proc

from .conftest import Cluster
from .gitops_support import GitOpsLab, gitops_lab
from .test_flux import configmap, kustomization, start, wait_applied

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lab(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitOpsLab]:
    with gitops_lab(cluster, tmp_path_factory.mktemp("gitops-cli")) as started, started.running("flux"):
        yield started


def gitops(lab: GitOpsLab, *args: str) -> proc.Result:
    return proc.run([sys.executable, "-m", "engine.cli", "gitops", *args], env=lab.cluster.env, timeout=60)


def test_status_shows_each_source_and_sync_with_its_revision(lab: GitOpsLab, ns: str) -> None:
    _, head = start(lab, ns, {"apps/a.yaml": configmap("a", ns)}, kustomization("apps", ns, "./apps"))
    wait_applied(lab, "apps", ns, head)
    result = gitops(lab, "status", "-n", ns)
    assert result.returncode == 0, result.stderr
    header, *rows = result.stdout.splitlines()
    assert header.split() == ["KIND", "NAME", "REVISION", "SUSPENDED", "READY", "MESSAGE"]
    source = next(row for row in rows if row.startswith("GitRepository"))
    sync = next(row for row in rows if row.startswith("Kustomization"))
    assert f"{ns}/repo" in source and f"main@sha1:{head[:8]} " in source
    assert f"{ns}/apps" in sync and "True" in sync and f"Applied revision: main@sha1:{head}" in sync


def test_status_exits_1_when_a_sync_is_not_ready(lab: GitOpsLab, ns: str) -> None:
    start(lab, ns, {"apps/a.yaml": configmap("a", ns)}, kustomization("apps", ns, "./missing"))
    lab.wait_for(lambda: "kustomization path not found" in gitops(lab, "status", "-n", ns).stdout, 20, "the failure")
    assert gitops(lab, "status", "-n", ns).returncode == 1


def test_reconcile_asks_now_and_reports_the_revision(lab: GitOpsLab, ns: str) -> None:
    _, head = start(lab, ns, {"apps/a.yaml": configmap("a", ns)}, kustomization("apps", ns, "./apps", interval="1h"))
    wait_applied(lab, "apps", ns, head)
    lab.kubectl("patch", "configmap", "a", "-n", ns, "--type=merge", "-p", '{"data":{"key":"edited"}}')
    result = gitops(lab, "reconcile", "ks/apps", "-n", ns, "--with-source")
    assert result.returncode == 0, result.stderr
    assert f"✔ Kustomization {ns}/apps reconciled: revision main@sha1:{head}" in result.stderr
    assert lab.get("configmap", "a", ns)["data"] == {"key": "a"}, "the kubectl edit was reverted by the reconcile"
    handled = lab.get("kustomization", "apps", ns)["status"]["lastHandledReconcileAt"]
    assert handled == lab.get("kustomization", "apps", ns)["metadata"]["annotations"]["reconcile.fluxcd.io/requestedAt"]


def test_reconcile_of_a_suspended_kustomization_is_refused(lab: GitOpsLab, ns: str) -> None:
    start(lab, ns, {"apps/a.yaml": configmap("a", ns)}, kustomization("apps", ns, "./apps", suspend=True))
    result = gitops(lab, "reconcile", "ks/apps", "-n", ns)
    assert result.returncode == 1
    assert "resource is suspended" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_kinds_and_objects_are_clear_errors(lab: GitOpsLab, ns: str) -> None:
    assert "unknown kind 'helmrelease'" in gitops(lab, "reconcile", "helmrelease/x", "-n", ns).stderr
    missing = gitops(lab, "reconcile", "ks/nope", "-n", ns)
    assert missing.returncode == 1 and f"Kustomization {ns}/nope not found" in missing.stderr
