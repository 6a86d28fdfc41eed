"""Embedded Flux against the embedded cluster and the real Git server: what a learner does and sees.

One set of agents runs for the whole module (Timing scale 0.01: an interval of 1m is 0.6 s); each test works
in its own namespace with its own repository.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from .conftest import Cluster
from .gitops_support import GitOpsLab, Workspace, gitops_lab

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lab(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitOpsLab]:
    with gitops_lab(cluster, tmp_path_factory.mktemp("flux")) as started, started.running("flux"):
        yield started


# Manifests ---------------------------------------------------------------------------------------------------


def configmap(name: str, namespace: str, data: dict[str, str] | None = None, **metadata: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, **metadata},
        "data": data or {"key": name},
    }


def deployment(name: str, namespace: str, image: str = "nginx:1.25", replicas: int = 1) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "web", "image": image}]}},
        },
    }


def git_repository(lab: GitOpsLab, repo: Workspace, namespace: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": {"name": "repo", "namespace": namespace},
        "spec": {
            "url": lab.url(repo.name),
            "interval": "1m",
            "ref": {"branch": "main"},
            "secretRef": {"name": lab.deploy_secret(namespace)},
            **spec,
        },
    }


def kustomization(name: str, namespace: str, path: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "interval": "10m",
            "path": path,
            "prune": True,
            "sourceRef": {"kind": "GitRepository", "name": "repo"},
            **spec,
        },
    }


# Reading state ---------------------------------------------------------------------------------------------------


def condition(obj: dict[str, Any] | None, type_: str = "Ready") -> dict[str, Any]:
    for item in ((obj or {}).get("status") or {}).get("conditions") or []:
        if item.get("type") == type_:
            return item
    return {}


def applied(lab: GitOpsLab, name: str, namespace: str, sha: str) -> dict[str, Any] | None:
    """The Kustomization once it is Ready at commit `sha`."""
    ks = lab.get("kustomization", name, namespace)
    ready = condition(ks).get("status") == "True"
    return ks if ready and (ks or {})["status"].get("lastAppliedRevision") == f"main@sha1:{sha}" else None


def wait_applied(lab: GitOpsLab, name: str, namespace: str, sha: str, timeout: float = 20) -> dict[str, Any]:
    try:
        return lab.wait_for(lambda: applied(lab, name, namespace, sha), timeout, f"{name} applied at {sha[:8]}")
    except AssertionError as err:
        raise AssertionError(f"{err}; Ready is {condition(lab.get('kustomization', name, namespace))}") from None


def wait_reason(lab: GitOpsLab, name: str, namespace: str, reason: str, timeout: float = 20) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        ks = lab.get("kustomization", name, namespace)
        return ks if condition(ks).get("reason") == reason else None

    return lab.wait_for(check, timeout, f"{name} with Ready reason {reason}")


def exists(lab: GitOpsLab, kind: str, name: str, namespace: str) -> bool:
    return lab.get(kind, name, namespace) is not None


def events(lab: GitOpsLab, namespace: str, name: str) -> list[dict[str, Any]]:
    out = lab.kubectl("get", "events", "-n", namespace, "-o", "json").stdout
    items = json.loads(out)["items"]
    return [e for e in items if e["involvedObject"].get("name") == name]


def finished(lab: GitOpsLab, namespace: str, name: str) -> list[dict[str, Any]]:
    return [e for e in events(lab, namespace, name) if e["reason"] == "ReconciliationSucceeded"]


def start(lab: GitOpsLab, ns: str, files: dict[str, Any], *kustomizations: dict[str, Any]) -> tuple[Workspace, str]:
    """A repository, its GitRepository with an artifact, then the Kustomizations (so their first run applies)."""
    repo = lab.repo(files)
    lab.apply(git_repository(lab, repo, ns))
    head = repo.head()
    lab.wait_for(lambda: condition(lab.get("gitrepository", "repo", ns)).get("status") == "True", 10, "the artifact")
    if kustomizations:
        lab.apply(*kustomizations)
    return repo, head


# A push is applied -----------------------------------------------------------------------------------------------


def test_a_push_is_applied_with_flux_status_events_and_inventory(lab: GitOpsLab, ns: str) -> None:
    repo, head = start(lab, ns, {"apps/a.yaml": configmap("a", ns)}, kustomization("apps", ns, "./apps"))
    ks = wait_applied(lab, "apps", ns, head)

    assert condition(ks) | {"lastTransitionTime": None, "observedGeneration": None} == {
        "type": "Ready",
        "status": "True",
        "reason": "ReconciliationSucceeded",
        "message": f"Applied revision: main@sha1:{head}",
        "lastTransitionTime": None,
        "observedGeneration": None,
    }
    assert ks["status"]["inventory"] == {"entries": [{"id": f"{ns}_a__ConfigMap", "v": "v1"}]}
    assert ks["status"]["lastAttemptedRevision"] == f"main@sha1:{head}"
    assert ks["status"]["observedGeneration"] == ks["metadata"]["generation"]
    assert "finalizers.fluxcd.io" in ks["metadata"]["finalizers"]
    assert not condition(ks, "Reconciling")
    labels = lab.get("configmap", "a", ns)["metadata"]["labels"]
    assert labels == {"kustomize.toolkit.fluxcd.io/name": "apps", "kustomize.toolkit.fluxcd.io/namespace": ns}

    source = lab.get("gitrepository", "repo", ns)
    artifact = source["status"]["artifact"]
    assert artifact["revision"] == f"main@sha1:{head}"
    assert artifact["path"] == f"gitrepository/{ns}/repo/{head}.tar.gz"
    assert artifact["url"] == f"http://source-controller.flux-system.svc.cluster.local./{artifact['path']}"
    assert artifact["digest"].startswith("sha256:") and len(artifact["digest"]) == 71
    assert artifact["size"] > 0 and artifact["lastUpdateTime"].endswith("Z")
    assert condition(source)["message"] == f"stored artifact for revision 'main@sha1:{head}'"
    assert condition(source, "ArtifactInStorage")["reason"] == "Succeeded"

    repo.write("apps/a.yaml", configmap("a", ns, {"key": "changed"})).write("apps/b.yaml", configmap("b", ns))
    pushed = time.monotonic()
    second = repo.push("Add b")
    wait_applied(lab, "apps", ns, second, timeout=10)
    assert time.monotonic() - pushed < 5, "a push goes live without waiting for the 10m interval"
    assert lab.get("configmap", "a", ns)["data"] == {"key": "changed"}

    messages = {e["reason"]: e["message"] for e in events(lab, ns, "apps") if "\n" in e["message"]}
    assert messages.get("Progressing") == f"ConfigMap/{ns}/a configured\nConfigMap/{ns}/b created"
    runs = finished(lab, ns, "apps")
    assert runs and all(e["message"].endswith(", next run in 10m0s") for e in runs)
    assert runs[0]["message"].startswith("Reconciliation finished in ")
    new_artifact = [e for e in events(lab, ns, "repo") if e["reason"] == "NewArtifact"]
    assert {e["message"] for e in new_artifact} >= {"stored artifact for commit 'Add b'"}


def test_wrong_credentials_fail_the_fetch_with_flux_conditions(lab: GitOpsLab, ns: str) -> None:
    repo = lab.repo({"a.yaml": configmap("a", ns)})
    lab.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "wrong", "namespace": ns},
            "stringData": {"username": "deploy", "password": "not-the-password"},
        },
        git_repository(lab, repo, ns, secretRef={"name": "wrong"}),
    )

    def failed() -> dict[str, Any] | None:
        source = lab.get("gitrepository", "repo", ns)
        return source if condition(source, "FetchFailed").get("status") == "True" else None

    source = lab.wait_for(failed, 10, "the fetch to fail")
    ready = condition(source)
    assert (ready["status"], ready["reason"]) == ("False", "GitOperationFailed")
    assert ready["message"] == (
        f"failed to checkout and determine revision: unable to clone '{lab.url(repo.name)}': authentication required"
    )
    assert condition(source, "Reconciling")["reason"] == "ProgressingWithRetry"
    assert "artifact" not in source["status"]


# Prune -----------------------------------------------------------------------------------------------------------


def test_a_removed_manifest_is_pruned_only_with_prune_true(lab: GitOpsLab, ns: str) -> None:
    files = {f"{folder}/{name}.yaml": configmap(f"{folder}-{name}", ns) for folder in ("on", "off") for name in "ab"}
    repo, head = start(
        lab, ns, files, kustomization("pruning", ns, "./on"), kustomization("keeping", ns, "./off", prune=False)
    )
    wait_applied(lab, "pruning", ns, head)
    wait_applied(lab, "keeping", ns, head)

    second = repo.remove("on/b.yaml").remove("off/b.yaml").push("Remove b")
    ks = wait_applied(lab, "pruning", ns, second)
    kept = wait_applied(lab, "keeping", ns, second)

    assert not exists(lab, "configmap", "on-b", ns)
    assert exists(lab, "configmap", "off-b", ns), "prune: false never deletes"
    assert ks["status"]["inventory"] == {"entries": [{"id": f"{ns}_on-a__ConfigMap", "v": "v1"}]}
    assert kept["status"]["inventory"] == {"entries": [{"id": f"{ns}_off-a__ConfigMap", "v": "v1"}]}
    assert f"ConfigMap/{ns}/on-b deleted" in {e["message"] for e in events(lab, ns, "pruning")}


def test_prune_disabled_and_lost_labels_survive(lab: GitOpsLab, ns: str) -> None:
    protected = configmap("protected", ns, annotations={"kustomize.toolkit.fluxcd.io/prune": "disabled"})
    files = {"apps/protected.yaml": protected, "apps/relabelled.yaml": configmap("relabelled", ns)}
    files |= {"apps/plain.yaml": configmap("plain", ns), "apps/kept.yaml": configmap("kept", ns)}
    repo, head = start(lab, ns, files, kustomization("apps", ns, "./apps"))
    wait_applied(lab, "apps", ns, head)
    lab.kubectl("label", "configmap", "relabelled", "-n", ns, "kustomize.toolkit.fluxcd.io/name-")

    second = repo.remove("apps/protected.yaml").remove("apps/relabelled.yaml").remove("apps/plain.yaml").push("All")
    wait_applied(lab, "apps", ns, second)

    assert exists(lab, "configmap", "protected", ns)
    assert exists(lab, "configmap", "relabelled", ns)
    assert not exists(lab, "configmap", "plain", ns)
    pruned = next(e["message"] for e in events(lab, ns, "apps") if "plain deleted" in e["message"])
    assert f"ConfigMap/{ns}/protected skipped" in pruned.splitlines()


# Build errors and empty builds -----------------------------------------------------------------------------------


def test_a_build_error_keeps_everything_then_an_empty_build_prunes_everything(lab: GitOpsLab, ns: str) -> None:
    repo, head = start(
        lab,
        ns,
        {"apps/a.yaml": configmap("a", ns), "apps/b.yaml": configmap("b", ns)},
        kustomization("apps", ns, "./apps"),
    )
    before = wait_applied(lab, "apps", ns, head)["status"]["inventory"]

    broken = repo.write("apps/kustomization.yaml", "resources: [a.yaml, missing.yaml]\n").push("Broken")
    ks = wait_reason(lab, "apps", ns, "BuildFailed")
    assert condition(ks)["message"].startswith("kustomize build failed: ")
    assert "missing.yaml" in condition(ks)["message"]
    assert ks["status"]["lastAttemptedRevision"] == f"main@sha1:{broken}"
    assert ks["status"]["lastAppliedRevision"] == f"main@sha1:{head}"
    assert ks["status"]["inventory"] == before
    assert exists(lab, "configmap", "a", ns) and exists(lab, "configmap", "b", ns)
    assert condition(ks, "Reconciling")["reason"] == "ProgressingWithRetry"
    warnings = [e for e in events(lab, ns, "apps") if e["type"] == "Warning"]
    assert warnings and warnings[0]["reason"] == "BuildFailed"

    empty = repo.write("apps/kustomization.yaml", "resources: []\n").push("Empty")
    ks = wait_applied(lab, "apps", ns, empty)
    assert ks["status"]["inventory"] == {"entries": []}
    assert not exists(lab, "configmap", "a", ns) and not exists(lab, "configmap", "b", ns)


# Suspend, dependsOn ----------------------------------------------------------------------------------------------


def test_suspend_stops_reconciliation_until_resumed(lab: GitOpsLab, ns: str) -> None:
    repo, head = start(lab, ns, {"apps/a.yaml": configmap("a", ns)}, kustomization("apps", ns, "./apps"))
    wait_applied(lab, "apps", ns, head)
    lab.kubectl("patch", "kustomization", "apps", "-n", ns, "--type=merge", "-p", '{"spec":{"suspend":true}}')

    second = repo.write("apps/b.yaml", configmap("b", ns)).push("Add b while suspended")
    lab.wait_for(
        lambda: lab.get("gitrepository", "repo", ns)["status"]["artifact"]["revision"] == f"main@sha1:{second}",
        10,
        "the source to fetch the new commit",
    )
    lab.kubectl("annotate", "kustomization", "apps", "-n", ns, "reconcile.fluxcd.io/requestedAt=now", "--overwrite")
    ks = lab.get("kustomization", "apps", ns)
    assert not exists(lab, "configmap", "b", ns)
    assert ks["status"]["lastAppliedRevision"] == f"main@sha1:{head}"

    lab.kubectl("patch", "kustomization", "apps", "-n", ns, "--type=merge", "-p", '{"spec":{"suspend":false}}')
    ks = wait_applied(lab, "apps", ns, second)
    assert exists(lab, "configmap", "b", ns)
    assert ks["status"]["lastHandledReconcileAt"] == "now"


def test_depends_on_orders_the_applies(lab: GitOpsLab, ns: str) -> None:
    files = {"base/a.yaml": configmap("base", ns), "app/b.yaml": configmap("app", ns)}
    app = kustomization("app", ns, "./app", dependsOn=[{"name": "base"}])
    repo = lab.repo(files)
    lab.apply(app, git_repository(lab, repo, ns))
    ks = wait_reason(lab, "app", ns, "DependencyNotReady")
    assert condition(ks)["message"] == f"dependency '{ns}/base' not found: " + (
        'kustomizations.kustomize.toolkit.fluxcd.io "base" not found'
    )
    assert not exists(lab, "configmap", "app", ns)

    lab.apply(kustomization("base", ns, "./base"))
    head = repo.head()
    base = wait_applied(lab, "base", ns, head)
    ks = wait_applied(lab, "app", ns, head)
    app_created = lab.get("configmap", "app", ns)["metadata"]["creationTimestamp"]
    assert app_created >= lab.get("configmap", "base", ns)["metadata"]["creationTimestamp"]
    assert base["status"]["lastAppliedRevision"] == ks["status"]["lastAppliedRevision"]
    waiting = [e for e in events(lab, ns, "app") if e["reason"] == "DependencyNotReady"]
    assert waiting and waiting[0]["message"] == "Dependencies do not meet ready condition, retrying in 30s"


# Per-object controls ----------------------------------------------------------------------------------------------


def test_target_namespace_if_not_present_and_reconcile_disabled(lab: GitOpsLab, ns: str) -> None:
    once = configmap("once", "elsewhere", annotations={"kustomize.toolkit.fluxcd.io/ssa": "IfNotPresent"})
    frozen = configmap("frozen", "elsewhere", annotations={"kustomize.toolkit.fluxcd.io/reconcile": "disabled"})
    files = {"apps/once.yaml": once, "apps/frozen.yaml": frozen, "apps/plain.yaml": configmap("plain", "elsewhere")}
    repo, head = start(lab, ns, files, kustomization("apps", ns, "./apps", targetNamespace=ns))
    wait_applied(lab, "apps", ns, head)

    assert exists(lab, "configmap", "plain", ns) and exists(lab, "configmap", "once", ns)
    assert not exists(lab, "configmap", "frozen", ns), "reconcile: disabled is never applied"

    changed = dict(once, data={"key": "changed"})
    second = repo.write("apps/once.yaml", changed).write("apps/plain.yaml", configmap("plain", ns, {"k": "v"})).push()
    wait_applied(lab, "apps", ns, second)
    assert lab.get("configmap", "plain", ns)["data"] == {"k": "v"}
    assert lab.get("configmap", "once", ns)["data"] == {"key": "once"}, "IfNotPresent never updates"


# Drift -------------------------------------------------------------------------------------------------------------


def test_a_kubectl_edit_is_reverted_on_the_next_interval_not_before(lab: GitOpsLab, ns: str) -> None:
    # 3m20s scales to 2 s: long enough to see the edit survive, short enough for a quick test.
    ks = kustomization("apps", ns, "./apps", interval="3m20s")
    _repo, head = start(lab, ns, {"apps/a.yaml": configmap("a", ns)}, ks)
    wait_applied(lab, "apps", ns, head)
    runs = len(finished(lab, ns, "apps"))
    lab.wait_for(lambda: len(finished(lab, ns, "apps")) > runs, 10, "the next interval run")
    handled = time.monotonic()
    lab.kubectl("patch", "configmap", "a", "-n", ns, "--type=merge", "-p", '{"data":{"key":"edited","extra":"x"}}')
    assert lab.get("configmap", "a", ns)["data"] == {"key": "edited", "extra": "x"}

    lab.wait_for(lambda: lab.get("configmap", "a", ns)["data"] == {"key": "a"}, 10, "the edit to be reverted")
    assert time.monotonic() - handled > 1.0, "reverted by the next interval run, not as soon as it was made"
    shown = lab.kubectl("get", "configmap", "a", "-n", ns, "-o", "json", "--show-managed-fields").stdout
    managers = {m["manager"] for m in json.loads(shown)["metadata"]["managedFields"]}
    assert managers == {"kustomize-controller"}


# The outage --------------------------------------------------------------------------------------------------------


def test_a_kustomization_yaml_listing_one_file_prunes_the_rest_and_the_children(lab: GitOpsLab, ns: str) -> None:
    files = {
        "cluster/components.yaml": configmap("flux-components", ns),
        "cluster/app.yaml": configmap("app", ns),
        "cluster/monitoring.yaml": kustomization("monitoring", ns, "./monitoring"),
        "monitoring/prometheus.yaml": configmap("prometheus", ns),
    }
    repo, head = start(lab, ns, files, kustomization("root", ns, "./cluster"))
    wait_applied(lab, "root", ns, head)
    wait_applied(lab, "monitoring", ns, head)
    assert exists(lab, "configmap", "prometheus", ns)

    repo.write("cluster/kustomization.yaml", "resources: [components.yaml]\n").push("Only the components")
    lab.wait_for(lambda: not exists(lab, "configmap", "prometheus", ns), 15, "the cascade to reach prometheus")

    assert exists(lab, "configmap", "flux-components", ns)
    assert not exists(lab, "configmap", "app", ns)
    assert not exists(lab, "kustomization", "monitoring", ns)


# Health ----------------------------------------------------------------------------------------------------------


def test_health_follows_the_rollout(lab: GitOpsLab, ns: str) -> None:
    ks = kustomization("apps", ns, "./apps", wait=True, timeout="3m")
    repo, head = start(lab, ns, {"apps/web.yaml": deployment("web", ns)}, ks)
    ready = wait_applied(lab, "apps", ns, head, timeout=30)
    healthy = condition(ready, "Healthy")
    assert (healthy["status"], healthy["reason"]) == ("True", "Succeeded")
    assert healthy["message"].startswith("Health check passed in ")
    deploy = lab.get("deployment", "web", ns)
    assert deploy["status"].get("readyReplicas") == 1

    repo.write("apps/web.yaml", deployment("web", ns, image="nginx:0.0.0-missing")).push("Bad image")
    failed = wait_reason(lab, "apps", ns, "HealthCheckFailed", timeout=30)
    assert condition(failed)["message"].startswith("health check failed after ")
    assert f"timeout waiting for: [Deployment/{ns}/web status: 'InProgress']" in condition(failed)["message"]
    assert condition(failed, "Healthy")["reason"] == "HealthCheckFailed"
    assert failed["status"]["lastAppliedRevision"] == f"main@sha1:{head}"


# Deletion --------------------------------------------------------------------------------------------------------


def test_deleting_a_kustomization_follows_its_deletion_policy(lab: GitOpsLab, ns: str) -> None:
    files = {"kept/a.yaml": configmap("kept", ns), "gone/a.yaml": configmap("gone", ns)}
    kept = kustomization("kept", ns, "./kept", deletionPolicy="Orphan")
    _repo, head = start(lab, ns, files, kept, kustomization("gone", ns, "./gone"))
    wait_applied(lab, "kept", ns, head)
    wait_applied(lab, "gone", ns, head)

    lab.kubectl("delete", "kustomization", "kept", "gone", "-n", ns, "--timeout=20s")

    assert exists(lab, "configmap", "kept", ns)
    assert not exists(lab, "configmap", "gone", ns)
