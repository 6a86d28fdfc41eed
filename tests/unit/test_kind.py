"""The kind wrapper against a stand-in `kind` on PATH that records its arguments and answers with kind's own
output: every command, every error kind prints, progress, timeouts and the cleanup of a half-created cluster.

The `stubs` fixture here is shared with the runtime and doctor tests.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from engine.cluster import kind as kind_module
from engine.cluster.kind import Kind, KindError, kind_config

STUBS = Path(__file__).resolve().parents[1] / "fixtures" / "stubs"
SEP = "\x1f"


@dataclass(frozen=True)
class Call:
    tool: str
    args: list[str]
    provider: str = ""  # KIND_EXPERIMENTAL_PROVIDER as kind saw it


@dataclass
class Stubs:
    """A PATH holding only the stand-ins a test installs, and the folder standing in for the runtime."""

    bin: Path
    state: Path
    log: Path
    monkeypatch: pytest.MonkeyPatch

    def install(self, *tools: str) -> None:
        for tool in tools:
            (self.bin / tool).symlink_to(STUBS / tool)

    def link(self, name: str, target: str | Path) -> None:
        (self.bin / name).symlink_to(target)

    def answer(self, tool: str, scenario: str) -> None:
        """How a stand-in answers (see the scenarios at the top of each stub)."""
        self.monkeypatch.setenv(f"STUB_{tool.upper()}", scenario)

    def calls(self, tool: str = "kind") -> list[Call]:
        if not self.log.exists():
            return []
        found = []
        for line in self.log.read_text().splitlines():
            fields = line.split(SEP)
            if fields[0] != tool:
                continue
            if tool == "kind":
                found.append(Call(tool, fields[2:], fields[1].partition("=")[2]))
            else:
                found.append(Call(tool, fields[1:]))
        return found

    def commands(self, tool: str = "kind") -> list[list[str]]:
        return [call.args for call in self.calls(tool)]

    def clusters(self) -> list[str]:
        folder = self.state / "clusters"
        return sorted(child.name for child in folder.iterdir()) if folder.is_dir() else []

    def add_cluster(self, name: str) -> None:
        (self.state / "clusters" / name).mkdir(parents=True)

    def add_image(self, image: str) -> None:
        self.state.mkdir(parents=True, exist_ok=True)
        with (self.state / "images").open("a") as handle:
            handle.write(image + "\n")


@pytest.fixture
def stubs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubs]:
    """Stand-in `kind` and `docker` alone on PATH (no real tool can answer), each call recorded."""
    folder = tmp_path / "stubs"
    folder.mkdir()
    found = Stubs(bin=folder, state=tmp_path / "runtime", log=tmp_path / "calls.log", monkeypatch=monkeypatch)
    monkeypatch.setenv("PATH", str(folder))
    monkeypatch.setenv("STUB_STATE", str(found.state))
    monkeypatch.setenv("STUB_LOG", str(found.log))
    for name in list(os.environ):
        if name.startswith(("STUB_KIND", "STUB_DOCKER", "STUB_PODMAN", "STUB_NERDCTL", "KIND_")):
            monkeypatch.delenv(name)
    found.install("kind", "docker")
    yield found


def create_args(name: str, *extra: str) -> list[str]:
    return ["create", "cluster", "--name", name, "--wait", "60s", *extra]


# Finding kind, and its version -------------------------------------------------------------------------------


def test_version_is_read_from_kind_version(stubs: Stubs) -> None:
    kind = Kind()
    assert kind.binary == str(stubs.bin / "kind")
    assert kind.version() == "0.32.0"
    assert stubs.commands() == [["version"]]


def test_a_pre_release_version_keeps_its_suffix(stubs: Stubs) -> None:
    stubs.monkeypatch.setenv("STUB_KIND_VERSION", "0.33.0-alpha.2")
    assert Kind().version() == "0.33.0-alpha.2"


def test_something_that_is_not_kind_is_named(stubs: Stubs) -> None:
    stubs.answer("kind", "bad-version")
    with pytest.raises(KindError, match="not a kind version: is it kind"):
        Kind().version()


def test_without_kind_the_error_says_how_to_install_it(stubs: Stubs) -> None:
    (stubs.bin / "kind").unlink()
    with pytest.raises(KindError) as caught:
        Kind()
    assert caught.value.reason == kind_module.NOT_INSTALLED
    message = str(caught.value)
    assert message.startswith("kind is not installed: ")
    assert f"https://kind.sigs.k8s.io/dl/v{kind_module.KIND_VERSION}/kind-" in message
    assert message.endswith("--backend embedded")


def test_a_named_binary_that_does_not_exist_is_refused(stubs: Stubs, tmp_path: Path) -> None:
    with pytest.raises(KindError, match="does not exist or is not executable"):
        Kind(str(tmp_path / "nowhere" / "kind"))


def test_kind_is_found_on_the_path_given_in_env(stubs: Stubs, tmp_path: Path) -> None:
    other = tmp_path / "other-bin"
    other.mkdir()
    (other / "kind").symlink_to(STUBS / "kind")
    (stubs.bin / "kind").unlink()
    assert Kind(env={"PATH": str(other)}).binary == str(other / "kind")


# create ------------------------------------------------------------------------------------------------------


def test_create_passes_the_config_on_stdin_and_streams_progress(stubs: Stubs, tmp_path: Path) -> None:
    lines: list[str] = []
    config = kind_config("lab-a", [30080])
    Kind().create("lab-a", config=config, progress=lines.append)
    assert stubs.commands() == [create_args("lab-a", "--config", "-")]
    assert yaml.safe_load((stubs.state / "config.yaml").read_text()) == config
    assert stubs.clusters() == ["lab-a"]
    assert lines[0] == 'Creating cluster "lab-a" ...'
    for step in ("Ensuring node image (kindest/node:v1.36.1) 🖼", "Preparing nodes 📦", "Starting control-plane 🕹️"):
        assert f" ✓ {step}" in lines
    assert " ✓ Waiting ≤ 1m0s for control-plane = Ready ⏳" in lines
    assert lines.index(" ✓ Preparing nodes 📦") < lines.index(" ✓ Installing CNI 🔌")
    assert all(line == line.rstrip() and line for line in lines)


def test_create_passes_image_wait_and_kubeconfig(stubs: Stubs, tmp_path: Path) -> None:
    target = tmp_path / "kubeconfig"
    Kind().create("lab-a", image="kindest/node:v1.35.0", wait="2m", kubeconfig=target)
    assert stubs.commands() == [
        [
            "create",
            "cluster",
            "--name",
            "lab-a",
            "--wait",
            "2m",
            "--image",
            "kindest/node:v1.35.0",
            "--kubeconfig",
            str(target),
        ]
    ]
    assert yaml.safe_load(target.read_text())["current-context"] == "kind-lab-a"


def test_the_provider_variable_reaches_kind(stubs: Stubs) -> None:
    lines: list[str] = []
    Kind(env={"KIND_EXPERIMENTAL_PROVIDER": "podman"}).create("lab-a", progress=lines.append)
    assert [call.provider for call in stubs.calls()] == ["podman"]
    assert lines[:3] == [
        "using podman due to KIND_EXPERIMENTAL_PROVIDER",
        "enabling experimental podman provider",
        'Creating cluster "lab-a" ...',
    ]


def test_a_cluster_that_exists_is_reported_and_left_alone(stubs: Stubs) -> None:
    stubs.add_cluster("lab-a")
    with pytest.raises(KindError) as caught:
        Kind().create("lab-a")
    assert caught.value.reason == kind_module.EXISTS
    assert str(caught.value) == (
        "a kind cluster named 'lab-a' already exists: use it as it is, or delete it first with "
        "`kind delete cluster --name lab-a`"
    )
    assert stubs.clusters() == ["lab-a"]
    assert [args[0] for args in stubs.commands()] == ["create"]  # no delete


def test_no_docker_says_to_install_a_runtime_or_use_embedded(stubs: Stubs) -> None:
    stubs.answer("kind", "no-docker")
    with pytest.raises(KindError) as caught:
        Kind().create("lab-a")
    error = caught.value
    assert error.reason == kind_module.NO_RUNTIME
    assert str(error).startswith("kind found no docker to run the cluster's nodes in (docker is not installed")
    assert "https://docs.docker.com/" in str(error)
    assert str(error).endswith("--backend embedded")
    assert 'exec: "docker": executable file not found in $PATH' in error.output
    assert [args[0] for args in stubs.commands()] == ["create"]


def test_no_podman_when_podman_is_asked_for(stubs: Stubs) -> None:
    stubs.answer("kind", "no-docker")
    with pytest.raises(KindError) as caught:
        Kind(env={"KIND_EXPERIMENTAL_PROVIDER": "podman"}).create("lab-a")
    assert str(caught.value).startswith("kind found no podman to run the cluster's nodes in")
    assert "https://podman.io/" in str(caught.value)


def test_a_stopped_docker_daemon_says_how_to_start_it(stubs: Stubs) -> None:
    stubs.answer("kind", "daemon-down")
    with pytest.raises(KindError) as caught:
        Kind().create("lab-a")
    error = caught.value
    assert error.reason == kind_module.RUNTIME_DOWN
    message = str(error)
    assert message.startswith(
        "docker is installed but its daemon does not answer (Cannot connect to the Docker daemon at "
        "unix:///var/run/docker.sock. Is the docker daemon running?): "
    )
    assert "systemctl start docker" in message or "Docker Desktop" in message
    assert '{"ID"' not in message  # docker's JSON stays in the output, out of the message
    assert "Command Output:" in error.output
    assert stubs.clusters() == []
    assert [args[0] for args in stubs.commands()] == ["create"]


def test_a_docker_socket_that_is_not_ours_says_how_to_join_the_group(stubs: Stubs) -> None:
    stubs.answer("kind", "denied")
    with pytest.raises(KindError) as caught:
        Kind().create("lab-a")
    assert caught.value.reason == kind_module.RUNTIME_DENIED
    assert "sudo usermod -aG docker $USER" in str(caught.value)


def test_a_failed_image_pull_names_the_image_and_the_network_error(stubs: Stubs) -> None:
    stubs.answer("kind", "pull-failed")
    with pytest.raises(KindError) as caught:
        Kind().create("lab-a")
    message = str(caught.value)
    assert caught.value.reason == kind_module.IMAGE_PULL
    assert message.startswith("kind could not download the node image kindest/node:v1.36.1 (Error response from")
    assert "server misbehaving" in message
    assert "docker pull kindest/node:v1.36.1" in message
    assert message.endswith("the half-created cluster was deleted")
    assert [args[:2] for args in stubs.commands()] == [["create", "cluster"], ["delete", "cluster"]]


def test_a_create_that_kind_gave_up_on_is_cleaned_up(stubs: Stubs) -> None:
    stubs.answer("kind", "fail-midway")
    with pytest.raises(KindError) as caught:
        Kind().create("lab-b")
    message = str(caught.value)
    assert caught.value.reason == kind_module.FAILED
    assert message.startswith(
        "creating kind cluster 'lab-b' at 'Starting control-plane 🕹️' failed: failed to init node with kubeadm"
    )
    assert "(error execution phase wait-control-plane: could not initialize a Kubernetes cluster)" in message
    assert "the half-created cluster was deleted. `driftlab doctor` checks kind" in message
    assert stubs.commands()[-1] == ["delete", "cluster", "--name", "lab-b"]
    assert stubs.clusters() == []


def test_a_create_that_crashed_leaves_no_half_created_cluster(stubs: Stubs) -> None:
    stubs.answer("kind", "crash-midway")
    with pytest.raises(KindError) as caught:
        Kind().create("lab-b")
    assert "panic: runtime error" in str(caught.value)
    assert "the half-created cluster was deleted" in str(caught.value)
    assert stubs.clusters() == []


def test_when_cleanup_fails_too_the_error_says_how_to_delete_by_hand(stubs: Stubs) -> None:
    stubs.answer("kind", "crash-undeletable")
    with pytest.raises(KindError) as caught:
        Kind().create("lab-b")
    assert str(caught.value).endswith(
        "deleting the half-created cluster failed too: delete it with `kind delete cluster --name lab-b`. "
        "`driftlab doctor` checks kind and the container runtime; the same kind command with `-v 1` shows more"
    )
    assert stubs.clusters() == ["lab-b"]


def test_a_create_that_takes_too_long_is_stopped_and_deleted(stubs: Stubs) -> None:
    stubs.answer("kind", "slow-create")
    lines: list[str] = []
    started = time.monotonic()
    with pytest.raises(KindError) as caught:
        Kind().create("lab-a", progress=lines.append, timeout=1)
    assert time.monotonic() - started < 10  # the hung kind (sleep 30) was killed, not waited for
    assert caught.value.reason == kind_module.TIMEOUT
    message = str(caught.value)
    assert message.startswith(
        "creating kind cluster 'lab-a' took longer than 1s (at: Preparing nodes 📦), so it was stopped; "
        "the half-created cluster was deleted."
    )
    assert " ✓ Preparing nodes 📦" in lines  # progress arrived while kind was still running
    assert " ✓ Preparing nodes 📦" in caught.value.output
    assert stubs.clusters() == []


def test_a_failing_progress_callback_stops_kind_and_cleans_up(stubs: Stubs) -> None:
    def broken(line: str) -> None:
        if "✓ Preparing nodes" in line:
            raise RuntimeError("the terminal went away")

    stubs.answer("kind", "slow-create")
    with pytest.raises(RuntimeError, match="the terminal went away"):
        Kind().create("lab-a", progress=broken)
    assert stubs.clusters() == []


def test_an_interrupted_create_deletes_the_half_created_cluster(stubs: Stubs) -> None:
    def interrupt(line: str) -> None:
        if "✓ Preparing nodes" in line:
            raise KeyboardInterrupt

    stubs.answer("kind", "slow-create")
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        Kind().create("lab-a", progress=interrupt)
    assert time.monotonic() - started < 10
    assert stubs.clusters() == []
    assert stubs.commands()[-1] == ["delete", "cluster", "--name", "lab-a"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "Lab_A"}, "invalid kind cluster name 'Lab_A'"),
        ({"name": "lab-a", "wait": "soon"}, "wait 'soon' is not a duration"),
        ({"name": "lab-a", "config": ["nodes"]}, "kind's config must be a mapping, not list"),
        ({"name": "lab-a", "image": " "}, "node image ' ' is not an image name"),
        ({"name": "lab-a", "config": {"name": Path("x")}}, "kind's config cannot be written as YAML"),
    ],
)
def test_bad_create_arguments_never_reach_kind(stubs: Stubs, kwargs: dict[str, object], message: str) -> None:
    name = kwargs.pop("name")
    with pytest.raises(KindError, match=message) as caught:
        Kind().create(name, **kwargs)  # type: ignore[arg-type]
    assert caught.value.reason == kind_module.BAD_INPUT
    assert stubs.commands() == []


# delete, list, kubeconfig ------------------------------------------------------------------------------------


def test_delete_removes_the_cluster_and_accepts_an_absent_one(stubs: Stubs) -> None:
    stubs.add_cluster("lab-a")
    kind = Kind()
    kind.delete("lab-a")
    kind.delete("lab-a")
    assert stubs.clusters() == []
    assert stubs.commands() == [["delete", "cluster", "--name", "lab-a"]] * 2


def test_delete_with_docker_down_explains(stubs: Stubs) -> None:
    stubs.answer("kind", "daemon-down")
    with pytest.raises(KindError) as caught:
        Kind().delete("lab-a")
    assert caught.value.reason == kind_module.RUNTIME_DOWN


def test_clusters_lists_names_and_is_empty_without_any(stubs: Stubs) -> None:
    kind = Kind()
    assert kind.clusters() == []
    stubs.add_cluster("lab-b")
    stubs.add_cluster("lab-a")
    assert kind.clusters() == ["lab-a", "lab-b"]
    assert stubs.commands() == [["get", "clusters"]] * 2


def test_kubeconfig_for_the_host_and_for_the_kind_network(stubs: Stubs) -> None:
    stubs.add_cluster("lab-a")
    kind = Kind()
    host = yaml.safe_load(kind.kubeconfig("lab-a"))
    inside = yaml.safe_load(kind.kubeconfig("lab-a", internal=True))
    assert host["clusters"][0]["cluster"]["server"] == "https://127.0.0.1:36755"
    assert inside["clusters"][0]["cluster"]["server"] == "https://lab-a-control-plane:6443"
    assert stubs.commands() == [
        ["get", "kubeconfig", "--name", "lab-a"],
        ["get", "kubeconfig", "--name", "lab-a", "--internal"],
    ]


def test_kubeconfig_of_an_unknown_cluster_says_how_to_find_one(stubs: Stubs) -> None:
    with pytest.raises(KindError) as caught:
        Kind().kubeconfig("nope")
    assert caught.value.reason == kind_module.NO_CLUSTER
    assert str(caught.value) == (
        "there is no kind cluster named 'nope': create it first (kind create cluster --name nope); "
        "`kind get clusters` lists the clusters there are"
    )
    assert "could not locate any control plane nodes for cluster named 'nope'" in caught.value.output


# load docker-image, export logs ------------------------------------------------------------------------------


def test_load_image_passes_every_image(stubs: Stubs) -> None:
    stubs.add_cluster("lab-a")
    stubs.add_image("shop:1.0")
    stubs.add_image("ghcr.io/acme/api:2")
    Kind().load_image("lab-a", ["shop:1.0", "ghcr.io/acme/api:2"])
    assert stubs.commands() == [["load", "docker-image", "shop:1.0", "ghcr.io/acme/api:2", "--name", "lab-a"]]
    assert (stubs.state / "clusters" / "lab-a" / "images").read_text().split() == ["shop:1.0", "ghcr.io/acme/api:2"]


def test_load_image_takes_a_single_name_and_skips_an_empty_list(stubs: Stubs) -> None:
    stubs.add_cluster("lab-a")
    stubs.add_image("shop:1.0")
    kind = Kind()
    kind.load_image("lab-a", [])
    kind.load_image("lab-a", "shop:1.0")
    assert stubs.commands() == [["load", "docker-image", "shop:1.0", "--name", "lab-a"]]


def test_load_of_an_image_not_present_says_to_pull_or_build_it(stubs: Stubs) -> None:
    stubs.add_cluster("lab-a")
    with pytest.raises(KindError) as caught:
        Kind().load_image("lab-a", ["shop:9.9"])
    assert caught.value.reason == kind_module.IMAGE_MISSING
    assert str(caught.value) == (
        "the image shop:9.9 is not among docker's local images, so kind cannot load it into cluster 'lab-a': "
        "pull or build it first (docker pull shop:9.9, or docker build -t shop:9.9 .), then load it again"
    )


def test_load_into_an_unknown_cluster(stubs: Stubs) -> None:
    stubs.add_image("shop:1.0")
    with pytest.raises(KindError) as caught:
        Kind().load_image("nope", ["shop:1.0"])
    assert caught.value.reason == kind_module.NO_CLUSTER


def test_export_logs_returns_the_folder_kind_wrote(stubs: Stubs, tmp_path: Path) -> None:
    stubs.add_cluster("lab-a")
    target = tmp_path / "logs"
    assert Kind().export_logs("lab-a", target) == target
    assert (target / "kind-version.txt").read_text().startswith("kind v0.32.0")
    assert (target / "lab-a-control-plane").is_dir()
    assert stubs.commands() == [["export", "logs", str(target), "--name", "lab-a"]]


def test_export_logs_of_an_unknown_cluster(stubs: Stubs, tmp_path: Path) -> None:
    with pytest.raises(KindError) as caught:
        Kind().export_logs("nope", tmp_path / "logs")
    assert caught.value.reason == kind_module.NO_CLUSTER


@pytest.mark.parametrize(
    ("call", "constant"),
    [
        (lambda kind: kind.clusters(), "QUERY_TIMEOUT"),
        (lambda kind: kind.kubeconfig("lab-a"), "QUERY_TIMEOUT"),
        (lambda kind: kind.delete("lab-a"), "DELETE_TIMEOUT"),
        (lambda kind: kind.load_image("lab-a", ["shop:1.0"]), "LOAD_TIMEOUT"),
        (lambda kind: kind.export_logs("lab-a", Path("logs")), "LOGS_TIMEOUT"),
    ],
)
def test_every_command_has_a_timeout(stubs: Stubs, call: object, constant: str) -> None:
    stubs.add_image("shop:1.0")
    stubs.answer("kind", "hang")
    stubs.monkeypatch.setattr(kind_module, constant, 0.5)
    started = time.monotonic()
    with pytest.raises(KindError) as caught:
        call(Kind())  # type: ignore[operator]
    assert time.monotonic() - started < 10
    assert caught.value.reason == kind_module.TIMEOUT
    assert "did not finish within 0.5s and was stopped" in str(caught.value)


def test_an_unknown_failure_keeps_kinds_words(stubs: Stubs) -> None:
    with pytest.raises(KindError) as caught:
        Kind()._call(["frobnicate"], timeout=10)
    assert str(caught.value).startswith('`kind frobnicate` failed: unknown command "frobnicate" for "kind". ')


# kind's config -----------------------------------------------------------------------------------------------


def test_kind_config_maps_each_node_port_on_the_loopback_address() -> None:
    assert kind_config("lab-a", [30081, 30080, 30081], image="kindest/node:v1.36.1") == {
        "kind": "Cluster",
        "apiVersion": "kind.x-k8s.io/v1alpha4",
        "name": "lab-a",
        "nodes": [
            {
                "role": "control-plane",
                "image": "kindest/node:v1.36.1",
                "extraPortMappings": [
                    {"containerPort": 30080, "hostPort": 30080, "listenAddress": "127.0.0.1", "protocol": "TCP"},
                    {"containerPort": 30081, "hostPort": 30081, "listenAddress": "127.0.0.1", "protocol": "TCP"},
                ],
            }
        ],
    }


def test_kind_config_without_ports_has_a_bare_control_plane() -> None:
    config = kind_config("lab-a", [], listen_address="0.0.0.0")
    assert config["nodes"] == [{"role": "control-plane"}]


def test_kind_config_takes_another_listen_address() -> None:
    config = kind_config("lab-a", [30080], listen_address="::1")
    assert config["nodes"][0]["extraPortMappings"][0]["listenAddress"] == "::1"


@pytest.mark.parametrize(
    ("name", "ports", "address", "message"),
    [
        ("lab-a", [80], "127.0.0.1", "node port 80 is not a NodePort: use a number from 30000 to 32767"),
        ("lab-a", [32768], "127.0.0.1", "node port 32768 is not a NodePort"),
        ("lab-a", ["30080"], "127.0.0.1", "node port '30080' is not a NodePort"),
        ("lab-a", [True], "127.0.0.1", "node port True is not a NodePort"),
        ("lab-a", "30080", "127.0.0.1", "node ports must be a list of numbers"),
        ("lab-a", [30080], "localhost", "listen address 'localhost' is not an IP address"),
        ("Lab A", [30080], "127.0.0.1", "invalid kind cluster name 'Lab A'"),
    ],
)
def test_kind_config_refuses_bad_input(name: str, ports: object, address: str, message: str) -> None:
    with pytest.raises(KindError, match=message) as caught:
        kind_config(name, ports, listen_address=address)  # type: ignore[arg-type]
    assert caught.value.reason == kind_module.BAD_INPUT
