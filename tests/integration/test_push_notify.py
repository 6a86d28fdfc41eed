"""On kind the real agents are told of a push at once: the lab daemon's notifier annotates what the push moves.

Here the embedded cluster stands in for the kind cluster (the agents' CRDs installed, no agent running), so the
annotations the real Flux and Argo CD would act on can be read back."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from engine.cluster.client import KubeClient
from engine.gitops import crds
from engine.gitops.notify import PushNotifier
from engine.gitops.reconcile import REFRESH, REQUESTED_AT

from .conftest import Cluster
from .gitops_support import GitOpsLab, Workspace, gitops_lab

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lab(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitOpsLab]:
    client = KubeClient(cluster.kubeconfig)
    try:
        crds.install(client, ["flux", "argocd"])
    finally:
        client.close()
    with gitops_lab(cluster, tmp_path_factory.mktemp("notify")) as started:
        yield started


def source(lab: GitOpsLab, repo: Workspace, name: str, namespace: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"url": lab.url(repo.name), "interval": "1m", "ref": {"branch": "main"}, **spec},
    }


def application(lab: GitOpsLab, repo: Workspace, name: str, namespace: str, revision: str) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "project": "default",
            "source": {"repoURL": lab.url(repo.name), "path": ".", "targetRevision": revision},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": namespace},
        },
    }


def annotations(lab: GitOpsLab, kind: str, name: str, namespace: str) -> dict[str, str]:
    """The reconcile requests on an object (kubectl's own annotations left out)."""
    found = (lab.get(kind, name, namespace) or {}).get("metadata") or {}
    return {key: value for key, value in (found.get("annotations") or {}).items() if key in (REQUESTED_AT, REFRESH)}


def test_a_push_annotates_what_follows_the_pushed_branch_and_nothing_else(lab: GitOpsLab, ns: str) -> None:
    repo = lab.repo({"app.yaml": "kind: ConfigMap\n"})
    other = lab.repo({"app.yaml": "kind: ConfigMap\n"})
    lab.apply(
        source(lab, repo, "follows-main", ns),
        source(lab, repo, "follows-other", ns, ref={"branch": "other"}),
        source(lab, repo, "suspended", ns, suspend=True),
        source(lab, other, "other-repo", ns),
        application(lab, repo, "head", ns, "HEAD"),
        application(lab, repo, "release", ns, "release"),
    )
    repo.write("app.yaml", "kind: ConfigMap\nmetadata: {name: changed}\n").push()
    notifier = PushNotifier(lab.cluster.kubeconfig, ["flux", "argocd"], lab.server.urls)

    done = notifier.notify(lab.pushes[-1])

    assert sorted(done) == [f"Application {ns}/head", f"GitRepository {ns}/follows-main"]
    assert REQUESTED_AT in annotations(lab, "gitrepository", "follows-main", ns)
    assert annotations(lab, "application", "head", ns)[REFRESH] == "normal"
    for kind, name in [
        ("gitrepository", "follows-other"),
        ("gitrepository", "suspended"),
        ("gitrepository", "other-repo"),
        ("application", "release"),
    ]:
        assert not annotations(lab, kind, name, ns), f"{kind}/{name} was annotated"


def test_each_push_asks_again_with_a_new_request_stamp(lab: GitOpsLab, ns: str) -> None:
    repo = lab.repo({"app.yaml": "kind: ConfigMap\n"})
    lab.apply(source(lab, repo, "shop", ns))
    notifier = PushNotifier(lab.cluster.kubeconfig, ["flux"], lab.server.urls)

    repo.write("a.yaml", "kind: ConfigMap\n").push()
    notifier.on_push(lab.pushes[-1])
    first = lab.wait_for(lambda: annotations(lab, "gitrepository", "shop", ns).get(REQUESTED_AT), what="a request")
    repo.write("b.yaml", "kind: ConfigMap\n").push()
    notifier.on_push(lab.pushes[-1])

    lab.wait_for(
        lambda: annotations(lab, "gitrepository", "shop", ns).get(REQUESTED_AT) not in (None, first),
        what="a second request",
    )


def test_a_deleted_branch_or_an_agent_the_lab_does_not_run_asks_nothing(lab: GitOpsLab, ns: str) -> None:
    repo = lab.repo({"app.yaml": "kind: ConfigMap\n"})
    lab.apply(source(lab, repo, "shop", ns), application(lab, repo, "shop", ns, "HEAD"))
    lab.git("push", "-q", "origin", "HEAD:refs/heads/topic", cwd=repo.path)
    lab.git("push", "-q", "origin", "--delete", "topic", cwd=repo.path)
    assert lab.pushes[-1].deleted
    notifier = PushNotifier(lab.cluster.kubeconfig, ["argocd"], lab.server.urls)
    notifier.on_push(lab.pushes[-1])
    assert not annotations(lab, "application", "shop", ns)

    repo.write("a.yaml", "kind: ConfigMap\n").push()
    assert notifier.notify(lab.pushes[-1]) == [f"Application {ns}/shop"]
    assert not annotations(lab, "gitrepository", "shop", ns)
