"""The cluster backends without Docker: which backend a lab gets, the kind cluster driven through a fake kind and
container runtime, and the existing backend's learner names and kubeconfigs."""

from __future__ import annotations

import stat
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.cluster.backend import (
    BackendOptions,
    ClusterBackend,
    KindSupport,
    choose_backend,
    open_cluster,
    write_record,
)
from engine.cluster.embedded.backend import EmbeddedCluster
from engine.cluster.existing import (
    ExistingCluster,
    ForeignNamespace,
    NamespaceOwner,
    learner_name,
    merged_kubeconfig,
    prefixed,
    standalone_kubeconfig,
)
from engine.cluster.kind import KindError
from engine.cluster.kind_backend import KindCluster, kind_cluster_name
from engine.cluster.runtime import Runtime
from engine.errors import DriftlabError

ADVICE = "the kind backend needs docker: install it, or use --backend embedded"


class Support:
    """A fake probe of the machine, counting how often it was asked."""

    def __init__(self, ready: bool, detail: str = "docker answers and kind is installed") -> None:
        self.ready = ready
        self.detail = detail if ready else "no container runtime is installed"
        self.asked = 0

    def __call__(self, env: Mapping[str, str]) -> KindSupport:
        self.asked += 1
        return KindSupport(self.ready, self.detail)


def choose(lab: str = "any", flag: str | None = None, env: dict[str, str] | None = None, ready: bool = False) -> Any:
    support = Support(ready)
    choice = choose_backend(lab, flag, env or {}, support=support, unavailable=lambda: ADVICE)
    return choice, support


# Choosing ------------------------------------------------------------------------------------------------------


def test_a_lab_that_runs_anywhere_gets_kind_where_a_runtime_answers_and_embedded_elsewhere() -> None:
    choice, _ = choose(ready=True)
    assert choice.name == "kind"
    assert "docker answers and kind is installed" in choice.message
    choice, _ = choose(ready=False)
    assert choice.name == "embedded"
    assert choice.message.startswith("backend: embedded (no container runtime is installed")


def test_asking_for_kind_without_a_working_runtime_fails_fast_with_the_doctors_advice() -> None:
    with pytest.raises(DriftlabError) as raised:
        choose(flag="kind", ready=False)
    assert str(raised.value).startswith(ADVICE)
    assert "no container runtime is installed" in str(raised.value)
    with pytest.raises(DriftlabError, match="the kind backend needs docker"):
        choose(lab="kind", ready=False)
    choice, support = choose(flag="kind", ready=True)
    assert (choice.name, support.asked) == ("kind", 1)


def test_the_flag_must_be_a_backend_the_lab_allows() -> None:
    with pytest.raises(DriftlabError, match=r"runs only on the embedded backend .*use --backend embedded"):
        choose(lab="embedded", flag="kind", ready=True)
    with pytest.raises(DriftlabError, match="not on the embedded backend"):
        choose(lab="kind", flag="embedded", ready=True)
    choice, support = choose(lab="kind", flag="existing")
    assert (choice.name, support.asked) == ("existing", 0)


def test_the_environment_is_a_default_that_gives_way_to_the_lab() -> None:
    choice, support = choose(lab="embedded", env={"DRIFTLAB_BACKEND": "kind"}, ready=True)
    assert choice.name == "embedded" and "DRIFTLAB_BACKEND=kind is ignored" in choice.reason
    assert support.asked == 0
    choice, support = choose(env={"DRIFTLAB_BACKEND": "existing"}, ready=True)
    assert (choice.name, choice.reason, support.asked) == ("existing", "DRIFTLAB_BACKEND=existing", 0)
    choice, _ = choose(flag="embedded", env={"DRIFTLAB_BACKEND": "kind"}, ready=True)
    assert choice.name == "embedded"


def test_an_embedded_only_lab_never_asks_the_container_runtime_and_needs_no_word() -> None:
    choice, support = choose(lab="embedded", ready=True)
    assert (choice.name, support.asked, choice.obvious) == ("embedded", 0, True)
    assert not choose(ready=True)[0].obvious and not choose(ready=False)[0].obvious


def test_unknown_backends_are_named_with_the_choices() -> None:
    with pytest.raises(DriftlabError, match="unknown backend 'docker' in --backend: use one of embedded, kind"):
        choose(flag="docker")
    with pytest.raises(DriftlabError, match="unknown backend 'minikube' in DRIFTLAB_BACKEND"):
        choose(env={"DRIFTLAB_BACKEND": "minikube"})
    with pytest.raises(DriftlabError, match="unknown lab backend 'docker'"):
        choose(lab="docker")


# Which cluster ----------------------------------------------------------------------------------------------


def test_a_cluster_opens_on_the_backend_it_was_made_with(driftlab_home: Path) -> None:
    assert isinstance(open_cluster("fresh"), EmbeddedCluster)
    assert isinstance(open_cluster("fresh", "kind"), KindCluster)
    write_record(driftlab_home / "clusters" / "shop", {"backend": "kind"})
    found = open_cluster("shop")
    assert isinstance(found, KindCluster) and isinstance(found, ClusterBackend)
    assert (found.backend, found.embedded_agents) == ("kind", False)
    with pytest.raises(DriftlabError, match="runs on the kind backend, not existing; remove it first"):
        open_cluster("shop", "existing")
    embedded = open_cluster("fresh")
    assert (embedded.backend, embedded.embedded_agents, embedded.agent_git_host()) == ("embedded", True, "127.0.0.1")


# The kind backend, with a fake kind --------------------------------------------------------------------------


class FakeKind:
    """kind as KindCluster uses it: clusters it knows, what it was asked, kubeconfigs it prints."""

    def __init__(self) -> None:
        self.known: list[str] = []
        self.calls: list[tuple[str, Any]] = []

    def clusters(self) -> list[str]:
        return list(self.known)

    def create(self, name: str, *, config: dict[str, Any], wait: str, kubeconfig: Path, progress: Any) -> None:
        self.calls.append(("create", {"name": name, "config": config, "wait": wait, "kubeconfig": kubeconfig}))
        progress(" ✓ Preparing nodes 📦")
        self.known.append(name)

    def kubeconfig(self, name: str, *, internal: bool = False) -> str:
        context = f"kind-{name}"
        return yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": context, "cluster": {"server": "https://127.0.0.1:41234"}}],
                "users": [{"name": context, "user": {"token": "t"}}],
                "contexts": [{"name": context, "context": {"cluster": context, "user": context}}],
                "current-context": context,
            }
        )

    def delete(self, name: str) -> None:
        self.calls.append(("delete", name))
        self.known.remove(name)


class Probe:
    """Whether the fake API answers."""

    def __init__(self) -> None:
        self.up = True

    def __call__(self, kubeconfig: Path) -> bool:
        return self.up and kubeconfig.is_file()


@pytest.fixture
def runtime_binary(tmp_path: Path) -> Callable[[], list[str]]:
    """A stub container runtime that records its arguments; returns a reader of what it was asked."""
    log = tmp_path / "runtime.log"
    script = tmp_path / "docker"
    script.write_text(f'#!/bin/sh\necho "$@" >> {log}\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return lambda: log.read_text().splitlines() if log.exists() else []


def kind_cluster(
    tmp_path: Path, fake: FakeKind, probe: Probe, *, answers: bool = True, ports: tuple[int, ...] = (30080, 30100)
) -> KindCluster:
    runtime = Runtime("docker", str(tmp_path / "docker"), answers, "Docker 27.3.1")
    return KindCluster("lab-shop", node_ports=ports, kind=fake, runtime=runtime, probe=probe, start_timeout=0.05)  # type: ignore[arg-type]


def test_kind_makes_one_cluster_per_lab_with_the_labs_node_ports_on_localhost(
    driftlab_home: Path, tmp_path: Path, runtime_binary: Callable[[], list[str]]
) -> None:
    fake, said = FakeKind(), []
    cluster = kind_cluster(tmp_path, fake, Probe())
    assert not cluster.exists() and not cluster.status().running
    status = cluster.up(progress=said.append)
    ((verb, made),) = fake.calls
    assert verb == "create" and made["name"] == "driftlab-shop" and made["wait"] == "60s"
    assert made["kubeconfig"] == driftlab_home / "clusters" / "lab-shop" / "kind.kubeconfig"
    node = made["config"]["nodes"][0]
    assert made["config"]["apiVersion"] == "kind.x-k8s.io/v1alpha4"
    assert node["extraPortMappings"] == [
        {"containerPort": 30080, "hostPort": 30080, "listenAddress": "127.0.0.1", "protocol": "TCP"},
        {"containerPort": 30100, "hostPort": 30100, "listenAddress": "127.0.0.1", "protocol": "TCP"},
    ]
    assert " ✓ Preparing nodes 📦" in said
    assert (status.running, status.server, status.backend, status.pid) == (
        True,
        "https://127.0.0.1:41234",
        "kind",
        None,
    )
    assert cluster.exists()
    config = yaml.safe_load(cluster.kubeconfig("shop"))
    assert config["contexts"][0]["context"]["namespace"] == "shop"
    assert config["current-context"] == "kind-driftlab-shop"
    assert stat.S_IMODE(cluster.kubeconfig_file.stat().st_mode) == 0o600
    cluster.up()
    assert [call[0] for call in fake.calls] == ["create"]
    assert isinstance(open_cluster("lab-shop"), KindCluster)
    assert runtime_binary() == []


def test_kind_without_a_runtime_that_answers_says_what_the_doctor_says(
    driftlab_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("engine.cluster.kind_backend.kind_unavailable_message", lambda: ADVICE)
    fake = FakeKind()
    with pytest.raises(DriftlabError, match="the kind backend needs docker"):
        kind_cluster(tmp_path, fake, Probe(), answers=False).up()
    assert fake.calls == []


def test_down_stops_the_node_container_and_up_starts_it_again(
    driftlab_home: Path, tmp_path: Path, runtime_binary: Callable[[], list[str]]
) -> None:
    fake, probe = FakeKind(), Probe()
    cluster = kind_cluster(tmp_path, fake, probe)
    cluster.up()
    assert cluster.down() is True
    assert runtime_binary() == ["stop driftlab-shop-control-plane"]
    probe.up = False
    assert cluster.status().running is False and cluster.exists()
    with pytest.raises(DriftlabError, match=r"did not answer within 0\.05s of starting its node"):
        cluster.up()
    assert runtime_binary()[-1] == "start driftlab-shop-control-plane"
    probe.up = True
    assert cluster.up().running
    assert [call[0] for call in fake.calls] == ["create"]


def test_down_with_purge_deletes_the_kind_cluster_and_its_state(driftlab_home: Path, tmp_path: Path) -> None:
    fake = FakeKind()
    cluster = kind_cluster(tmp_path, fake, Probe())
    cluster.up()
    assert cluster.down(purge=True) is True
    assert fake.calls[-1] == ("delete", "driftlab-shop")
    assert not cluster.exists() and not cluster.state_dir.exists()
    assert cluster.down(purge=True) is False
    with pytest.raises(DriftlabError, match="there is no kind cluster for 'lab-shop'"):
        cluster.kubeconfig()


def test_a_cluster_made_before_the_lab_had_a_node_port_says_how_to_get_it(driftlab_home: Path, tmp_path: Path) -> None:
    fake = FakeKind()
    kind_cluster(tmp_path, fake, Probe(), ports=(30080,)).up()
    said: list[str] = []
    kind_cluster(tmp_path, fake, Probe(), ports=(30080, 30300)).up(progress=said.append)
    assert any("without host ports for NodePorts 30300" in line and "--purge" in line for line in said)
    again: list[str] = []
    kind_cluster(tmp_path, fake, Probe(), ports=(30080, 30300)).up(progress=again.append)
    assert any("NodePorts 30300" in line for line in again)  # still true: the cluster maps what it was made with


def test_bad_node_ports_are_refused_by_the_kind_config(driftlab_home: Path, tmp_path: Path) -> None:
    with pytest.raises(KindError, match="node port 80 is not a NodePort"):
        kind_cluster(tmp_path, FakeKind(), Probe(), ports=(80,)).up()


def test_kind_cluster_names_drop_the_lab_prefix_and_stay_short_and_distinct() -> None:
    assert kind_cluster_name("lab-gitops-flux") == "driftlab-gitops-flux"
    assert kind_cluster_name("default") == "driftlab-default"
    first, second = (
        kind_cluster_name("coursetest-" + "x" * 45 + "-aaaaaa"),
        kind_cluster_name("coursetest-" + "x" * 45 + "-bbbbbb"),
    )
    assert len(first) <= 50 and len(second) <= 50 and first != second


# The existing backend ----------------------------------------------------------------------------------------


def test_the_learner_name_comes_from_the_option_the_environment_or_the_login(monkeypatch: pytest.MonkeyPatch) -> None:
    assert learner_name("Ada Lovelace", {}) == "ada-lovelace"
    assert learner_name(None, {"DRIFTLAB_LEARNER": "grace"}) == "grace"
    monkeypatch.setattr("getpass.getuser", lambda: "Linus_T")
    assert learner_name(None, {}) == "linus-t"
    with pytest.raises(DriftlabError, match="give --learner NAME"):
        learner_name("!!!", {})
    with pytest.raises(DriftlabError, match="1 to 30 lowercase"):
        learner_name("x" * 31, {})


def test_namespaces_are_prefixed_per_learner_but_system_ones_are_shared() -> None:
    assert prefixed("ada", "shop") == "ada-shop"
    assert prefixed("ada", "default") == "ada-default"
    assert prefixed("ada", "kube-system") == "kube-system"
    with pytest.raises(DriftlabError, match="choose a shorter --learner"):
        prefixed("a" * 30, "n" * 40)


def write_kubeconfig(path: Path, document: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(document))
    return path


def test_the_learners_kubeconfig_holds_only_the_context_with_absolute_paths(tmp_path: Path) -> None:
    first = write_kubeconfig(
        tmp_path / "a" / "config",
        {
            "clusters": [
                {"name": "workshop", "cluster": {"server": "https://10.0.0.1", "certificate-authority": "ca.crt"}}
            ],
            "users": [{"name": "ada", "user": {"client-certificate": "ada.crt", "client-key": "/keys/ada.key"}}],
            "contexts": [{"name": "workshop", "context": {"cluster": "workshop", "user": "ada"}}],
            "current-context": "workshop",
        },
    )
    second = write_kubeconfig(
        tmp_path / "b" / "config",
        {
            "clusters": [
                {"name": "workshop", "cluster": {"server": "https://shadowed"}},
                {"name": "other", "cluster": {"server": "https://10.0.0.2"}},
            ],
            "contexts": [{"name": "other", "context": {"cluster": "other"}}],
            "current-context": "other",
        },
    )
    merged = merged_kubeconfig([first, second, tmp_path / "missing"])
    document = yaml.safe_load(standalone_kubeconfig(merged, None, "ada-shop"))
    assert document["current-context"] == "workshop"
    assert document["contexts"] == [
        {"name": "workshop", "context": {"cluster": "workshop", "user": "ada", "namespace": "ada-shop"}}
    ]
    (cluster,) = document["clusters"]
    assert cluster["cluster"] == {"server": "https://10.0.0.1", "certificate-authority": str(tmp_path / "a" / "ca.crt")}
    (user,) = document["users"]
    assert user["user"] == {"client-certificate": str(tmp_path / "a" / "ada.crt"), "client-key": "/keys/ada.key"}
    other = yaml.safe_load(standalone_kubeconfig(merged, "other", "x"))
    assert other["clusters"][0]["cluster"]["server"] == "https://10.0.0.2" and other["users"] == []
    with pytest.raises(DriftlabError, match=r"has no context 'nope' \(it has: other, workshop\)"):
        standalone_kubeconfig(merged, "nope")
    with pytest.raises(DriftlabError, match="no kubeconfig at"):
        merged_kubeconfig([tmp_path / "missing"])
    (tmp_path / "bad").write_text("- a list\n")
    with pytest.raises(DriftlabError, match="is not a YAML mapping"):
        merged_kubeconfig([tmp_path / "bad"])


def test_the_existing_backend_remembers_its_context_and_learner(driftlab_home: Path, tmp_path: Path) -> None:
    source = write_kubeconfig(
        tmp_path / "config",
        {
            "clusters": [{"name": "c", "cluster": {"server": "https://10.0.0.1"}}],
            "contexts": [
                {"name": "workshop", "context": {"cluster": "c"}},
                {"name": "other", "context": {"cluster": "c"}},
            ],
            "current-context": "other",
        },
    )
    cluster = ExistingCluster(
        "lab-shop", kubeconfig=str(source), context="workshop", learner="ada", probe=lambda _p: True
    )
    status = cluster.up()
    assert (status.running, status.server, status.backend) == (True, "https://10.0.0.1", "existing")
    again = open_cluster("lab-shop")
    assert isinstance(again, ExistingCluster)
    assert (again.context, again.learner, again.agent_git_host(), again.embedded_agents) == (
        "workshop",
        "ada",
        None,
        False,
    )
    assert yaml.safe_load(again.kubeconfig("shop"))["contexts"][0]["context"]["namespace"] == "ada-shop"
    with pytest.raises(DriftlabError, match="was set up for learner 'ada', not 'bob'"):
        ExistingCluster("lab-shop", learner="bob", probe=lambda _p: True).up()
    assert again.down() is False and again.exists()


class FakeNamespaces:
    """The Namespace part of KubeClient, in memory."""

    def __init__(self, existing: dict[str, dict[str, str]]) -> None:
        self.items = {name: {"metadata": {"name": name, "labels": labels}} for name, labels in existing.items()}

    def resolve(self, kind: str, api_version: str | None = None) -> str:
        return "namespaces"

    def get(self, resource: str, name: str) -> dict[str, Any] | None:
        return self.items.get(name)

    def create(self, body: dict[str, Any], *, field_manager: str | None = None) -> dict[str, Any]:
        self.items[body["metadata"]["name"]] = body
        return body

    def list(self, resource: str, *, label_selector: str) -> tuple[list[dict[str, Any]], str]:
        wanted = dict(part.split("=") for part in label_selector.split(","))
        found = [item for item in self.items.values() if wanted.items() <= item["metadata"]["labels"].items()]
        return found, "1"

    def delete(self, resource: str, name: str) -> bool:
        return self.items.pop(name, None) is not None


def test_a_lab_claims_its_own_namespaces_and_refuses_foreign_ones() -> None:
    mine = {"driftlab.dev/learner": "ada", "driftlab.dev/lab": "lab-shop"}
    client = FakeNamespaces({"ada-dev": mine, "ada-prod": {}, "ada-qa": {"driftlab.dev/learner": "bob"}})
    owner = NamespaceOwner(client, "ada", "lab-shop")
    assert owner.claim(["ada-dev", "ada-shop"]) == ["ada-shop"]
    assert client.items["ada-shop"]["metadata"]["labels"] == {**mine, "app.kubernetes.io/managed-by": "driftlab"}
    with pytest.raises(
        ForeignNamespace, match="'ada-prod' exists and is not this lab's \\(driftlab did not create it\\)"
    ):
        owner.claim(["ada-prod"])
    with pytest.raises(ForeignNamespace, match="belongs to learner 'bob'"):
        owner.require_owned(["ada-dev", "ada-qa"])
    other_lab = NamespaceOwner(client, "ada", "lab-other")
    with pytest.raises(ForeignNamespace, match="belongs to your lab 'lab-shop'"):
        other_lab.claim(["ada-dev"])
    assert owner.require_owned(["ada-dev", "ada-gone"]) == ["ada-dev"]
    assert owner.owned() == ["ada-dev", "ada-shop"]
    assert owner.release() == ["ada-dev", "ada-shop"]
    assert sorted(client.items) == ["ada-prod", "ada-qa"]


def test_backends_take_their_options(driftlab_home: Path) -> None:
    options = BackendOptions(node_ports=(30080,), context="workshop", learner="ada")
    kind = open_cluster("one", "kind", options)
    assert isinstance(kind, KindCluster) and kind.node_ports == (30080,)
    existing = open_cluster("two", "existing", options)
    assert isinstance(existing, ExistingCluster) and (existing.context, existing.learner) == ("workshop", "ada")
