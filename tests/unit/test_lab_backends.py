"""What a lab does differently per backend, without Docker: the lab on kind (with a fake kind cluster, a fake
installer and a real lab daemon), NodePorts for kind's config, and the namespace mapping of a shared cluster."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from engine import paths, proc
from engine.checks.reader import ApiResource, Read
from engine.cli import cli
from engine.cluster.backend import BackendChoice, ClusterStatus
from engine.course import SetupAction, load_course, load_lab
from engine.gitserver.credentials import Credentials
from engine.lab.backends import (
    MappedActionRunner,
    MappedReader,
    map_manifest,
    node_ports,
    shared_cluster_problems,
)
from engine.lab.daemon import read_record
from engine.lab.lab import LabRuntime
from engine.lab.progress import ProgressStore

ROOT = Path(__file__).resolve().parents[2]
GATEWAY = "127.0.0.2"  # stands for the kind network's gateway: a local address other than 127.0.0.1
KUBECONFIG = {
    "apiVersion": "v1",
    "kind": "Config",
    "clusters": [{"name": "kind-driftlab-gitops-flux", "cluster": {"server": "https://127.0.0.1:41234"}}],
    "users": [{"name": "kind-driftlab-gitops-flux", "user": {"token": "t"}}],
    "contexts": [
        {
            "name": "kind-driftlab-gitops-flux",
            "context": {"cluster": "kind-driftlab-gitops-flux", "user": "kind-driftlab-gitops-flux"},
        }
    ],
    "current-context": "kind-driftlab-gitops-flux",
}


class FakeKindCluster:
    """A kind cluster as the lab sees it through the backend interface."""

    backend = "kind"
    embedded_agents = False

    def __init__(self, name: str) -> None:
        self.name = name
        self.made = False

    @property
    def state_dir(self) -> Path:
        return paths.clusters_dir() / self.name

    def exists(self) -> bool:
        return self.made

    def status(self) -> ClusterStatus:
        server = "https://127.0.0.1:41234" if self.made else None
        return ClusterStatus(self.name, self.made, None, server, self.state_dir, "kind")

    def up(self, progress: Any = None) -> ClusterStatus:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.made = True
        if progress is not None:
            progress(" ✓ Preparing nodes 📦")
        return self.status()

    def down(self, purge: bool = False) -> bool:
        return self.made

    def kubeconfig(self, namespace: str | None = None) -> str:
        document = yaml.safe_load(yaml.safe_dump(KUBECONFIG))
        document["contexts"][0]["context"]["namespace"] = namespace or "default"
        return yaml.safe_dump(document)

    def agent_git_host(self) -> str:
        return GATEWAY


@pytest.fixture
def on_kind(driftlab_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """The Flux course's lab on a fake kind cluster: what the installer, credentials and kubectl were asked."""
    seen: dict[str, Any] = {"install": [], "credentials": [], "apply": [], "said": []}

    def install(release: Any, kubeconfig: Path, *, progress: Any, timeout: float) -> None:
        seen["install"].append((release.name, release.version, kubeconfig, timeout))
        progress(f"{release.name}: {release.label} is ready")

    def git_credentials(agent: str, kubeconfig: Path, **given: str) -> str:
        seen["credentials"].append((agent, kubeconfig, given))
        return "driftlab-git-fleet"

    def apply(runner: Any, sources: list[str], *, namespace: str | None = None, stdin: str | None = None) -> str:
        seen["apply"].append((sources, stdin or ""))
        return ""

    monkeypatch.setattr("engine.gitops.installer.install", install)
    monkeypatch.setattr("engine.gitops.installer.git_credentials", git_credentials)
    monkeypatch.setattr("engine.lab.runner.ActionRunner.apply", apply)
    course = load_course(ROOT / "courses" / "gitops-flux")
    store = ProgressStore(driftlab_home / "progress.sqlite3")
    runtime = LabRuntime(course, store=store, say=seen["said"].append)
    runtime.choice = BackendChoice("kind", "--backend kind")
    runtime._cluster = FakeKindCluster(runtime.cluster_name)  # type: ignore[assignment]
    seen["runtime"] = runtime
    try:
        yield seen
    finally:
        daemon = runtime.daemon()
        if daemon is not None:
            daemon.down()
        store.close()


def _listens(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def test_the_lab_on_kind_installs_real_flux_and_bootstraps_it_with_the_gateway_url(on_kind: dict[str, Any]) -> None:
    runtime: LabRuntime = on_kind["runtime"]
    runtime.up()
    kubeconfig = runtime.kubeconfig_path()
    assert on_kind["install"] == [("flux", "v2.9.4", kubeconfig, 600.0)]
    assert "backend: kind (--backend kind)" in on_kind["said"]
    assert "flux: flux v2.9.4 is ready" in on_kind["said"]
    assert yaml.safe_load(kubeconfig.read_text())["contexts"][0]["context"]["namespace"] == "flux-system"

    served = runtime.daemon().status()  # type: ignore[union-attr]
    assert served.running and served.hosts == (GATEWAY,)
    port = served.port
    assert port is not None
    gateway_url = f"http://{GATEWAY}:{port}"
    deploy = Credentials.load(paths.git_credentials_file(runtime.state_name)).deploy
    ((agent, used, given),) = on_kind["credentials"]
    assert (agent, used) == ("flux", kubeconfig)
    assert given == {"git_url": f"{gateway_url}/fleet.git", "username": deploy.username, "password": deploy.password}

    seeded, bootstrapped = on_kind["apply"]
    assert not any("crds" in source for source in seeded[0])
    documents = list(yaml.safe_load_all(bootstrapped[1]))
    repository = next(doc for doc in documents if doc["kind"] == "GitRepository")
    assert repository["spec"]["url"] == f"{gateway_url}/fleet.git"
    secret = next(doc for doc in documents if doc["kind"] == "Secret")
    assert secret["stringData"] == {"username": deploy.username, "password": deploy.password}

    record = read_record(paths.lab_dir(runtime.state_name))
    assert record["agents"] == [] and record["hosts"] == [GATEWAY]
    assert _listens("127.0.0.1", port) and _listens(GATEWAY, port)
    assert not _listens("127.0.0.3", port)


def test_node_ports_come_from_the_labs_and_the_courses_services(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "tests" / "lab_courses", repo)
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "work"},
        "spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}, {"port": 81}]},
    }
    (repo / "labs" / "basics" / "seed" / "service.yaml").write_text(yaml.safe_dump(service))
    other = {**service, "spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": 31000}]}}
    cluster_ip = {**service, "spec": {"ports": [{"port": 80, "nodePort": 30999}]}}
    listing = {"apiVersion": "v1", "kind": "List", "items": [other, cluster_ip]}
    (repo / "courses" / "basics" / "manifests" / "more.yaml").write_text(yaml.safe_dump(listing))
    course = load_course(repo / "courses" / "basics")
    assert node_ports(course, load_lab(course.lab_folder)) == [30080, 31000]
    antipatterns = load_course(ROOT / "courses" / "antipatterns")
    assert node_ports(antipatterns, load_lab(antipatterns.lab_folder)) == [30100, 30200, 30300]


# A shared cluster ---------------------------------------------------------------------------------------------


def ada(name: str) -> str:
    return f"ada-{name}"


def test_manifests_land_in_the_learners_namespaces() -> None:
    assert map_manifest({"kind": "ConfigMap", "metadata": {"name": "a", "namespace": "shop"}}, ada)["metadata"] == {
        "name": "a",
        "namespace": "ada-shop",
    }
    assert map_manifest({"kind": "Namespace", "metadata": {"name": "shop"}}, ada)["metadata"] == {"name": "ada-shop"}
    assert map_manifest({"kind": "ConfigMap", "metadata": {"name": "a"}}, ada)["metadata"] == {"name": "a"}
    assert map_manifest({"kind": "ClusterRole", "metadata": "odd"}, ada) == {"kind": "ClusterRole", "metadata": "odd"}


class Recorder:
    """A Reader that remembers what it was asked."""

    def __init__(self) -> None:
        self.reads: list[Read] = []

    @property
    def server(self) -> str:
        return "http://127.0.0.1:1"

    def resolve(self, kind: str, api_version: str | None = None) -> ApiResource:
        raise AssertionError("not used")

    def fetch(self, read: Read) -> list[dict[str, Any]]:
        self.reads.append(read)
        return []

    def list_version(self, read: Read) -> str:
        self.reads.append(read)
        return "1"

    def watch(self, read: Read, resource_version: str) -> Any:
        self.reads.append(read)
        return iter(())


def test_checks_read_the_learners_namespaces() -> None:
    inner = Recorder()
    reader = MappedReader(inner, ada)
    resource = ApiResource("", "v1", "ConfigMap", "configmaps", True)
    reader.fetch(Read(resource, "work", "greeting"))
    reader.list_version(Read(resource, "shop"))
    reader.watch(Read(resource, None), "1")
    assert [read.namespace for read in inner.reads] == ["ada-work", "ada-shop", None]
    assert inner.reads[0].name == "greeting"


def test_setup_actions_apply_and_delete_in_the_learners_namespaces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "cm.yaml").write_text(
        yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "shop"}})
    )
    calls: list[tuple[tuple[str, ...], str | None]] = []

    def kubectl(self: Any, *args: str, input: str | None = None, timeout: float = 0) -> proc.Result:
        calls.append((args, input))
        return proc.Result(["kubectl", *args], 0, "", "")

    monkeypatch.setattr(MappedActionRunner, "kubectl", kubectl)
    runner = MappedActionRunner(tmp_path / "kubeconfig", "ada-work", tmp_path, mapper=ada)
    runner.run_action(SetupAction.model_validate({"apply": "cm.yaml"}))
    runner.run_action(
        SetupAction.model_validate(
            {"apply": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b"}}, "namespace": "dev"}
        )
    )
    runner.run_action(SetupAction.model_validate({"delete": {"kind": "configmap", "name": "leftover"}}))
    runner.run_action(SetupAction.model_validate({"delete": {"kind": "configmap", "name": "x", "namespace": "shop"}}))
    runner.run_action(SetupAction.model_validate({"delete": "cm.yaml"}))
    (first, text), (second, inline), third, fourth, (fifth, deleted) = calls
    assert first == ("apply", "-n", "ada-work", "-f", "-") and "namespace: ada-shop" in (text or "")
    assert second == ("apply", "-n", "ada-dev", "-f", "-") and "name: b" in (inline or "")
    assert third[0] == ("delete", "--ignore-not-found", "-n", "ada-work", "configmap", "leftover")
    assert fourth[0] == ("delete", "--ignore-not-found", "-n", "ada-shop", "configmap", "x")
    assert fifth == ("delete", "--ignore-not-found", "-n", "ada-work", "-f", "-") and "ada-shop" in (deleted or "")


def test_a_course_that_names_namespaces_in_commands_cannot_share_a_cluster() -> None:
    flux = load_course(ROOT / "courses" / "gitops-flux")
    problems = shared_cluster_problems(flux, load_lab(flux.lab_folder), ["flux-system"])
    assert problems[0].startswith("lab 'gitops-flux' runs GitOps agents (flux)")
    assert "step declare-the-sync: solution code says '-n flux-system'" in "\n".join(problems)
    basics = load_course(ROOT / "tests" / "lab_courses" / "courses" / "basics")
    assert shared_cluster_problems(basics, load_lab(basics.lab_folder), ["work", "default"]) == []


def test_course_validate_says_whether_a_course_can_run_on_a_shared_cluster(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "tests" / "lab_courses", repo)
    lab_file = repo / "labs" / "basics" / "lab.yaml"
    lab_file.write_text(lab_file.read_text().replace("backend: embedded", "backend: any"))
    runner = CliRunner()
    fine = runner.invoke(cli, ["course", "validate", "--backend", "existing", str(repo / "courses" / "basics")], obj={})
    assert fine.exit_code == 0, fine.output
    course = repo / "courses" / "basics" / "course.yaml"
    course.write_text(
        course.read_text().replace("kubectl scale deployment web", "kubectl -n work scale deployment web")
    )
    refused = runner.invoke(
        cli, ["course", "validate", "--backend", "existing", str(repo / "courses" / "basics")], obj={}
    )
    assert refused.exit_code == 1
    assert "cannot run on the existing backend: step scale: solution code says '-n work'" in refused.output
    on_kind = runner.invoke(
        cli, ["course", "validate", "--backend", "kind", str(ROOT / "courses" / "antipatterns")], obj={}
    )
    assert on_kind.exit_code == 0, on_kind.output
    shared = runner.invoke(
        cli, ["course", "validate", "--backend", "existing", str(ROOT / "courses" / "antipatterns")], obj={}
    )
    assert shared.exit_code == 1
    assert "lab 'antipatterns' runs images that exist only on the learner's machine" in shared.output
    replay = runner.invoke(
        cli, ["course", "validate", "--backend", "kind", str(ROOT / "courses" / "is-it-perfect")], obj={}
    )
    assert replay.exit_code == 1 and "lab 'is-it-perfect' says `backend: embedded`" in replay.output
