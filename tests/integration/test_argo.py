"""The embedded Argo CD against the embedded cluster and the real Git server, as a learner would drive it.

Every test creates a repository, a repository Secret and an Application in a fresh namespace, runs the agent
(intervals scaled by 0.01, so the 2-3 minute poll takes under 2 s) and watches what `kubectl` shows: the
objects, the Application's status fields, its events.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.gitops.controller import Timing

from .conftest import Cluster
from .gitops_support import GitOpsLab, Workspace, gitops_lab

FINALIZER = "resources-finalizer.argocd.argoproj.io"


@pytest.fixture
def lab(cluster: Cluster, tmp_path: Path) -> Iterator[GitOpsLab]:
    with gitops_lab(cluster, tmp_path) as started:
        yield started


def push_quietly(repo: Workspace, message: str) -> str:
    """Commit and push straight into the bare repository, as if the push event were lost (no refresh follows)."""
    repo.lab.git("add", "-A", cwd=repo.path)
    repo.lab.git("commit", "-q", "-m", message, cwd=repo.path)
    repo.lab.git("push", "-q", str(repo.lab.root / f"{repo.name}.git"), "HEAD:main", cwd=repo.path)
    return repo.head()


def config_map(name: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def deployment(name: str, image: str = "nginx:1.25", replicas: int = 1, **spec: Any) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": name, "image": image}]}},
            **spec,
        },
    }


def repository_secret(lab: GitOpsLab, ns: str, url: str) -> None:
    """A declarative repository Secret, as Argo CD's docs describe it, with the lab's deploy account."""
    deploy = lab.credentials.deploy
    labels = {"argocd.argoproj.io/secret-type": "repository"}
    lab.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": f"repo-{url.rsplit('/', 1)[-1][:-4]}", "namespace": ns, "labels": labels},
            "stringData": {"type": "git", "url": url, "username": deploy.username, "password": deploy.password},
        }
    )


def application(
    lab: GitOpsLab,
    ns: str,
    repo: str,
    *,
    name: str = "shop",
    path: str = "apps",
    destination: str | None = None,
    automated: dict[str, Any] | None = None,
    options: list[str] | None = None,
    retry: dict[str, Any] | None = None,
    finalizer: bool = False,
) -> None:
    url = lab.url(repo)
    repository_secret(lab, ns, url)
    spec: dict[str, Any] = {
        "project": "default",
        "source": {"repoURL": url, "path": path, "targetRevision": "HEAD"},
        "destination": {"server": "https://kubernetes.default.svc", "namespace": destination or ns},
    }
    policy: dict[str, Any] = {}
    if automated is not None:
        policy["automated"] = automated
    if options:
        policy["syncOptions"] = options
    if retry:
        policy["retry"] = retry
    if policy:
        spec["syncPolicy"] = policy
    metadata: dict[str, Any] = {"name": name, "namespace": ns}
    if finalizer:
        metadata["finalizers"] = [FINALIZER]
    lab.apply({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": metadata, "spec": spec})


def app_status(lab: GitOpsLab, ns: str, name: str = "shop") -> dict[str, Any]:
    return (lab.get("application", name, ns) or {}).get("status") or {}


def jsonpath(lab: GitOpsLab, ns: str, path: str, name: str = "shop") -> str:
    return lab.kubectl("get", "application", name, "-n", ns, "-o", f"jsonpath={{{path}}}").stdout


def synced_at(lab: GitOpsLab, ns: str, sha: str, name: str = "shop") -> bool:
    sync = app_status(lab, ns, name).get("sync") or {}
    return sync.get("status") == "Synced" and sync.get("revision") == sha


def events(lab: GitOpsLab, ns: str) -> list[str]:
    listed = json.loads(lab.kubectl("get", "events", "-n", ns, "-o", "json").stdout)["items"]
    return [f"{e['reason']}: {e['message']}" for e in listed if e["involvedObject"]["kind"] == "Application"]


def test_a_push_is_synced_and_the_status_reads_like_argo_cd(lab: GitOpsLab, ns: str) -> None:
    repo = lab.repo({"apps/config.yaml": config_map("settings", color="blue")})
    with lab.running("argocd"):
        application(lab, ns, repo.name, automated={})
        first = repo.head()
        lab.wait_for(lambda: synced_at(lab, ns, first), what="the first revision synced")
        repo.write("apps/config.yaml", config_map("settings", color="green")).push("Green")
        second = repo.head()
        lab.wait_for(lambda: synced_at(lab, ns, second), what="the pushed revision synced")
        live = lab.get("configmap", "settings", ns) or {}
        assert live["data"] == {"color": "green"}
        assert (
            live["metadata"]["annotations"]["argocd.argoproj.io/tracking-id"] == f"{ns}_shop:/ConfigMap:{ns}/settings"
        )
        status = app_status(lab, ns)
        assert jsonpath(lab, ns, ".status.sync.status") == "Synced"
        assert status["health"]["status"] == "Healthy"
        assert status["sourceType"] == "Directory"
        assert status["sync"]["comparedTo"]["source"]["path"] == "apps"
        assert status["resources"] == [
            {"version": "v1", "kind": "ConfigMap", "namespace": ns, "name": "settings", "status": "Synced"}
        ]
        state = status["operationState"]
        assert state["phase"] == "Succeeded"
        assert state["message"] == "successfully synced (all tasks run)"
        assert state["operation"]["initiatedBy"] == {"automated": True}
        assert state["syncResult"]["revision"] == second
        assert state["syncResult"]["resources"][0]["message"] == "configmap/settings configured"
        assert [h["revision"] for h in status["history"]] == [first, second]
        table = lab.kubectl("get", "applications", "-n", ns).stdout.split()
        assert table[:6] == ["NAME", "SYNC", "STATUS", "HEALTH", "STATUS", "shop"] and table[6:8] == [
            "Synced",
            "Healthy",
        ]
        assert f"OperationCompleted: Sync operation to {second} succeeded" in events(lab, ns)
        assert f"OperationStarted: Initiated automated sync to '{second}'" in events(lab, ns)


def test_a_removed_manifest_is_pruned_only_with_prune(lab: GitOpsLab, ns: str) -> None:
    keep = lab.repo({"apps/a.yaml": config_map("keep-a"), "apps/b.yaml": config_map("keep-b")})
    prune = lab.repo({"apps/a.yaml": config_map("prune-a"), "apps/b.yaml": config_map("prune-b")})
    with lab.running("argocd"):
        application(lab, ns, keep.name, name="keep", automated={"prune": False})
        application(lab, ns, prune.name, name="prune", automated={"prune": True})
        lab.wait_for(lambda: synced_at(lab, ns, keep.head(), "keep") and synced_at(lab, ns, prune.head(), "prune"))
        keep.remove("apps/b.yaml").push("Drop b")
        prune.remove("apps/b.yaml").push("Drop b")
        lab.wait_for(lambda: lab.get("configmap", "prune-b", ns) is None, what="prune-b pruned")
        lab.wait_for(lambda: app_status(lab, ns, "keep")["sync"].get("revision") == keep.head(), what="keep refreshed")
        kept = app_status(lab, ns, "keep")
        assert kept["sync"]["status"] == "OutOfSync"
        stale = next(r for r in kept["resources"] if r["name"] == "keep-b")
        assert stale["status"] == "OutOfSync" and stale["requiresPruning"] is True
        assert lab.get("configmap", "keep-b", ns) is not None
        assert kept["operationState"]["syncResult"]["revision"] != keep.head(), "prune only: no sync is started"
        lab.wait_for(lambda: synced_at(lab, ns, prune.head(), "prune"), what="the prune app synced")
        pruned = app_status(lab, ns, "prune")["operationState"]["syncResult"]["resources"]
        assert [(r["name"], r["status"], r["message"]) for r in pruned] == [
            ("prune-b", "Pruned", "pruned"),
            ("prune-a", "Synced", "configmap/prune-a unchanged"),
        ]


def test_an_empty_build_is_refused_without_allow_empty(lab: GitOpsLab, ns: str) -> None:
    guarded = lab.repo({"apps/a.yaml": config_map("guarded"), "README.md": "docs"})
    allowed = lab.repo({"apps/a.yaml": config_map("allowed"), "README.md": "docs"})
    with lab.running("argocd"):
        application(lab, ns, guarded.name, name="guarded", automated={"prune": True})
        application(lab, ns, allowed.name, name="allowed", automated={"prune": True, "allowEmpty": True})
        lab.wait_for(
            lambda: synced_at(lab, ns, guarded.head(), "guarded") and synced_at(lab, ns, allowed.head(), "allowed")
        )
        guarded.remove("apps/a.yaml").write("apps/.keep", "").push("Empty")
        allowed.remove("apps/a.yaml").write("apps/.keep", "").push("Empty")
        lab.wait_for(lambda: lab.get("configmap", "allowed", ns) is None, what="the allowEmpty app pruned everything")
        lab.wait_for(lambda: synced_at(lab, ns, allowed.head(), "allowed"), what="the allowEmpty app synced")
        message = f"Skipping sync attempt to [{guarded.head()}]: auto-sync will wipe out all resources"

        def refused() -> bool:
            conditions = app_status(lab, ns, "guarded").get("conditions") or []
            return any(c["type"] == "SyncError" and c["message"] == message for c in conditions)

        lab.wait_for(refused, what="the SyncError condition")
        assert lab.get("configmap", "guarded", ns) is not None
        assert app_status(lab, ns, "guarded")["sync"]["status"] == "OutOfSync"


def test_self_heal_reverts_a_manual_edit_and_without_it_the_app_goes_out_of_sync(lab: GitOpsLab, ns: str) -> None:
    healing = lab.repo({"apps/web.yaml": deployment("healing", replicas=2)})
    drifting = lab.repo({"apps/web.yaml": deployment("drifting", replicas=2)})
    with lab.running("argocd"):
        application(lab, ns, healing.name, name="healing", automated={"selfHeal": True})
        application(lab, ns, drifting.name, name="drifting", automated={})
        lab.wait_for(
            lambda: synced_at(lab, ns, healing.head(), "healing") and synced_at(lab, ns, drifting.head(), "drifting")
        )
        lab.kubectl("scale", "deployment/healing", "deployment/drifting", "--replicas=5", "-n", ns)
        lab.wait_for(
            lambda: app_status(lab, ns, "drifting")["sync"]["status"] == "OutOfSync", what="drifting OutOfSync"
        )
        lab.wait_for(
            lambda: (lab.get("deployment", "healing", ns) or {})["spec"]["replicas"] == 2, what="the edit reverted"
        )
        lab.wait_for(lambda: synced_at(lab, ns, healing.head(), "healing"), what="healing back in sync")
        healed = app_status(lab, ns, "healing")["operationState"]
        assert healed["operation"]["sync"]["selfHealAttemptsCount"] == 1
        assert healed["operation"]["sync"]["resources"] == [
            {"group": "apps", "kind": "Deployment", "name": "healing", "namespace": ns}
        ]
        assert (lab.get("deployment", "drifting", ns) or {})["spec"]["replicas"] == 5
        drift = next(r for r in app_status(lab, ns, "drifting")["resources"] if r["kind"] == "Deployment")
        assert drift["status"] == "OutOfSync"
        assert "ResourceUpdated: Updated sync status: Synced -> OutOfSync" in events(lab, ns)


def test_health_follows_a_rollout_and_a_bad_image_degrades_after_the_progress_deadline(lab: GitOpsLab, ns: str) -> None:
    repo = lab.repo({"apps/web.yaml": deployment("web", replicas=2, minReadySeconds=2)})
    with lab.running("argocd"):
        application(lab, ns, repo.name, automated={})
        lab.wait_for(lambda: synced_at(lab, ns, repo.head()) and app_status(lab, ns)["health"]["status"] == "Healthy")
        assert "ResourceUpdated: Updated health status: Progressing -> Healthy" in events(lab, ns)
        bad = deployment("web", "nginx:0.0-missing", replicas=2, progressDeadlineSeconds=1)
        repo.write("apps/web.yaml", bad)
        repo.push("A tag that does not exist")
        lab.wait_for(lambda: synced_at(lab, ns, repo.head()), what="the bad image synced")
        lab.wait_for(lambda: jsonpath(lab, ns, ".status.health.status") == "Degraded", what="Degraded", timeout=30)
        web = next(r for r in app_status(lab, ns)["resources"] if r["kind"] == "Deployment")
        assert web["health"] == {"status": "Degraded", "message": 'Deployment "web" exceeded its progress deadline'}
        assert any(e.endswith("-> Degraded") for e in events(lab, ns) if e.startswith("ResourceUpdated"))


def test_a_failed_revision_is_not_retried_until_a_new_one_comes(lab: GitOpsLab, ns: str) -> None:
    broken = deployment("web", replicas=-1)
    repo = lab.repo({"apps/web.yaml": broken})
    with lab.running("argocd"):
        application(lab, ns, repo.name, automated={}, retry={"limit": 1, "backoff": {"duration": "1s"}})
        failure = "one or more objects failed to apply (dry run) (retried 1 times)."
        wanted = f"Failed last sync attempt to [{repo.head()}]: {failure}"

        def sync_error() -> str:
            found = [c["message"] for c in app_status(lab, ns).get("conditions") or [] if c["type"] == "SyncError"]
            return found[0] if found else ""

        lab.wait_for(lambda: sync_error() == wanted, what="the SyncError condition")
        failed = app_status(lab, ns)["operationState"]
        assert failed["phase"] == "Failed" and failed["retryCount"] == 1
        result = failed["syncResult"]["resources"][0]
        assert result["status"] == "SyncFailed" and "spec.replicas" in result["message"]
        seen = app_status(lab, ns)["reconciledAt"]
        lab.wait_for(lambda: app_status(lab, ns)["reconciledAt"] != seen, what="another poll")
        assert app_status(lab, ns)["operationState"] == failed
        assert lab.get("deployment", "web", ns) is None
        repo.write("apps/web.yaml", deployment("web")).push("Fix replicas")
        lab.wait_for(lambda: synced_at(lab, ns, repo.head()), what="the fixed revision synced")
        assert sync_error() == ""


def test_create_namespace_creates_the_destination_namespace(lab: GitOpsLab, ns: str) -> None:
    target = f"{ns}-dest"
    repo = lab.repo({"apps/config.yaml": config_map("settings")})
    with lab.running("argocd"):
        application(lab, ns, repo.name, destination=target, automated={}, options=["CreateNamespace=true"])
        try:
            lab.wait_for(lambda: synced_at(lab, ns, repo.head()), what="synced into a new namespace")
            assert lab.get("configmap", "settings", target) is not None
            first = app_status(lab, ns)["operationState"]["syncResult"]["resources"][0]
            assert (first["kind"], first["name"], first["message"], first["syncPhase"]) == (
                "Namespace",
                target,
                f"namespace/{target} created",
                "PreSync",
            )
        finally:
            lab.kubectl("delete", "namespace", target, "--wait=false", check=False)


def test_without_create_namespace_a_missing_namespace_fails_the_sync(lab: GitOpsLab, ns: str) -> None:
    repo = lab.repo({"apps/config.yaml": config_map("settings")})
    with lab.running("argocd"):
        application(lab, ns, repo.name, destination=f"{ns}-absent", automated={})
        lab.wait_for(lambda: app_status(lab, ns).get("operationState", {}).get("phase") == "Running", what="a retry")
        message = app_status(lab, ns)["operationState"]["syncResult"]["resources"][0]["message"]
        assert message == f'namespaces "{ns}-absent" not found'


def test_the_refresh_annotation_compares_with_git_now_and_is_removed(lab: GitOpsLab, ns: str) -> None:
    repo = lab.repo({"apps/config.yaml": config_map("settings")})
    with lab.running("argocd", timing=Timing(scale=1.0)):
        application(lab, ns, repo.name)
        first = repo.head()
        lab.wait_for(lambda: app_status(lab, ns).get("sync", {}).get("revision") == first, what="the first refresh")
        assert jsonpath(lab, ns, ".status.sync.status") == "OutOfSync"
        push_quietly(repo.write("apps/more.yaml", config_map("more")), "More, without a push event")
        second = repo.head()
        assert app_status(lab, ns)["sync"]["revision"] == first, "the next poll is minutes away"
        lab.kubectl("annotate", "application", "shop", "-n", ns, "argocd.argoproj.io/refresh=hard")
        lab.wait_for(lambda: app_status(lab, ns)["sync"].get("revision") == second, what="the refreshed revision")
        annotations = (lab.get("application", "shop", ns) or {})["metadata"].get("annotations") or {}
        assert "argocd.argoproj.io/refresh" not in annotations
        assert {r["name"] for r in app_status(lab, ns)["resources"]} == {"settings", "more"}


def test_a_manual_sync_runs_the_operation_argocd_app_sync_sets(lab: GitOpsLab, ns: str) -> None:
    repo = lab.repo({"apps/config.yaml": config_map("settings"), "apps/web.yaml": deployment("web")})
    with lab.running("argocd"):
        application(lab, ns, repo.name)
        lab.wait_for(lambda: app_status(lab, ns).get("health", {}).get("status") == "Missing", what="Missing")
        assert app_status(lab, ns)["sync"]["status"] == "OutOfSync"
        assert lab.get("configmap", "settings", ns) is None
        operation = {"initiatedBy": {"username": "learner"}, "sync": {"revision": "HEAD", "prune": True}}
        lab.kubectl(
            "patch", "application", "shop", "-n", ns, "--type=merge", "-p", json.dumps({"operation": operation})
        )
        lab.wait_for(lambda: synced_at(lab, ns, repo.head()), what="the manual sync")
        app = lab.get("application", "shop", ns) or {}
        assert "operation" not in app
        state = app["status"]["operationState"]
        assert state["operation"]["initiatedBy"] == {"username": "learner"}
        assert [r["message"] for r in state["syncResult"]["resources"]] == [
            "configmap/settings created",
            "deployment.apps/web created",
        ]
        assert app["status"]["history"][0]["initiatedBy"] == {"username": "learner"}
        lab.kubectl("patch", "application", "shop", "-n", ns, "--type=merge", "-p", '{"operation": {"sync": "now"}}')
        lab.wait_for(lambda: app_status(lab, ns)["operationState"]["phase"] == "Failed", what="a malformed operation")
        assert app_status(lab, ns)["operationState"]["message"].startswith("operation.sync is required")


def test_the_finalizer_cascades_and_without_it_objects_are_orphaned(lab: GitOpsLab, ns: str) -> None:
    kept = config_map("kept")
    kept["metadata"]["annotations"] = {"argocd.argoproj.io/sync-options": "Delete=false"}
    cascading = lab.repo(
        {"apps/web.yaml": deployment("cascading"), "apps/config.yaml": config_map("cascading"), "apps/kept.yaml": kept}
    )
    orphaning = lab.repo({"apps/config.yaml": config_map("orphaned")})
    with lab.running("argocd"):
        application(lab, ns, cascading.name, name="cascading", automated={}, finalizer=True)
        application(lab, ns, orphaning.name, name="orphaning", automated={})
        lab.wait_for(
            lambda: (
                synced_at(lab, ns, cascading.head(), "cascading") and synced_at(lab, ns, orphaning.head(), "orphaning")
            )
        )
        lab.kubectl("delete", "application", "cascading", "orphaning", "-n", ns, "--wait=false")
        lab.wait_for(lambda: lab.get("application", "cascading", ns) is None, what="the app deleted after its objects")
        assert lab.get("deployment", "cascading", ns) is None
        assert lab.get("configmap", "cascading", ns) is None
        assert lab.get("configmap", "kept", ns) is not None, "Delete=false keeps an object"
        assert lab.get("application", "orphaning", ns) is None
        assert lab.get("configmap", "orphaned", ns) is not None


def test_an_app_pinned_to_a_tag_follows_the_tag_not_the_branch(lab: GitOpsLab, ns: str) -> None:
    repo = lab.repo({"apps/config.yaml": config_map("settings", version="1")})
    lab.git("tag", "v1", cwd=repo.path)
    lab.git("push", "-q", "origin", "v1", cwd=repo.path)
    tagged = repo.head()
    with lab.running("argocd"):
        application(lab, ns, repo.name, automated={})
        patch = {"spec": {"source": {"targetRevision": "v1"}}}
        lab.kubectl("patch", "application", "shop", "-n", ns, "--type=merge", "-p", json.dumps(patch))
        lab.wait_for(lambda: synced_at(lab, ns, tagged), what="synced at the tag")
        seen = app_status(lab, ns)["reconciledAt"]
        repo.write("apps/config.yaml", config_map("settings", version="2")).push("Version 2 on main")
        lab.wait_for(lambda: app_status(lab, ns)["reconciledAt"] != seen, what="a poll after the push")
        assert synced_at(lab, ns, tagged), "a push to main does not move an app pinned to a tag"
        lab.git("tag", "-f", "v1", cwd=repo.path)
        lab.git("push", "-q", "-f", "origin", "v1", cwd=repo.path)
        lab.wait_for(lambda: synced_at(lab, ns, repo.head()), what="synced at the moved tag")
        assert (lab.get("configmap", "settings", ns) or {})["data"] == {"version": "2"}


def test_a_source_that_cannot_be_rendered_is_a_comparison_error(lab: GitOpsLab, ns: str) -> None:
    repo = lab.repo({"apps/config.yaml": config_map("settings")})
    with lab.running("argocd"):
        application(lab, ns, repo.name, path="nowhere", automated={})

        def condition() -> str:
            found = [
                c["message"] for c in app_status(lab, ns).get("conditions") or [] if c["type"] == "ComparisonError"
            ]
            return found[0] if found else ""

        lab.wait_for(condition, what="ComparisonError")
        assert condition().endswith("nowhere: app path does not exist")
        assert condition().startswith("Failed to load target state: failed to generate manifest for source 1 of 1")
        assert jsonpath(lab, ns, ".status.sync.status") == "Unknown"
        lab.kubectl(
            "patch", "application", "shop", "-n", ns, "--type=merge", "-p", '{"spec":{"source":{"path":"apps"}}}'
        )
        lab.wait_for(lambda: synced_at(lab, ns, repo.head()), what="synced once the path exists")
        assert condition() == ""


def test_a_kustomization_folder_is_built_with_kustomize(lab: GitOpsLab, ns: str) -> None:
    kustomization = {"resources": ["config.yaml"], "namePrefix": "dev-"}
    repo = lab.repo({"apps/config.yaml": config_map("settings"), "apps/kustomization.yaml": kustomization})
    with lab.running("argocd"):
        application(lab, ns, repo.name, automated={})
        lab.wait_for(lambda: synced_at(lab, ns, repo.head()), what="synced")
        assert app_status(lab, ns)["sourceType"] == "Kustomize"
        assert lab.get("configmap", "dev-settings", ns) is not None


def test_wrong_repository_credentials_are_a_comparison_error(lab: GitOpsLab, ns: str) -> None:
    repo = lab.repo({"apps/config.yaml": config_map("settings")})
    with lab.running("argocd"):
        application(lab, ns, repo.name, automated={})
        lab.wait_for(lambda: synced_at(lab, ns, repo.head()), what="synced with the deploy account")
        secret = f"repo-{repo.name}"
        lab.kubectl("patch", "secret", secret, "-n", ns, "-p", json.dumps({"stringData": {"password": "wrong"}}))
        lab.kubectl("annotate", "application", "shop", "-n", ns, "argocd.argoproj.io/refresh=normal")

        def comparison_error() -> str:
            found = [
                c["message"] for c in app_status(lab, ns).get("conditions") or [] if c["type"] == "ComparisonError"
            ]
            return found[0] if found else ""

        lab.wait_for(comparison_error, what="ComparisonError")
        assert comparison_error().endswith("failed to list refs: authentication required")
        assert jsonpath(lab, ns, ".status.sync.status") == "Unknown"
        assert lab.get("configmap", "settings", ns) is not None, "nothing is pruned when Git cannot be read"


def test_a_push_is_live_within_two_seconds(lab: GitOpsLab, ns: str) -> None:
    repo = lab.repo({"apps/config.yaml": config_map("settings", n="0")})
    with lab.running("argocd"):
        application(lab, ns, repo.name, automated={})
        lab.wait_for(lambda: synced_at(lab, ns, repo.head()), what="the first sync")
        latencies = []
        for n in range(1, 6):
            repo.write("apps/config.yaml", config_map("settings", n=str(n)))
            started = time.monotonic()
            repo.push(f"n={n}")
            lab.wait_for(lambda n=n: (lab.get("configmap", "settings", ns) or {})["data"]["n"] == str(n))
            latencies.append(time.monotonic() - started)
        assert statistics.median(latencies) < 2.0, latencies


def test_self_heal_rebuilds_a_deleted_namespace_from_git(lab: GitOpsLab, ns: str) -> None:
    target = f"{ns}-shop"
    repo = lab.repo({"apps/web.yaml": deployment("web"), "apps/config.yaml": config_map("settings")})
    with lab.running("argocd"):
        application(
            lab, ns, repo.name, destination=target, automated={"selfHeal": True}, options=["CreateNamespace=true"]
        )
        try:
            lab.wait_for(lambda: synced_at(lab, ns, repo.head()), what="synced")
            lab.kubectl("delete", "namespace", target, "--wait=false")
            lab.wait_for(lambda: app_status(lab, ns)["sync"]["status"] == "OutOfSync", what="the app noticing")
            lab.wait_for(lambda: lab.get("deployment", "web", target) is not None, what="rebuilt", timeout=30)
            lab.wait_for(lambda: synced_at(lab, ns, repo.head()), what="synced again")
            assert lab.get("configmap", "settings", target) is not None
            assert app_status(lab, ns)["operationState"]["operation"]["sync"]["selfHealAttemptsCount"] >= 1
        finally:
            lab.kubectl("delete", "namespace", target, "--wait=false", check=False)
