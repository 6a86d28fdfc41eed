"""Installing GitOps agents with the real kubectl, against the embedded cluster and stand-in release manifests.

The stand-ins have the shape of the real install.yaml files (a Namespace for Flux only, a CRD, a ServiceAccount,
Deployments, and a StatefulSet for Argo CD), applied the way the real ones are (client-side for Flux,
server-side with --force-conflicts for Argo CD).
"""

from __future__ import annotations

import base64
import uuid
from pathlib import Path
from typing import Any

import pytest

from engine.errors import DriftlabError
from engine.gitops import installer
from engine.gitops.installer import credentials_secret, default_secret_name, git_credentials, install, workload_status
from engine.gitops.manifests import MIRROR_ENV, cache_path
from engine.gitops.releases import Release

from .conftest import Cluster

IMAGE = "ghcr.io/fluxcd/source-controller:v1.9.4"
NEVER_READY_IMAGE = "ghcr.io/driftlab/podinfo:9.9.9"


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cluster: Cluster) -> Path:
    """State, and kubectl's discovery cache, in this test's folders."""
    for key in ("HOME", "KUBECACHEDIR"):
        monkeypatch.setenv(key, cluster.env[key])
    monkeypatch.setenv("DRIFTLAB_HOME", str(tmp_path / "home"))
    monkeypatch.delenv(MIRROR_ENV, raising=False)
    return tmp_path / "home"


def suffix() -> str:
    return uuid.uuid4().hex[:6]


def crd(group: str) -> str:
    return f"""
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: sources.{group}
spec:
  group: {group}
  names: {{kind: Source, listKind: SourceList, plural: sources, singular: source}}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          x-kubernetes-preserve-unknown-fields: true
"""


def deployment(name: str, namespace: str | None, image: str = IMAGE) -> str:
    ns = f"\n  namespace: {namespace}" if namespace else ""
    return f"""
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}{ns}
  labels: {{app: {name}}}
spec:
  replicas: 1
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      serviceAccountName: agent
      containers:
        - name: manager
          image: {image}
"""


def statefulset(name: str) -> str:
    return f"""
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: {name}
spec:
  replicas: 1
  serviceName: {name}
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      containers:
        - name: controller
          image: quay.io/argoproj/argocd:v3.5.1
"""


def flux_like(namespace: str, *, broken: str | None = None) -> str:
    """A Flux-shaped install.yaml: its own Namespace and fully namespaced objects."""
    docs = [
        f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {namespace}\n"
        "  labels: {app.kubernetes.io/part-of: flux}",
        crd(f"source.{namespace}.example.com"),
        f"apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: agent\n  namespace: {namespace}",
        deployment("source-controller", namespace),
        deployment("kustomize-controller", namespace),
    ]
    if broken:
        docs.append(deployment(broken, namespace, NEVER_READY_IMAGE))
    return "\n---\n".join(docs) + "\n"


def argo_like() -> str:
    """An Argo CD-shaped install.yaml: no Namespace, no namespace on its objects."""
    docs = [
        crd(f"argoproj.{suffix()}.example.com"),
        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: agent",
        deployment("argocd-server", None),
        deployment("argocd-repo-server", None),
        statefulset("argocd-application-controller"),
    ]
    return "# generated; do not edit\n" + "\n---\n".join(docs) + "\n"


def release(name: str, namespace: str, workloads: list[tuple[str, str]], apply: str = "client-side") -> Release:
    return Release.model_validate(
        {
            "name": name,
            "version": "v0.0.1",
            "url": "http://127.0.0.1:9/install.yaml",
            "namespace": namespace,
            "apply": apply,
            "create_namespace": apply == "server-side",
            "workloads": [{"kind": kind, "name": workload} for kind, workload in workloads],
        }
    )


def offline(tmp_path: Path, text: str) -> Path:
    path = tmp_path / f"install-{suffix()}.yaml"
    path.write_text(text)
    return path


def flux_release(namespace: str, extra: tuple[str, ...] = ()) -> Release:
    names = ["source-controller", "kustomize-controller", *extra]
    return release("flux", namespace, [("Deployment", n) for n in names])


# -- install ----------------------------------------------------------------------------------------------------


def test_flux_like_release_installs_and_waits_until_ready(cluster: Cluster, tmp_path: Path) -> None:
    namespace = f"flux-{suffix()}"
    pinned = flux_release(namespace)
    lines: list[str] = []

    install(
        pinned,
        cluster.kubeconfig,
        progress=lines.append,
        timeout=60,
        offline_file=offline(tmp_path, flux_like(namespace)),
        poll_interval=0.1,
    )

    ready = [
        cluster.get_json("deploy", name, "-n", namespace)["status"].get("readyReplicas")
        for name in ("source-controller", "kustomize-controller")
    ]
    assert ready == [1, 1]
    assert cluster.get_json("namespace", namespace)["metadata"]["labels"]["app.kubernetes.io/part-of"] == "flux"
    assert "flux: applying flux v0.0.1 install.yaml (client-side apply)" in lines
    assert "flux: source-controller 1/1 ready" in lines
    assert "flux: kustomize-controller 1/1 ready" in lines
    assert lines[-1] == "flux: flux v0.0.1 is ready"
    assert not any("created namespace" in line for line in lines)
    applied = cluster.get_json("deploy", "source-controller", "-n", namespace)["metadata"]["annotations"]
    assert "kubectl.kubernetes.io/last-applied-configuration" in applied


def test_progress_lines_change_only_when_the_state_does(cluster: Cluster, tmp_path: Path) -> None:
    namespace = f"flux-{suffix()}"
    pinned = flux_release(namespace)
    manifest = offline(tmp_path, flux_like(namespace))
    install(
        pinned, cluster.kubeconfig, progress=lambda _line: None, timeout=60, offline_file=manifest, poll_interval=0.1
    )

    again: list[str] = []
    install(pinned, cluster.kubeconfig, progress=again.append, timeout=60, poll_interval=0.1)

    assert again == [
        "flux: using cached install.yaml (sha256 " + again[0].split("sha256 ")[1],
        "flux: applying flux v0.0.1 install.yaml (client-side apply)",
        "flux: source-controller 1/1 ready",
        "flux: kustomize-controller 1/1 ready",
        "flux: flux v0.0.1 is ready",
    ]


def test_argo_like_release_gets_its_namespace_and_a_server_side_apply(cluster: Cluster, tmp_path: Path) -> None:
    namespace = f"argocd-{suffix()}"
    pinned = release(
        "argocd",
        namespace,
        [
            ("Deployment", "argocd-server"),
            ("Deployment", "argocd-repo-server"),
            ("StatefulSet", "argocd-application-controller"),
        ],
        apply="server-side",
    )
    lines: list[str] = []

    install(
        pinned,
        cluster.kubeconfig,
        progress=lines.append,
        timeout=60,
        offline_file=offline(tmp_path, argo_like()),
        poll_interval=0.1,
    )

    assert f"argocd: created namespace {namespace}" in lines
    assert "argocd: argocd-application-controller 1/1 ready" in lines
    sts = cluster.get_json("statefulset", "argocd-application-controller", "-n", namespace)
    assert sts["status"]["readyReplicas"] == 1
    server = cluster.get_json("deploy", "argocd-server", "-n", namespace, "--show-managed-fields")
    assert [m["manager"] for m in server["metadata"]["managedFields"] if m["operation"] == "Apply"] == ["kubectl"]
    assert "kubectl.kubernetes.io/last-applied-configuration" not in (server["metadata"].get("annotations") or {})


def test_a_workload_that_never_gets_ready_times_out_with_how_to_look(cluster: Cluster, tmp_path: Path) -> None:
    namespace = f"flux-{suffix()}"
    healthy = offline(tmp_path, flux_like(namespace))
    install(flux_release(namespace), cluster.kubeconfig, progress=lambda _line: None, timeout=60, offline_file=healthy)
    broken = offline(tmp_path, flux_like(namespace, broken="helm-controller"))
    lines: list[str] = []

    with pytest.raises(DriftlabError) as raised:
        install(
            flux_release(namespace, ("helm-controller",)),
            cluster.kubeconfig,
            progress=lines.append,
            timeout=1.5,
            offline_file=broken,
            poll_interval=0.1,
        )

    message = str(raised.value)
    assert message.startswith("flux v0.0.1 is not ready after 1.5s:\n  Deployment helm-controller: 0/1 ready, ")
    assert "source-controller" not in message
    assert f"kubectl --kubeconfig {cluster.kubeconfig} -n {namespace} describe deploy/helm-controller" in message
    assert f"kubectl --kubeconfig {cluster.kubeconfig} -n {namespace} get pods" in message
    assert "flux: helm-controller 0/1 ready" in lines
    assert "flux: source-controller 1/1 ready" in lines
    pod = cluster.get_json("pods", "-n", namespace, "-l", "app=helm-controller")["items"][0]
    assert pod["status"]["containerStatuses"][0]["ready"] is False


def test_a_workload_missing_from_the_manifest_is_reported_at_once(cluster: Cluster, tmp_path: Path) -> None:
    namespace = f"flux-{suffix()}"
    pinned = flux_release(namespace, ("notification-controller",))
    with pytest.raises(DriftlabError, match="the manifest created no Deployment notification-controller"):
        install(
            pinned,
            cluster.kubeconfig,
            progress=lambda _line: None,
            timeout=60,
            offline_file=offline(tmp_path, flux_like(namespace)),
        )


def test_a_manifest_kubectl_rejects_is_reported(cluster: Cluster, tmp_path: Path) -> None:
    namespace = f"flux-{suffix()}"
    bad = (
        flux_like(namespace)
        + "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\n  namespace: "
        + namespace
        + "\nspec:\n  replicas: many\n"
    )
    with pytest.raises(DriftlabError, match=r"flux v0\.0\.1: kubectl --kubeconfig .* apply -n .* failed:\n"):
        install(
            flux_release(namespace),
            cluster.kubeconfig,
            progress=lambda _line: None,
            timeout=60,
            offline_file=offline(tmp_path, bad),
        )


def test_install_uses_the_cache_and_a_mirror_folder(
    cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    namespace = f"flux-{suffix()}"
    pinned = flux_release(namespace)
    mirror = tmp_path / "mirror"
    (mirror / "flux" / "v0.0.1").mkdir(parents=True)
    (mirror / "flux" / "v0.0.1" / "install.yaml").write_text(flux_like(namespace))
    monkeypatch.setenv(MIRROR_ENV, str(mirror))

    install(pinned, cluster.kubeconfig, progress=lambda _line: None, timeout=60, poll_interval=0.1)

    assert cache_path(pinned).read_text() == flux_like(namespace)
    assert cluster.get_json("deploy", "source-controller", "-n", namespace)["status"]["readyReplicas"] == 1


def test_an_unreachable_release_fails_before_touching_the_cluster(cluster: Cluster) -> None:
    namespace = f"flux-{suffix()}"
    with pytest.raises(DriftlabError, match=r"could not download http://127\.0\.0\.1:9/install\.yaml"):
        install(flux_release(namespace), cluster.kubeconfig, progress=lambda _line: None, timeout=60)
    assert cluster.kubectl("get", "namespace", namespace, check=False).returncode != 0


def test_a_missing_kubeconfig_is_a_clear_error(tmp_path: Path) -> None:
    namespace = f"flux-{suffix()}"
    with pytest.raises(DriftlabError, match=r"no kubeconfig at .*start the cluster first"):
        install(
            flux_release(namespace),
            tmp_path / "nope",
            progress=lambda _line: None,
            timeout=5,
            offline_file=offline(tmp_path, flux_like(namespace)),
        )


# -- Git credentials --------------------------------------------------------------------------------------------


def decoded(secret: dict[str, Any]) -> dict[str, str]:
    return {key: base64.b64decode(value).decode() for key, value in secret["data"].items()}


def test_flux_credentials_are_a_basic_auth_secret(cluster: Cluster, ns: str) -> None:
    url = "http://172.18.0.1:8123/shop.git"
    name = git_credentials(
        "flux", cluster.kubeconfig, git_url=url, username="deploy", password="s3cret-pass", namespace=ns
    )

    assert name == "driftlab-git-shop"
    secret = cluster.get_json("secret", name, "-n", ns)
    assert decoded(secret) == {"username": "deploy", "password": "s3cret-pass"}
    assert secret["type"] == "Opaque"
    assert "argocd.argoproj.io/secret-type" not in secret["metadata"]["labels"]


def test_argocd_credentials_are_a_repository_secret(cluster: Cluster) -> None:
    namespace = f"argocd-{suffix()}"
    url = "http://172.18.0.1:8123/shop.git"
    name = git_credentials(
        "argocd", cluster.kubeconfig, git_url=url, username="deploy", password="pw-123456", namespace=namespace
    )

    secret = cluster.get_json("secret", name, "-n", namespace)
    assert secret["metadata"]["labels"]["argocd.argoproj.io/secret-type"] == "repository"
    assert decoded(secret) == {"type": "git", "url": url, "username": "deploy", "password": "pw-123456"}
    listed = cluster.get_json("secrets", "-n", namespace, "-l", "argocd.argoproj.io/secret-type=repository")
    assert [s["metadata"]["name"] for s in listed["items"]] == [name]


def test_credentials_are_applied_again_without_error(cluster: Cluster, ns: str) -> None:
    url = "http://172.18.0.1:8123/shop.git"
    for password in ("first-password", "second-password"):
        git_credentials(
            "flux",
            cluster.kubeconfig,
            git_url=url,
            username="deploy",
            password=password,
            namespace=ns,
            name="shop-auth",
        )

    secret = cluster.get_json("secret", "shop-auth", "-n", ns)
    assert decoded(secret)["password"] == "second-password"
    assert "kubectl.kubernetes.io/last-applied-configuration" not in (secret["metadata"].get("annotations") or {})


def test_default_namespaces_are_the_agents_own() -> None:
    kwargs = {"git_url": "http://git:8123/app.git", "username": "deploy", "password": "pw"}
    assert credentials_secret("flux", **kwargs)["metadata"]["namespace"] == "flux-system"
    assert credentials_secret("argocd", **kwargs)["metadata"]["namespace"] == "argocd"


@pytest.mark.parametrize(
    ("agent", "overrides", "message"),
    [
        ("jenkins", {}, "unknown GitOps agent 'jenkins': use 'flux' or 'argocd'"),
        ("flux", {"git_url": "git@host:app.git"}, "is not an http\\(s\\) URL"),
        ("flux", {"git_url": "http://[::1"}, "is not an http\\(s\\) URL"),
        ("flux", {"password": ""}, "the Git password must be a non-empty string"),
        ("argocd", {"username": "a\nb"}, "the Git username must be"),
        ("flux", {"namespace": "Flux_System"}, "invalid namespace 'Flux_System'"),
        ("flux", {"name": "-x"}, "invalid Secret name '-x'"),
    ],
)
def test_bad_credentials_input_is_refused(agent: str, overrides: dict[str, str], message: str) -> None:
    kwargs: dict[str, Any] = {"git_url": "http://git:8123/app.git", "username": "deploy", "password": "pw", **overrides}
    with pytest.raises(DriftlabError, match=message):
        credentials_secret(agent, **kwargs)


def test_default_secret_names_come_from_the_repository() -> None:
    assert default_secret_name("http://git:8123/Shop_Front.git") == "driftlab-git-shop-front"
    assert default_secret_name("http://git:8123/") == "driftlab-git"


# -- readiness --------------------------------------------------------------------------------------------------


def deploy_obj(status: dict[str, Any], *, replicas: int = 2, generation: int = 1) -> dict[str, Any]:
    return {
        "kind": "Deployment",
        "metadata": {"generation": generation},
        "spec": {"replicas": replicas},
        "status": status,
    }


@pytest.mark.parametrize(
    ("status", "ready", "detail"),
    [
        (
            {"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2, "readyReplicas": 2, "availableReplicas": 2},
            True,
            "",
        ),
        ({}, False, "waiting for the deployment controller to see the latest spec"),
        ({"observedGeneration": 1, "replicas": 2, "updatedReplicas": 1}, False, "1 of 2 new replicas updated"),
        ({"observedGeneration": 1, "replicas": 3, "updatedReplicas": 2}, False, "1 old replicas pending termination"),
        (
            {"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 1},
            False,
            "1 of 2 updated replicas available",
        ),
        (
            {"observedGeneration": 1, "conditions": [{"type": "Progressing", "reason": "ProgressDeadlineExceeded"}]},
            False,
            "it exceeded its progress deadline",
        ),
        (
            {"observedGeneration": "x", "conditions": "nope", "replicas": None},
            False,
            "waiting for the deployment controller to see the latest spec",
        ),
        (
            {"observedGeneration": 1, "conditions": ["nope"], "updatedReplicas": "2"},
            False,
            "0 of 2 new replicas updated",
        ),
    ],
)
def test_deployment_readiness_follows_rollout_status(status: dict[str, Any], ready: bool, detail: str) -> None:
    result = workload_status(deploy_obj(status))
    assert (result.ready, result.detail) == (ready, detail)


def test_statefulset_readiness_follows_rollout_status() -> None:
    def sts(status: dict[str, Any], strategy: dict[str, Any] | None = None) -> installer.WorkloadStatus:
        spec = {"replicas": 2, **({"updateStrategy": strategy} if strategy else {})}
        return workload_status({"kind": "StatefulSet", "metadata": {"generation": 1}, "spec": spec, "status": status})

    done = {
        "observedGeneration": 1,
        "readyReplicas": 2,
        "updatedReplicas": 2,
        "currentRevision": "a",
        "updateRevision": "a",
    }
    assert sts(done).ready
    assert sts(done).summary == "2/2 ready"
    assert (
        sts({**done, "observedGeneration": 0}).detail == "waiting for the statefulset controller to see the latest spec"
    )
    assert sts({**done, "readyReplicas": 1}).detail == "1 of 2 pods ready"
    assert sts({**done, "updateRevision": "b", "updatedReplicas": 1}).detail == "1 of 2 pods at the new revision"
    partitioned = {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}}
    assert sts({**done, "updateRevision": "b", "updatedReplicas": 1}, partitioned).ready
    assert sts({**done, "updateRevision": "b", "updatedReplicas": 0}, partitioned).detail == "0 of 1 pods updated"
    assert sts({**done, "updateRevision": "b"}, {"type": "OnDelete"}).ready
